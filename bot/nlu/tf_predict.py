"""DIET's and the ResponseSelector's prediction step, called as the graph TensorFlow already built.

Rasa 3.6 predicts with ``RasaModel._rasa_predict``, which calls a
``tf.function`` built with an input signature. Every call of a ``tf.function``
first works out, in Python, which of its traced graphs fits the inputs
(flattening and checking the ~20 arrays of a batch against the signature), and
only then runs that graph. With an input signature there is exactly one graph,
the function's concrete function. For our small models that selection cost
about as much as the graph itself: calling the concrete function directly
took DIET's step from about 2.0 to 1.4 ms and the ResponseSelector's from 3.4
to 2.1 ms on this machine, about 1 ms of CPU per member message.

``predict_through_concrete_function`` installs a ``_rasa_predict`` that does
what Rasa's does (the same graph, the same conversion of the outputs to NumPy,
the same clean-up of diagnostic data), but calls the concrete function. It
converts each input to a tensor and checks it against the signature's dtype
and shape itself; anything that does not fit, a model that runs eagerly or has
not built its function yet, goes through Rasa's own method, so errors stay
Rasa's and TensorFlow's. ``tests/test_tf_predict.py`` compares the outputs with
Rasa's, array for array. The tracker store installs it when the server starts
(``bot.tracker_store``); training does not use it.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Text, Tuple

MARK = "kosmo_concrete_function"
_CONCRETE: "weakref.WeakKeyDictionary[Any, Tuple[Any, List[Any]]]" = weakref.WeakKeyDictionary()


def predict_through_concrete_function() -> None:
    """Make ``RasaModel._rasa_predict`` call the prediction step's concrete function (idempotent)."""
    import tensorflow as tf
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow import models

    from bot.nlu.numpy_predict import installed_in_chain

    if installed_in_chain(models.RasaModel._rasa_predict, MARK):
        return
    before = models.RasaModel._rasa_predict
    original = getattr(before, "rasa_original", before)

    def _rasa_predict(self: Any, batch_in: Tuple[Any, ...]) -> Dict[Text, Any]:
        step = self._tf_predict_step
        if self._run_eagerly or not self.prepared_for_prediction or step is None:
            return before(self, batch_in)
        entry = _CONCRETE.get(step)
        if entry is None:
            entry = _CONCRETE[step] = (
                step.get_concrete_function(),
                tf.nest.flatten(step.input_signature),
            )
        function, specs = entry
        if len(batch_in) != len(specs):
            return before(self, batch_in)
        tensors = []
        for value, spec in zip(batch_in, specs, strict=True):
            tensor = tf.convert_to_tensor(value)
            if tensor.dtype != spec.dtype or not spec.shape.is_compatible_with(tensor.shape):
                return before(self, batch_in)
            tensors.append(tensor)
        self._training = False
        outputs = models.tf_utils.sync_to_numpy_or_python_type(function(tensors))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    setattr(_rasa_predict, MARK, True)
    _rasa_predict.rasa_original = original  # type: ignore[attr-defined]
    _rasa_predict.kosmo_before = before  # type: ignore[attr-defined]
    models.RasaModel._rasa_predict = _rasa_predict  # type: ignore[method-assign]

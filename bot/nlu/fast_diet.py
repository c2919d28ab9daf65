"""DIET that predicts with NumPy once its trained model is loaded.

``NumpyDIETClassifier`` is Rasa's ``DIETClassifier`` for training (the same
training, the same weights). Once a trained model is loaded (the server,
``rasa test``, ``Agent.load``), it predicts a message with
``bot.nlu.numpy_predict.predict_message``: the same batch Rasa builds, and the
same layers computed with NumPy from the model's weights, instead of Rasa's
batch building and TensorFlow (about 2.9 ms of the server's CPU per
classifier and message, down to about 0.4). The scores equal TensorFlow's
within 1e-5 (float32 sums in another order), not bit for bit; every test
story and NLU example gets the same decisions (``tests/test_speedups_equivalence.py``).
What ``numpy_predict`` does not cover (a transformer layer, entity
recognition, dense features, a message it cannot batch) goes to Rasa's own
``_predict``.

:class:`NumpyPrediction` is the part shared with the ResponseSelector
(``bot.nlu.faq_selector.FaqResponseSelector`` is one too). It uses NumPy
only when ``KOSMO_RASA_SPEEDUPS`` is not ``off`` and Rasa's code that
``numpy_predict`` follows is the code it was written for
(``bot.speedups.guard``), both checked when the model is loaded. The
prediction code is imported then too, so that training does not import it
and changing it does not retrain the model (the Makefile's model hash holds
what training reads).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.message import Message


class NumpyPrediction:
    """Mixin for ``DIETClassifier`` and its subclasses: predict with NumPy once loaded."""

    # set by load(): bot.nlu.numpy_predict.predict_message, or None (Rasa's _predict)
    _numpy_predict: Optional[Callable[[Any, Message], Optional[Dict[Text, Any]]]] = None

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> Any:
        """Rasa's ``load``, then NumPy prediction if it is switched on and written for this Rasa."""
        classifier = super().load(config, model_storage, resource, execution_context, **kwargs)  # type: ignore[misc]
        classifier._numpy_predict = numpy_prediction(type(classifier).__name__)
        return classifier

    def _predict(self, message: Message) -> Any:
        predict = self._numpy_predict
        if predict is not None:
            outputs = predict(self, message)
            if outputs is not None:
                return outputs
        return super()._predict(message)  # type: ignore[misc]


def numpy_prediction(what: str) -> Optional[Callable[[Any, Message], Optional[Dict[Text, Any]]]]:
    """``predict_message`` when NumPy prediction may be used, else None."""
    from bot.nlu import numpy_predict, sparse_features
    from bot.speedups.guard import shortcut_allowed

    if not shortcut_allowed(
        f"{what}: NumPy prediction", numpy_predict._mirrored, numpy_predict.MIRRORED_SHA256
    ):
        return None
    if not sparse_features.coo_from_parts_is_scipys():
        import logging

        logging.getLogger(__name__).warning(
            "%s: NumPy prediction not used: this scipy builds COO matrices otherwise", what
        )
        return None
    return numpy_predict.predict_message


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class NumpyDIETClassifier(NumpyPrediction, DIETClassifier):
    """Rasa's DIETClassifier, predicting with NumPy once loaded (see the module)."""

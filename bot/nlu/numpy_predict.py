"""DIET's and the ResponseSelector's prediction of one message, computed with NumPy from the trained weights.

With our configuration (no transformer layer, no entity recognition, sparse
features only) one prediction is a handful of small matrix products: the
message's sparse features times the sparse-to-dense kernels, the
ResponseSelector's two hidden layers, the text embedding, and its similarity
to the label embeddings that Rasa computed once when it loaded the model.
Rasa spends most of a call elsewhere: building the message's batch
(``_create_model_data`` and a batch generator, about 1.4 ms per classifier on
this machine) and TensorFlow's dispatch (even when calling the traced graph's
concrete function directly, about 1.3 ms for DIET and 1.5 ms for the
ResponseSelector). Together that was about 7.8 ms of the Rasa server's CPU per
member message; with NumPy it is about 1.7 ms.

``predict_message`` is what the components ``bot.nlu.fast_diet.NumpyDIETClassifier``
and ``bot.nlu.faq_selector.FaqResponseSelector`` call instead of Rasa's
``_predict`` once their model is loaded. It takes four steps, each in its
own module:

- ``bot.nlu.diet_weights``: the model's weights and steps (its ``Plan``),
  read once per model; None for a model this does not cover (a transformer
  layer, entity recognition...);
- ``bot.nlu.message_batch``: the one message's batch, Rasa's arrays, equal
  array for array;
- ``bot.nlu.diet_batch_predict``: ``DIET.batch_predict`` on that batch, layer
  by layer (scores equal to TensorFlow's within 1e-5, not bit for bit);
- ``bot.nlu.numpy_layers``: the layers themselves.

Whatever is not covered (a model without a plan, a message with dense
features, a batch that does not fit the model's data signature) goes to
Rasa's own ``_predict`` (its batch building, TensorFlow), so its results and
errors stay Rasa's. ``tests/test_numpy_predict.py`` compares the batches and
outputs with Rasa's on every training and held-out example, and
``tests/test_speedups_equivalence.py`` checks that every message and story
gets the same decisions (intent, ranking, FAQ answer, fallback, actions)
with and without.

The components check first (when the model is loaded) that the Rasa code
listed in ``_mirrored``, the code these modules follow, is the code they
were written for (``MIRRORED_SHA256``, ``bot.speedups.guard``). Training
never uses them (nor imports them).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from bot.nlu.diet_batch_predict import predict
from bot.nlu.diet_weights import plan_of
from bot.nlu.message_batch import message_batch


def _finished(model: Any, outputs: Dict[Text, Any]) -> Dict[Text, Any]:
    """What Rasa's ``_rasa_predict`` does after the graph: model not training, empty diagnostics None."""
    from rasa.shared.constants import DIAGNOSTIC_DATA

    if model._training is not False:  # Keras tracks every attribute set on a model: slow
        model._training = False
    outputs[DIAGNOSTIC_DATA] = model._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def predict_message(classifier: Any, message: Any) -> Optional[Dict[Text, Any]]:
    """What ``DIETClassifier._predict`` returns for ``message``, computed here; None if not covered.

    None (the caller then runs Rasa's ``_predict``) for a classifier without a
    model, a model that runs eagerly or that ``bot.nlu.diet_weights.plan_for``
    does not cover, and a message ``bot.nlu.message_batch.message_batch`` does
    not cover.
    """
    from rasa.utils.tensorflow.constants import FEATURIZERS

    model = classifier.model
    if model is None or model._run_eagerly:
        return None
    plan = plan_of(model)
    if plan is None:
        return None
    batch = message_batch(plan, message, classifier.component_config.get(FEATURIZERS))
    if batch is None:
        return None
    # process() reads the diagnostic outputs only when the graph run asks for them
    context = getattr(classifier, "_execution_context", None)
    diagnostics = bool(getattr(context, "should_add_diagnostic_data", True))
    outputs = predict(plan, batch, diagnostics)
    return None if outputs is None else _finished(model, outputs)


def _mirrored() -> List[Any]:
    """The Rasa code the NumPy prediction follows step by step (its source is guarded, see ``bot.nlu.fast_diet``)."""
    from rasa.nlu.classifiers.diet_classifier import DIET, DIETClassifier
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.utils.tensorflow import layers, rasa_layers
    from rasa.utils.tensorflow.models import RasaModel

    return [
        DIETClassifier._predict,
        DIETClassifier._create_model_data,
        DIET.batch_predict,
        DIET._batch_predict_intents,
        DIET._last_token,
        DIET.prepare_for_predict,
        RasaModel._rasa_predict,
        Message.get_sparse_features,
        Message._combine_features,
        Features._combine_sparse_features,
        rasa_layers.RasaSequenceLayer,
        rasa_layers.RasaFeatureCombiningLayer,
        rasa_layers.ConcatenateSparseDenseFeatures,
        rasa_layers.compute_mask,
        layers.DenseForSparse,
        layers.Ffnn,
        layers.RandomlyConnectedDense,
        layers.Embed,
        layers.DotProductLoss.get_similarities_and_confidences_from_embeddings,
        layers.DotProductLoss.sim,
    ]


MIRRORED_SHA256 = "2a084b3256813d2ee1dafce772180a2f151ee4bfbdcae16e3d10019572135ef5"

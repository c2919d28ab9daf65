"""What DIET's prediction computes, read once from a trained model's layers: the :class:`Plan`.

A plan holds the weights (as ``bot.nlu.numpy_layers.Dense`` layers) and the
few choices the computation needs: which inputs the model's data signature
has, in the order of the batch's arrays, the sparse-to-dense kernels of the
sequence and sentence features, the feed-forward layers, the text
embedding, the label embeddings Rasa computed once when it loaded the
model, and the similarity and confidence types.

``plan_for`` says None for anything NumPy prediction does not cover: a
transformer layer, entity recognition, a model class with its own
``batch_predict`` (``DIET2DIET``), dimension-unifying layers, an activation
other than Rasa's defaults. Those models go to Rasa's own ``_predict``.
``plan_of`` keeps one plan per model (and prepares a model not yet prepared
for prediction first, as Rasa's first prediction does).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, List, Optional, Text, Tuple

import numpy as np

from bot.nlu.numpy_layers import Dense

# model -> plan (None: not covered, use Rasa's _predict)
_PLANS: "weakref.WeakKeyDictionary[Any, Optional[Plan]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Input:
    """One entry of the model's data signature, in the order of the batch's arrays."""

    key: Text
    sub_key: Text
    is_sparse: bool
    units: int
    dims: int


@dataclass(frozen=True)
class Plan:
    """The weights and steps of one model's prediction (see the module)."""

    inputs: Tuple[Input, ...]
    text: Text
    # per feature of the attribute's sequence / sentence signature: a layer for a
    # sparse feature, None for a dense one (concatenated as it is)
    sequence: Tuple[Optional[Dense], ...]
    sentence: Tuple[Optional[Dense], ...]
    ffnn: Tuple[Dense, ...]
    embed: Dense
    labels_embed: np.ndarray  # (number of labels, embedding dimension)
    cosine: bool
    softmax: bool


def _weights(variable: Any) -> np.ndarray:
    """A read-only NumPy view of a variable's values, sharing TensorFlow's memory.

    ``variable.numpy()`` would copy: the ResponseSelector's two sparse-to-dense
    kernels alone are 46 MB, and the server would hold them twice.
    ``np.asarray`` of the variable's current value is a view of the same
    buffer (prediction never assigns to a variable, so the values cannot change
    under the view).
    """
    values = np.asarray(variable.value())
    values.flags.writeable = False
    return values


def _dense(layer: Any, gelu: bool = False) -> Dense:
    kernel = _weights(layer.kernel)
    mask = getattr(layer, "kernel_mask", None)
    if mask is not None:  # RandomlyConnectedDense multiplies its kernel by the mask on every call
        kernel = kernel * _weights(mask)
    bias = _weights(layer.bias) if layer.use_bias else None
    return Dense(np.ascontiguousarray(kernel, dtype=np.float32), bias, gelu)


def plan_for(model: Any) -> Optional[Plan]:
    """The weights and steps of ``model``'s prediction, or None if NumPy prediction does not cover it."""
    import tensorflow as tf
    from rasa.nlu.classifiers.diet_classifier import DIET
    from rasa.shared.nlu.constants import TEXT
    from rasa.utils.tensorflow import layers, rasa_layers
    from rasa.utils.tensorflow.constants import (
        COSINE,
        ENTITY_RECOGNITION,
        INNER,
        INTENT_CLASSIFICATION,
        SENTENCE,
        SEQUENCE,
        SOFTMAX,
    )

    linear = tf.keras.activations.linear
    if type(model).batch_predict is not DIET.batch_predict:
        return None
    config = model.config
    if not config.get(INTENT_CLASSIFICATION) or config.get(ENTITY_RECOGNITION):
        return None
    if getattr(model, "all_labels_embed", None) is None or not model.prepared_for_prediction:
        return None
    text = model.text_name
    if text != TEXT or set(model.predict_data_signature) != {TEXT}:
        return None
    sequence_layer = model._tf_layers.get(f"sequence_layer.{text}")
    if type(sequence_layer) is not rasa_layers.RasaSequenceLayer or sequence_layer._has_transformer:
        return None
    combining = sequence_layer._tf_layers[sequence_layer.FEATURE_COMBINING]
    if type(combining) is not rasa_layers.RasaFeatureCombiningLayer:
        return None
    if any(name.startswith("unify_dims") for name in combining._tf_layers):
        return None

    signature = model.predict_data_signature[TEXT]

    def feature_layers(feature_type: Text) -> Optional[Tuple[Optional[Dense], ...]]:
        if not combining._feature_types_present[feature_type]:
            return ()
        concat = combining._tf_layers[f"sparse_dense.{feature_type}"]
        if type(concat) is not rasa_layers.ConcatenateSparseDenseFeatures:
            return None
        to_dense = concat._tf_layers.get(concat.SPARSE_TO_DENSE)
        out: List[Optional[Dense]] = []
        for feature in signature[feature_type]:
            if not feature.is_sparse:
                out.append(None)
                continue
            if type(to_dense) is not layers.DenseForSparse or to_dense.activation is not linear:
                return None
            out.append(_dense(to_dense))
        return tuple(out)

    sequence = feature_layers(SEQUENCE)
    sentence = feature_layers(SENTENCE)
    if sequence is None or sentence is None or not (sequence or sentence):
        return None

    ffnn: List[Dense] = []
    for layer in sequence_layer._tf_layers[sequence_layer.FFNN]._ffn_layers:
        if type(layer) is tf.keras.layers.Dropout:
            continue  # no dropout when predicting
        if type(layer) is not layers.RandomlyConnectedDense or layer.activation is not tf.nn.gelu:
            return None
        ffnn.append(_dense(layer, gelu=True))

    embed = model._tf_layers[f"embed.{TEXT}"]._dense
    if type(embed) is not tf.keras.layers.Dense or embed.activation is not linear:
        return None
    loss = model._tf_layers["loss.label"]
    if loss.similarity_type not in (INNER, COSINE):
        return None

    inputs = tuple(
        Input(key, sub_key, feature.is_sparse, feature.units, feature.number_of_dimensions)
        for key, values in model.predict_data_signature.items()
        for sub_key, features in values.items()
        for feature in features
    )
    return Plan(
        inputs=inputs,
        text=text,
        sequence=sequence,
        sentence=sentence,
        ffnn=tuple(ffnn),
        embed=_dense(embed),
        labels_embed=np.asarray(model.all_labels_embed.numpy(), dtype=np.float32),
        cosine=loss.similarity_type == COSINE,
        softmax=loss.model_confidence == SOFTMAX,
    )


def plan_of(model: Any) -> Optional[Plan]:
    """The model's plan, read once; prepares the model for prediction first, as Rasa's first prediction does."""
    if model in _PLANS:
        return _PLANS[model]
    if not model.prepared_for_prediction:  # RasaModel._rasa_predict's first step
        model.prepare_for_predict()
        model.prepared_for_prediction = True
    plan = _PLANS[model] = plan_for(model)
    return plan

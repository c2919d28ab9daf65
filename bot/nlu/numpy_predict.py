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
member message; with this module it is about 1.7 ms.

The components check first (when the model is loaded) that the Rasa code
listed in ``_mirrored`` is the code this module was written for
(``MIRRORED_SHA256``, ``bot.speedups.guard``). ``predict_message`` is what the components ``bot.nlu.fast_diet.NumpyDIETClassifier``
and ``bot.nlu.faq_selector.FaqResponseSelector`` call instead of Rasa's
``_predict`` once their model is loaded: it builds the one message's batch
directly (``message_batch``: Rasa's arrays, equal array for array) and
computes it with ``predict``. Training never uses it (nor imports this module).

``predict`` follows Rasa 3.6's ``DIET.batch_predict`` for intent
classification, layer by layer (``RasaSequenceLayer`` with its
``RasaFeatureCombiningLayer``, ``ConcatenateSparseDenseFeatures`` and
``DenseForSparse``, ``Ffnn`` with ``RandomlyConnectedDense``, ``Embed``,
``DotProductLoss.get_similarities_and_confidences_from_embeddings``), with the
weights read from the model's own layers. The outputs have Rasa's keys,
shapes and dtypes (``i_scores``, and the diagnostic ``text_transformed`` and
``attention_weights``). Float32 sums in another order than TensorFlow's differ
in the last bits, so the numbers agree to within 1e-5 (at most 4e-6 seen), not
bit for bit: equal within a tolerance, not exact. ``tests/test_numpy_predict.py``
compares them with Rasa's (TensorFlow) outputs on every training and held-out
example, and ``tests/test_speedups_equivalence.py`` checks that every message
and story gets the same decisions (intent, ranking, FAQ answer, fallback,
actions) with and without.

``plan_for`` reads the weights once per model and says None for anything this
does not cover: a transformer layer, entity recognition, a model class with
its own ``batch_predict`` (``DIET2DIET``), dimension-unifying layers, an
activation other than Rasa's defaults. (A model not yet prepared for
prediction is prepared first, as Rasa's first prediction does.) Those models, and any message or batch that does not fit the model's data
signature (dense features, say), go to Rasa's own ``_predict`` (its batch
building, TensorFlow), so their results and errors stay Rasa's.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np

# model -> plan (None: not covered, use the previous _rasa_predict)
_PLANS: "weakref.WeakKeyDictionary[Any, Optional[_Plan]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Dense:
    """``activation(x @ kernel + bias)``; activation is GELU or none."""

    kernel: np.ndarray
    bias: Optional[np.ndarray]
    gelu: bool = False


@dataclass(frozen=True)
class _Input:
    """One entry of the model's data signature, in the order of the batch's arrays."""

    key: Text
    sub_key: Text
    is_sparse: bool
    units: int
    dims: int


@dataclass(frozen=True)
class _Plan:
    inputs: Tuple[_Input, ...]
    text: Text
    # per feature of the attribute's sequence / sentence signature: a layer for a
    # sparse feature, None for a dense one (concatenated as it is)
    sequence: Tuple[Optional[_Dense], ...]
    sentence: Tuple[Optional[_Dense], ...]
    ffnn: Tuple[_Dense, ...]
    embed: _Dense
    labels_embed: np.ndarray  # (number of labels, embedding dimension)
    cosine: bool
    softmax: bool


def _dense(layer: Any, gelu: bool = False) -> _Dense:
    kernel = layer.kernel.numpy()
    mask = getattr(layer, "kernel_mask", None)
    if mask is not None:  # RandomlyConnectedDense multiplies its kernel by the mask on every call
        kernel = kernel * mask.numpy()
    bias = layer.bias.numpy() if layer.use_bias else None
    return _Dense(np.ascontiguousarray(kernel, dtype=np.float32), bias, gelu)


def plan_for(model: Any) -> Optional[_Plan]:
    """The weights and steps of ``model``'s prediction, or None if this module does not cover it."""
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

    def feature_layers(feature_type: Text) -> Optional[Tuple[Optional[_Dense], ...]]:
        if not combining._feature_types_present[feature_type]:
            return ()
        concat = combining._tf_layers[f"sparse_dense.{feature_type}"]
        if type(concat) is not rasa_layers.ConcatenateSparseDenseFeatures:
            return None
        to_dense = concat._tf_layers.get(concat.SPARSE_TO_DENSE)
        out: List[Optional[_Dense]] = []
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

    ffnn: List[_Dense] = []
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
        _Input(key, sub_key, feature.is_sparse, feature.units, feature.number_of_dimensions)
        for key, values in model.predict_data_signature.items()
        for sub_key, features in values.items()
        for feature in features
    )
    return _Plan(
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


def _sequence_mask(lengths: np.ndarray) -> np.ndarray:
    """``rasa_layers.compute_mask``: (batch, max length, 1) with 1.0 at real positions."""
    longest = int(lengths.max()) if lengths.size else 0
    return (np.arange(longest)[None, :] < lengths[:, None]).astype(np.float32)[:, :, None]


# cells of _sparse_to_dense's (positions x entries) weights beyond which a sparse
# product is used instead (a short message has a few thousand)
_DENSE_WEIGHTS_LIMIT = 1 << 18


def _apply(layer: _Dense, x: np.ndarray) -> np.ndarray:
    out = x @ layer.kernel
    if layer.bias is not None:
        out = out + layer.bias
    if layer.gelu:
        from scipy.special import erf

        out = 0.5 * out * (1.0 + erf(out / np.float32(np.sqrt(2.0)))).astype(np.float32)
    return out.astype(np.float32, copy=False)


def _sparse_to_dense(layer: _Dense, indices: np.ndarray, values: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``DenseForSparse`` on a 3-D sparse tensor given as (indices, values, shape).

    Only the kernel rows of the features present are read. For one short
    message: (positions x entries) weights times (entries x units) rows, which
    is faster than a sparse matrix (SciPy's constructor alone cost more than
    the product). That weights matrix grows with the square of the length
    (78 GiB for 100,000 characters), so past ``_DENSE_WEIGHTS_LIMIT`` cells the
    entries go into a SciPy CSR matrix times the kernel instead: time and memory
    in proportion to the entries and positions, whatever the length.
    """
    batch, steps = int(shape[0]), int(shape[1])
    rows = indices[:, 0] * steps + indices[:, 1]
    if batch * steps * len(values) <= _DENSE_WEIGHTS_LIMIT:
        weights = np.zeros((batch * steps, len(values)), dtype=np.float32)
        weights[rows, np.arange(len(values))] = values
        out = (weights @ layer.kernel[indices[:, 2]]).reshape(batch, steps, -1)
    else:
        from scipy.sparse import csr_matrix

        matrix = csr_matrix(
            (values, (rows, indices[:, 2])), shape=(batch * steps, layer.kernel.shape[0]), dtype=np.float32
        )
        out = np.asarray(matrix @ layer.kernel, dtype=np.float32).reshape(batch, steps, -1)
    if layer.bias is not None:
        out = out + layer.bias
    return out


def _parse(plan: _Plan, batch_in: Tuple[Any, ...]) -> Optional[Dict[Text, List[Any]]]:
    """The batch's arrays by sub-key (as ``batch_to_model_data_format``), or None if they do not fit."""
    out: Dict[Text, List[Any]] = {}
    index = 0
    for entry in plan.inputs:
        dims = 3 if entry.dims == 4 else entry.dims
        if entry.is_sparse:
            if index + 3 > len(batch_in):
                return None
            indices, values, shape = (np.asarray(x) for x in batch_in[index : index + 3])
            index += 3
            if (
                indices.dtype != np.int64 or values.dtype != np.float32 or shape.dtype != np.int64
                or indices.ndim != 2 or indices.shape[1] != dims or values.shape != (len(indices),)
                or shape.shape != (dims,) or dims != 3 or int(shape[-1]) != entry.units
            ):
                return None
            out.setdefault(entry.sub_key, []).append((indices, values, shape))
        else:
            if index + 1 > len(batch_in):
                return None
            array = np.asarray(batch_in[index])
            index += 1
            if array.dtype != np.float32 or array.ndim != dims or (dims > 1 and array.shape[-1] != entry.units):
                return None
            out.setdefault(entry.sub_key, []).append(array)
    return out if index == len(batch_in) else None


def predict(plan: _Plan, batch_in: Tuple[Any, ...], diagnostics: bool = True) -> Optional[Dict[Text, Any]]:
    """``DIET.batch_predict`` for the batch, as NumPy arrays; None if the batch does not fit.

    With ``diagnostics`` False the outputs are only what the classifiers read
    (``i_scores``, with an empty diagnostic dict): when the text has sequence
    and sentence features, the intent is computed from the sentence position
    alone (see ``_sentence_scores``), whatever the message's length.
    """
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow.constants import SENTENCE, SEQUENCE, SEQUENCE_LENGTH

    data = _parse(plan, batch_in)
    if data is None:
        return None
    first = next((values[0] for values in data.values() if values), None)
    if first is None:
        return None
    batch = int(first[2][0]) if isinstance(first, tuple) else int(first.shape[0])
    if SEQUENCE_LENGTH in data:
        sequence_lengths = data[SEQUENCE_LENGTH][0].astype(np.int32)
    else:
        sequence_lengths = np.zeros(batch, dtype=np.int32)
    if sequence_lengths.shape != (batch,):
        return None

    def combine(layers: Tuple[Optional[_Dense], ...], features: List[Any]) -> Optional[np.ndarray]:
        if len(features) != len(layers):
            return None
        parts = []
        for layer, feature in zip(layers, features, strict=True):
            part = feature if layer is None else _sparse_to_dense(layer, *feature)
            if part.ndim != 3 or part.shape[0] != batch:
                return None
            parts.append(part)
        return np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]

    if not diagnostics and plan.sequence and plan.sentence:
        scores = _sentence_scores(plan, data, batch, sequence_lengths, combine)
        if scores is not None:
            return {DIAGNOSTIC_DATA: {}, "i_scores": scores}
        # a batch the shortcut's checks refuse: the full path decides

    sequence = sentence = None
    if plan.sequence:
        sequence = combine(plan.sequence, data.get(SEQUENCE, []))
        mask_sequence = _sequence_mask(sequence_lengths)
        if sequence is None or sequence.shape[1] != mask_sequence.shape[1]:
            return None
        sequence = sequence * mask_sequence
    if plan.sentence:
        sentence = combine(plan.sentence, data.get(SENTENCE, []))
        if sentence is None or sentence.shape[1] != 1:
            return None
    combined_lengths = sequence_lengths + 1 if sentence is not None else sequence_lengths
    if sequence is not None and sentence is not None:
        mask = _sequence_mask(combined_lengths)
        if mask.shape[1] != sequence.shape[1] + 1 or sequence.shape[2] != sentence.shape[2]:
            return None
        # 1 right after each example's last token: exclusive, reversed cumulative product
        after = np.cumprod((1.0 - mask)[:, ::-1], axis=1)[:, ::-1]
        exclusive = np.concatenate([after[:, 1:], np.ones_like(after[:, :1])], axis=1)
        positions = (mask * exclusive).astype(np.float32)
        padded = np.concatenate([sequence, np.zeros_like(sequence[:, :1])], axis=1)
        features = padded + positions * sentence
    else:
        features = sequence if sequence is not None else sentence
    assert features is not None

    for layer in plan.ffnn:
        features = _apply(layer, features)
    text_transformed = features.astype(np.float32, copy=False)

    # DIET._batch_predict_intents with _last_token over sequence + sentence lengths
    sentence_lengths = np.ones(batch, np.int32) if SENTENCE in data else np.zeros(batch, np.int32)
    last = np.maximum(0, sequence_lengths + sentence_lengths - 1)
    if text_transformed.shape[1] == 0 or (last >= text_transformed.shape[1]).any():
        return None
    vector = text_transformed[np.arange(batch), last]
    return {
        DIAGNOSTIC_DATA: {
            "attention_weights": np.zeros((0,), dtype=np.float32),
            "text_transformed": text_transformed,
        },
        "i_scores": _label_scores(plan, vector),
    }


def _label_scores(plan: _Plan, vector: np.ndarray) -> np.ndarray:
    """``i_scores`` from the text's vector at the position the intent reads: embedding, similarity to each label."""
    embedded = _apply(plan.embed, vector)
    labels = plan.labels_embed
    if plan.cosine:
        embedded = _l2_normalize(embedded)
        labels = _l2_normalize(labels)
    similarities = (embedded[:, None, :] * labels[None, :, :]).sum(axis=-1, dtype=np.float32)
    scores = _softmax(similarities) if plan.softmax else similarities
    return scores.astype(np.float32, copy=False)


def _sentence_scores(
    plan: _Plan,
    data: Dict[Text, List[Any]],
    batch: int,
    sequence_lengths: np.ndarray,
    combine: Callable[[Tuple[Optional[_Dense], ...], List[Any]], Optional[np.ndarray]],
) -> Optional[np.ndarray]:
    """``i_scores`` computed from the sentence position alone, for a text with sequence and sentence features.

    With no transformer layer nothing mixes positions: the feed-forward layers
    act on each position by itself, and the intent reads one position, the one
    right after each example's last token (``_last_token`` over the sequence
    and sentence lengths). ``predict`` puts the sentence features there and
    nothing else: that position of the masked, padded sequence is zero, and
    ``0 + 1 * sentence`` is ``sentence``. So the intent's vector is the
    feed-forward layers applied to the sentence features, and the (positions
    x units) activations of every token, which only the diagnostic
    ``text_transformed`` shows, need not be computed: a 2,000-character
    message costs the classifier about what a short one does.
    """
    from rasa.utils.tensorflow.constants import SENTENCE, SEQUENCE

    sentence = combine(plan.sentence, data.get(SENTENCE, []))
    if sentence is None or sentence.shape[1] != 1:
        return None
    # the sequence features are not computed, but must be there and of the
    # shapes the full path accepts (else it is left to decide)
    features = data.get(SEQUENCE, [])
    if len(features) != len(plan.sequence) or (sequence_lengths < 0).any():
        return None
    longest = int(sequence_lengths.max()) if batch else 0
    units = 0
    for layer, feature in zip(plan.sequence, features, strict=True):
        shape = tuple(int(n) for n in (feature[2] if layer is not None else feature.shape))
        if len(shape) != 3 or shape[:2] != (batch, longest):
            return None
        units += shape[2] if layer is None else int(layer.kernel.shape[1])
    if units != sentence.shape[2]:
        return None
    vector = sentence[:, 0, :]
    for layer in plan.ffnn:
        vector = _apply(layer, vector)
    return _label_scores(plan, vector.astype(np.float32, copy=False))


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    """``tf.nn.l2_normalize`` over the last axis."""
    squared = np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32)
    return (x / np.sqrt(np.maximum(squared, np.float32(1e-12)))).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


def _joined(features: List[Any]) -> Optional[Any]:
    """The sparse matrices of ``features`` side by side, as ``Message._combine_features`` joins them.

    None if there are none, or if their numbers of rows differ (Rasa raises
    there, so the caller leaves the message to Rasa).
    """
    from bot.nlu.sparse_features import join_coo_side_by_side

    if not features:
        return None
    matrix = features[0].features
    for more in features[1:]:
        if more.features.shape[0] != matrix.shape[0]:
            return None
        matrix = join_coo_side_by_side(matrix, more.features)
    return matrix


def message_batch(plan: _Plan, message: Any, featurizers: Optional[List[Text]]) -> Optional[Tuple[np.ndarray, ...]]:
    """The batch Rasa's data generator makes of one message at prediction, or None if not covered.

    Rasa builds it through ``DIETClassifier._create_model_data``, a
    ``RasaModelData`` and a ``RasaBatchDataGenerator`` (about 1.4 ms per
    classifier); for one message with sparse features only it is the mask (a
    one), each sparse feature as (indices, values, shape) in the order of its
    COO entries, and the number of tokens. ``tests/test_numpy_predict.py``
    compares it with Rasa's batch array for array.
    """
    from rasa.shared.nlu.constants import TEXT
    from rasa.utils.tensorflow.constants import MASK, SENTENCE, SEQUENCE, SEQUENCE_LENGTH

    # Message.get_sparse_features, without the deep copy of the first featurizer's
    # Features that its _combine_features makes before joining (a third of the cost)
    dense_sequence, dense_sentence = message._filter_dense_features(TEXT, featurizers or [])
    if dense_sequence or dense_sentence:
        return None
    sequence, sentence = (_joined(f) for f in message._filter_sparse_features(TEXT, featurizers or []))
    if sequence is None:
        return None
    tokens = sequence.shape[0]
    batch: List[np.ndarray] = []
    for entry in plan.inputs:
        if entry.key != TEXT:
            return None
        if entry.sub_key in (SEQUENCE, SENTENCE) and entry.is_sparse:
            joined = sequence if entry.sub_key == SEQUENCE else sentence
            if joined is None:
                return None
            matrix = joined.tocoo()
            if matrix.shape[1] != entry.units:
                return None
            batch.append(np.vstack([np.zeros_like(matrix.row), matrix.row, matrix.col]).T.astype(np.int64))
            batch.append(matrix.data.astype(np.float32))
            batch.append(np.array((1, matrix.shape[0], matrix.shape[1]), dtype=np.int64))
        elif entry.sub_key == MASK and not entry.is_sparse and entry.units == 1 and entry.dims == 3:
            batch.append(np.ones((1, 1, 1), dtype=np.float32))
        elif entry.sub_key == SEQUENCE_LENGTH and not entry.is_sparse and entry.dims == 1:
            batch.append(np.array([tokens], dtype=np.float32))
        else:
            return None
    return tuple(batch)


def _plan_of(model: Any) -> Optional[_Plan]:
    """The model's plan, read once; prepares the model for prediction first, as Rasa's first prediction does."""
    if model in _PLANS:
        return _PLANS[model]
    if not model.prepared_for_prediction:  # RasaModel._rasa_predict's first step
        model.prepare_for_predict()
        model.prepared_for_prediction = True
    plan = _PLANS[model] = plan_for(model)
    return plan


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
    model, a model that runs eagerly or that :func:`plan_for` does not cover,
    and a message :func:`message_batch` does not cover.
    """
    from rasa.utils.tensorflow.constants import FEATURIZERS

    model = classifier.model
    if model is None or model._run_eagerly:
        return None
    plan = _plan_of(model)
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
    """The Rasa code this module follows step by step (its source is guarded, see ``bot.nlu.fast_diet``)."""
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

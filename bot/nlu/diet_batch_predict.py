"""``DIET.batch_predict`` for intent classification, computed with NumPy from a model's :class:`Plan`.

``predict`` follows Rasa 3.6's ``DIET.batch_predict`` layer by layer
(``RasaSequenceLayer`` with its ``RasaFeatureCombiningLayer``,
``ConcatenateSparseDenseFeatures`` and ``DenseForSparse``, ``Ffnn`` with
``RandomlyConnectedDense``, ``Embed``,
``DotProductLoss.get_similarities_and_confidences_from_embeddings``), with
the layers of ``bot.nlu.numpy_layers`` and the weights of
``bot.nlu.diet_weights``. DIET and the ResponseSelector (whose model,
``DIET2BOW``, is a ``DIET`` with the same ``batch_predict``) both go through
it. The outputs have Rasa's keys, shapes and dtypes (``i_scores``, and the
diagnostic ``text_transformed`` and ``attention_weights``). Float32 sums in
another order than TensorFlow's differ in the last bits, so the numbers
agree to within 1e-5 (at most 4e-6 seen), not bit for bit: equal within a
tolerance, not exact. ``tests/test_numpy_predict.py`` compares them with
Rasa's (TensorFlow) outputs on every training and held-out example.

A batch that does not fit the model's data signature (dense features, say)
gets None, and the caller leaves it to Rasa's own ``_predict``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Text, Tuple

import numpy as np

from bot.nlu.diet_weights import Plan
from bot.nlu.numpy_layers import (
    Dense,
    apply_dense,
    l2_normalize,
    sequence_mask,
    softmax,
    sparse_to_dense,
)


def _parse(plan: Plan, batch_in: Tuple[Any, ...]) -> Optional[Dict[Text, List[Any]]]:
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


def predict(plan: Plan, batch_in: Tuple[Any, ...], diagnostics: bool = True) -> Optional[Dict[Text, Any]]:
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

    def combine(layers: Tuple[Optional[Dense], ...], features: List[Any]) -> Optional[np.ndarray]:
        if len(features) != len(layers):
            return None
        parts = []
        for layer, feature in zip(layers, features, strict=True):
            part = feature if layer is None else sparse_to_dense(layer, *feature)
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
        mask_sequence = sequence_mask(sequence_lengths)
        if sequence is None or sequence.shape[1] != mask_sequence.shape[1]:
            return None
        sequence = sequence * mask_sequence
    if plan.sentence:
        sentence = combine(plan.sentence, data.get(SENTENCE, []))
        if sentence is None or sentence.shape[1] != 1:
            return None
    combined_lengths = sequence_lengths + 1 if sentence is not None else sequence_lengths
    if sequence is not None and sentence is not None:
        mask = sequence_mask(combined_lengths)
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
        features = apply_dense(layer, features)
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


def _label_scores(plan: Plan, vector: np.ndarray) -> np.ndarray:
    """``i_scores`` from the text's vector at the position the intent reads: embedding, similarity to each label."""
    embedded = apply_dense(plan.embed, vector)
    labels = plan.labels_embed
    if plan.cosine:
        embedded = l2_normalize(embedded)
        labels = l2_normalize(labels)
    similarities = (embedded[:, None, :] * labels[None, :, :]).sum(axis=-1, dtype=np.float32)
    scores = softmax(similarities) if plan.softmax else similarities
    return scores.astype(np.float32, copy=False)


def _sentence_scores(
    plan: Plan,
    data: Dict[Text, List[Any]],
    batch: int,
    sequence_lengths: np.ndarray,
    combine: Callable[[Tuple[Optional[Dense], ...], List[Any]], Optional[np.ndarray]],
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
        vector = apply_dense(layer, vector)
    return _label_scores(plan, vector.astype(np.float32, copy=False))

"""The batch Rasa's data generator makes of one message at prediction, built directly.

Rasa builds it through ``DIETClassifier._create_model_data``, a
``RasaModelData`` and a ``RasaBatchDataGenerator`` (about 1.4 ms per
classifier and message). For one message with sparse features only it is
the mask (a one), each sparse feature as (indices, values, shape) in the
order of its COO entries, and the number of tokens, in the order of the
model's data signature (``bot.nlu.diet_weights.Plan.inputs``).
``tests/test_numpy_predict.py`` compares it with Rasa's batch array for
array. A message with dense features, or whose features do not fit the
signature, gets None (Rasa's own ``_predict`` then).
"""

from __future__ import annotations

from typing import Any, List, Optional, Text, Tuple

import numpy as np

from bot.nlu.diet_weights import Plan


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


def message_batch(plan: Plan, message: Any, featurizers: Optional[List[Text]]) -> Optional[Tuple[np.ndarray, ...]]:
    """The batch Rasa's data generator makes of ``message`` for ``plan``'s model, or None if not covered."""
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

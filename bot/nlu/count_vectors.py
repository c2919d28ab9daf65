"""Counting a message's words and character n-grams without sklearn's general matrix path.

For every message, each of our two CountVectorsFeaturizers asks its fitted
sklearn ``CountVectorizer`` to ``transform`` the tokens (one row per token) and
the joined text (one row), then sorts the result and turns it into a COO
matrix (Rasa 3.6, ``CountVectorsFeaturizer._create_features``). For a message
of a few tokens, the counting is a few dictionary lookups; the rest, building
a CSR matrix with its checks, sorting it and converting it, was most of the
1.7 ms of CPU the two featurizers took per member message in the server.

``count_as_coo`` does the same counting as sklearn's ``_count_vocab`` with a
fixed vocabulary (same analyzer, same vocabulary lookup, counts per column)
and builds the COO matrix Rasa gets at the end directly: entries row by row,
columns ascending within a row, the vectorizer's dtype for the values and
scipy's index dtype for the shape. ``tests/test_count_vectors.py`` compares it
with sklearn's and Rasa's path on the trained model's vectorizers and the
project's own NLU texts. A vectorizer that is not exactly sklearn's fitted
``CountVectorizer`` goes the usual way. ``count_vectors_directly`` installs it;
the tracker store calls it when the server starts (``bot.tracker_store``), so
training is untouched.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from scipy.sparse import coo_matrix

from bot.nlu.sparse_features import coo_from_parts, index_dtype

# sklearn builds the same analyzer at every transform; the parameters it is
# built from do not change once the model is loaded
_ANALYZERS: "weakref.WeakKeyDictionary[Any, Callable[[Text], Any]]" = weakref.WeakKeyDictionary()


def _analyzer(vectorizer: Any) -> Callable[[Text], Any]:
    analyze = _ANALYZERS.get(vectorizer)
    if analyze is None:
        analyze = _ANALYZERS[vectorizer] = vectorizer.build_analyzer()
    return analyze


def count_as_coo(vectorizer: Any, documents: Sequence[Text]) -> coo_matrix:
    """``vectorizer.transform(documents)``, indices sorted, as COO, for a fitted ``CountVectorizer``."""
    vocabulary: Dict[Text, int] = vectorizer.vocabulary_
    analyze = _analyzer(vectorizer)
    rows: List[int] = []
    cols: List[int] = []
    counts: List[int] = []
    for row, document in enumerate(documents):
        counter: Dict[int, int] = {}
        for feature in analyze(document):
            column = vocabulary.get(feature)
            if column is not None:
                counter[column] = counter.get(column, 0) + 1
        for column in sorted(counter):
            rows.append(row)
            cols.append(column)
            counts.append(counter[column])
    shape = (len(documents), len(vocabulary))
    indices = index_dtype(max(shape))
    data = np.array(counts, dtype=np.intc).astype(vectorizer.dtype)
    if vectorizer.binary:
        data.fill(1)
    # rows count the documents and columns are vocabulary values, so every
    # index is within ``shape`` (what coo_from_parts asks of its caller)
    return coo_from_parts(data, np.array(rows, dtype=indices), np.array(cols, dtype=indices), shape)


def _is_plain_fitted(vectorizer: Any) -> bool:
    from sklearn.feature_extraction.text import CountVectorizer

    return type(vectorizer) is CountVectorizer and bool(getattr(vectorizer, "vocabulary_", None))


def count_vectors_directly() -> None:
    """Make Rasa's CountVectorsFeaturizer count with ``count_as_coo`` (idempotent)."""
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        DENSE_FEATURIZABLE_ATTRIBUTES,
        CountVectorsFeaturizer,
    )

    if hasattr(CountVectorsFeaturizer._create_features, "rasa_original"):
        return
    original = CountVectorsFeaturizer._create_features

    def _create_features(
        self: CountVectorsFeaturizer, attribute: Text, all_tokens: List[List[Text]]
    ) -> Tuple[List[Optional[Any]], List[Optional[Any]]]:
        vectorizer = self.vectorizers.get(attribute) if self.vectorizers else None
        if vectorizer is None or not _is_plain_fitted(vectorizer):
            return original(self, attribute, all_tokens)
        sequence_features: List[Optional[Any]] = []
        sentence_features: List[Optional[Any]] = []
        for tokens in all_tokens:
            if not tokens:
                sequence_features.append(None)
                sentence_features.append(None)
                continue
            sequence_features.append(count_as_coo(vectorizer, tokens))
            if attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
                sentence_features.append(count_as_coo(vectorizer, [" ".join(tokens)]))
            else:
                sentence_features.append(None)
        return sequence_features, sentence_features

    _create_features.rasa_original = original  # type: ignore[attr-defined]
    CountVectorsFeaturizer._create_features = _create_features  # type: ignore[method-assign]

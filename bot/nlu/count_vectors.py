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
``CountVectorizer`` goes the usual way. The component
``bot.nlu.direct_count_vectors.DirectCountVectorsFeaturizer`` counts with
``create_features`` and ``process_tokens`` once its model is loaded; training
is Rasa's (and does not import this module).

A long message is mostly the same few words again (particles, です/ます, the
topic's nouns: a 2,000-character message of varied training sentences has 884
tokens and 258 distinct ones). ``count_tokens`` analyses each distinct token
once per message, and makes the sentence row (the joined text's counts) by
adding up the token rows when that is provably the same thing
(``sentence_is_sum_of_rows``), instead of analysing the whole text a second
time. For a 2,000-character message that was most of the two featurizers'
14 ms.
"""

from __future__ import annotations

import re
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
    return _coo(vectorizer, rows, cols, counts, len(documents))


# token patterns whose matches never contain a space and, both ends being \\b,
# do not depend on what lies beyond a space: found in a token alone or in
# tokens joined with spaces, the matches are the same (sklearn's and Rasa's defaults)
_SPACE_BOUNDED_PATTERNS = frozenset({r"(?u)\b\w\w+\b", r"(?u)\b\w+\b"})


def sentence_is_sum_of_rows(vectorizer: Any, tokens: Sequence[Text]) -> bool:
    """Whether analysing ``" ".join(tokens)`` gives the n-grams of every token's analysis, together.

    Then the sentence row is the sum of the token rows. For ``char_wb`` the
    text is split at whitespace and each word's n-grams are its own (padded
    with a space at both ends), so the joined text's words are the tokens'
    words; for ``word`` with one-word n-grams and a pattern of
    ``_SPACE_BOUNDED_PATTERNS`` no match crosses the joining space. Both hold
    only if the preprocessing keeps the joining spaces where they were: no
    preprocessor or accent stripping of the user's, and lowercasing the
    joined text is lowercasing each token (Python's ``str.lower`` is per
    character but for the final sigma, which a space separates; checked, not
    assumed). Anything else: False, and the joined text is analysed.
    """
    if (
        vectorizer.input != "content"
        or vectorizer.preprocessor is not None
        or vectorizer.strip_accents
    ):
        return False
    if vectorizer.analyzer == "word":
        if (
            vectorizer.tokenizer is not None
            or tuple(vectorizer.ngram_range) != (1, 1)
            or vectorizer.token_pattern not in _SPACE_BOUNDED_PATTERNS
        ):
            return False
    elif vectorizer.analyzer != "char_wb":
        return False
    if not vectorizer.lowercase:
        return True
    try:
        return " ".join(tokens).lower() == " ".join([token.lower() for token in tokens])
    except (TypeError, AttributeError):  # not strings: sklearn's way, and its errors
        return False


def count_tokens(
    vectorizer: Any, tokens: Sequence[Text], sentence: bool
) -> Tuple[coo_matrix, Optional[coo_matrix]]:
    """``count_as_coo(vectorizer, tokens)`` and, if ``sentence``, ``count_as_coo(vectorizer, [" ".join(tokens)])``.

    The same matrices, with each distinct token analysed once and the
    sentence row added up from the token rows when ``sentence_is_sum_of_rows``.
    """
    vocabulary: Dict[Text, int] = vectorizer.vocabulary_
    analyze = _analyzer(vectorizer)
    distinct: Dict[Text, int] = {}  # this message's tokens only: nothing is kept between messages
    order = [distinct.setdefault(token, len(distinct)) for token in tokens]
    columns_of: List[np.ndarray] = []
    counts_of: List[np.ndarray] = []
    indices = index_dtype(max(len(tokens), len(vocabulary)))
    for token in distinct:
        counter: Dict[int, int] = {}
        for feature in analyze(token):
            column = vocabulary.get(feature)
            if column is not None:
                counter[column] = counter.get(column, 0) + 1
        columns = sorted(counter)
        columns_of.append(np.array(columns, dtype=indices))
        counts_of.append(np.array([counter[c] for c in columns], dtype=np.intc))
    # row after row, each row's columns ascending: the order count_as_coo appends them in
    lengths = np.array([len(columns_of[u]) for u in order], dtype=np.intp)
    rows = np.repeat(np.arange(len(tokens), dtype=indices), lengths)
    cols = np.concatenate([columns_of[u] for u in order]) if order else np.zeros(0, dtype=indices)
    counts = np.concatenate([counts_of[u] for u in order]) if order else np.zeros(0, dtype=np.intc)
    sequence = _coo(vectorizer, rows, cols, counts, len(tokens))
    if not sentence:
        return sequence, None
    if not sentence_is_sum_of_rows(vectorizer, tokens):
        return sequence, count_as_coo(vectorizer, [" ".join(tokens)])
    times = np.bincount(np.array(order, dtype=np.intp), minlength=len(distinct))
    every_column = np.concatenate(columns_of) if columns_of else np.zeros(0, dtype=indices)
    weighted = [token_counts * n for token_counts, n in zip(counts_of, times, strict=True)]
    present, where = np.unique(every_column, return_inverse=True)  # sorted: columns ascending
    total = np.zeros(len(present), dtype=np.int64)
    np.add.at(total, where, np.concatenate(weighted) if weighted else np.zeros(0, dtype=np.int64))
    return sequence, _coo(
        vectorizer, np.zeros(len(present), dtype=indices), present.astype(indices), total, 1
    )


def _coo(vectorizer: Any, rows: Any, cols: Any, counts: Any, documents: int) -> coo_matrix:
    """The COO matrix ``count_as_coo`` makes of entries already in row, then column, order."""
    shape = (documents, len(vectorizer.vocabulary_))
    indices = index_dtype(max(shape))
    data = np.asarray(counts).astype(np.intc).astype(vectorizer.dtype)
    if vectorizer.binary:
        data.fill(1)
    # rows count the documents and columns are vocabulary values, so every
    # index is within ``shape`` (what coo_from_parts asks of its caller)
    return coo_from_parts(
        data, np.asarray(rows, dtype=indices), np.asarray(cols, dtype=indices), shape
    )


def _is_plain_fitted(vectorizer: Any) -> bool:
    from sklearn.feature_extraction.text import CountVectorizer

    return type(vectorizer) is CountVectorizer and bool(getattr(vectorizer, "vocabulary_", None))


def create_features(
    featurizer: Any, attribute: Text, all_tokens: List[List[Text]]
) -> Optional[Tuple[List[Optional[Any]], List[Optional[Any]]]]:
    """``CountVectorsFeaturizer._create_features`` counted with ``count_tokens``; None if not covered.

    None (the caller runs Rasa's method) when the attribute's vectorizer is
    missing or not exactly sklearn's fitted ``CountVectorizer``.
    """
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        DENSE_FEATURIZABLE_ATTRIBUTES,
    )

    vectorizer = featurizer.vectorizers.get(attribute) if featurizer.vectorizers else None
    if vectorizer is None or not _is_plain_fitted(vectorizer):
        return None
    sequence_features: List[Optional[Any]] = []
    sentence_features: List[Optional[Any]] = []
    for tokens in all_tokens:
        if not tokens:
            sequence_features.append(None)
            sentence_features.append(None)
            continue
        sequence, sentence = count_tokens(vectorizer, tokens, attribute in DENSE_FEATURIZABLE_ATTRIBUTES)
        sequence_features.append(sequence)
        sentence_features.append(sentence)
    return sequence_features, sentence_features


# Rasa's CountVectorsFeaturizer._process_tokens replaces numbers token by token
# with this pattern (``re.sub`` with the pattern as a string)
_NUMBER_RE = re.compile(r"\b[0-9]+\b")
_NUMBER = "__NUMBER__"


def replace_numbers(tokens: Sequence[Text]) -> Optional[List[Text]]:
    """``[re.sub(r"\\b[0-9]+\\b", "__NUMBER__", t) for t in tokens]`` with one substitution; None if not possible.

    The tokens are joined with newlines, substituted once, and split again. A
    match never contains a newline, and a newline is not a word character, so
    ``\\b`` at either end of a token sees the same as at the ends of the token
    alone: each token comes back as it would have alone. Tokens containing a
    newline themselves (the split would not give them back) or that are not
    strings: None, for Rasa's own loop.
    """
    if not tokens:
        return []
    try:
        joined = "\n".join(tokens)
    except TypeError:
        return None
    if joined.count("\n") != len(tokens) - 1:
        return None
    return _NUMBER_RE.sub(_NUMBER, joined).split("\n")


def process_tokens(featurizer: Any, tokens: List[Text], attribute: Text) -> Optional[List[Text]]:
    """``CountVectorsFeaturizer._process_tokens`` with one ``re.sub`` for the message; None if not covered.

    Rasa calls ``re.sub`` once per token and featurizer: for a 2,000-character
    message, about 1,000 calls through ``re``'s pattern cache per featurizer.
    None (the caller runs Rasa's method) for tokens ``replace_numbers`` cannot take.
    """
    from rasa.shared.nlu.constants import ACTION_NAME, INTENT, INTENT_RESPONSE_KEY

    if attribute in [INTENT, ACTION_NAME, INTENT_RESPONSE_KEY]:
        return tokens
    replaced = replace_numbers(tokens)
    if replaced is None:
        return None
    if featurizer.lowercase:
        replaced = [text.lower() for text in replaced]
    return replaced


def _mirrored() -> List[Any]:
    """The Rasa and sklearn code this module follows (its source is guarded, see ``bot.nlu.direct_count_vectors``)."""
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from sklearn.feature_extraction.text import CountVectorizer, _VectorizerMixin

    return [
        CountVectorsFeaturizer._create_features,
        CountVectorsFeaturizer._process_tokens,
        CountVectorizer.transform,
        CountVectorizer._count_vocab,
        _VectorizerMixin.build_analyzer,
        _VectorizerMixin._char_wb_ngrams,
        _VectorizerMixin._word_ngrams,
    ]


MIRRORED_SHA256 = "92cfb1e07aa7ceedfe193eeb56c1dc369e8bab962176d68343933980e13cdb2f"

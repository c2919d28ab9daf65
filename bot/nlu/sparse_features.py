"""Joining two featurizers' sparse features without scipy's general block builder.

Before DIET or the ResponseSelector classifies a message, Rasa joins the
sparse features of our two CountVectorsFeaturizers (words, character n-grams)
side by side with ``scipy.sparse.hstack`` (``Features._combine_sparse_features``),
twice per classifier (sequence and sentence features). ``hstack`` goes through
``scipy.sparse.bmat``, which is written for any grid of blocks in any format;
for two COO matrices of one row or a few tokens it spent about 0.4 ms per call,
about 1 ms of CPU per member message in the server, for copying a few dozen
numbers.

``join_coo_side_by_side`` builds the same matrix directly: the same entries in
the same order, the same value and index dtypes and the same shape as
``bmat``'s COO path (``tests/test_sparse_features.py`` compares them). Any
other input (CSR, a dtype scipy would change, mismatched rows) goes to
``hstack`` as before, so errors and odd cases stay scipy's and Rasa's.
``join_sparse_features_directly`` installs it into Rasa; the tracker store
calls it when the server starts (``bot.tracker_store``), so training is
untouched.

``coo_from_parts`` is how this module and ``bot.nlu.count_vectors`` make the
COO matrices they return. scipy's constructor converts and checks its input
(index dtype, lengths, every index against the shape) and then checks the
result again (``_check``); for the few-entry matrices of one message that was
about 6% of the server's CPU per member message. Both callers build parts that
are already of scipy's kinds and within the shape, so the matrix is made with
the attributes the constructor would give it and without the checks
(``tests/test_sparse_features.py`` compares the objects attribute by attribute
with the constructor's).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Tuple

import numpy as np
from scipy.sparse import coo_matrix, hstack

_MARK = "_kosmo_direct_join"
_PARTS = ("_shape", "row", "col", "data")


@functools.lru_cache(maxsize=64)
def index_dtype(maxval: int) -> Any:
    """scipy's ``get_index_dtype(maxval=maxval)`` (a function of ``maxval`` alone), remembered."""
    from scipy.sparse._sputils import get_index_dtype

    return get_index_dtype(maxval=maxval)


@functools.lru_cache(maxsize=1)
def _constructor_state() -> Dict[str, Any]:
    """The attributes scipy's COO constructor sets besides the parts (``maxprint``, ``has_canonical_format``...)."""
    made = coo_matrix(
        (np.zeros(1), (np.zeros(1, dtype=index_dtype(1)), np.zeros(1, dtype=index_dtype(1)))),
        shape=(1, 1),
    )
    return {k: v for k, v in vars(made).items() if k not in _PARTS}


def coo_from_parts(
    data: np.ndarray, row: np.ndarray, col: np.ndarray, shape: Tuple[int, int]
) -> coo_matrix:
    """``coo_matrix((data, (row, col)), shape=shape)`` for parts that already pass its checks.

    The caller guarantees what the constructor would check or convert:
    ``shape`` is two Python ints; ``row`` and ``col`` are one-dimensional arrays
    of ``index_dtype(max(shape))``, as long as ``data`` (a one-dimensional
    numeric array), with every index in ``[0, shape)``. The arrays are used as
    they are, as the constructor does with ``copy=False``.
    """
    matrix = coo_matrix.__new__(coo_matrix)
    state = vars(matrix)
    state.update(_constructor_state())
    state.update(_shape=shape, row=row, col=col, data=data)
    return matrix


def join_coo_side_by_side(left: Any, right: Any) -> Any:
    """``scipy.sparse.hstack([left, right])``, without bmat's general machinery for two COO matrices."""
    if (
        type(left) is not coo_matrix
        or type(right) is not coo_matrix
        or left.shape[0] != right.shape[0]
        or left.dtype != right.dtype
    ):
        return hstack([left, right])
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    indices = index_dtype(max(shape))
    split = left.nnz
    data = np.empty(split + right.nnz, dtype=left.dtype)
    row = np.empty(split + right.nnz, dtype=indices)
    col = np.empty(split + right.nnz, dtype=indices)
    data[:split] = left.data
    data[split:] = right.data
    row[:split] = left.row
    row[split:] = right.row
    col[:split] = left.col
    np.add(right.col, left.shape[1], out=col[split:], dtype=indices)
    # left's and right's indices are within their own shapes (scipy checked or
    # coo_from_parts' callers guarantee it), so the joined ones are within ``shape``
    return coo_from_parts(data, row, col, shape)


def join_sparse_features_directly() -> None:
    """Make Rasa's ``Features`` join sparse features with ``join_coo_side_by_side`` (idempotent)."""
    from rasa.shared.nlu.training_data.features import Features

    if getattr(Features._combine_sparse_features, _MARK, False):
        return
    original = Features._combine_sparse_features

    def _combine_sparse_features(self: Features, additional_features: Features) -> None:
        if self.features.shape[0] != additional_features.features.shape[0]:
            original(self, additional_features)  # Rasa's own error message
            return
        self.features = join_coo_side_by_side(self.features, additional_features.features)
        self._cached_fingerprint = None

    setattr(_combine_sparse_features, _MARK, True)
    _combine_sparse_features.rasa_original = original  # type: ignore[attr-defined]
    Features._combine_sparse_features = _combine_sparse_features  # type: ignore[method-assign]

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
``bot.nlu.message_batch`` joins a message's features with it when DIET and
the ResponseSelector predict (instead of Rasa's ``Features._combine_sparse_features``).

``coo_from_parts`` is how this module and ``bot.nlu.count_vectors`` make the
COO matrices they return. scipy's constructor converts and checks its input
(index dtype, lengths, every index against the shape) and then checks the
result again (``_check``); for the few-entry matrices of one message that was
about 6% of the server's CPU per member message. Both callers build parts that
are already of scipy's kinds and within the shape, so the matrix is made with
the attributes the constructor would give it and without the checks
(``tests/test_sparse_features.py`` compares the objects attribute by attribute
with the constructor's, and :func:`coo_from_parts_is_scipys` does it once
more on the scipy installed before a component relies on it).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Tuple

import numpy as np
from scipy.sparse import coo_matrix, hstack

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


@functools.lru_cache(maxsize=1)
def coo_from_parts_is_scipys() -> bool:
    """Whether :func:`coo_from_parts` makes what scipy's constructor makes, on this scipy.

    ``coo_from_parts`` sets a ``coo_matrix``'s private state itself, so a scipy
    that keeps other state, or keeps it otherwise, would get half-built
    matrices. Checked once per process on a small matrix (every attribute,
    type and value) by the components that use it, which otherwise use Rasa's
    own path.
    """
    data = np.array([1, 2], dtype=np.int64)
    row = np.array([0, 1], dtype=index_dtype(3))
    col = np.array([2, 0], dtype=index_dtype(3))
    ours = coo_from_parts(data, row, col, (2, 3))
    theirs = coo_matrix((data, (row, col)), shape=(2, 3))
    if vars(ours).keys() != vars(theirs).keys():
        return False
    for name, value in vars(theirs).items():
        mine = getattr(ours, name)
        if isinstance(value, np.ndarray):
            if not (isinstance(mine, np.ndarray) and mine.dtype == value.dtype and np.array_equal(mine, value)):
                return False
        elif type(mine) is not type(value) or mine != value:
            return False
    return True


"""Joining sparse features directly gives exactly what scipy's hstack gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import coo_matrix, csr_matrix, hstack

from bot.nlu import sparse_features
from bot.nlu.sparse_features import (
    coo_from_parts,
    coo_from_parts_is_scipys,
    index_dtype,
    join_coo_side_by_side,
)
from tests.speedup_support import assert_same_state


def assert_same_coo(ours, scipys) -> None:
    assert type(ours) is type(scipys)
    assert ours.shape == scipys.shape
    assert ours.format == scipys.format
    if ours.format == "coo":
        assert_same_state(ours, scipys)  # data, row, col (dtype and entries) and every other attribute
    else:
        assert (ours != scipys).nnz == 0
        assert ours.dtype == scipys.dtype


@st.composite
def coo_pair(draw):
    rows = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))

    def one(cols: int):
        cells = draw(
            st.lists(
                st.tuples(st.integers(0, rows - 1), st.integers(0, cols - 1)),
                max_size=rows * cols if rows * cols < 40 else 40,
            )
        )
        values = draw(st.lists(st.integers(1, 9), min_size=len(cells), max_size=len(cells)))
        r = np.array([c[0] for c in cells], dtype=np.int32)
        c = np.array([c[1] for c in cells], dtype=np.int32)
        return coo_matrix((np.array(values, dtype=dtype), (r, c)), shape=(rows, cols))

    return one(draw(st.integers(1, 5000))), one(draw(st.integers(1, 50000)))


@settings(max_examples=300, deadline=None)
@given(coo_pair())
def test_two_coo_matrices_join_exactly_as_hstack_does(pair):
    left, right = pair
    assert_same_coo(join_coo_side_by_side(left, right), hstack([left, right]))


@st.composite
def coo_parts(draw):
    rows = draw(st.integers(1, 40))
    cols = draw(st.sampled_from([1, 7, 5000, 2**31 - 1, 2**31 + 5]))  # past int32: int64 indices
    nnz = draw(st.integers(0, 30))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.intc]))
    indices = index_dtype(max(rows, cols))
    row = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=nnz, max_size=nnz)), dtype=indices)
    col = np.array(draw(st.lists(st.integers(0, cols - 1), min_size=nnz, max_size=nnz)), dtype=indices)
    data = np.array(draw(st.lists(st.integers(0, 9), min_size=nnz, max_size=nnz)), dtype=dtype)
    return data, row, col, (rows, cols)


@settings(max_examples=300, deadline=None)
@given(coo_parts())
def test_a_matrix_from_parts_is_the_one_scipys_constructor_makes(parts):
    data, row, col, shape = parts
    ours = coo_from_parts(data, row, col, shape)
    scipys = coo_matrix((data, (row, col)), shape=shape)
    assert type(ours) is coo_matrix
    assert_same_state(ours, scipys)
    ours._check()  # scipy's own consistency check passes on it
    # and it behaves as scipy's does where Rasa and our prediction use it
    assert ours.nnz == scipys.nnz and ours.dtype == scipys.dtype
    if max(shape) <= 5000:  # small enough to compare as dense
        assert np.array_equal(ours.toarray(), scipys.toarray())
        assert_same_coo(hstack([ours, ours]), hstack([scipys, scipys]))


def test_index_dtype_is_scipys():
    from scipy.sparse._sputils import get_index_dtype

    for maxval in (0, 1, 2**31 - 1, 2**31, 2**40):
        assert index_dtype(maxval) is get_index_dtype(maxval=maxval)


@pytest.mark.parametrize(
    "left, right",
    [
        # not both COO: scipy's own path (it keeps CSR as CSR)
        (csr_matrix(np.eye(3)), csr_matrix(np.ones((3, 2)))),
        (coo_matrix(np.eye(3)), csr_matrix(np.ones((3, 2)))),
        # different dtypes: scipy upcasts
        (coo_matrix(np.eye(2, dtype=np.int64)), coo_matrix(np.ones((2, 2), dtype=np.float32))),
        # empty matrices
        (coo_matrix((1, 4)), coo_matrix((1, 7))),
    ],
)
def test_other_inputs_get_scipys_result(left, right):
    assert_same_coo(join_coo_side_by_side(left, right), hstack([left, right]))


def test_mismatched_rows_raise_as_scipy_does():
    with pytest.raises(ValueError):
        join_coo_side_by_side(coo_matrix((2, 3)), coo_matrix((3, 3)))


def features(origin: str, kind: str, matrix) -> Features:
    return Features(matrix, kind, "text", origin)


def test_a_message_joined_as_rasa_joins_it():
    """What ``bot.nlu.message_batch`` joins is what Rasa's ``Message.get_sparse_features`` joins."""
    rng = np.random.default_rng(7)
    words = coo_matrix((rng.random((5, 300)) > 0.98).astype(np.float64))
    chars = coo_matrix((rng.random((5, 4000)) > 0.99).astype(np.float64))
    message = Message(data={"text": "初期パスワードを教えて"})
    message.add_features(features("words", "sequence", words))
    message.add_features(features("chars", "sequence", chars))
    message.add_features(features("words", "sentence", coo_matrix(words.sum(axis=0))))
    message.add_features(features("chars", "sentence", coo_matrix(chars.sum(axis=0))))

    sequence, sentence = message.get_sparse_features("text")

    assert_same_coo(join_coo_side_by_side(words, chars), sequence.features)
    assert_same_coo(
        join_coo_side_by_side(coo_matrix(words.sum(axis=0)), coo_matrix(chars.sum(axis=0))), sentence.features
    )


def test_the_installed_scipy_builds_coo_matrices_as_coo_from_parts_expects():
    assert coo_from_parts_is_scipys()


def test_a_scipy_that_keeps_other_state_is_noticed(monkeypatch):
    coo_from_parts_is_scipys.cache_clear()
    monkeypatch.setattr(sparse_features, "_constructor_state", lambda: {"maxprint": 50})
    try:
        assert not coo_from_parts_is_scipys()
    finally:
        coo_from_parts_is_scipys.cache_clear()

"""The layers of DIET's prediction as NumPy functions, float32 in and out.

Each computes what one of Rasa's Keras layers computes when predicting:

- :func:`apply_dense`: a :class:`Dense` layer, ``activation(x @ kernel + bias)``
  with GELU or no activation (``Ffnn``'s ``RandomlyConnectedDense`` layers,
  ``Embed``'s dense layer);
- :func:`sparse_to_dense`: ``DenseForSparse`` on a sparse tensor given as
  (indices, values, shape);
- :func:`sequence_mask`: ``rasa_layers.compute_mask``;
- :func:`l2_normalize` and :func:`softmax`: the cosine similarity and the
  confidences of ``DotProductLoss``.

Float32 sums in another order than TensorFlow's differ in the last bits, so
the results agree with Rasa's within a tolerance, not bit for bit
(``bot.nlu.diet_batch_predict`` says how far). ``bot.nlu.diet_weights``
reads the :class:`Dense` layers from a trained model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Dense:
    """``activation(x @ kernel + bias)``; activation is GELU or none."""

    kernel: np.ndarray
    bias: Optional[np.ndarray]
    gelu: bool = False


def sequence_mask(lengths: np.ndarray) -> np.ndarray:
    """``rasa_layers.compute_mask``: (batch, max length, 1) with 1.0 at real positions."""
    longest = int(lengths.max()) if lengths.size else 0
    return (np.arange(longest)[None, :] < lengths[:, None]).astype(np.float32)[:, :, None]


# cells of sparse_to_dense's (positions x entries) weights beyond which a sparse
# product is used instead (a short message has a few thousand)
_DENSE_WEIGHTS_LIMIT = 1 << 18


def apply_dense(layer: Dense, x: np.ndarray) -> np.ndarray:
    """``layer`` on ``x`` (over its last axis)."""
    out = x @ layer.kernel
    if layer.bias is not None:
        out = out + layer.bias
    if layer.gelu:
        from scipy.special import erf

        out = 0.5 * out * (1.0 + erf(out / np.float32(np.sqrt(2.0)))).astype(np.float32)
    return out.astype(np.float32, copy=False)


def sparse_to_dense(layer: Dense, indices: np.ndarray, values: np.ndarray, shape: Sequence[int]) -> np.ndarray:
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


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """``tf.nn.l2_normalize`` over the last axis."""
    squared = np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32)
    return (x / np.sqrt(np.maximum(squared, np.float32(1e-12)))).astype(np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    """``tf.nn.softmax`` over the last axis."""
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)

"""Comparing our shortcuts' results with Rasa's and scipy's: attribute by attribute, or decision by decision."""

from __future__ import annotations

from typing import Any

import numpy as np

# DIET's and the ResponseSelector's NumPy scores against TensorFlow's: float32 sums in
# another order differ in the last bits (seen: below 4e-6). Equal within this, not exact.
TOLERANCE = 1e-5


def assert_same_state(ours, scipys) -> None:
    """The same attributes with the same values (arrays: same dtype, shape and entries)."""
    assert vars(ours).keys() == vars(scipys).keys()
    for name, theirs in vars(scipys).items():
        mine = getattr(ours, name)
        if isinstance(theirs, np.ndarray):
            assert isinstance(mine, np.ndarray) and mine.dtype == theirs.dtype, name
            assert mine.shape == theirs.shape and np.array_equal(mine, theirs), name
        else:
            assert type(mine) is type(theirs) and mine == theirs, name


def same_classification(ours: Any, theirs: Any) -> bool:
    """Equal, with confidences to ``TOLERANCE``; rankings compared by name, so a tie may reorder.

    A ranking is cut after its first 10 entries. Where the cut falls among
    confidences of about 1e-37 (zero in float32 terms, seen for a message that
    is 1.0 one intent), which of those nearly-zero names make the cut depends
    on the last bits; names below ``TOLERANCE`` on both sides are not compared.
    """
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and ours.keys() == theirs.keys() and all(
            same_classification(ours[k], theirs[k]) for k in theirs
        )
    if isinstance(theirs, list) and theirs and all(isinstance(x, dict) and "confidence" in x for x in theirs):
        key = "name" if "name" in theirs[0] else "intent_response_key"
        ours_by_key = {x[key]: x for x in ours}
        theirs_by_key = {x[key]: x for x in theirs}

        def matched(x: dict, other: dict) -> bool:
            if x[key] in other:
                return same_classification(x, other[x[key]])
            return x["confidence"] <= TOLERANCE  # a nearly-zero name the other cut left out

        return (
            len(ours) == len(theirs)
            and all(matched(x, theirs_by_key) for x in ours)
            and all(matched(x, ours_by_key) for x in theirs)
        )
    if isinstance(theirs, float):
        return isinstance(ours, float) and abs(ours - theirs) <= TOLERANCE
    if isinstance(theirs, np.ndarray):
        return bool(np.allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE))
    return ours == theirs

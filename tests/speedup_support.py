"""Installing one of bot/speedups.py's replacements for a test, and putting Rasa's back; comparing results."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np


@contextlib.contextmanager
def installed(owner: Any, name: str, install: Callable[[], None]) -> Iterator[Any]:
    """Put Rasa's own ``owner.name`` back, run ``install`` twice (it must be idempotent); yields Rasa's own.

    Rasa's own is the attribute's ``rasa_original`` when another test (any that
    creates our tracker store) installed the speed-ups before, else the
    attribute itself. Starting from Rasa's own, the test sees only the
    speed-up it installs (two of them replace ``RasaModel._rasa_predict``).
    The attribute is put back afterwards, so other tests see what they saw before.
    """
    before = getattr(owner, name)
    rasas = getattr(before, "rasa_original", before)
    setattr(owner, name, rasas)
    install()
    install()
    try:
        yield rasas
    finally:
        setattr(owner, name, before)


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

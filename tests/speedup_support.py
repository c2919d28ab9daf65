"""Installing one of bot/speedups.py's replacements for a test, and putting Rasa's back."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def installed(owner: Any, name: str, install: Callable[[], None]) -> Iterator[Any]:
    """Run ``install`` twice (it must be idempotent); yields Rasa's own ``owner.name``.

    Rasa's own is the attribute's ``rasa_original`` when another test (any that
    creates our tracker store) installed the speed-up before, else the attribute
    itself. The attribute is put back afterwards, so other tests see what they
    saw before.
    """
    before = getattr(owner, name)
    install()
    install()
    try:
        yield getattr(before, "rasa_original", before)
    finally:
        setattr(owner, name, before)

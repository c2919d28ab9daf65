"""Installing one of bot/speedups.py's replacements for a test, and putting Rasa's back."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def installed(owner: Any, name: str, install: Callable[[], None]) -> Iterator[Any]:
    """Run ``install`` twice (it must be idempotent); yields what ``owner.name`` was before.

    The attribute is put back afterwards, so other tests see what they saw before.
    """
    before = getattr(owner, name)
    install()
    install()
    try:
        yield before
    finally:
        setattr(owner, name, before)

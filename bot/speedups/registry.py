"""The registry of patches: what each replaces, its guard, install and undo; what is installed now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from bot.speedups.guard import enabled, written_for

logger = logging.getLogger("bot.speedups")


@dataclass(frozen=True)
class Patch:
    """One replacement of Rasa code that has no extension point."""

    name: str  # what it replaces, as the log names it
    summary: str  # what it does instead, in a few words
    targets: Callable[[], Iterable[Any]]  # the Rasa code it mirrors or depends on (guarded)
    sha256: str  # SHA-256 of those targets' source in the Rasa it was written for
    install: Callable[[], Callable[[], None]]  # puts it in place; returns what undoes it


def replace(owner: Any, name: str, value: Any) -> Callable[[], None]:
    """Set ``owner.name`` to ``value``; returns what puts the original back.

    The original is read from ``owner``'s own namespace, so a class's
    ``staticmethod`` comes back as the ``staticmethod`` it was.
    """
    saved = vars(owner)[name]
    setattr(owner, name, value)

    def undo() -> None:
        setattr(owner, name, saved)

    return undo


def patches() -> Tuple[Patch, ...]:
    """Every patch, in the order they are installed."""
    from bot.speedups import action_timeout, event_types, graph_runner

    return (graph_runner.PATCH, event_types.PATCH, action_timeout.PATCH)


# The only record of what is installed: name -> undo.
_INSTALLED: Dict[str, Callable[[], None]] = {}


def install_all(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """Install every patch whose guard passes (once); returns the names installed now.

    With ``$KOSMO_RASA_SPEEDUPS=off`` nothing is installed. A patch whose Rasa
    code is not the one it was written for is skipped with a warning
    (``bot.speedups.guard.written_for``); the others are installed.
    """
    if not enabled(environ):
        logger.info("KOSMO_RASA_SPEEDUPS=off: no patch of Rasa installed; Rasa's own code runs")
        return []
    for patch in patches():
        if patch.name in _INSTALLED:
            continue
        if not written_for(patch.name, patch.targets, patch.sha256):
            continue
        _INSTALLED[patch.name] = patch.install()
        logger.info("patch installed: %s (%s)", patch.name, patch.summary)
    return installed()


def uninstall_all() -> None:
    """Undo every installed patch, the last installed first."""
    for name in reversed(list(_INSTALLED)):
        _INSTALLED.pop(name)()


def installed() -> List[str]:
    """The names of the patches installed now, in the order they were installed."""
    return list(_INSTALLED)

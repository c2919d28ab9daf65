"""The one switch and the one guard of every shortcut around Rasa's code.

Our shortcuts mirror Rasa 3.6.21 code step by step (a graph runner, the rule
walk, the state replay, DIET's prediction layer by layer...). On another Rasa
they could keep running and silently diverge, so each checks first that the
Rasa code it mirrors is the code it was written for: ``rasa.__version__`` is
the pinned version (``rasa==`` in pyproject.toml, read by
``bot.rasa_pin.pinned_rasa_version``: the one place it is written) and the
SHA-256 of the mirrored functions' source is the one recorded beside the
shortcut. When either differs it logs a warning and leaves Rasa's own code in
place (it fails closed).

Who asks:
- the registry of patches (``bot.speedups``), before installing each patch;
- the components named in ``config.yml`` (``bot.nlu.fast_diet``,
  ``bot.nlu.direct_count_vectors``, ``bot.indexed_rule_policy``), when a
  trained model is loaded: their shortcuts are for prediction, and training
  runs Rasa's code.

:func:`enabled` is the one switch: ``KOSMO_RASA_SPEEDUPS=off`` (read as
``bot.settings`` reads it) turns every patch and every component shortcut off
(Rasa's own code alone, for comparing or for ruling them out). A component
reads it when the model is loaded.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any, Callable, Iterable, Mapping, Optional

SWITCH_ENV = "KOSMO_RASA_SPEEDUPS"

logger = logging.getLogger(__name__)


def enabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    """False when ``$KOSMO_RASA_SPEEDUPS`` is ``off`` (or false, no, 0): Rasa's own code only.

    Read by ``bot.settings`` with the server's other settings (a bad one stops
    the process there, as it stops the server).
    """
    from bot.settings import RasaServerSettings

    return RasaServerSettings.from_env(environ).speedups


def rasa_version_written_for() -> Optional[str]:
    """The Rasa version every shortcut was written and checked against: the pinned one."""
    from bot.rasa_pin import pinned_rasa_version

    return pinned_rasa_version()


def source_digest(targets: Iterable[Any]) -> Optional[str]:
    """SHA-256 (hex) of the targets' sources, one after the other; None if one cannot be read."""
    digest = hashlib.sha256()
    for target in targets:
        try:
            source = inspect.getsource(target)
        except (OSError, TypeError):
            return None
        digest.update(source.encode("utf-8"))
    return digest.hexdigest()


def written_for(what: str, targets: Callable[[], Iterable[Any]], sha256: str) -> bool:
    """Whether the Rasa code a shortcut mirrors is the code it was written for.

    ``targets`` returns the mirrored Rasa functions or classes (a callable, so
    that a missing attribute on another Rasa is a refusal, not a crash). True
    when Rasa is the pinned version (:func:`rasa_version_written_for`) and the
    targets' source digest is ``sha256``; otherwise a warning naming ``what``
    and both sides, and False.
    """
    import rasa

    version = getattr(rasa, "__version__", None)
    pinned = rasa_version_written_for()
    try:
        digest = source_digest(targets())
    except (AttributeError, ImportError) as e:
        digest = None
        logger.debug("speed-up %s: cannot read the code it mirrors: %s", what, e)
    if pinned is not None and version == pinned and digest == sha256:
        return True
    logger.warning(
        "speed-up %s not used: written for Rasa %s with source sha256 %s, found Rasa %s "
        "with source sha256 %s; Rasa's own code runs",
        what,
        pinned or "(no pinned version found)",
        sha256[:16],
        version,
        digest[:16] if digest else "unreadable",
    )
    return False


def shortcut_allowed(
    what: str,
    targets: Callable[[], Iterable[Any]],
    sha256: str,
    environ: Optional[Mapping[str, str]] = None,
) -> bool:
    """:func:`enabled` and :func:`written_for`: what a component asks when its model is loaded (logged)."""
    if not enabled(environ):
        return False
    if not written_for(what, targets, sha256):
        return False
    logger.info("speed-up in use: %s", what)
    return True

"""The Rasa version this bot is written for: the ``rasa==`` pin of ``pyproject.toml``.

Written in one place (the pin) and read here by the two that compare it with the
installed Rasa: the servers' checks before they start (``bot.preflight``) and every
shortcut around Rasa's code (``bot.speedups.guard``). Standard library only.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Optional

from bot.settings import PROJECT_ROOT

DISTRIBUTION = "kosmo-login-helpdesk"  # pyproject.toml's [project] name
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
_PIN = re.compile(r"""^\s*["']rasa\s*==\s*([0-9][^"';\s]*)["']""", re.M)


def pinned_rasa_version() -> Optional[str]:
    """The version in ``rasa==...`` of ``pyproject.toml`` (of the installed
    distribution's requirements, where the file is not beside the code)."""
    if PYPROJECT.is_file():
        match = _PIN.search(PYPROJECT.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.fullmatch(r"rasa\s*==\s*([0-9][^;\s]*)\s*(;.*)?", requirement.strip())
        if match:
            return match.group(1)
    return None

"""The layers hold at run time: what importing a layer really loads, in a fresh interpreter.

- ``bot.domain`` (society facts, normalisation, masking, what the member saw, topics)
  imports no Rasa and no web or database framework, so every process can use it;
- the action server's modules (``actions``) import nothing of the Rasa server package
  ``rasa`` (``rasa_sdk``, and the Sanic it brings, are theirs).

A fresh interpreter per check, because this test session has imported Rasa long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

DOMAIN_FORBIDDEN = ("rasa", "rasa_sdk", "sanic", "aiohttp", "sqlalchemy", "tensorflow")
ACTIONS_FORBIDDEN = ("rasa",)


def loaded_after_importing(package: str) -> dict[str, list[str]]:
    """Import every module of ``package`` in a fresh interpreter: its modules, and every top-level
    package then in ``sys.modules`` with the modules of it that were loaded."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        "modules = [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.')]\n"
        "for name in modules:\n"
        "    importlib.import_module(name)\n"
        "loaded = {}\n"
        "for name in sorted(sys.modules):\n"
        "    loaded.setdefault(name.split('.')[0], []).append(name)\n"
        "print(json.dumps({'modules': modules, 'loaded': loaded}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True,
        timeout=300,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "package, forbidden",
    [("bot.domain", DOMAIN_FORBIDDEN), ("actions", ACTIONS_FORBIDDEN)],
)
def test_a_layer_loads_nothing_it_must_not(package: str, forbidden: tuple[str, ...]) -> None:
    found = loaded_after_importing(package)
    assert len(found["modules"]) > 5, found["modules"]  # the walk saw the package's modules
    assert all(m == package or m.startswith(package + ".") for m in found["modules"])
    loaded = found["loaded"]
    assert {name: loaded[name][:5] for name in forbidden if name in loaded} == {}


def test_the_check_sees_rasa_when_it_is_loaded() -> None:
    found = loaded_after_importing("bot.nlu")  # Rasa components: Rasa must show
    assert "rasa" in found["loaded"]

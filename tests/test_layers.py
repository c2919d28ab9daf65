"""The layers hold at run time: what importing a layer really loads, in a fresh interpreter.

- ``bot.domain`` (society facts, normalisation, masking, what the member saw, topics)
  imports no Rasa and no web or database framework, so every process can use it;
- the action server's modules (``actions``) import nothing of the Rasa server package
  ``rasa`` (``rasa_sdk``, and the Sanic it brings, are theirs).

A fresh interpreter per check, because this test session has imported Rasa long ago.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import PROJECT_ROOT

DOMAIN_FORBIDDEN = (
    "rasa", "rasa_sdk", "sanic", "sanic_cors", "aiohttp", "socketio", "sqlalchemy", "alembic", "tensorflow"
)
ACTIONS_FORBIDDEN = ("rasa",)


def loaded_after_importing(package: str) -> dict[str, Any]:
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


def test_the_action_server_process_loads_no_rasa() -> None:
    """Its entry point too, not only the actions it runs: the servers' layer may import anything shipped."""
    code = "import sys, bot.action_server; print(sorted({m.split('.')[0] for m in sys.modules} & {'rasa', 'tensorflow'}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_check_sees_rasa_when_it_is_loaded() -> None:
    found = loaded_after_importing("bot.nlu")  # Rasa components: Rasa must show
    assert "rasa" in found["loaded"]


# ---------------------------------------------------------------- the import rules, read from the source
#
# docs/architecture.md draws these. Every import counts, also one inside a function or
# under TYPE_CHECKING: a lazy import still ties the layers together.

# layer -> the modules it holds (a module belongs to the layer of its longest prefix)
LAYERS: dict[str, tuple[str, ...]] = {
    "config": ("bot.settings", "bot.shared_secret", "bot.rasa_pin"),  # bot.settings: a package
    "domain": ("bot.domain",),
    "plumbing": ("bot.sql", "bot.client_address", "bot.masking_logs", "bot.gc_tuning"),
    "portal client": ("bot.portal_client",),
    "handoff": ("bot.handoff",),
    "review": ("bot.review",),
    "rasa components": (
        "bot.nlu", "bot.indexed_rule_policy", "bot.repeated_topic_policy", "bot.rule_matching",
        "bot.past_states", "bot.nlg",
    ),
    "tracker store": ("bot.tracker_store",),
    "speed-ups": ("bot.speedups",),
    "channels": ("bot.channels",),
    "widget service": ("bot.web",),
    "servers": ("bot.serve", "bot.action_server", "bot.preflight"),
    "bot": ("bot",),  # the package's __init__ only (a new module of bot/ needs a layer)
    "actions": ("actions",),
    "dev": ("dev",),
    "bench": ("bench",),
    "tests": ("tests",),
}
SHIPPED = [name for name in LAYERS if name not in ("dev", "bench", "tests")]
# layer -> the other layers it may import
MAY_IMPORT: dict[str, set[str]] = {
    "config": set(),
    "domain": {"config"},
    "plumbing": {"config", "domain"},
    "portal client": {"config", "domain"},
    "handoff": {"config", "domain", "plumbing"},
    "review": {"config", "domain", "plumbing", "handoff"},
    "rasa components": {"config", "domain", "speed-ups"},
    "tracker store": {"config", "domain", "plumbing"},
    "speed-ups": {"config"},
    "channels": {"config", "domain", "plumbing", "handoff"},
    "widget service": {"config", "domain"},
    "servers": set(SHIPPED) - {"actions"},
    "bot": set(),
    "actions": {"config", "domain", "portal client", "handoff"},
    "dev": set(SHIPPED),
    "bench": set(LAYERS),
    "tests": set(LAYERS),
}
# the action server's part of the handoff package: the store and the packet
ACTIONS_MAY_USE_OF_HANDOFF = (
    "bot.handoff.models", "bot.handoff.packet", "bot.handoff.store", "bot.handoff.store_errors",
)
HANDOFF_STORE_PARTS = (
    "bot.handoff.store_core", "bot.handoff.store_agents", "bot.handoff.store_handoffs",
    "bot.handoff.passwords",
)
WEB_AND_DATABASE = ("sanic", "sanic_cors", "socketio", "aiohttp", "sqlalchemy", "alembic")
# layer (or module prefix) -> third-party packages it must not import
MUST_NOT_IMPORT: dict[str, tuple[str, ...]] = {
    "config": ("rasa", "rasa_sdk", "tensorflow", *WEB_AND_DATABASE),
    "domain": ("rasa", "rasa_sdk", "tensorflow", *WEB_AND_DATABASE),
    "portal client": ("rasa", "rasa_sdk", "tensorflow", "sanic", "socketio", "sqlalchemy"),
    "widget service": ("rasa", "rasa_sdk", "tensorflow", "sqlalchemy"),
    "actions": ("rasa",),  # rasa_sdk is the action server's own
    # the handoff modules the action server loads: no Rasa server either
    **{module: ("rasa",) for module in ACTIONS_MAY_USE_OF_HANDOFF + HANDOFF_STORE_PARTS},
}
FIRST_PARTY = ("bot", "actions", "dev", "bench", "tests")


def module_of(path: Path, root: Path = PROJECT_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> Optional[str]:
    best: Optional[tuple[int, str]] = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            inside = module == prefix or (module.startswith(prefix + ".") and prefix != "bot")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return best[1] if best else None


def imported_by(path: Path, root: Path = PROJECT_ROOT) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file; ``from a import b`` is ``a.b`` when
    ``b`` is a module of ours, else ``a``; relative imports resolved."""
    module = module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                top = root.joinpath(*candidate.split("."))
                is_module = top.with_suffix(".py").is_file() or (top / "__init__.py").is_file()
                yield node.lineno, candidate if is_module else base


def violations(root: Path = PROJECT_ROOT) -> list[str]:
    found = []
    for top in FIRST_PARTY:
        for path in sorted((root / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = module_of(path, root)
            layer = layer_of(source)
            assert layer is not None, source
            forbidden = MUST_NOT_IMPORT.get(layer, ()) + MUST_NOT_IMPORT.get(source, ())
            for line, target in imported_by(path, root):
                where = f"{path.relative_to(root)}:{line} ({layer}) imports {target}"
                top_name = target.split(".")[0]
                if top_name in forbidden:
                    found.append(where)
                if top_name not in FIRST_PARTY:
                    continue
                other = layer_of(target)
                if other == layer:
                    continue
                if other not in MAY_IMPORT[layer]:
                    found.append(f"{where} ({other})")
                elif layer == "actions" and other == "handoff" and target not in ACTIONS_MAY_USE_OF_HANDOFF:
                    found.append(f"{where} (only the store and the packet)")
    return list(dict.fromkeys(found))


def test_every_import_follows_the_architecture() -> None:
    assert violations() == []


def test_every_module_of_ours_is_in_a_layer() -> None:
    modules = [module_of(p) for top in FIRST_PARTY for p in (PROJECT_ROOT / top).rglob("*.py")]
    assert len(modules) > 200
    assert [m for m in modules if layer_of(m) is None] == []
    for layer, allowed in MAY_IMPORT.items():
        assert allowed <= set(LAYERS), layer


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """A planted tree with one import of each kind the rules forbid (and allowed ones)."""
    files = {
        "bot/__init__.py": "",
        "bot/settings/__init__.py": "from bot.settings.parsers import p\n",
        "bot/settings/parsers.py": "import sanic\n",
        "bot/domain/__init__.py": "",
        "bot/domain/facts.py": "import sqlalchemy\nfrom bot.channels import x\nfrom . import other\nfrom bot import settings\n",
        "bot/domain/other.py": "def f():\n    import rasa.core\n",
        "bot/channels/__init__.py": "from bot.nlu.thing import y\n",
        "bot/nlu/__init__.py": "",
        "bot/nlu/thing.py": "",
        "bot/handoff/__init__.py": "",
        "bot/handoff/console.py": "import sanic\n",
        "bot/handoff/store.py": "import rasa\n",
        "actions/__init__.py": "",
        "actions/a.py": "from bot.handoff import console\nfrom bot.handoff.store import S\nimport rasa_sdk\nimport dev.stack\n",
        "dev/__init__.py": "",
        "dev/stack.py": "import tests.x\n",
        "bench/__init__.py": "",
        "tests/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = sorted(v.split(" imports ")[0].split(":")[0] + " " + v.split(" imports ")[1] for v in violations(tmp_path))
    assert found == sorted([
        "actions/a.py bot.handoff.console (only the store and the packet)",
        "actions/a.py dev.stack (dev)",
        "bot/channels/__init__.py bot.nlu.thing (rasa components)",
        "bot/domain/facts.py bot.channels (channels)",
        "bot/domain/facts.py sqlalchemy",
        "bot/domain/other.py rasa.core",
        "bot/handoff/store.py rasa",
        "bot/settings/parsers.py sanic",
        "dev/stack.py tests.x (tests)",
    ])

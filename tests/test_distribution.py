"""What operators deploy: the distribution built from pyproject.toml holds the bot and its
actions, never the development tools (dev/: reference portal, demo pages, dev stack), and
nothing that ships imports them. Cheap: setuptools reads pyproject's own package config,
nothing is built."""

from __future__ import annotations

import ast
import fnmatch
import os
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

from bot.domain.societies import PROJECT_ROOT

SHIPPED = ("bot", "actions")
NOT_SHIPPED = ("dev", "tests", "bench")


@pytest.fixture(scope="module")
def distribution() -> Distribution:
    here = os.getcwd()
    os.chdir(PROJECT_ROOT)  # setuptools finds packages relative to the working directory
    try:
        return apply_configuration(Distribution(), PROJECT_ROOT / "pyproject.toml")
    finally:
        os.chdir(here)


def test_the_distribution_holds_the_bot_and_its_actions_only(distribution: Distribution) -> None:
    packages = set(distribution.packages or ())
    assert {"bot", "bot.portal_client", "bot.web", "actions"} <= packages
    assert {p.split(".")[0] for p in packages} == set(SHIPPED), sorted(packages)
    assert not distribution.py_modules


def test_the_widget_files_ship_and_the_demo_pages_do_not(distribution: Distribution) -> None:
    globs = (distribution.package_data or {}).get("bot.web", [])
    web = PROJECT_ROOT / "bot" / "web"
    widget_files = [p for p in (web / "static" / "widget").rglob("*") if p.is_file()]
    assert widget_files
    for path in widget_files:
        relative = path.relative_to(web).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative
    assert not (web / "static" / "demo").exists() and not (web / "demo.py").exists()


def _dev_imports(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (  # importlib.import_module("dev...") / __import__("dev...")
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in NOT_SHIPPED]
    return found


def test_nothing_that_ships_imports_a_development_tool() -> None:
    sources = [p for top in SHIPPED for p in (PROJECT_ROOT / top).rglob("*.py")]
    assert len(sources) > 50
    found = [hit for path in sources for hit in _dev_imports(path)]
    assert found == []


def test_the_scan_sees_an_import_of_dev(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import dev.stack\nfrom dev.portal import app\nimportlib.import_module('dev.demo')\n"
        "import devices\nfrom bot import dev_notes\n",
        encoding="utf-8",
    )
    assert [hit.split(" ")[1] for hit in _dev_imports(probe, tmp_path)] == [
        "dev.stack", "dev.portal", "dev.demo"
    ]

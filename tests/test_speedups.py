"""The registry of patches and the guard of every shortcut: installed once, undone, off by one switch, fail closed."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap

import pytest
import rasa
import rasa.core.actions.action as rasa_action
import rasa.core.processor
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event

from bot import speedups
from bot.settings import SettingsError
from bot.speedups import install_all, installed, patches, rasa_version_written_for, uninstall_all
from bot.speedups.action_timeout import action_timeout
from bot.speedups.graph_runner import SequentialGraphRunner
from bot.speedups.guard import enabled, source_digest
from tests.conftest import PROJECT_ROOT


def rasas_code() -> tuple:
    return (rasa.core.processor.DaskGraphRunner, vars(Event)["resolve_by_type"], rasa_action.DEFAULT_REQUEST_TIMEOUT)


@pytest.fixture
def registry():
    """Nothing installed before the test (Rasa's code), and nothing after it."""
    uninstall_all()
    assert rasas_code() == (DaskGraphRunner, vars(Event)["resolve_by_type"], 300)
    yield
    uninstall_all()


def test_the_shortcuts_are_written_for_the_pinned_rasa_which_is_installed():
    constraints = re.findall(r"^rasa==([0-9.]+)$", (PROJECT_ROOT / "constraints.txt").read_text(), re.M)
    assert [rasa_version_written_for()] == constraints == [rasa.__version__] == ["3.6.21"]


def test_every_patch_is_written_for_this_rasas_code():
    """A changed digest would leave a patch out silently in the server: it must match here."""
    for patch in patches():
        assert source_digest(patch.targets()) == patch.sha256, patch.name


def test_off_installs_nothing(registry):
    before = rasas_code()
    assert install_all({"KOSMO_RASA_SPEEDUPS": "off"}) == []
    assert rasas_code() == before and installed() == []


def test_on_installs_each_once_and_uninstalling_puts_rasas_code_back(registry, monkeypatch):
    monkeypatch.delenv("KOSMO_ACTION_TIMEOUT", raising=False)
    before = rasas_code()
    names = install_all({})
    assert names == [p.name for p in patches()] == installed()
    assert rasa.core.processor.DaskGraphRunner is SequentialGraphRunner
    assert vars(Event)["resolve_by_type"] is not before[1]
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 5.0
    after = rasas_code()
    assert install_all({"KOSMO_RASA_SPEEDUPS": "on"}) == names
    assert rasas_code() == after  # once
    uninstall_all()
    assert rasas_code() == before and installed() == []


def test_on_another_rasa_nothing_is_installed_and_each_is_named(registry, monkeypatch, caplog):
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    before = rasas_code()
    with caplog.at_level(logging.WARNING, logger="bot.speedups"):
        assert install_all({}) == []
    assert rasas_code() == before
    for patch in patches():
        assert any(patch.name in r.getMessage() and "3.6.22" in r.getMessage() for r in caplog.records)


def test_a_patch_whose_rasa_code_changed_is_left_out_the_others_installed(registry, monkeypatch, caplog):
    from bot.speedups import event_types

    changed = speedups.Patch(**{**vars(event_types.PATCH), "sha256": "0" * 64})
    monkeypatch.setattr(event_types, "PATCH", changed)
    before = vars(Event)["resolve_by_type"]
    with caplog.at_level(logging.WARNING, logger="bot.speedups"):
        names = install_all({})
    assert changed.name not in names and len(names) == len(patches()) - 1
    assert vars(Event)["resolve_by_type"] is before
    assert "Event.resolve_by_type not used" in caplog.text


def test_the_action_timeout_comes_from_the_environment():
    assert action_timeout({}) == 5.0
    assert action_timeout({"KOSMO_ACTION_TIMEOUT": "3"}) == 3.0
    with pytest.raises(SettingsError):  # bot.settings refuses what is not a number of 1 or more
        action_timeout({"KOSMO_ACTION_TIMEOUT": "soon"})


def test_indexed_event_types_resolve_like_rasa(registry):
    from rasa.shared.core.events import UserUttered
    from rasa.shared.utils.common import all_subclasses

    def walk(type_name):
        return next(c for c in all_subclasses(Event) if c.type_name == type_name)

    install_all({})
    for cls in all_subclasses(Event):
        assert Event.resolve_by_type(cls.type_name) is walk(cls.type_name)
    assert Event.resolve_by_type("topic") is None  # Rasa's own special case
    assert Event.resolve_by_type("no-such-event", UserUttered) is UserUttered
    with pytest.raises(ValueError):
        Event.resolve_by_type("no-such-event")
    event = Event.from_parameters(
        {"event": "user", "text": "こんにちは", "parse_data": {"intent": {"name": "greet"}, "entities": []}}
    )
    assert isinstance(event, UserUttered) and event.text == "こんにちは"


# ---------------------------------------------------------------- the components' shortcuts


def component_shortcuts() -> dict:
    """What each component asks for when its model is loaded (None: Rasa's code)."""
    from bot.indexed_rule_policy import shortcuts
    from bot.nlu.direct_count_vectors import direct_counting
    from bot.nlu.fast_diet import numpy_prediction

    matching, states = shortcuts()
    return {
        "numpy": numpy_prediction("DIET"),
        "counting": direct_counting(),
        "rule matching": matching,
        "past states": states,
    }


def test_every_component_shortcut_is_written_for_this_rasas_code(monkeypatch):
    monkeypatch.delenv("KOSMO_RASA_SPEEDUPS", raising=False)
    assert all(v is not None for v in component_shortcuts().values()), component_shortcuts()


def test_the_switch_turns_every_component_shortcut_off(monkeypatch):
    monkeypatch.setenv("KOSMO_RASA_SPEEDUPS", "off")
    assert all(v is None for v in component_shortcuts().values())


def test_on_another_rasa_every_component_shortcut_is_left_out_and_named(monkeypatch, caplog):
    monkeypatch.delenv("KOSMO_RASA_SPEEDUPS", raising=False)
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    with caplog.at_level(logging.WARNING, logger="bot.speedups"):
        assert all(v is None for v in component_shortcuts().values())
    messages = [r.getMessage() for r in caplog.records]
    for what in ("NumPy prediction", "direct counting", "indexed rules", "kept states"):
        assert any(what in m and "3.6.22" in m for m in messages), what


def test_loading_a_component_imports_its_prediction_code_training_does_not():
    """Only a loaded model uses (and imports) the shortcuts: a fresh interpreter imports the components alone."""
    code = textwrap.dedent(
        """
        import sys
        import bot.indexed_rule_policy, bot.nlu.direct_count_vectors, bot.nlu.fast_diet, bot.nlu.faq_selector
        loaded = [m for m in ("bot.nlu.numpy_predict", "bot.nlu.diet_weights", "bot.nlu.message_batch",
                              "bot.nlu.diet_batch_predict", "bot.nlu.numpy_layers", "bot.nlu.count_vectors",
                              "bot.nlu.sparse_features", "bot.rule_matching", "bot.past_states", "bot.speedups")
                  if m in sys.modules]
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True)


# ---------------------------------------------------------------- the server installs them


def test_the_server_installs_the_patches_only_for_rasa_run(registry):
    from bot.serve import serves

    assert serves(["run", "--model", "m.tar.gz"])
    assert not serves(["train"])
    assert not serves(["test", "--model", "m.tar.gz"])
    assert not serves(["run", "actions"])


def test_the_server_logs_what_it_installed(registry, monkeypatch, caplog):
    from bot.serve import install_server_patches

    monkeypatch.delenv("KOSMO_RASA_SPEEDUPS", raising=False)
    with caplog.at_level(logging.INFO, logger="bot.speedups"):
        names = install_server_patches()
    assert names == [p.name for p in patches()]
    assert f"{len(names)} of {len(names)} patches of Rasa installed" in caplog.text
    assert all(f"patch installed: {name}" in caplog.text for name in names)


def test_the_switch_is_read_as_bot_settings_reads_it():
    assert enabled({}) is True
    assert enabled({"KOSMO_RASA_SPEEDUPS": "off"}) is False
    with pytest.raises(SettingsError):
        enabled({"KOSMO_RASA_SPEEDUPS": "maybe"})

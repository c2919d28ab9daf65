"""Fail loudly on a broken set-up (bot/preflight.py), through what bot/serve.py and
bot/action_server.py call when they start, and through the real commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import rasa

from bot import action_server
from bot.channels.agent_console import AgentConsoleInput
from bot.preflight import (
    CONSOLE_CHANNEL,
    SetupError,
    check_action_server,
    check_rasa_server,
)
from bot.rasa_pin import pinned_rasa_version
from bot.serve import server_args
from tests.conftest import PROJECT_ROOT

ENDPOINTS = PROJECT_ROOT / "endpoints.yml"
SECRET = "Zk3-random-secret-0123456789"
CHANNEL_SECRETS = {
    "KOSMO_REST_TOKEN": SECRET,
    "KOSMO_WIDGET_SESSION_SECRET": SECRET,
    "LINE_KOSE_CHANNEL_SECRET": SECRET,
    "LINE_KOSE_ACCESS_TOKEN": SECRET,
    "LINE_ONO_CHANNEL_SECRET": SECRET,
    "LINE_ONO_ACCESS_TOKEN": SECRET,
    "KOSMO_ACTION_ENDPOINT": "http://127.0.0.1:5055/webhook",
    "KOSMO_ACTION_SERVER_TOKEN": SECRET,
}
PRODUCTION = {**CHANNEL_SECRETS, "KOSMO_MODE": "production"}


class LocalConsole(AgentConsoleInput):
    """A console of one's own: still the gate."""


def credentials(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "credentials.yml"
    path.write_text(text, encoding="utf-8")
    return path


def without_console(tmp_path: Path) -> Path:
    """The project's credentials.yml with the console's line taken out."""
    text = (PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8")
    assert f"\n{CONSOLE_CHANNEL}:" in text
    return credentials(tmp_path, text.replace(f"\n{CONSOLE_CHANNEL}:", "\n# (console taken out)"))


# ---------------------------------------------------------------- the set-up as shipped


@pytest.mark.parametrize("env", [CHANNEL_SECRETS, PRODUCTION])
def test_the_projects_own_files_start_in_both_modes(env):
    assert check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env) == []


def test_the_server_command_checks_the_files_it_will_use(tmp_path):
    args = ["run", "--credentials", str(without_console(tmp_path)), "--endpoints", str(ENDPOINTS)]
    with pytest.raises(SetupError, match="the handoff gate is missing"):
        server_args(args, CHANNEL_SECRETS)
    # Rasa's defaults (the working folder's credentials.yml and endpoints.yml) are the project's
    assert server_args(["run", "--port", "5005"], CHANNEL_SECRETS) == ["run", "--port", "5005"]


# ---------------------------------------------------------------- (a) the handoff gate


@pytest.mark.parametrize("mode", ["dev", "production"])
def test_without_the_handoff_gate_the_server_refuses_in_either_mode(tmp_path, mode):
    creds = without_console(tmp_path)
    with pytest.raises(SetupError) as caught:
        check_rasa_server(creds, ENDPOINTS, {**CHANNEL_SECRETS, "KOSMO_MODE": mode})
    message = str(caught.value)
    assert message.startswith("the Rasa server will not start:")
    assert f"the handoff gate is missing: {creds} does not name {CONSOLE_CHANNEL}" in message
    assert "a member waiting for a person would keep getting the bot's answers" in message
    assert f"Add the line `{CONSOLE_CHANNEL}:` to {creds}" in message


def test_the_gate_is_needed_only_where_an_action_server_can_queue_handoffs(tmp_path):
    creds = without_console(tmp_path)
    no_actions = tmp_path / "endpoints.yml"
    no_actions.write_text("tracker_store:\n  type: bot.tracker_store.UrlSQLTrackerStore\n")
    assert check_rasa_server(creds, no_actions, CHANNEL_SECRETS) == []
    assert check_rasa_server(creds, None, CHANNEL_SECRETS) == []


def test_no_credentials_file_or_another_connector_means_no_gate(tmp_path):
    with pytest.raises(SetupError, match="no credentials file does not name"):
        check_rasa_server(None, ENDPOINTS, CHANNEL_SECRETS)
    with pytest.raises(SetupError, match="the handoff gate is missing"):
        check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, CHANNEL_SECRETS, connector="rest")


def test_a_subclass_of_the_console_is_the_gate_too(tmp_path):
    creds = credentials(tmp_path, f"{__name__}.LocalConsole:\n")
    assert check_rasa_server(creds, ENDPOINTS, CHANNEL_SECRETS) == []
    creds = credentials(tmp_path, "rest:\nsocketio:\nbot.channels.no_such_module.Console:\n")
    with pytest.raises(SetupError, match="the handoff gate is missing"):
        check_rasa_server(creds, ENDPOINTS, CHANNEL_SECRETS)


def test_the_real_command_refuses_without_the_gate_and_starts_nothing(tmp_path):
    """``python -m bot.serve run --credentials <no console>``: exit 2 and the reason, before Rasa."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.serve", "run", "--credentials", str(without_console(tmp_path)),
         "--endpoints", "endpoints.yml", "--model", str(tmp_path / "none.tar.gz"), "--port", "1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env={"PATH": "/usr/bin:/bin", **CHANNEL_SECRETS},
    )
    assert out.returncode == 2, out.stderr
    assert "\nerror: the Rasa server will not start:\n  - the handoff gate is missing" in "\n" + out.stderr
    assert "the handoff gate is missing" in out.stderr and "Add the line" in out.stderr
    assert "Starting Rasa server" not in out.stderr + out.stdout


# ---------------------------------------------------------------- (b) placeholders


def test_a_placeholder_credential_refuses_in_production(tmp_path):
    env = {**PRODUCTION, "LINE_ONO_ACCESS_TOKEN": "change-me", "KOSMO_REST_TOKEN": " CHANGE-ME "}
    with pytest.raises(SetupError) as caught:
        check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env)
    problems = caught.value.problems
    assert len(problems) == 2
    creds = PROJECT_ROOT / "credentials.yml"
    assert (
        f"KOSMO_REST_TOKEN ({creds}) is still the placeholder 'CHANGE-ME' from .env.example: "
        "put the real value in the environment (.env)"
    ) in problems
    assert any(p.startswith(f"LINE_ONO_ACCESS_TOKEN ({creds}) is still the placeholder") for p in problems)


def test_an_empty_endpoint_or_an_action_secret_left_at_change_me_too():
    env = {**PRODUCTION, "KOSMO_ACTION_ENDPOINT": "", "KOSMO_ACTION_SERVER_TOKEN": "changeme"}
    with pytest.raises(SetupError) as caught:
        check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env)
    assert sorted(p.split(" ")[0] for p in caught.value.problems) == [
        "KOSMO_ACTION_ENDPOINT", "KOSMO_ACTION_SERVER_TOKEN"
    ]
    assert f"KOSMO_ACTION_ENDPOINT ({ENDPOINTS}) is empty" in str(caught.value)


def test_a_placeholder_written_into_the_file_itself(tmp_path):
    creds = credentials(
        tmp_path, f"{CONSOLE_CHANNEL}:\nbot.channels.rest.SocietyRestInput:\n  token: change-me\n"
    )
    with pytest.raises(SetupError, match=re.escape(
        f"{creds}: bot.channels.rest.SocietyRestInput.token is the placeholder 'change-me'"
    )):
        check_rasa_server(creds, ENDPOINTS, PRODUCTION)


def test_dev_mode_warns_about_placeholders_and_starts():
    env = {**CHANNEL_SECRETS, "LINE_KOSE_CHANNEL_SECRET": "change-me"}
    warnings = check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env)
    assert len(warnings) == 1
    assert warnings[0].startswith("LINE_KOSE_CHANNEL_SECRET (")
    assert warnings[0].endswith("(dev mode: starting anyway; KOSMO_MODE=production refuses this)")


def test_the_server_command_prints_dev_modes_warnings(capsys):
    env = {**CHANNEL_SECRETS, "LINE_KOSE_CHANNEL_SECRET": "change-me"}
    assert server_args(["run"], env) == ["run"]
    assert "warning: LINE_KOSE_CHANNEL_SECRET (" in capsys.readouterr().err


def test_an_unset_variable_is_left_for_rasa_to_name():
    env = {k: v for k, v in PRODUCTION.items() if k != "KOSMO_REST_TOKEN"}
    assert check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env) == []


# ---------------------------------------------------------------- (c) the Rasa version


def test_the_pin_is_read_from_pyproject_and_agrees_with_constraints_and_rasa():
    pinned = pinned_rasa_version()
    assert pinned == "3.6.21"
    assert f"rasa=={pinned}\n" in (PROJECT_ROOT / "constraints.txt").read_text()
    assert rasa.__version__ == pinned  # the venv this runs in


def test_another_rasa_refuses_in_production_and_warns_in_dev():
    creds = PROJECT_ROOT / "credentials.yml"
    with pytest.raises(SetupError) as caught:
        check_rasa_server(creds, ENDPOINTS, PRODUCTION, rasa_version="3.7.0")
    assert caught.value.problems == [
        "Rasa 3.7.0 is installed, but the bot is pinned to Rasa 3.6.21 (pyproject.toml): its "
        "speed-ups and Rasa patches were checked against that version only. Install the pinned "
        "version (`make venv`)"
    ]
    warnings = check_rasa_server(creds, ENDPOINTS, CHANNEL_SECRETS, rasa_version="3.7.0")
    assert len(warnings) == 1 and warnings[0].startswith("Rasa 3.7.0 is installed")


# ---------------------------------------------------------------- settings, and all reasons at once


def test_an_unusable_variable_refuses_in_dev_mode_too():
    with pytest.raises(SetupError, match="KOSMO_MAX_MESSAGE_CHARS must be a whole number of at least 1, not '0'"):
        check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, {**CHANNEL_SECRETS, "KOSMO_MAX_MESSAGE_CHARS": "0"})


def test_every_reason_is_given_at_once(tmp_path):
    env = {**PRODUCTION, "KOSMO_REST_TOKEN": "change-me", "KOSMO_TRACKER_CACHE_SIZE": "many"}
    with pytest.raises(SetupError) as caught:
        check_rasa_server(without_console(tmp_path), ENDPOINTS, env, rasa_version="3.6.20")
    firsts = [p.split(" ")[0] for p in caught.value.problems]
    assert firsts == ["KOSMO_TRACKER_CACHE_SIZE", "the", "KOSMO_REST_TOKEN", "Rasa"]


def test_a_misspelt_mode_is_refused_and_judged_as_production():
    env = {**CHANNEL_SECRETS, "KOSMO_MODE": "prod", "KOSMO_REST_TOKEN": "change-me"}
    with pytest.raises(SetupError) as caught:
        check_rasa_server(PROJECT_ROOT / "credentials.yml", ENDPOINTS, env)
    assert [p.split(" ")[0] for p in caught.value.problems] == ["KOSMO_MODE", "KOSMO_REST_TOKEN"]


# ---------------------------------------------------------------- the action server


def test_the_action_server_refuses_the_portals_placeholders_in_production():
    env = {"KOSMO_MODE": "production", "KOSMO_PORTAL_SERVICE_TOKEN": "change-me", "KOSMO_MEMBER_ID_KEY": "change-me"}
    with pytest.raises(SetupError) as caught:
        check_action_server(env)
    assert str(caught.value).startswith("the action server will not start:")
    assert [p.split(" ")[0] for p in caught.value.problems] == ["KOSMO_PORTAL_SERVICE_TOKEN", "KOSMO_MEMBER_ID_KEY"]
    assert len(check_action_server({**env, "KOSMO_MODE": "dev"})) == 2
    assert check_action_server({"KOSMO_MODE": "production", "KOSMO_PORTAL_SERVICE_TOKEN": SECRET}) == []


def test_the_action_server_command_stops_before_serving(monkeypatch, capsys):
    monkeypatch.setenv("KOSMO_ACTION_SERVER_TOKEN", SECRET)
    monkeypatch.setenv("KOSMO_MODE", "production")
    monkeypatch.setenv("KOSMO_PORTAL_SERVICE_TOKEN", "change-me")
    monkeypatch.setattr(action_server, "create_app", lambda *a: pytest.fail("the server was built"))
    monkeypatch.setattr(action_server.os, "umask", lambda mask: 0o022)  # the test process's own
    monkeypatch.setattr("bot.masking_logs.install_log_masking", lambda: None)
    assert action_server.main(["--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the action server will not start:")
    assert "KOSMO_PORTAL_SERVICE_TOKEN is still the placeholder 'change-me'" in err
    monkeypatch.setenv("KOSMO_ACTIONS_HOST", "not a host")
    assert action_server.main(["--port", "1"]) == 2
    assert "KOSMO_ACTIONS_HOST: 'not a host' is not a host name or address" in capsys.readouterr().err

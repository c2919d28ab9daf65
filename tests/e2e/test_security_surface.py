"""What a started stack shows to others: command lines, listening sockets, CORS, file modes.

One real stack (tests/e2e/conftest.py) on free loopback ports:

- no secret on any command line (``/proc/<pid>/cmdline`` of every process of
  every service; ``ps`` shows those to every user), and the HTTP API still
  needs its token;
- the action server listens on loopback only and refuses calls without the
  shared secret, while the Rasa server (which sends it) runs actions;
- CORS answers only the configured origin (the demo pages' web URL), and the
  agents' console sends no CORS headers at all, whatever the origin;
- databases, logs and their folders are private to the user (0600 / 0700).
"""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.sql import sqlite_file
from dev.stack import Stack
from tests.e2e.conftest import RestClient
from tests.served_app import listening_addresses

pytestmark = [pytest.mark.e2e, pytest.mark.model]

EVIL = "https://evil.example"


def request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


def processes_of(pgid: int) -> list[int]:
    """Every process in a process group (a service and whatever it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat_line.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # field 5 of /proc/<pid>/stat: process group
            pids.append(int(entry.name))
    return pids


def test_no_secret_on_any_command_line(stack: Stack):
    secrets = {
        name: stack.env[name] for name in ("RASA_AUTH_TOKEN", "KOSMO_ACTION_SERVER_TOKEN")
    }
    seen = {}
    for service in stack.services:
        assert service.process is not None
        for pid in processes_of(service.process.pid):
            seen[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert any("bot.serve" in line for line in seen.values())
    assert any("bot.action_server" in line for line in seen.values())
    for name, value in secrets.items():
        leaked = [line for line in seen.values() if value in line]
        assert not leaked, f"{name} on a command line: {leaked}"
    assert not [line for line in seen.values() if "--auth-token" in line or " -t " in line]


def test_the_http_api_still_needs_its_token(stack: Stack, rest: RestClient):
    rest.send("security-api", "こんにちは", "kose")
    conversation = rest.conversation("security-api")
    assert rest.tracker(conversation)[0] == 200
    assert rest.tracker(conversation, token=None)[0] == 401
    assert rest.tracker(conversation, token="wrong-token")[0] == 401


def test_the_action_server_listens_on_loopback_and_wants_the_secret(stack: Stack):
    assert listening_addresses(stack.actions_port) == {"0100007F"}  # 127.0.0.1 only
    forged = {"next_action": "action_handoff", "sender_id": "forger", "domain": {},
              "tracker": {"sender_id": "forger", "slots": {}, "events": []}}
    assert request(f"{stack.actions_url}/webhook", "POST", body=forged)[0] == 401
    wrong = {"Authorization": "Bearer not-the-secret-0123456789"}
    assert request(f"{stack.actions_url}/webhook", "POST", wrong, forged)[0] == 403
    assert request(f"{stack.actions_url}/health")[0] == 200


def test_the_rasa_server_runs_actions_with_the_secret(rest: RestClient):
    """action_offer_handoff runs on the action server: Rasa sent the secret."""
    offer = rest.text("security-actions", "担当者と話したい", "hoshi")  # no staffed hours at all
    assert "いまチャットでお返事できる担当者がおりません" in offer, offer


def test_cors_answers_the_demo_pages_origin_only(stack: Stack):
    web = stack.web_url
    assert stack.base_env()["KOSMO_CORS_ORIGINS"].split() == [web, f"http://localhost:{stack.web_port}"]
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}

    _, allowed = request(url, "OPTIONS", {"Origin": web, **preflight})
    assert allowed.get("access-control-allow-origin") == web
    _, refused = request(url, "OPTIONS", {"Origin": EVIL, **preflight})
    assert "access-control-allow-origin" not in refused
    assert refused.get("access-control-allow-origin") != "*"

    for path in ("/", "/version"):
        _, got = request(f"{stack.rasa_url}{path}", "GET", {"Origin": web})
        assert got.get("access-control-allow-origin") == web, path
        _, got = request(f"{stack.rasa_url}{path}", "GET", {"Origin": EVIL})
        assert "access-control-allow-origin" not in got, path


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks/agent/"),
        ("GET", "/webhooks/agent/login"),
        ("POST", "/webhooks/agent/login"),
        ("GET", "/webhooks/agent/api/queue"),
        ("OPTIONS", "/webhooks/agent/api/queue"),
        ("OPTIONS", "/webhooks/agent/login"),
        ("GET", "/webhooks/agent/no-such-page"),
    ],
)
def test_the_agents_console_sends_no_cors_headers(stack: Stack, method: str, path: str):
    for origin in (stack.web_url, EVIL):
        headers = {"Origin": origin}
        if method == "OPTIONS":
            headers.update({"Access-Control-Request-Method": "POST",
                            "Access-Control-Request-Headers": "content-type,x-csrf-token"})
        status, answer = request(f"{stack.rasa_url}{path}", method, headers)
        assert status < 500
        assert cors_headers(answer) == {}, (method, path, origin, status)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_databases_logs_and_their_folders_are_private(stack: Stack, rest: RestClient):
    rest.send("security-files", "こんにちは", "kose")  # the tracker database has a row
    files = []
    for name in (
        "KOSMO_TRACKER_DB_URL",
        "KOSMO_PORTAL_DB_URL",
        "KOSMO_HANDOFF_DB_URL",
        "KOSMO_REVIEW_DB_URL",  # made by the Rasa server's review broker when it starts
    ):
        path = sqlite_file(stack.env[name])
        assert path is not None and path.exists(), name
        files += [p for p in path.parent.glob(path.name + "*")]  # with -wal, -shm
        assert mode(path.parent) == 0o700, path.parent
    assert any(p.name.endswith("-wal") for p in files)
    logs = list(stack.log_dir.glob("*.log"))
    assert {p.stem for p in logs} >= {"rasa", "actions", "portal"}
    assert mode(stack.log_dir) == 0o700
    assert {str(p): oct(mode(p)) for p in files + logs} == {str(p): oct(0o600) for p in files + logs}

"""The action server runs actions only for the Rasa server: forged calls open nothing.

A real ``python -m bot.action_server`` on a free loopback port, against the real
reference portal (tests/portal/conftest.py) and a real handoff database. A made-up
tracker POSTed to ``/webhook`` without the shared secret (or with a wrong one) must
neither open an unlock ticket for another member (checked in the portal's database)
nor put a forged handoff into the agents' queue (checked in the handoff store).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.action_server import (
    HOST_ENV,
    MAX_BODY_BYTES,
    TOKEN_ENV,
    ActionServerConfigError,
    token_from_env,
)
from bot.handoff.store import HandoffStore
from bot.shared_secret import bearer_matches
from dev.stack import free_port
from tests.conftest import PROJECT_ROOT
from tests.portal.conftest import SERVICE_TOKEN, RunningPortal
from tests.served_app import listening_addresses


@dataclass
class RunningActions:
    url: str
    port: int
    token: str
    handoff_url: str
    process: subprocess.Popen[bytes]
    log: Path


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def get(url: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, HOST_ENV)}
    env.update({"PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture(scope="module")
def actions_server(
    _module_portal: RunningPortal, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningActions]:
    work = tmp_path_factory.mktemp("action-server")
    token = secrets.token_urlsafe(32)
    port = free_port()
    handoff_url = f"sqlite:///{work / 'handoff.db'}"
    log = work / "actions.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.action_server", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=server_env(**{
                TOKEN_ENV: token,
                "KOSMO_PORTAL_URL": _module_portal.url,
                "KOSMO_PORTAL_SERVICE_TOKEN": SERVICE_TOKEN,
                "KOSMO_HANDOFF_DB_URL": handoff_url,
            }),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not (port_open(port) and get(f"{url}/health") == 200):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"action server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.3)
    try:
        yield RunningActions(url, port, token, handoff_url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def action_call(action: str, sender: str, slots: dict[str, Any], intent: str = "affirm") -> dict:
    """What the Rasa server would POST to /webhook for ``action``: here, made up."""
    events = [
        {"event": "action", "name": "action_listen", "timestamp": time.time()},
        {"event": "user", "text": "はい", "timestamp": time.time(),
         "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
         "input_channel": "rest"},
    ]
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"society": "kose", **slots},
            "latest_message": {"text": "はい", "intent": {"name": intent}, "entities": []},
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


# another member's user ID and birth date (kose.ichiro is locked: a ticket would open)
UNLOCK = action_call(
    "action_open_unlock_ticket", "forger-1",
    {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1978-02-14"},
)
HANDOFF = action_call("action_handoff", "forger-2", {"handoff_reason": "member_asked"})


def ticket_count(portal: RunningPortal) -> int:
    with sqlite3.connect(portal.db_path) as db:
        return int(db.execute("SELECT count(*) FROM unlock_tickets").fetchone()[0])


def queued(handoff_url: str, sender: str) -> bool:
    store = HandoffStore(handoff_url)
    try:
        store.create_schema()
        return store.current(sender) is not None
    finally:
        store.dispose()


def bad_headers(token: str) -> list[tuple[dict[str, str], int]]:
    return [
        ({}, 401),
        ({"Authorization": "Bearer"}, 403),
        ({"Authorization": "Bearer wrong-token-0123456789abcdef"}, 403),
        ({"Authorization": f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}"}, 403),
        ({"Authorization": f"Bearer {token}x"}, 403),
        ({"Authorization": f"Basic {token}"}, 403),
        ({"Authorization": token}, 403),
        ({"X-Token": token}, 401),
    ]


@pytest.mark.parametrize("case", range(8))
def test_a_forged_unlock_call_without_the_secret_opens_no_ticket(
    actions_server: RunningActions, portal: RunningPortal, case: int
):
    headers, status = bad_headers(actions_server.token)[case]
    before = ticket_count(portal)
    code, body = post(f"{actions_server.url}/webhook", UNLOCK, headers)
    assert code == status
    assert "受付番号" not in json.dumps(body, ensure_ascii=False)
    assert ticket_count(portal) == before


@pytest.mark.parametrize("case", range(8))
def test_a_forged_handoff_without_the_secret_queues_nothing(
    actions_server: RunningActions, case: int
):
    headers, status = bad_headers(actions_server.token)[case]
    sender = f"forger-handoff-{case}"
    call = action_call("action_handoff", sender, {"handoff_reason": "member_asked"})
    code, _ = post(f"{actions_server.url}/webhook", call, headers)
    assert code == status
    assert not queued(actions_server.handoff_url, sender)


def test_with_the_secret_the_actions_run(actions_server: RunningActions, portal: RunningPortal):
    auth = {"Authorization": f"Bearer {actions_server.token}"}
    before = ticket_count(portal)
    code, body = post(f"{actions_server.url}/webhook", UNLOCK, auth)
    assert code == 200, body
    assert any(
        m.get("response") == "utter_unlock_ticket_received" and str(m.get("ticket_id")).startswith("UL-")
        for m in body["responses"]
    )
    assert ticket_count(portal) == before + 1

    code, body = post(f"{actions_server.url}/webhook", HANDOFF, auth)
    assert code == 200, body
    assert [m.get("response") for m in body["responses"]] == ["utter_handoff_queued"]
    assert queued(actions_server.handoff_url, "forger-2")


def test_health_is_open_and_the_action_list_is_not(actions_server: RunningActions):
    assert get(f"{actions_server.url}/health") == 200
    assert get(f"{actions_server.url}/actions") == 401
    auth = {"Authorization": f"Bearer {actions_server.token}"}
    assert get(f"{actions_server.url}/actions", auth) == 200
    assert get(f"{actions_server.url}/no-such-route", auth) == 404  # not rasa_sdk's catch-all 500


def test_no_cors_headers_for_any_origin(actions_server: RunningActions):
    req = urllib.request.Request(
        f"{actions_server.url}/webhook", method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            headers = dict(resp.headers)
    except urllib.error.HTTPError as e:
        headers = dict(e.headers)
    assert not [h for h in headers if h.lower().startswith("access-control-")]


def test_it_listens_on_loopback_only_by_default(actions_server: RunningActions):
    assert listening_addresses(actions_server.port) == {"0100007F"}  # 127.0.0.1


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "is not set"), ("change-me", "random string"), ("short", "random string")],
)
def test_the_server_refuses_to_start_without_a_real_secret(token: str | None, message: str):
    env = server_env(**({TOKEN_ENV: token} if token is not None else {}))
    out = subprocess.run(
        [sys.executable, "-m", "bot.action_server", "--port", str(free_port())],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert TOKEN_ENV in out.stderr and message in out.stderr


def test_the_secret_comes_from_the_environment_only():
    with pytest.raises(ActionServerConfigError):
        token_from_env({})
    assert token_from_env({TOKEN_ENV: " s3cret-s3cret-s3cret "}) == "s3cret-s3cret-s3cret"


@pytest.mark.parametrize(
    ("env_token", "option"),
    [
        (None, ["--token", "s3cret-s3cret-s3cret"]),
        (None, ["--token=s3cret-s3cret-s3cret"]),
        ("s3cret-s3cret-s3cret", ["--auth-token", "s3cret-s3cret-s3cret"]),
        ("s3cret-s3cret-s3cret", ["-t", "s3cret-s3cret-s3cret"]),
    ],
)
def test_there_is_no_command_line_option_for_the_secret(env_token: str | None, option: list[str]):
    """The real command refuses a secret on its command line (usage error) and serves nothing."""
    port = free_port()
    env = server_env(**({TOKEN_ENV: env_token} if env_token else {}))
    out = subprocess.run(
        [sys.executable, "-m", "bot.action_server", "--port", str(port), *option],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert "unrecognized arguments" in out.stderr or "ambiguous option" in out.stderr, out.stderr
    assert "Action server on" not in out.stderr + out.stdout
    assert not port_open(port)


def raw_head(port: int, headers: dict[str, str], declared: int) -> tuple[int | None, bool]:
    """Send only the head of a POST /webhook declaring ``declared`` body bytes; read the answer.

    Returns the status (None if no answer came within 10 s, i.e. the server waited for
    the body) and whether the server then closed the connection (rather than wait for
    the body).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = ["POST /webhook HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
                f"Content-Length: {declared}", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            return None, False
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None
        sock.settimeout(5)
        try:
            while chunk := sock.recv(4096):
                pass
            closed = True
        except TimeoutError:
            closed = False
        except ConnectionError:
            closed = True
        return status, closed


@pytest.mark.parametrize(("case", "status"), [(0, 401), (2, 403)])
def test_a_caller_without_the_secret_is_refused_before_its_body_is_read(
    actions_server: RunningActions, case: int, status: int
):
    """A declared 8 MiB body (within the bound) and no body sent: the refusal comes at once.

    Were the token checked after Sanic preloads the body, the server would wait for
    (and buffer) all of it before answering; here it answers and closes the connection.
    """
    headers, _ = bad_headers(actions_server.token)[case]
    assert raw_head(actions_server.port, headers, MAX_BODY_BYTES) == (status, True)
    # the server is still fine for the Rasa server
    assert get(f"{actions_server.url}/actions", {"Authorization": f"Bearer {actions_server.token}"}) == 200


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer s3cret-s3cret-s3cret", True),
        ("bearer s3cret-s3cret-s3cret", True),
        ("Bearer S3CRET-s3cret-s3cret", False),
        ("Bearer s3cret-s3cret-s3cre", False),
        ("Bearer  s3cret-s3cret-s3cret", False),
        ("s3cret-s3cret-s3cret", False),
        ("", False),
        (None, False),
        ("Bearer s3cret-s3cret-s3cret\udcff", False),
    ],
)
def test_bearer_matches(header: str | None, ok: bool):
    assert bearer_matches(header, "s3cret-s3cret-s3cret") is ok


def test_a_body_over_the_bound_is_refused_unread(actions_server: RunningActions):
    """A declared length over the bound gets 413 before any of the body is read."""
    conn = http.client.HTTPConnection("127.0.0.1", actions_server.port, timeout=10)
    try:
        conn.putrequest("POST", "/webhook")
        conn.putheader("Authorization", f"Bearer {actions_server.token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
    finally:
        conn.close()

"""A real stack (portal, action server, Rasa server) on free loopback ports."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

from bot.channels.rest import conversation_id as rest_conversation_id
from bot.handoff.store import HandoffStore
from dev.stack import Stack, credentials_env, free_port
from tests.model_support import model_path


class RestClient:
    """Talks to Rasa's REST channel the way a trusted server of ours would, and reads trackers.

    ``token`` is the Rasa HTTP API's (``RASA_AUTH_TOKEN``), ``rest_token`` the REST
    channel's bearer token (``KOSMO_REST_TOKEN``; None: no Authorization header).
    A REST sender ``s`` lives in conversation ``rest:s`` (``conversation``), which
    is what ``tracker`` and the handoff store take.
    """

    def __init__(self, base_url: str, token: str, rest_token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.rest_token = rest_token

    @classmethod
    def for_stack(cls, stack: Stack) -> "RestClient":
        return cls(stack.rasa_url, stack.env["RASA_AUTH_TOKEN"], stack.env.get("KOSMO_REST_TOKEN"))

    @staticmethod
    def conversation(sender: str) -> str:
        """The conversation id of a REST sender."""
        return rest_conversation_id(sender)

    def post(self, body: bytes, headers: dict[str, str] | None = None,
             rest_token: str | None = "") -> tuple[int, Any]:
        """A raw POST to the webhook: (HTTP status, parsed JSON answer or None)."""
        rest_token = self.rest_token if rest_token == "" else rest_token
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if rest_token:
            all_headers["Authorization"] = f"Bearer {rest_token}"
        req = urllib.request.Request(
            f"{self.base_url}/webhooks/rest/webhook", data=body, headers=all_headers
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw.startswith(b"{") else None

    def send(self, sender: str, message: str, society: str | None = None,
             metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": message}
        meta = dict(metadata or {})
        if society is not None:
            meta["tenant"] = society
        if meta:
            body["metadata"] = meta
        status, answer = self.post(json.dumps(body).encode())
        assert status == 200, (status, answer)
        return answer

    def text(self, sender: str, message: str, society: str | None = None) -> str:
        return "\n".join(m.get("text", "") for m in self.send(sender, message, society))

    def tracker(self, conversation_id: str, token: str | None = "") -> tuple[int, dict[str, Any]]:
        """A conversation's tracker over the HTTP API (a REST sender's: ``tracker(conversation(s))``)."""
        token = self.token if token == "" else token
        url = f"{self.base_url}/conversations/{urllib.parse.quote(conversation_id, safe=':')}/tracker"
        if token:
            url += f"?token={token}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, {}


def make_stack(work: Path, societies_file: Path, extra_env: dict[str, str] | None = None) -> Stack:
    """A stack (not started) on free ports; ``extra_env`` adds to or overrides its env."""
    token = secrets.token_urlsafe(24)  # bot.serve hands it to Rasa as --auth-token=..., so "-" is fine
    data = work / "var"  # not made here: the services create it (private, tests/e2e/test_security_surface.py)
    env = {
        # the stack knows the fictional third society from data alone
        "KOSMO_SOCIETIES_FILE": str(societies_file),
        "KOSMO_TRACKER_DB_URL": f"sqlite:///{data / 'tracker.db'}",
        "KOSMO_PORTAL_DB_URL": f"sqlite:///{data / 'portal.db'}",
        "KOSMO_HANDOFF_DB_URL": f"sqlite:///{data / 'handoff.db'}",
        "KOSMO_REVIEW_DB_URL": f"sqlite:///{data / 'review.db'}",
        "KOSMO_HANDOFF_WATCH_SECONDS": "1",
        "KOSMO_PORTAL_SERVICE_TOKEN": secrets.token_urlsafe(16),
        "KOSMO_PORTAL_ADMIN_TOKEN": secrets.token_urlsafe(16),
        "RASA_AUTH_TOKEN": token,
        **credentials_env(),
        **(extra_env or {}),
    }
    return Stack(
        model=model_path(),
        rasa_port=free_port(),
        actions_port=free_port(),
        portal_port=free_port(),
        smtp_port=free_port(),
        web_port=free_port(),
        env=env,
        log_dir=work / "logs",
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, societies_file_with_fictional: Path):
    s = make_stack(tmp_path_factory.mktemp("stack"), societies_file_with_fictional)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def seeded(stack):
    """The stack's portal with its demo members (`python -m dev.portal seed`)."""
    env = {**stack.base_env(), "KOSMO_PORTAL_DB_URL": stack.env["KOSMO_PORTAL_DB_URL"]}
    subprocess.run(
        [sys.executable, "-m", "dev.portal", "seed"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return stack


@pytest.fixture(scope="session")
def rest(stack: Stack) -> RestClient:
    return RestClient.for_stack(stack)


@contextmanager
def stack_handoff_store(
    stack: Stack, agents: Iterable[tuple[str, str, str]], password: str
) -> Iterator[HandoffStore]:
    """A stack's handoff database, with these (society, login, name) agents to log in as."""
    store = HandoffStore(stack.env["KOSMO_HANDOFF_DB_URL"])
    store.create_schema()
    for society, login, name in agents:
        if store.agent_by_login(login) is None:
            store.create_agent(society, login, password, name)
    try:
        yield store
    finally:
        store.dispose()

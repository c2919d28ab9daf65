"""Fixtures for the handoff tests: a real SQLite file per test, the console on loopback.

``store`` is a :class:`HandoffStore` on its own file in ``tmp_path`` with cheap scrypt
parameters and a clock the test moves. ``make_console(...)`` serves the console
blueprint at ``/webhooks/agent`` from a real Sanic server in a thread (the portal
tests' ``ServerThread``), with a recording :class:`MemberLink`; an
:class:`AgentClient` logs in through the real login form with aiohttp, from
``127.0.0.1`` or another loopback address (``client_factory(source="127.0.0.7")``),
so that tests have clients with addresses of their own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, Optional

import aiohttp
import pytest

from bot.client_address import ClientAddresses
from bot.handoff.console import console_blueprint
from bot.handoff.models import Agent, Handoff
from bot.handoff.passwords import FAST_TEST_PARAMS
from bot.handoff.store import HandoffStore
from tests.portal.conftest import ServerThread

PREFIX = "/webhooks/agent"
PASSWORD = "correct-horse-battery"
START = dt.datetime(2025, 4, 1, 0, 0, 0, tzinfo=dt.timezone.utc)  # 09:00 JST
SOCIETIES = {"kose": "コーセー健康保険組合", "ono": "小野薬品健康保険組合"}
# the shape bot.handoff.packet.build_packet makes (tests/handoff/test_packet.py)
PACKET = {
    "topic": {"key": "otp_not_received", "label": "ワンタイムパスワードのメールが届かない"},
    "progress": {"step": 8, "of": 9, "label": "ワンタイムパスワードの設定"},
    "errors_mentioned": ["ワンタイムパスワードが正しくありません"],
    "bot_tried": ["OTPの再送"],
    "ticket_ids": ["UL-ABC234"],
    "transcript": [
        {
            "author": "member",
            "text": "ワンタイムパスワードが届きません",
            "at": "2025-04-01T00:00:00+00:00",
        },
        {"author": "bot", "text": "再送しました。", "at": "2025-04-01T00:00:05+00:00"},
    ],
}
_app_numbers = itertools.count(1)


class TestClock:
    """Aware UTC time that moves only when told to (shared with the server thread)."""

    __test__ = False

    def __init__(self, start: dt.datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(**delta)
            return self._now


@pytest.fixture(scope="session", autouse=True)
def _sanic_many_apps() -> Iterator[None]:
    """Sanic 21.12 touches up class methods when an app starts unless in test mode; then
    several apps can start in one process (one per test here)."""
    from sanic import Sanic

    previous = Sanic.test_mode
    Sanic.test_mode = True
    yield
    Sanic.test_mode = previous


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


def make_store(url: str, clock: TestClock) -> HandoffStore:
    store = HandoffStore(
        url, clock=clock.now, known_societies=set(SOCIETIES), password_params=FAST_TEST_PARAMS
    )
    store.create_schema()
    return store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "handoff.db"


@pytest.fixture
def store(db_path: Path, clock: TestClock) -> Iterator[HandoffStore]:
    store = make_store(f"sqlite:///{db_path}", clock)
    yield store
    store.dispose()


@dataclass
class Agents:
    sato: Agent  # kose
    suzuki: Agent  # kose
    tanaka: Agent  # ono


@pytest.fixture
def agents(store: HandoffStore) -> Agents:
    return Agents(
        sato=store.create_agent("kose", "sato", PASSWORD, "佐藤"),
        suzuki=store.create_agent("kose", "suzuki", PASSWORD, "鈴木"),
        tanaka=store.create_agent("ono", "tanaka", PASSWORD, "田中"),
    )


@dataclass
class RecordingLink:
    """A MemberLink that remembers each call; ``fail`` makes every call raise."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: bool = False

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        if self.fail:
            raise ConnectionError("LINE is down")

    async def agent_reply(self, handoff: Handoff, agent: Agent, text: str) -> None:
        self._record("agent_reply", handoff.id, agent.login, text)

    async def handed_back(self, handoff: Handoff, agent: Agent) -> None:
        self._record("handed_back", handoff.id, agent.login)

    async def closed(self, handoff: Handoff, agent: Agent) -> None:
        self._record("closed", handoff.id, agent.login)

    async def taken(self, handoff: Handoff, agent: Agent) -> None:
        self._record("taken", handoff.id, agent.login)


@dataclass
class RunningConsole:
    url: str  # server root, without the prefix
    store: HandoffStore
    link: RecordingLink
    server: ServerThread

    def at(self, path: str) -> str:
        return self.url + PREFIX + path


@pytest.fixture
def make_console(store: HandoffStore) -> Iterator[Callable[..., RunningConsole]]:
    from sanic import Sanic

    started: list[RunningConsole] = []

    def start(
        *, secure_cookies: bool = False, client_addresses: ClientAddresses = ClientAddresses()
    ) -> RunningConsole:
        link = RecordingLink()
        app = Sanic(f"handoff_console_test_{next(_app_numbers)}")
        app.blueprint(
            console_blueprint(
                store,
                link,
                societies=SOCIETIES,
                secure_cookies=secure_cookies,
                url_prefix=PREFIX,
                client_addresses=client_addresses,
            )
        )
        server = ServerThread(app)
        server.start()
        running = RunningConsole(f"http://127.0.0.1:{server.port}", store, link, server)
        started.append(running)
        return running

    yield start
    for running in started:
        running.server.stop()


@pytest.fixture
def console(make_console: Callable[..., RunningConsole], agents: Agents) -> RunningConsole:
    return make_console()


_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
_BODY_CSRF = re.compile(r'data-csrf="([^"]*)"')


class AgentClient:
    """A browser of one agent: its own cookie jar, the login form, the JSON API; its
    connections come from the loopback address ``source``."""

    def __init__(self, console: RunningConsole, source: str = "127.0.0.1") -> None:
        self.console = console
        # unsafe=True: aiohttp keeps cookies of IP-address hosts (127.0.0.1) only then.
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(local_addr=(source, 0)),
        )
        self.csrf = ""

    async def close(self) -> None:
        await self.http.close()

    async def login_form_token(self) -> str:
        async with self.http.get(self.console.at("/login")) as resp:
            match = _CSRF_FIELD.search(await resp.text())
        assert match, "login form without a csrf field"
        return match.group(1)

    async def post_login(
        self, login: str, password: str, csrf: Optional[str] = None
    ) -> aiohttp.ClientResponse:
        token = await self.login_form_token() if csrf is None else csrf
        resp = await self.http.post(
            self.console.at("/login"),
            data={"login": login, "password": password, "csrf": token},
            allow_redirects=False,
        )
        await resp.read()
        return resp

    async def login(self, login: str, password: str = PASSWORD) -> None:
        resp = await self.post_login(login, password)
        assert resp.status == 303, await resp.text()
        async with self.http.get(self.console.at("/")) as page:
            assert page.status == 200
            match = _BODY_CSRF.search(await page.text())
        assert match and match.group(1)
        self.csrf = match.group(1)

    async def page(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.http.get(self.console.at(path), allow_redirects=False) as resp:
            return resp.status, await resp.text(), dict(resp.headers)

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.console.at(path)) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        csrf: Optional[str] = "session",
        headers: Optional[dict[str, str]] = None,
    ) -> tuple[int, Any]:
        h = dict(headers or {})
        if csrf == "session":
            h["X-CSRF-Token"] = self.csrf
        elif csrf is not None:
            h["X-CSRF-Token"] = csrf
        async with self.http.post(self.console.at(path), json=body or {}, headers=h) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def client_factory(console: RunningConsole) -> AsyncIterator[Callable[..., AgentClient]]:
    clients: list[AgentClient] = []

    def make(source: str = "127.0.0.1") -> AgentClient:
        client = AgentClient(console, source)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def sato(client_factory: Callable[..., AgentClient]) -> AgentClient:
    client = client_factory()
    await client.login("sato")
    return client


def open_handoff(
    store: HandoffStore, conversation_id: str = "member-1", society: str = "kose", **kw: Any
) -> Handoff:
    return store.open(
        conversation_id,
        society,
        kw.pop("channel", "widget"),
        kw.pop("reason", "member_asked"),
        kw.pop("packet", PACKET),
    )

"""Fixtures for the portal tests: a real portal on loopback, a real SQLite file, real SMTP.

Every test that asks for ``portal`` gets a fresh copy of a migrated and seeded
SQLite database, served by its module's Sanic server (in a thread with its own
event loop, on a free port) that mails through its own aiosmtpd server.
``make_portal(...)`` starts a portal of its own with other settings. Time is a FakeClock the
test moves; nothing sleeps to wait for an OTP window or a rate limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import aiohttp
import pyotp
import pytest

from bot.domain.societies import SocietyRegistry, load_registry
from bot.portal_client import member as member_ids
from dev.portal.app import create_app
from dev.portal.clock import FakeClock
from dev.portal.db import Database, upgrade
from dev.portal.devsmtp import DevOutbox, DevSmtpServer
from dev.portal.mail import SmtpMailer
from dev.portal.seed import DEMO_MEMBERS, DemoMember, seed
from dev.portal.settings import (
    DEFAULT_RATE_RULES,
    LockoutPolicy,
    PortalSettings,
)
from dev.stack import free_port  # noqa: F401  (tests import it from here)

SERVICE_TOKEN = "test-service-token-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"
ITERATIONS = 1000  # PBKDF2 rounds in tests; production uses 210,000
START = dt.datetime(2025, 4, 1, 0, 0, 0, tzinfo=dt.timezone.utc)  # 09:00 JST, on a 30 s step edge


def member(user_id: str) -> DemoMember:
    return next(m for m in DEMO_MEMBERS if m.user_id == user_id)


MEMBER_KEY = member_ids.derive_key(SERVICE_TOKEN)  # no KOSMO_MEMBER_ID_KEY in tests: derived


def member_id(sender_id: str) -> str:
    """The member id the bot sends for a Rasa sender id."""
    return member_ids.member_id_for(sender_id, MEMBER_KEY)


def origin_id(origin: str) -> str:
    """The origin id the bot sends for the origin a channel recorded (``widget:<hex>``)."""
    return member_ids.origin_id_for(origin, MEMBER_KEY)


def member_headers(sender_id: str, key: bytes = MEMBER_KEY, origin: str | None = None) -> dict[str, str]:
    """The signed X-Kosmo-Member (and X-Kosmo-Origin) headers the bot sends for ``sender_id``."""
    return member_ids.headers_for(
        key, member_ids.member_id_for(sender_id, MEMBER_KEY), origin_id(origin) if origin else None
    )


@pytest.fixture(scope="session", autouse=True)
def _sanic_many_apps() -> Iterator[None]:
    """Sanic 21.12 rewrites (touches up) class methods when an app starts; in test mode it
    keeps the originals, so a second app in the same process can start too."""
    from sanic import Sanic

    previous = Sanic.test_mode
    Sanic.test_mode = True
    yield
    Sanic.test_mode = previous


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file; each test gets a copy."""
    path = tmp_path_factory.mktemp("portal-template") / "portal.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database.from_url(url)
    db.run_sync(lambda s: seed(s, load_registry(), START, iterations=ITERATIONS))
    db.dispose()
    return path


class ServerThread:
    """A Sanic app served by ``create_server`` on its own loop in a thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: Any = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(self._start())
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> Any:
        # create_server already awaits the asyncio server: it accepts connections from here on.
        server = await self.app.create_server(sock=self.sock, return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    async def _stop(self) -> None:
        server = self._server
        await server.before_stop()
        for conn in list(server.connections):
            conn.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()
        self.sock.close()


@dataclass
class RunningPortal:
    url: str
    clock: FakeClock
    settings: PortalSettings
    outbox: DevOutbox
    db: Database
    db_path: Path
    server: ServerThread
    smtp: DevSmtpServer
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self, path: str) -> str:
        return self.url + path

    async def mail(self, to: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Mail is sent in the background after the answer; wait until ``count`` reached SMTP."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.outbox.messages(to)
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            await asyncio.sleep(0.02)

    async def settle(self) -> None:
        """Give background mail a moment, for tests that check nothing was sent."""
        await asyncio.sleep(0.3)

    def totp_code(self, secret: str, offset_seconds: int = 0) -> str:
        when = self.clock.now() + dt.timedelta(seconds=offset_seconds)
        return pyotp.TOTP(secret).at(when)


def make_settings(db_url: str, smtp_port: int, **overrides: Any) -> PortalSettings:
    rules = dict(DEFAULT_RATE_RULES)
    rules.update(overrides.pop("rate_rules", {}))
    base = PortalSettings(
        db_url=db_url,
        service_token=SERVICE_TOKEN,
        admin_token=ADMIN_TOKEN,
        dev=True,
        public_url="http://portal.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_timeout=5.0,
        lockout=overrides.pop("lockout", LockoutPolicy(max_failures=3)),
        password_hash_iterations=ITERATIONS,
        rate_rules=rules,
    )
    return base.with_overrides(**overrides)


@pytest.fixture(scope="session")
def registry() -> SocietyRegistry:
    return load_registry()


def start_portal(template_db: Path, db_path: Path, registry: SocietyRegistry, **overrides: Any) -> RunningPortal:
    """A fresh copy of the seeded database, an SMTP server and a portal on free ports."""
    shutil.copyfile(template_db, db_path)
    smtp_port = free_port()
    outbox = DevOutbox()
    smtp = DevSmtpServer(outbox, "127.0.0.1", smtp_port)
    smtp.start()
    clock = FakeClock(START)
    settings = make_settings(f"sqlite:///{db_path}", smtp_port, **overrides)
    db = Database.from_url(settings.db_url)
    app = create_app(
        settings, clock=clock, mailer=SmtpMailer("127.0.0.1", smtp_port, timeout=5.0),
        registry=registry, database=db, outbox=outbox,
    )
    server = ServerThread(app)
    server.start()
    return RunningPortal(
        url=f"http://127.0.0.1:{server.port}", clock=clock, settings=settings, outbox=outbox,
        db=db, db_path=db_path, server=server, smtp=smtp,
    )


def stop_portal(running: RunningPortal) -> None:
    running.server.stop()
    running.smtp.stop()
    running.db.dispose()


def reset_portal(running: RunningPortal, template_db: Path) -> None:
    """Back to a fresh copy of the seeded database, an empty outbox and the start time.

    The server keeps running (starting Sanic per test is most of a test's time); the
    database file is replaced between tests while no request is in flight.
    """
    portal = running.server.app.ctx.portal
    asyncio.run_coroutine_threadsafe(portal.drain_mail(), running.server.loop).result(30)
    running.db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{running.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template_db, running.db_path)
    running.outbox.clear()
    running.clock.set(START)


@pytest.fixture
def make_portal(
    template_db: Path, tmp_path: Path, registry: SocietyRegistry
) -> Iterator[Callable[..., RunningPortal]]:
    """A portal of its own with settings overrides: ``make_portal(lockout=..., rate_rules=...)``."""
    started: list[RunningPortal] = []

    def start(**overrides: Any) -> RunningPortal:
        running = start_portal(template_db, tmp_path / f"portal-{len(started)}.db", registry, **overrides)
        started.append(running)
        return running

    yield start
    for running in started:
        stop_portal(running)


@pytest.fixture(scope="module")
def _module_portal(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory, registry: SocietyRegistry
) -> Iterator[RunningPortal]:
    running = start_portal(template_db, tmp_path_factory.mktemp("portal") / "portal.db", registry)
    yield running
    stop_portal(running)


@pytest.fixture
def portal(_module_portal: RunningPortal, template_db: Path) -> RunningPortal:
    """The module's portal with a fresh copy of the seeded database for this test."""
    reset_portal(_module_portal, template_db)
    return _module_portal


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Thin aiohttp helper: JSON in, (status, JSON, headers) out; the token is explicit."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = SERVICE_TOKEN,
        headers: dict[str, str] | None = None, params: dict[str, str] | None = None, raw: bytes | None = None,
        sender: str | None = None, origin: str | None = None,
    ) -> Reply:
        """``sender``: speak for the member of that Rasa sender id (signed X-Kosmo-Member headers);
        ``origin``: and say the channel recorded this origin for them (X-Kosmo-Origin)."""
        h = member_headers(sender, origin=origin) if sender is not None else {}
        h.update(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": h, "params": params}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            text = await resp.text()
            try:
                data: Any = await resp.json(content_type=None)
            except ValueError:
                data = text
            return Reply(resp.status, data, dict(resp.headers))

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, portal: RunningPortal) -> Api:
    return Api(http, portal.url)

"""The same portal on PostgreSQL. Runs only when KOSMO_TEST_POSTGRES_URL names an empty database.

    KOSMO_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:55432/portal_test \\
        .venv/bin/python -m pytest tests/portal/test_postgres.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Iterator

import aiohttp
import pytest

from bot.portal.app import create_app
from bot.portal.clock import FakeClock
from bot.portal.db import Database, current_revision, upgrade
from bot.portal.devsmtp import DevOutbox, DevSmtpServer
from bot.portal.mail import SmtpMailer
from bot.portal.seed import seed
from bot.portal.settings import LockoutPolicy
from bot.portal_client import PortalClient
from tests.portal.conftest import (
    ADMIN_TOKEN,
    ITERATIONS,
    SERVICE_TOKEN,
    START,
    Api,
    ServerThread,
    free_port,
    make_settings,
    member,
)

PG_URL = os.environ.get("KOSMO_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="KOSMO_TEST_POSTGRES_URL is not set")


@pytest.fixture
def pg_portal(registry) -> Iterator[tuple[str, FakeClock, DevOutbox]]:
    from sqlalchemy import text

    assert PG_URL
    db = Database.from_url(PG_URL)
    with db.engine.begin() as conn:  # start from an empty schema every time
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(PG_URL)
    assert current_revision(PG_URL) == "0001"
    db.run_sync(lambda s: seed(s, registry, START, iterations=ITERATIONS))
    smtp_port = free_port()
    outbox = DevOutbox()
    smtp = DevSmtpServer(outbox, "127.0.0.1", smtp_port)
    smtp.start()
    clock = FakeClock(START)
    settings = make_settings(PG_URL, smtp_port, lockout=LockoutPolicy(max_failures=3))
    app = create_app(settings, clock=clock, mailer=SmtpMailer("127.0.0.1", smtp_port), registry=registry,
                     database=db, outbox=outbox)
    server = ServerThread(app)
    server.start()
    yield f"http://127.0.0.1:{server.port}", clock, outbox
    server.stop()
    smtp.stop()
    db.dispose()


async def test_lockout_ticket_diagnose_and_mail_on_postgres(pg_portal) -> None:
    url, clock, outbox = pg_portal
    hanako, sakura = member("kose.hanako"), member("ono.sakura")
    async with aiohttp.ClientSession() as http, PortalClient(url, SERVICE_TOKEN) as client:
        api = Api(http, url)
        replies = await asyncio.gather(*(
            api.post("/member/login", {"tenant": "kose", "user_id": "kose.hanako", "password": f"Wrong-{i}x"}, token=None)
            for i in range(3)))
        assert {r.status for r in replies} == {401}
        locked = await api.post("/member/login", {"tenant": "kose", "user_id": "kose.hanako", "password": hanako.password}, token=None)
        assert locked.status == 401
        ticket = await client.open_unlock_ticket("kose", "kose.hanako", dt.date(1990, 11, 3))
        r = await api.post(f"/admin/v1/unlock-tickets/{ticket.ticket_id}/resolve", token=ADMIN_TOKEN)
        assert r.status == 200
        assert (await client.get_unlock_ticket("kose", ticket.ticket_id)).unlocked
        ok = await api.post("/member/login", {"tenant": "kose", "user_id": "kose.hanako", "password": hanako.password}, token=None)
        assert ok.body["next_step"] == "otp"
        import pyotp

        diag = await client.diagnose_totp("ono", "ono.sakura", pyotp.TOTP(sakura.totp_secret).at(clock.now() + dt.timedelta(seconds=60)))
        assert (diag.result, diag.offset_seconds) == ("nearby", 60)
        await client.send_user_id_reminder("ono", "sakura.ono@example.com")
        for _ in range(100):
            if len(outbox.messages()) >= 2:
                break
            await asyncio.sleep(0.05)
        assert {m["rcpt_tos"][0] for m in outbox.messages()} == {hanako.email, sakura.email}

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

from bot.portal_client import PortalClient
from dev.portal.app import create_app
from dev.portal.clock import FakeClock
from dev.portal.db import Database, current_revision, upgrade
from dev.portal.devsmtp import DevOutbox, DevSmtpServer
from dev.portal.mail import SmtpMailer
from dev.portal.seed import seed
from dev.portal.settings import LockoutPolicy
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
    assert current_revision(PG_URL) == "0003"
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
        # one open ticket per user ID, also when the requests race (the partial unique index)
        senders = ["line:kose:U0123456789abcdef0123456789abcdef"] + [f"widget-session-{i}" for i in range(4)]
        tickets = await asyncio.gather(*(
            client.open_unlock_ticket("kose", "kose.hanako", dt.date(1990, 11, 3), member=client.member_of(sender))
            for sender in senders))
        assert len({t.ticket_id for t in tickets}) == 1
        [opener] = [sender for sender, t in zip(senders, tickets, strict=True) if not t.already_open]
        ticket = tickets[0]
        r = await api.post(f"/admin/v1/unlock-tickets/{ticket.ticket_id}/resolve", token=ADMIN_TOKEN)
        assert r.status == 200
        status = await client.get_unlock_ticket("kose", ticket.ticket_id, member=client.member_of(opener))
        assert status.unlocked
        ok = await api.post("/member/login", {"tenant": "kose", "user_id": "kose.hanako", "password": hanako.password}, token=None)
        assert ok.body["next_step"] == "otp"
        import pyotp

        diag = await client.diagnose_totp("ono", "ono.sakura", pyotp.TOTP(sakura.totp_secret).at(clock.now() + dt.timedelta(seconds=60)))
        assert (diag.result, diag.offset_seconds) == ("nearby", 60)
        await client.send_user_id_reminder("ono", "sakura.ono@example.com")
        for _ in range(100):
            if len(outbox.messages()) >= 4:  # ticket opened and resolved, the login's code, the reminder
                break
            await asyncio.sleep(0.05)
        assert sorted(m["rcpt_tos"][0] for m in outbox.messages()) == sorted(
            [hanako.email, hanako.email, hanako.email, sakura.email])


def test_a_racing_insert_gets_the_ticket_that_won(pg_portal, registry) -> None:
    """Two transactions that both saw no open ticket: the unique index stops the second insert,
    which then answers with the first ticket (the savepoint in tickets.open_unlock_ticket)."""
    import threading
    import time

    from sqlalchemy import text

    from dev.portal.services import Ctx
    from dev.portal.tickets import open_unlock_ticket

    assert PG_URL
    db = Database.from_url(PG_URL)
    ctx = Ctx(make_settings(PG_URL, 2525), registry, START)
    result: list[tuple[dict, str]] = []
    try:
        with db.engine.connect() as first:
            tx = first.begin()
            first.execute(text(
                "INSERT INTO unlock_tickets (id, society, claimed_user_id, identity_verified, status, created_at) "
                "VALUES ('UL-AAAAAA', 'kose', 'kose.hanako', false, 'open', now())"))
            second = threading.Thread(target=lambda: result.append(db.run_sync(
                lambda s: open_unlock_ticket(s, ctx, "kose", "kose.hanako", dt.date(1990, 11, 3), "tag"))))
            second.start()
            time.sleep(0.5)  # the second insert now waits on the index entry of the first
            assert second.is_alive() and not result
            tx.commit()
            second.join(10)
    finally:
        db.dispose()
    [(ticket, outcome)] = result
    assert (ticket["ticket_id"], ticket["already_open"]) == ("UL-AAAAAA", True)
    assert outcome == "already_open:now_verified"

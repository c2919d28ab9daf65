"""Unlock tickets (issue 13, point 10): one open per user ID, mail on open and on closing,
status told only to the member that opened it, the rule held by the schema and migration 0002
(and kept by 0003, which renames the society columns)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dev.portal.db import Database, current_revision, upgrade
from dev.portal.models import UnlockTicket
from tests.portal.conftest import ADMIN_TOKEN, START, Api, RunningPortal, member

ICHIRO = member("kose.ichiro")  # locked, verified address
HANAKO = member("kose.hanako")
OPENER = "line:kose:U11111111111111111111111111111111"
SOMEONE_ELSE = "widget-session-2"


def body(
    user_id: str = "kose.ichiro", birth_date: str = "1978-02-14", society: str = "kose"
) -> dict[str, str]:
    return {"tenant": society, "user_id": user_id, "birth_date": birth_date}


async def status_of(api: Api, ticket_id: str, sender: str | None, society: str = "kose"):
    return await api.get(
        f"/api/v1/unlock-tickets/{ticket_id}", params={"tenant": society}, sender=sender
    )


def open_tickets(portal: RunningPortal) -> list[tuple[str, str, bool]]:
    return portal.db.run_sync(
        lambda s: [
            (t.id, t.claimed_user_id, t.identity_verified)
            for t in s.execute(select(UnlockTicket).where(UnlockTicket.status == "open")).scalars()
        ]
    )


async def test_a_second_request_gets_the_open_ticket(api: Api, portal: RunningPortal) -> None:
    first = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    assert (first.status, first.body["already_open"]) == (201, False)
    for sender in (OPENER, SOMEONE_ELSE, None):
        again = await api.post("/api/v1/unlock-tickets", body(), sender=sender)
        assert (again.status, again.body) == (200, {**first.body, "already_open": True})
        assert again.headers["Location"] == first.headers["Location"]
    assert open_tickets(portal) == [(first.body["ticket_id"], "kose.ichiro", True)]
    # once staff closed it, the next request opens a new one
    closed = await api.post(
        f"/admin/v1/unlock-tickets/{first.body['ticket_id']}/reject", token=ADMIN_TOKEN
    )
    assert closed.status == 200
    new = await api.post("/api/v1/unlock-tickets", body(), sender=SOMEONE_ELSE)
    assert new.status == 201 and new.body["ticket_id"] != first.body["ticket_id"]


async def test_a_matching_second_request_verifies_the_ticket(
    api: Api, portal: RunningPortal
) -> None:
    wrong = await api.post(
        "/api/v1/unlock-tickets", body(birth_date="1978-02-15"), sender=SOMEONE_ELSE
    )
    right = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    assert right.body == {
        **wrong.body,
        "already_open": True,
    }  # the answer says nothing of the match
    assert open_tickets(portal) == [(wrong.body["ticket_id"], "kose.ichiro", True)]
    # ... and a wrong one afterwards does not undo it
    await api.post(
        "/api/v1/unlock-tickets", body(birth_date="1999-09-09"), sender="widget-session-3"
    )
    assert open_tickets(portal) == [(wrong.body["ticket_id"], "kose.ichiro", True)]
    resolved = await api.post(
        f"/admin/v1/unlock-tickets/{wrong.body['ticket_id']}/resolve", token=ADMIN_TOKEN
    )
    assert (resolved.status, resolved.body["account_locked"]) == (200, False)


async def test_concurrent_requests_open_one_ticket(api: Api, portal: RunningPortal) -> None:
    replies = await asyncio.gather(
        *(
            api.post("/api/v1/unlock-tickets", body(), sender=f"widget-session-{i}")
            for i in range(5)
        )
    )
    assert sorted(r.status for r in replies) == [200, 200, 200, 200, 201]
    assert len({r.body["ticket_id"] for r in replies}) == 1
    assert len(open_tickets(portal)) == 1


def test_the_schema_allows_one_open_ticket_per_user_id(portal: RunningPortal) -> None:
    now = START

    def ticket(tid: str, status: str = "open", user_id: str = "kose.ichiro") -> UnlockTicket:
        return UnlockTicket(
            id=tid,
            society="kose",
            claimed_user_id=user_id,
            identity_verified=False,
            status=status,
            created_at=now,
        )

    portal.db.run_sync(
        lambda s: s.add_all(
            [
                ticket("UL-AAAAAA"),
                ticket("UL-BBBBBB", "closed"),
                ticket("UL-CCCCCC", "closed"),
                ticket("UL-DDDDDD", user_id="kose.hanako"),
            ]
        )
    )
    with pytest.raises(IntegrityError):
        portal.db.run_sync(lambda s: s.add(ticket("UL-EEEEEE")))


# ------------------------------------------------------------------ mail


async def test_the_owner_is_mailed_when_a_ticket_opens_and_when_it_is_resolved(
    api: Api, portal: RunningPortal
) -> None:
    opened = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    ticket_id = opened.body["ticket_id"]
    [mail] = await portal.mail(ICHIRO.email)
    assert ticket_id in mail["body"] and "受け付けました" in mail["subject"]
    await api.post(
        "/api/v1/unlock-tickets", body(), sender=SOMEONE_ELSE
    )  # the same request: no new mail
    await portal.settle()
    assert len(portal.outbox.messages(ICHIRO.email)) == 1

    resolved = await api.post(f"/admin/v1/unlock-tickets/{ticket_id}/resolve", token=ADMIN_TOKEN)
    assert resolved.status == 200
    [_, done] = await portal.mail(ICHIRO.email, 2)
    assert ticket_id in done["body"] and "ロックを解除しました" in done["subject"]
    assert "ロックを解除しました" in done["body"]
    assert {m["rcpt_tos"][0] for m in portal.outbox.messages()} == {ICHIRO.email}


async def test_a_rejected_ticket_is_mailed_to_the_registered_address(
    api: Api, portal: RunningPortal
) -> None:
    # someone who does not know Hanako's birth date: she hears of it, at her own address
    opened = await api.post(
        "/api/v1/unlock-tickets", body("kose.hanako", "1978-02-14"), sender=SOMEONE_ELSE
    )
    ticket_id = opened.body["ticket_id"]
    [notice] = await portal.mail(HANAKO.email)
    assert "覚えがない場合" in notice["body"] and ticket_id in notice["body"]
    rejected = await api.post(f"/admin/v1/unlock-tickets/{ticket_id}/reject", token=ADMIN_TOKEN)
    assert rejected.status == 200
    [_, done] = await portal.mail(HANAKO.email, 2)
    assert "解除しませんでした" in done["body"] and ticket_id in done["body"]


async def test_no_mail_for_an_unknown_user_id_and_the_same_answer(
    api: Api, portal: RunningPortal
) -> None:
    known = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    unknown = await api.post("/api/v1/unlock-tickets", body("nobody.1234"), sender=OPENER)
    assert known.status == unknown.status == 201
    assert set(known.body) == set(unknown.body)
    await api.post(
        f"/admin/v1/unlock-tickets/{unknown.body['ticket_id']}/reject", token=ADMIN_TOKEN
    )
    await portal.settle()
    assert [m["rcpt_tos"] for m in portal.outbox.messages()] == [[ICHIRO.email]]


# ------------------------------------------------------------------ status


async def test_status_is_told_only_to_the_member_that_opened_it(api: Api) -> None:
    opened = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    ticket_id = opened.body["ticket_id"]
    mine = await status_of(api, ticket_id, OPENER)
    assert (mine.status, mine.body["ticket_id"], mine.body["status"]) == (200, ticket_id, "open")
    unknown = await status_of(api, "UL-ABCDEF", OPENER)
    assert unknown.status == 404
    # another member - even one that asked for the same unlock - no member, another society
    await api.post("/api/v1/unlock-tickets", body(), sender=SOMEONE_ELSE)
    for sender, society in ((SOMEONE_ELSE, "kose"), (None, "kose"), (OPENER, "ono")):
        other = await status_of(api, ticket_id, sender, society)
        assert (other.status, other.body) == (404, unknown.body)


async def test_the_member_that_verifies_a_ticket_is_told_its_status_and_the_opener_no_longer(
    api: Api,
) -> None:
    """Someone opens a ticket for Ichiro's user ID with a wrong birth date; Ichiro's own
    request (matching) gets the same number and takes the ticket over: he is told its
    status, the first opener is answered as for a number that does not exist, also
    after staff unlocked the account."""
    wrong = await api.post(
        "/api/v1/unlock-tickets", body(birth_date="1978-02-15"), sender=SOMEONE_ELSE
    )
    ticket_id = wrong.body["ticket_id"]
    assert (await status_of(api, ticket_id, SOMEONE_ELSE)).status == 200  # theirs, until ...
    right = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    assert right.body["ticket_id"] == ticket_id
    unknown = await status_of(api, "UL-ABCDEF", SOMEONE_ELSE)
    mine = await status_of(api, ticket_id, OPENER)
    assert (mine.status, mine.body["status"]) == (200, "open")
    theirs = await status_of(api, ticket_id, SOMEONE_ELSE)
    assert (theirs.status, theirs.body) == (404, unknown.body)
    # a later wrong request, or a matching one from elsewhere, does not take it back
    await api.post("/api/v1/unlock-tickets", body(birth_date="1999-09-09"), sender=SOMEONE_ELSE)
    await api.post("/api/v1/unlock-tickets", body(), sender="widget-session-3")
    resolved = await api.post(f"/admin/v1/unlock-tickets/{ticket_id}/resolve", token=ADMIN_TOKEN)
    assert resolved.status == 200
    mine = await status_of(api, ticket_id, OPENER)
    assert (mine.status, mine.body["resolution"]) == (200, "unlocked")
    for sender in (SOMEONE_ELSE, "widget-session-3"):
        other = await status_of(api, ticket_id, sender)
        assert (other.status, other.body) == (404, unknown.body)


async def test_a_ticket_verified_by_a_request_without_member_is_told_to_no_one(
    api: Api,
) -> None:
    wrong = await api.post(
        "/api/v1/unlock-tickets", body(birth_date="1978-02-15"), sender=SOMEONE_ELSE
    )
    await api.post("/api/v1/unlock-tickets", body(), sender=None)
    refused = await status_of(api, wrong.body["ticket_id"], SOMEONE_ELSE)
    assert refused.status == 404


async def test_refused_status_reads_are_audited_for_staff(api: Api, portal: RunningPortal) -> None:
    from dev.portal import audit

    opened = await api.post("/api/v1/unlock-tickets", body(), sender=OPENER)
    await status_of(api, opened.body["ticket_id"], SOMEONE_ELSE)
    await status_of(api, "UL-ABCDEF", SOMEONE_ELSE)
    outcomes = portal.db.run_sync(lambda s: [e.outcome for e in audit.recent(s, 2)])
    assert outcomes == ["not_found", "not_opener"]


# ------------------------------------------------------------------ migration 0002


@pytest.fixture
def tokyo_local_time(monkeypatch: pytest.MonkeyPatch):
    """The process's local zone is Tokyo (UTC+9), so a local time taken for UTC shows."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_migration_closes_open_duplicates_and_keeps_the_verified_one(
    tmp_path: Path, template_db: Path, tokyo_local_time: None
) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    db = Database.from_url(url)
    rows = [  # two open tickets for ichiro (the second verified), one for hanako, one closed
        ("UL-AAAAAA", "kose.ichiro", 0, "open", "2025-03-01 00:00:00"),
        ("UL-BBBBBB", "kose.ichiro", 1, "open", "2025-03-02 00:00:00"),
        ("UL-CCCCCC", "kose.ichiro", 0, "open", "2025-03-03 00:00:00"),
        ("UL-DDDDDD", "kose.hanako", 0, "open", "2025-03-01 00:00:00"),
        ("UL-EEEEEE", "kose.hanako", 0, "closed", "2025-02-01 00:00:00"),
    ]
    with db.engine.begin() as conn:
        for tid, uid, verified, status, created in rows:
            conn.execute(
                text(
                    "INSERT INTO unlock_tickets (id, tenant, claimed_user_id, identity_verified, status, created_at) "
                    "VALUES (:id, 'kose', :uid, :v, :s, :c)"
                ),
                {"id": tid, "uid": uid, "v": verified, "s": status, "c": created},
            )
    db.dispose()
    migrated_at = dt.datetime.now(dt.timezone.utc)
    upgrade(url)
    assert current_revision(url) == "0003"
    db = Database.from_url(url)
    states = db.run_sync(
        lambda s: {
            t.id: (t.status, t.resolution, t.opened_by)
            for t in s.execute(select(UnlockTicket)).scalars()
        }
    )
    closed_at = db.run_sync(
        lambda s: {
            t.id: t.closed_at
            for t in s.execute(select(UnlockTicket).where(UnlockTicket.closed_at.is_not(None)))
            .scalars()
        }
    )
    # read back through the model: aware UTC, the time the migration ran (not shifted by a zone)
    assert set(closed_at) == {"UL-AAAAAA", "UL-CCCCCC"}
    for at in closed_at.values():
        assert at.utcoffset() == dt.timedelta(0)
        assert abs(at - migrated_at) < dt.timedelta(minutes=1)
    assert states == {
        "UL-AAAAAA": ("closed", "duplicate", None),
        "UL-BBBBBB": ("open", None, None),
        "UL-CCCCCC": ("closed", "duplicate", None),
        "UL-DDDDDD": ("open", None, None),
        "UL-EEEEEE": ("closed", None, None),
    }
    db.dispose()
    # and back down, and up again
    from alembic import command

    from dev.portal.db import alembic_config

    command.downgrade(alembic_config(url), "0001")
    assert current_revision(url) == "0001"
    upgrade(url)
    assert current_revision(url) == "0003"
    shutil.copyfile(template_db, tmp_path / "copy.db")
    assert current_revision(f"sqlite:///{tmp_path / 'copy.db'}") == "0003"


def test_tickets_before_the_migration_are_told_to_no_one() -> None:
    from dev.portal.tickets import told_to

    legacy = UnlockTicket(
        id="UL-AAAAAA",
        society="kose",
        claimed_user_id="kose.ichiro",
        identity_verified=True,
        status="open",
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert not told_to(legacy, None) and not told_to(legacy, "chat:" + "0" * 32)


# ------------------------------------------------------------------ migration 0003


def test_migration_0003_renames_the_society_columns_and_keeps_every_row(tmp_path: Path) -> None:
    """``tenant`` columns become ``society``; accounts, their login sessions (ON DELETE
    CASCADE), tickets and audit rows all stay, and the rule of one open ticket still holds."""
    from alembic import command
    from sqlalchemy import inspect, text

    from dev.portal.db import alembic_config

    url = f"sqlite:///{tmp_path / 'before.db'}"
    upgrade(url, "0002")
    db = Database.from_url(url)
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, tenant, user_id, insurance_symbol, insurance_number, birth_date,"
            " email_verified, otp_method, totp_confirmed, password_hash, first_login_done, failed_count,"
            " locked, created_at, updated_at) VALUES (1, 'kose', 'kose.hanako', '30', '13579',"
            " '1990-11-03', 1, 'email', 0, 'x', 1, 0, 0, '2025-01-01 00:00:00', '2025-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO login_sessions (id, token_digest, account_id, step, created_at, expires_at)"
            " VALUES (1, 'd', 1, 'otp', '2025-01-01 00:00:00', '2025-01-01 00:30:00')"))
        conn.execute(text(
            "INSERT INTO unlock_tickets (id, tenant, account_id, claimed_user_id, identity_verified,"
            " status, created_at) VALUES ('UL-AAAAAA', 'kose', 1, 'kose.hanako', 1, 'open',"
            " '2025-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO audit_events (at, endpoint, tenant, status, outcome)"
            " VALUES ('2025-01-01 00:00:00', 'otp_resend', 'kose', 202, 'sent')"))
    db.dispose()

    upgrade(url)
    assert current_revision(url) == "0003"
    db = Database.from_url(url)
    with db.engine.connect() as conn:
        for table in ("accounts", "unlock_tickets", "audit_events"):
            columns = {c["name"] for c in inspect(conn).get_columns(table)}
            assert "society" in columns and "tenant" not in columns, table
            assert conn.execute(text(f"SELECT society FROM {table}")).scalars().all() == ["kose"]
        assert conn.execute(text("SELECT count(*) FROM login_sessions")).scalar() == 1
        indexes = {i["name"] for i in inspect(conn).get_indexes("unlock_tickets")}
        assert "ix_unlock_tickets_society_status" in indexes
        assert "ix_unlock_tickets_tenant_status" not in indexes
    with pytest.raises(IntegrityError), db.engine.begin() as conn:  # still one open ticket per ID
        conn.execute(text(
            "INSERT INTO unlock_tickets (id, society, claimed_user_id, identity_verified, status,"
            " created_at) VALUES ('UL-BBBBBB', 'kose', 'kose.hanako', 0, 'open', '2025-01-02 00:00:00')"))
    db.dispose()

    command.downgrade(alembic_config(url), "0002")
    db = Database.from_url(url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT tenant FROM accounts")).scalars().all() == ["kose"]
        assert conn.execute(text("SELECT count(*) FROM login_sessions")).scalar() == 1
    db.dispose()

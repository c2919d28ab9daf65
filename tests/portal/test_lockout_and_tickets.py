"""Lockout after N failed logins, the same answer while locked, and unlock through a ticket."""

from __future__ import annotations

import pytest

from dev.portal.settings import LockoutPolicy
from tests.portal.conftest import ADMIN_TOKEN, Api, RunningPortal, member

HANAKO = member("kose.hanako")
SAKURA = member("ono.sakura")


async def login(api: Api, society: str, user_id: str, password: str):
    return await api.post("/member/login", {"tenant": society, "user_id": user_id, "password": password}, token=None)


async def open_ticket(api: Api, society: str, user_id: str, birth_date: str, sender: str = "member-1") -> str:
    reply = await api.post("/api/v1/unlock-tickets", {"tenant": society, "user_id": user_id, "birth_date": birth_date},
                           sender=sender)
    assert reply.status == 201
    return reply.body["ticket_id"]


async def test_three_wrong_passwords_lock_and_a_ticket_unlocks(api: Api, portal: RunningPortal) -> None:
    assert portal.settings.lockout.max_failures == 3
    wrong = [await login(api, "kose", "kose.hanako", f"Wrong-{i}pass") for i in range(3)]
    assert {r.status for r in wrong} == {401}
    # locked: the right password gets exactly the answer a wrong one gets
    right = await login(api, "kose", "kose.hanako", HANAKO.password)
    assert (right.status, right.body) == (wrong[0].status, wrong[0].body)
    unknown = await login(api, "kose", "nobody.12345", "whatever123")
    assert (unknown.status, unknown.body) == (wrong[0].status, wrong[0].body)
    # forgot-password still works while locked
    reply = await api.post("/member/forgot-password", {"tenant": "kose", "user_id": "kose.hanako"}, token=None)
    assert reply.status == 202
    assert await portal.mail(HANAKO.email)

    ticket_id = await open_ticket(api, "kose", "kose.hanako", "1990-11-03")
    listed = await api.get("/admin/v1/unlock-tickets", token=ADMIN_TOKEN, params={"status": "open"})
    [row] = [t for t in listed.body["tickets"] if t["ticket_id"] == ticket_id]
    assert row["identity_verified"] is True and row["account_locked"] is True
    assert row["account_user_id"] == "kose.hanako"

    resolved = await api.post(f"/admin/v1/unlock-tickets/{ticket_id}/resolve", token=ADMIN_TOKEN)
    assert resolved.status == 200
    assert (resolved.body["status"], resolved.body["resolution"]) == ("closed", "unlocked")
    assert resolved.body["account_locked"] is False

    seen = await api.get(f"/api/v1/unlock-tickets/{ticket_id}", params={"tenant": "kose"}, sender="member-1")
    assert (seen.body["status"], seen.body["resolution"]) == ("closed", "unlocked")
    assert seen.body["closed_at"] is not None

    back = await login(api, "kose", "kose.hanako", HANAKO.password)
    assert back.status == 200 and back.body["next_step"] == "otp"

    again = await api.post(f"/admin/v1/unlock-tickets/{ticket_id}/resolve", token=ADMIN_TOKEN)
    assert again.status == 409


async def test_wrong_otp_codes_count_towards_the_lock(api: Api, portal: RunningPortal) -> None:
    first = await login(api, "ono", "ono.sakura", SAKURA.password)
    session = first.body["session"]
    for _ in range(2):
        r = await api.post("/member/otp", {"session": session, "code": "000000"}, token=None)
        assert r.status == 401 and r.body["error"] == "invalid_code"
    await login(api, "ono", "ono.sakura", "Wrong-password1")  # third failure locks
    r = await api.post("/member/otp", {"session": session, "code": portal.totp_code(SAKURA.totp_secret)}, token=None)
    assert r.status == 401  # the session ended with the lock
    r = await login(api, "ono", "ono.sakura", SAKURA.password)
    assert r.status == 401 and r.body["error"] == "invalid_credentials"


async def test_a_correct_password_does_not_reset_the_count(api: Api, portal: RunningPortal) -> None:
    # Otherwise someone with the password could guess OTP codes forever.
    for _ in range(3):
        ok = await login(api, "ono", "ono.sakura", SAKURA.password)
        assert ok.status == 200
        await api.post("/member/otp", {"session": ok.body["session"], "code": "000000"}, token=None)
    assert (await login(api, "ono", "ono.sakura", SAKURA.password)).status == 401


async def test_a_full_login_resets_the_count(api: Api, portal: RunningPortal) -> None:
    for _ in range(2):
        await login(api, "ono", "ono.sakura", "Wrong-password1")
    ok = await login(api, "ono", "ono.sakura", SAKURA.password)
    done = await api.post("/member/otp", {"session": ok.body["session"], "code": portal.totp_code(SAKURA.totp_secret)}, token=None)
    assert done.body["next_step"] == "done"
    for _ in range(2):
        await login(api, "ono", "ono.sakura", "Wrong-password1")
    assert (await login(api, "ono", "ono.sakura", SAKURA.password)).status == 200


async def test_failures_older_than_the_reset_time_are_forgotten(api: Api, portal: RunningPortal) -> None:
    for _ in range(2):
        await login(api, "kose", "kose.hanako", "Wrong-password1")
    portal.clock.advance(portal.settings.lockout.failure_reset_seconds + 1)
    await login(api, "kose", "kose.hanako", "Wrong-password1")
    assert (await login(api, "kose", "kose.hanako", HANAKO.password)).status == 200


async def test_temporary_lockout_mode(make_portal, http) -> None:
    portal = make_portal(lockout=LockoutPolicy(max_failures=2, permanent=False, wait_increment_seconds=60, max_wait_seconds=900))
    api = Api(http, portal.url)
    for _ in range(2):
        await login(api, "kose", "kose.hanako", "Wrong-password1")
    assert (await login(api, "kose", "kose.hanako", HANAKO.password)).status == 401
    portal.clock.advance(61)
    assert (await login(api, "kose", "kose.hanako", HANAKO.password)).status == 200


async def test_seeded_locked_member_and_a_ticket_with_the_wrong_birth_date(api: Api, portal: RunningPortal) -> None:
    ichiro = member("kose.ichiro")
    assert (await login(api, "kose", "kose.ichiro", ichiro.password)).status == 401
    wrong = await open_ticket(api, "kose", "kose.ichiro", "1978-02-15")
    r = await api.post(f"/admin/v1/unlock-tickets/{wrong}/resolve", token=ADMIN_TOKEN)
    assert r.status == 409 and r.body["error"] == "ticket_not_resolvable"
    r = await api.post(f"/admin/v1/unlock-tickets/{wrong}/reject", token=ADMIN_TOKEN)
    assert (r.status, r.body["resolution"]) == (200, "rejected")
    seen = await api.get(f"/api/v1/unlock-tickets/{wrong}", params={"tenant": "kose"}, sender="member-1")
    assert seen.body["resolution"] == "rejected"
    assert (await login(api, "kose", "kose.ichiro", ichiro.password)).status == 401


@pytest.mark.parametrize("token,status", [(None, 401), ("wrong", 401), ("test-service-token-0123456789", 401)])
async def test_admin_api_needs_the_admin_token(api: Api, token: str | None, status: int) -> None:
    r = await api.get("/admin/v1/unlock-tickets", token=token)
    assert r.status == status


async def test_admin_api_is_off_without_an_admin_token(make_portal, http) -> None:
    portal = make_portal(admin_token=None)
    r = await Api(http, portal.url).get("/admin/v1/unlock-tickets", token="anything")
    assert r.status == 403


async def test_admin_list_filters(api: Api) -> None:
    await open_ticket(api, "kose", "kose.ichiro", "1978-02-14")
    await open_ticket(api, "ono", "ono.sakura", "1988-03-30")
    r = await api.get("/admin/v1/unlock-tickets", token=ADMIN_TOKEN, params={"tenant": "ono"})
    assert [t["tenant"] for t in r.body["tickets"]] == ["ono"]
    r = await api.get("/admin/v1/unlock-tickets", token=ADMIN_TOKEN, params={"status": "bogus"})
    assert r.status == 422 and r.body["field"] == "status"
    r = await api.post("/admin/v1/unlock-tickets/UL-ABCDEF/resolve", token=ADMIN_TOKEN)
    assert r.status == 404


async def test_concurrent_failures_are_all_counted(make_portal, http) -> None:
    """No lost updates: 12 wrong passwords at once leave a count of exactly 12."""
    import asyncio

    from sqlalchemy import select

    from dev.portal.models import Account

    portal = make_portal(lockout=LockoutPolicy(max_failures=30))
    api = Api(http, portal.url)
    replies = await asyncio.gather(*(login(api, "kose", "kose.hanako", f"Wrong-{i}-pass") for i in range(12)))
    assert {r.status for r in replies} == {401}
    count = portal.db.run_sync(lambda s: s.execute(
        select(Account.failed_count).where(Account.user_id == "kose.hanako")).scalar_one())
    assert count == 12

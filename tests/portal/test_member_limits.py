"""One caller cannot spend the helpdesk budget of every member (issue 13, point 3).

Every member reaches the portal through the action server's one address. With
the default rules, 30 abusive requests - from one member identity, from fresh
sender ids (a new widget session each time), or for other accounts - never
block a different member's resend, reminder, unlock, diagnosis or ticket status,
while the abusing member and the abused account are still limited. Fresh
sender ids from one origin (one address on the widget) share that origin's
budget, and are stopped by it long before the per-address ceiling.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from dev.portal.settings import DEFAULT_RATE_RULES
from tests.portal.conftest import Api, RunningPortal, member

ABUSE = 30
Body = Callable[[str], dict[str, Any]]

# endpoint: (path, body for an account, the victim's own account)
ENDPOINTS: dict[str, tuple[str, Body, str]] = {
    "otp_resend": (
        "/api/v1/otp/resend",
        lambda uid: {"tenant": "kose", "user_id": uid},
        "kose.hanako",
    ),
    "user_id_reminder": (
        "/api/v1/reminders/user-id",
        lambda uid: {"tenant": "kose", "email": f"{uid}@example.com"},
        "hanako.kose",
    ),
    "unlock_open": (
        "/api/v1/unlock-tickets",
        lambda uid: {"tenant": "kose", "user_id": uid, "birth_date": "1978-02-14"},
        "kose.ichiro",
    ),
    "otp_diagnose": (
        "/api/v1/otp/diagnose",
        lambda uid: {"tenant": "ono", "user_id": uid, "code": "123456"},
        "ono.sakura",
    ),
}
VICTIM = "line:kose:U00000000000000000000000000victim"
ATTACKER_ORIGIN = "widget:" + "a" * 32  # what the widget recorded for the attacker's address
VICTIM_ORIGIN = "widget:" + "b" * 32


async def call(
    api: Api, endpoint: str, account: str, sender: str | None, origin: str | None = None
) -> int:
    path, body, _ = ENDPOINTS[endpoint]
    return (await api.post(path, body(account), sender=sender, origin=origin)).status


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_one_member_identity_cannot_block_another_member(api: Api, endpoint: str) -> None:
    statuses = [
        await call(api, endpoint, f"other.{i:04d}", "widget-attacker") for i in range(ABUSE)
    ]
    per_member = DEFAULT_RATE_RULES[(endpoint, "member")].limit
    assert 429 not in statuses[:per_member] and set(statuses[per_member:]) == {429}
    # the abusing member is limited ...
    assert await call(api, endpoint, "other.9999", "widget-attacker") == 429
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, VICTIM) in (200, 201, 202)  # ... the victim is not


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_fresh_sender_ids_limit_only_the_account_they_name(api: Api, endpoint: str) -> None:
    statuses = [
        await call(api, endpoint, "target.acct", f"widget-session-{i}") for i in range(ABUSE)
    ]
    assert 429 in statuses
    # the named account stays limited whoever asks, known or not ...
    assert await call(api, endpoint, "target.acct", "widget-session-new") == 429
    # ... and a member asking about their own account goes through
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, VICTIM) in (200, 201, 202)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_fresh_sender_ids_for_other_accounts_block_no_one(api: Api, endpoint: str) -> None:
    statuses = [
        await call(api, endpoint, f"other.{i:04d}", f"widget-session-{i}") for i in range(ABUSE)
    ]
    assert 429 not in statuses
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, VICTIM) in (200, 201, 202)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_calls_naming_no_member_share_one_budget_and_block_no_member(
    api: Api, endpoint: str
) -> None:
    statuses = [await call(api, endpoint, f"other.{i:04d}", None) for i in range(ABUSE)]
    assert statuses.count(429) == ABUSE - DEFAULT_RATE_RULES[(endpoint, "member")].limit
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, VICTIM) in (200, 201, 202)


async def test_the_real_members_mail_still_goes_out(api: Api, portal: RunningPortal) -> None:
    for i in range(ABUSE):
        await call(api, "otp_resend", f"other.{i:04d}", "widget-attacker")
        await call(api, "otp_resend", "kose.ichiro", f"widget-session-{i}")
    assert await call(api, "otp_resend", "kose.hanako", VICTIM) == 202
    assert len(await portal.mail(member("kose.hanako").email)) == 1


async def test_ticket_status_survives_abuse(api: Api) -> None:
    opened = await api.post(
        "/api/v1/unlock-tickets", ENDPOINTS["unlock_open"][1]("kose.ichiro"), sender=VICTIM
    )
    ticket = opened.body["ticket_id"]
    path = f"/api/v1/unlock-tickets/{ticket}"
    for sender in ["widget-attacker"] * ABUSE * 3 + [f"widget-session-{i}" for i in range(ABUSE)]:
        reply = await api.get(path, params={"tenant": "kose"}, sender=sender)
        assert reply.status in (404, 429)  # never the victim's ticket
    assert (await api.get(path, params={"tenant": "kose"}, sender="widget-attacker")).status == 429
    mine = await api.get(path, params={"tenant": "kose"}, sender=VICTIM)
    assert (mine.status, mine.body["ticket_id"]) == (200, ticket)


async def test_a_line_user_is_one_member_whatever_the_session(api: Api) -> None:
    """A LINE user's sender id is stable: new conversations do not give them a new budget."""
    line_user = "line:kose:U0123456789abcdef0123456789abcdef"
    statuses = [await call(api, "otp_resend", f"other.{i:04d}", line_user) for i in range(6)]
    assert statuses == [202] * 5 + [429]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_fresh_sender_ids_from_one_origin_share_its_budget(api: Api, endpoint: str) -> None:
    """A new widget session per request, all from one address: the origin limit stops them,
    and a member at another origin (a fresh widget session of their own) is served."""
    statuses = [
        await call(api, endpoint, f"other.{i:04d}", f"widget-session-{i}", ATTACKER_ORIGIN)
        for i in range(ABUSE)
    ]
    per_origin = DEFAULT_RATE_RULES[(endpoint, "origin")].limit
    assert per_origin < ABUSE
    assert 429 not in statuses[:per_origin] and set(statuses[per_origin:]) == {429}
    assert await call(api, endpoint, "other.9999", "widget-session-new", ATTACKER_ORIGIN) == 429
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, "widget-session-victim", VICTIM_ORIGIN) in (200, 201, 202)


async def test_ticket_status_from_fresh_sessions_of_one_origin_is_stopped(api: Api) -> None:
    opened = await api.post(
        "/api/v1/unlock-tickets", ENDPOINTS["unlock_open"][1]("kose.ichiro"),
        sender="widget-session-victim", origin=VICTIM_ORIGIN,
    )
    path = f"/api/v1/unlock-tickets/{opened.body['ticket_id']}"
    statuses = [
        (await api.get(path, params={"tenant": "kose"}, sender=f"widget-session-{i}",
                       origin=ATTACKER_ORIGIN)).status
        for i in range(ABUSE)
    ]
    per_origin = DEFAULT_RATE_RULES[("unlock_read", "origin")].limit
    assert per_origin < ABUSE
    assert set(statuses[:per_origin]) == {404} and set(statuses[per_origin:]) == {429}
    mine = await api.get(path, params={"tenant": "kose"}, sender="widget-session-victim",
                         origin=VICTIM_ORIGIN)
    assert (mine.status, mine.body["ticket_id"]) == (200, opened.body["ticket_id"])


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_one_real_member_never_meets_the_origin_limit(api: Api, endpoint: str) -> None:
    """The origin budget is above the member's own: one member from one address is
    stopped by their member limit, and the origin still has room for others there."""
    member_limit = DEFAULT_RATE_RULES[(endpoint, "member")].limit
    origin_limit = DEFAULT_RATE_RULES[(endpoint, "origin")].limit
    assert origin_limit > member_limit
    statuses = [
        await call(api, endpoint, f"other.{i:04d}", "widget-session-1", ATTACKER_ORIGIN)
        for i in range(member_limit + 1)
    ]
    assert statuses[-1] == 429 and 429 not in statuses[:-1]
    # another member behind the same address (one office, one NAT) is still served
    _, _, own = ENDPOINTS[endpoint]
    assert await call(api, endpoint, own, "widget-session-2", ATTACKER_ORIGIN) in (200, 201, 202)

"""Per-account, per-member and per-client rate limits: 429 with Retry-After, known or not.

Each test isolates one scope: the others get fresh member identities (``sender=``)
or accounts. How the scopes keep one member from blocking another is in
``test_member_limits.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from bot.client_address import parse_trusted_proxies
from bot.portal_client import member as member_ids
from dev.portal import audit
from dev.portal.settings import RateRule, SettingsError, parse_rate_overrides
from tests.portal.conftest import (
    MEMBER_KEY,
    SERVICE_TOKEN,
    Api,
    RunningPortal,
    member_headers,
    member_id,
    origin_id,
)

ENDPOINTS = {
    "otp_resend": ("/api/v1/otp/resend", lambda uid: {"tenant": "kose", "user_id": uid}),
    "otp_diagnose": ("/api/v1/otp/diagnose", lambda uid: {"tenant": "ono", "user_id": uid, "code": "123456"}),
    "unlock_open": ("/api/v1/unlock-tickets", lambda uid: {"tenant": "kose", "user_id": uid, "birth_date": "1990-11-03"}),
}
KNOWN = {"otp_resend": "kose.hanako", "otp_diagnose": "ono.sakura", "unlock_open": "kose.hanako"}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_per_account_limit_is_the_same_for_known_and_unknown(make_portal, http, endpoint: str) -> None:
    portal: RunningPortal = make_portal(rate_rules={(endpoint, "account"): RateRule(2, 60)})
    api = Api(http, portal.url)
    path, body = ENDPOINTS[endpoint]
    senders = iter(f"member-{i}" for i in range(100))
    for uid in (KNOWN[endpoint], "nobody.12345"):
        statuses = [(await api.post(path, body(uid), sender=next(senders))).status for _ in range(2)]
        assert 429 not in statuses
        refused = await api.post(path, body(uid), sender=next(senders))
        assert refused.status == 429, uid
        assert refused.body["error"] == "rate_limited"
        assert refused.headers["Retry-After"] == "30"
        assert refused.body["retry_after"] == 30
    # another account is not affected
    assert (await api.post(path, body("someone.else"), sender=next(senders))).status != 429
    # after Retry-After seconds one more request goes through
    portal.clock.advance(30)
    assert (await api.post(path, body(KNOWN[endpoint]), sender=next(senders))).status != 429


async def test_reminder_limit_per_email(make_portal, http) -> None:
    portal = make_portal(rate_rules={("user_id_reminder", "account"): RateRule(1, 3600)})
    api = Api(http, portal.url)
    for email in ("hanako.kose@example.com", "nobody@example.com"):
        assert (await api.post("/api/v1/reminders/user-id", {"tenant": "kose", "email": email})).status == 202
        again = await api.post("/api/v1/reminders/user-id", {"tenant": "kose", "email": email.upper()})
        assert again.status == 429 and again.headers["Retry-After"] == "3600"
    await portal.settle()
    assert len(portal.outbox.messages()) == 1


async def test_per_client_limit(make_portal, http) -> None:
    portal = make_portal(rate_rules={("otp_resend", "client"): RateRule(3, 60)})
    api = Api(http, portal.url)
    statuses = [(await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": f"member.{i:04d}"},
                                sender=f"member-{i}")).status
                for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    # bad requests count against the client too
    portal.clock.advance(20)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "bad"}, sender="member-5")).status == 422
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.9999"},
                           sender="member-6")).status == 429


async def test_per_member_limit(make_portal, http) -> None:
    portal = make_portal(rate_rules={("unlock_read", "member"): RateRule(2, 600)})
    api = Api(http, portal.url)
    for _ in range(2):
        assert (await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"}, sender="m-1")).status == 404
    limited = await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"}, sender="m-1")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) == 300
    other = await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"}, sender="m-2")
    assert other.status == 404


def _signed(member_id: str, key: bytes = MEMBER_KEY) -> dict[str, str]:
    return {"X-Kosmo-Member": member_id, "X-Kosmo-Member-Signature": member_ids.sign(key, member_id)}


@pytest.mark.parametrize(
    "headers, status, field",
    [
        ({"X-Kosmo-Member": "x" * 200}, 422, "X-Kosmo-Member"),
        ({"X-Kosmo-Member": "line:Uabc", "X-Kosmo-Member-Signature": "0" * 64}, 422, "X-Kosmo-Member"),
        ({"X-Kosmo-Member": member_id("m-1")}, 401, "X-Kosmo-Member-Signature"),
        ({"X-Kosmo-Member-Signature": "0" * 64}, 422, "X-Kosmo-Member"),
        ({"X-Kosmo-Member": member_id("m-1"), "X-Kosmo-Member-Signature": "0" * 64}, 401, "X-Kosmo-Member-Signature"),
        ({"X-Kosmo-Member": member_id("m-1"), "X-Kosmo-Member-Signature": "zz"}, 401, "X-Kosmo-Member-Signature"),
        (_signed(member_id("m-1"), b"another key"), 401, "X-Kosmo-Member-Signature"),
        # a valid signature of another member id does not vouch for this one
        ({"X-Kosmo-Member": member_id("m-1"), "X-Kosmo-Member-Signature": _signed(member_id("m-2"))[
            "X-Kosmo-Member-Signature"]}, 401, "X-Kosmo-Member-Signature"),
    ],
)
async def test_bad_member_headers(api: Api, headers: dict[str, str], status: int, field: str) -> None:
    r = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"}, headers=headers)
    assert (r.status, r.body["field"]) == (status, field)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"},
                           headers=_signed(member_id("m-1")))).status == 202


def _signed_with_origin(member: str, origin: str, key: bytes = MEMBER_KEY) -> dict[str, str]:
    return member_ids.headers_for(key, member, origin)


M1, O1, O2 = member_id("m-1"), origin_id("widget:" + "1" * 32), origin_id("widget:" + "2" * 32)


@pytest.mark.parametrize(
    "headers, status, field",
    [
        # an origin the signature does not cover: the member's own signature, origin added
        ({**_signed(M1), "X-Kosmo-Origin": O1}, 401, "X-Kosmo-Member-Signature"),
        # another origin than the one signed (moving to a fresh budget)
        ({**_signed_with_origin(M1, O1), "X-Kosmo-Origin": O2}, 401, "X-Kosmo-Member-Signature"),
        # the origin dropped from a signed pair
        ({k: v for k, v in _signed_with_origin(M1, O1).items() if k != "X-Kosmo-Origin"}, 401,
         "X-Kosmo-Member-Signature"),
        (_signed_with_origin(M1, O1, b"another key"), 401, "X-Kosmo-Member-Signature"),
        ({**_signed_with_origin(M1, O1), "X-Kosmo-Member-Signature": "0" * 64}, 401, "X-Kosmo-Member-Signature"),
        ({"X-Kosmo-Origin": O1}, 422, "X-Kosmo-Member"),  # an origin speaks for no one by itself
        ({**_signed(M1), "X-Kosmo-Origin": "203.0.113.7"}, 422, "X-Kosmo-Origin"),
        ({**_signed(M1), "X-Kosmo-Origin": "widget:" + "a" * 200}, 422, "X-Kosmo-Origin"),
    ],
)
async def test_bad_origin_headers(api: Api, headers: dict[str, str], status: int, field: str) -> None:
    r = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"}, headers=headers)
    assert (r.status, r.body["field"]) == (status, field)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"},
                           headers=_signed_with_origin(M1, O1))).status == 202


async def test_per_origin_limit(make_portal, http) -> None:
    """Fresh member ids from one origin share its budget; another origin has its own,
    and a member without an origin is their own origin."""
    portal = make_portal(rate_rules={("otp_resend", "origin"): RateRule(2, 600)})
    api = Api(http, portal.url)
    here = "widget:" + "1" * 32

    async def resend(i: int, origin: str | None) -> Any:
        return await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": f"member.{i:04d}"},
                              sender=f"session-{i}", origin=origin)

    assert [(await resend(i, here)).status for i in range(2)] == [202, 202]
    limited = await resend(2, here)
    assert limited.status == 429 and limited.headers["Retry-After"] == "300"
    assert (await resend(3, "widget:" + "2" * 32)).status == 202
    assert (await resend(4, "line:" + "3" * 32)).status == 202
    assert [(await resend(5, None)).status for _ in range(3)] == [202, 202, 429]  # its own origin
    assert (await resend(6, None)).status == 202
    outcomes = portal.db.run_sync(lambda s: [e.outcome for e in audit.recent(s, 20)])
    assert outcomes.count("rate_limited:origin") == 2


def test_the_origin_scope_can_be_set() -> None:
    assert parse_rate_overrides("otp_resend.origin=3/60") == {("otp_resend", "origin"): RateRule(3, 60)}


async def test_a_separate_member_key(make_portal, http) -> None:
    portal = make_portal(member_id_key="member-key-0123456789")
    api = Api(http, portal.url)
    body = {"tenant": "kose", "user_id": "kose.hanako"}
    # signed with the key derived from the service token: refused once the portal has its own key
    assert (await api.post("/api/v1/otp/resend", body, sender="m-1")).status == 401
    assert (await api.post("/api/v1/otp/resend", body,
                           headers=_signed(member_id("m-1"), b"member-key-0123456789"))).status == 202


async def test_client_budget_counts_every_request_account_budget_only_accepted_ones(make_portal, http) -> None:
    portal = make_portal(rate_rules={("otp_resend", "account"): RateRule(1, 600),
                                     ("otp_resend", "client"): RateRule(3, 600)})
    api = Api(http, portal.url)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"}, sender="m-1")).status == 202
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"}, sender="m-2")).status == 429
    # 2 of the client's 3 are used (the refused one counted at the client, not the account)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.0001"}, sender="m-3")).status == 202
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.0002"}, sender="m-4")).status == 429


def test_earlier_scope_names_are_still_read() -> None:
    assert parse_rate_overrides("unlock_read.conversation=7/60") == {("unlock_read", "member"): RateRule(7, 60)}
    with pytest.raises(SettingsError):
        parse_rate_overrides("unlock_read.nobody=7/60")


def test_member_key_setting() -> None:
    from dev.portal.settings import settings_from_env

    env = {"KOSMO_PORTAL_SERVICE_TOKEN": "s" * 20}
    assert settings_from_env(env).member_id_key is None  # derived from the token
    assert settings_from_env({**env, "KOSMO_MEMBER_ID_KEY": "k" * 20}).member_id_key == "k" * 20
    assert "k" * 20 not in repr(settings_from_env({**env, "KOSMO_MEMBER_ID_KEY": "k" * 20}))
    with pytest.raises(SettingsError, match="KOSMO_MEMBER_ID_KEY"):
        settings_from_env({**env, "KOSMO_MEMBER_ID_KEY": "short"})
    # commands that do not serve the API (the CLI mailing about a ticket) need no token
    assert settings_from_env({}, require_token=False).service_token == ""
    with pytest.raises(SettingsError):
        settings_from_env({})


async def test_behind_a_proxy_the_client_is_the_address_the_proxy_added(make_portal, http) -> None:
    """X-Forwarded-For grows to the right: a client may send its own first entries, so
    only the last one (our proxy's) counts; made-up first entries do not get around the
    per-client limit, and different real clients are told apart."""
    portal = make_portal(
        trust_forwarded_for=True, rate_rules={("otp_resend", "client"): RateRule(2, 60)}
    )
    api = Api(http, portal.url)

    async def resend(i: int, forwarded: str) -> int:
        body = {"tenant": "kose", "user_id": f"member.{i:04d}"}
        reply = await api.post("/api/v1/otp/resend", body, sender=f"member-{i}",
                               headers={"X-Forwarded-For": forwarded})
        return reply.status

    statuses = [await resend(i, f"10.9.8.{i}, 203.0.113.7") for i in range(3)]
    assert statuses == [202, 202, 429]
    assert await resend(3, "203.0.113.7, 198.51.100.4") == 202


async def _resend_forwarded(http, portal: RunningPortal, i: int, lines: list[str]) -> int:
    """An OTP resend with one X-Forwarded-For line per entry of ``lines`` (Api.post takes
    a dict, which cannot carry two lines of one header)."""
    headers = CIMultiDict(member_headers(f"member-{i}"))
    headers["Authorization"] = f"Bearer {SERVICE_TOKEN}"
    for line in lines:
        headers.add("X-Forwarded-For", line)
    body = {"tenant": "kose", "user_id": f"member.{i:04d}"}
    async with http.post(portal.url + "/api/v1/otp/resend", json=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def test_a_forwarded_for_line_the_client_sent_first_does_not_choose_its_address(
    make_portal, http
) -> None:
    """A client sends its own X-Forwarded-For line, a proxy adds its line after it (HAProxy's
    ``option forwardfor``, some load balancers): the proxy's line counts, not the first one."""
    portal = make_portal(
        trust_forwarded_for=True, rate_rules={("otp_resend", "client"): RateRule(2, 60)}
    )
    statuses = [await _resend_forwarded(http, portal, i, [f"6.6.6.{i}", "203.0.113.7"])
                for i in range(3)]
    assert statuses == [202, 202, 429]
    assert await _resend_forwarded(http, portal, 3, ["6.6.6.9", "198.51.100.4"]) == 202
    clients = portal.db.run_sync(lambda s: [e.client for e in audit.recent(s, 10)])
    assert set(clients) == {"203.0.113.7", "198.51.100.4"}


async def test_forwarded_for_counts_only_from_a_trusted_proxy(make_portal, http) -> None:
    """KOSMO_PORTAL_TRUSTED_PROXIES: a caller that is not one of them (here no proxy is
    trusted, and the test connects from loopback) is its own address, whatever it sends;
    with two proxies the inner one's entry is skipped."""
    limits = {("otp_resend", "client"): RateRule(2, 60)}
    direct = make_portal(trust_forwarded_for=True, trusted_proxies=(), rate_rules=limits)
    statuses = [await _resend_forwarded(http, direct, i, [f"203.0.113.{i}"]) for i in range(3)]
    assert statuses == [202, 202, 429]

    two = make_portal(
        trust_forwarded_for=True, rate_rules=limits,
        trusted_proxies=parse_trusted_proxies("127.0.0.1,10.0.0.0/8"),
    )
    statuses = [await _resend_forwarded(http, two, i, [f"203.0.113.{i}, 10.0.0.2"])
                for i in range(3)]
    assert statuses == [202, 202, 202]


def test_trusted_proxies_setting() -> None:
    from dev.portal.settings import settings_from_env

    env = {"KOSMO_PORTAL_SERVICE_TOKEN": "s" * 20}
    default = settings_from_env(env)
    assert not default.trust_forwarded_for and default.client_addresses.header is None
    assert default.client_addresses.trusted("127.0.0.1") and default.client_addresses.trusted("::1")
    on = settings_from_env({**env, "KOSMO_PORTAL_TRUST_FORWARDED_FOR": "1",
                            "KOSMO_PORTAL_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
    addresses = on.client_addresses
    assert addresses.header == "x-forwarded-for"
    assert addresses.trusted("10.1.2.3") and addresses.trusted("::ffff:192.0.2.1")
    assert not addresses.trusted("127.0.0.1")
    with pytest.raises(SettingsError, match="KOSMO_PORTAL_TRUSTED_PROXIES"):
        settings_from_env({**env, "KOSMO_PORTAL_TRUSTED_PROXIES": "proxy.example"})

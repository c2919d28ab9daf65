"""Per-account, per-conversation and per-client rate limits: 429 with Retry-After, known or not."""

from __future__ import annotations

import pytest

from bot.portal.settings import RateRule
from tests.portal.conftest import Api, RunningPortal

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
    for uid in (KNOWN[endpoint], "nobody.12345"):
        statuses = [(await api.post(path, body(uid))).status for _ in range(2)]
        assert 429 not in statuses
        refused = await api.post(path, body(uid))
        assert refused.status == 429, uid
        assert refused.body["error"] == "rate_limited"
        assert refused.headers["Retry-After"] == "30"
        assert refused.body["retry_after"] == 30
    # another account is not affected
    assert (await api.post(path, body("someone.else"))).status != 429
    # after Retry-After seconds one more request goes through
    portal.clock.advance(30)
    assert (await api.post(path, body(KNOWN[endpoint]))).status != 429


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
    statuses = [(await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": f"member.{i:04d}"})).status
                for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    # bad requests count against the client too
    portal.clock.advance(20)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "bad"})).status == 422
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.9999"})).status == 429


async def test_per_conversation_limit(make_portal, http) -> None:
    portal = make_portal(rate_rules={("unlock_read", "conversation"): RateRule(2, 600)})
    api = Api(http, portal.url)
    conv = {"X-Kosmo-Conversation": "sender-digest-1"}
    for _ in range(2):
        assert (await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"}, headers=conv)).status == 404
    limited = await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"}, headers=conv)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) == 300
    other = await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"},
                          headers={"X-Kosmo-Conversation": "sender-digest-2"})
    assert other.status == 404


async def test_bad_conversation_header(api: Api) -> None:
    r = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"},
                       headers={"X-Kosmo-Conversation": "x" * 200})
    assert r.status == 422 and r.body["field"] == "X-Kosmo-Conversation"


async def test_client_budget_counts_every_request_account_budget_only_accepted_ones(make_portal, http) -> None:
    portal = make_portal(rate_rules={("otp_resend", "account"): RateRule(1, 600),
                                     ("otp_resend", "client"): RateRule(3, 600)})
    api = Api(http, portal.url)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})).status == 202
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})).status == 429
    # 2 of the client's 3 are used (the refused one counted at the client, not the account)
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.0001"})).status == 202
    assert (await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "member.0002"})).status == 429

"""bot.portal_client.PortalClient against the real portal, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.portal_client import (
    Accepted,
    PortalAuthError,
    PortalClient,
    PortalConfigError,
    PortalError,
    PortalNotFound,
    PortalNotSupported,
    PortalRateLimited,
    PortalRejected,
    PortalUnavailable,
    TotpDiagnosis,
    UnlockTicket,
)
from dev.portal.settings import RateRule
from tests.portal.conftest import ADMIN_TOKEN, SERVICE_TOKEN, RunningPortal, free_port, member


@pytest.fixture
async def client(portal: RunningPortal):
    async with PortalClient(portal.url, SERVICE_TOKEN) as c:
        yield c


async def test_resend_and_reminder(client: PortalClient, portal: RunningPortal) -> None:
    result = await client.resend_otp("kose", "kose.hanako", member=client.member_of("line:kose:Uabc123"))
    assert isinstance(result, Accepted) and result.message
    assert await client.send_user_id_reminder("kose", "hanako.kose@example.com") == result
    mails = await portal.mail(member("kose.hanako").email, 2)
    assert len(mails) == 2


async def test_ticket_round_trip(client: PortalClient, portal: RunningPortal, http: aiohttp.ClientSession) -> None:
    me = client.member_of("widget-session-1")
    ticket = await client.open_unlock_ticket("kose", "kose.ichiro", dt.date(1978, 2, 14), member=me)
    assert isinstance(ticket, UnlockTicket) and ticket.is_open and not ticket.unlocked
    assert ticket.created_at == portal.clock.now() and not ticket.already_open
    with pytest.raises(dataclasses.FrozenInstanceError):
        ticket.status = "closed"  # type: ignore[misc]
    assert await client.get_unlock_ticket("kose", ticket.ticket_id, member=me) == ticket
    again = await client.open_unlock_ticket("kose", "kose.ichiro", dt.date(1978, 2, 14), member=me)
    assert again == dataclasses.replace(ticket, already_open=True)
    async with http.post(f"{portal.url}/admin/v1/unlock-tickets/{ticket.ticket_id}/resolve",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as r:
        assert r.status == 200
    closed = await client.get_unlock_ticket("kose", ticket.ticket_id, member=me)
    assert (closed.status, closed.unlocked, closed.closed_at) == ("closed", True, portal.clock.now())
    with pytest.raises(PortalNotFound):
        await client.get_unlock_ticket("ono", ticket.ticket_id, member=me)
    # only the member that opened it is told: anyone else, or no member, hears "not found"
    for other in (client.member_of("widget-session-2"), None):
        with pytest.raises(PortalNotFound):
            await client.get_unlock_ticket("kose", ticket.ticket_id, member=other)


async def test_member_key_must_match_the_portal(portal: RunningPortal) -> None:
    async with PortalClient(portal.url, SERVICE_TOKEN, member_key="another-key-0123456789") as c:
        with pytest.raises(PortalAuthError) as e:
            await c.resend_otp("kose", "kose.hanako", member=c.member_of("widget-session-1"))
    assert (e.value.status, e.value.code) == (401, "member_signature_invalid")


def test_member_key_from_the_environment() -> None:
    env = {"KOSMO_PORTAL_SERVICE_TOKEN": SERVICE_TOKEN}
    derived = PortalClient.from_env(env)
    explicit = PortalClient.from_env({**env, "KOSMO_MEMBER_ID_KEY": "k" * 32})
    sender = "line:kose:U0123456789abcdef0123456789abcdef"
    assert derived.member_of(sender) != explicit.member_of(sender)
    assert derived.member_of(sender) == PortalClient("http://x", SERVICE_TOKEN).member_of(sender)
    assert derived.member_of(sender).id.startswith("line:") and "U0123" not in derived.member_of(sender).id
    assert derived.member_of("4a54132e5daa").id.startswith("chat:")
    # the origin the channel recorded is passed on as a second keyed digest, never as is
    origin = "widget:" + "5" * 32
    mine = derived.member_of("4a54132e5daa", origin)
    assert mine.id == derived.member_of("4a54132e5daa").id
    assert mine.origin is not None and mine.origin.startswith("widget:") and "5" * 32 not in mine.origin
    assert mine.origin != explicit.member_of("4a54132e5daa", origin).origin
    assert derived.member_of("4a54132e5daa").origin is None


async def test_the_origin_goes_to_the_portal_signed_and_counts_there(make_portal) -> None:
    portal = make_portal(rate_rules={("otp_resend", "origin"): RateRule(2, 600)})
    async with PortalClient(portal.url, SERVICE_TOKEN) as c:
        here = "widget:" + "6" * 32
        for i in range(2):
            await c.resend_otp("kose", f"member.{i:04d}", member=c.member_of(f"session-{i}", here))
        with pytest.raises(PortalRateLimited):
            await c.resend_otp("kose", "member.0002", member=c.member_of("session-2", here))
        await c.resend_otp("kose", "member.0003", member=c.member_of("session-3", "widget:" + "7" * 32))
        await c.resend_otp("kose", "member.0004", member=c.member_of("session-4"))


async def test_diagnosis(client: PortalClient, portal: RunningPortal) -> None:
    code = portal.totp_code(member("ono.sakura").totp_secret, -30)
    diag = await client.diagnose_totp("ono", "ono.sakura", code)
    assert diag == TotpDiagnosis("nearby", -1, -30, 3, 30)
    assert diag.nearby and not diag.matches


async def test_wrong_otp_method_is_not_supported(client: PortalClient) -> None:
    with pytest.raises(PortalNotSupported) as e:
        await client.resend_otp("ono", "ono.sakura")
    assert (e.value.otp_method, e.value.field, e.value.status) == ("totp", "tenant", 409)
    assert isinstance(e.value, PortalRejected) and isinstance(e.value, PortalError)
    with pytest.raises(PortalNotSupported) as e:
        await client.diagnose_totp("kose", "kose.hanako", "123456")
    assert e.value.otp_method == "email"


async def test_validation_errors_name_the_field(client: PortalClient) -> None:
    with pytest.raises(PortalRejected) as e:
        await client.resend_otp("kose", "bad id")
    assert (e.value.status, e.value.code, e.value.field) == (422, "validation_error", "user_id")
    with pytest.raises(PortalRejected) as e:
        await client.send_user_id_reminder("kose", "not-an-address")
    assert e.value.field == "email"
    with pytest.raises(PortalRejected) as e:
        await client.get_unlock_ticket("kose", "not a ticket/../x")
    assert e.value.field == "ticket_id"


async def test_wrong_token(portal: RunningPortal) -> None:
    async with PortalClient(portal.url, "not-the-token") as c:
        with pytest.raises(PortalAuthError) as e:
            await c.resend_otp("kose", "kose.hanako")
    assert e.value.status == 401


async def test_rate_limited(make_portal) -> None:
    portal = make_portal(rate_rules={("otp_diagnose", "account"): RateRule(1, 120)})
    async with PortalClient(portal.url, SERVICE_TOKEN) as c:
        await c.diagnose_totp("ono", "ono.sakura", "123456")
        with pytest.raises(PortalRateLimited) as e:
            await c.diagnose_totp("ono", "ono.sakura", "123456")
    assert e.value.retry_after == 120


async def test_connection_refused_is_unavailable() -> None:
    async with PortalClient(f"http://127.0.0.1:{free_port()}", "token", timeout=1.0, retry_backoff=0.01) as c:
        with pytest.raises(PortalUnavailable):
            await c.resend_otp("kose", "kose.hanako")
        with pytest.raises(PortalUnavailable):
            await c.get_unlock_ticket("kose", "UL-ABCDEF")


async def test_a_portal_that_never_answers_times_out() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with PortalClient(f"http://127.0.0.1:{port}", "token", timeout=0.3) as c:
            started = time.monotonic()
            with pytest.raises(PortalUnavailable) as e:
                await c.resend_otp("kose", "kose.hanako")
            assert time.monotonic() - started < 2
            assert "0.3" in str(e.value)
    finally:
        server.close()


@pytest.fixture
async def flaky_portal():
    """A stand-in portal (not ours) that fails with 503 first, then answers; it counts calls."""
    calls: dict[str, int] = {"GET": 0, "POST": 0}
    ticket = {"ticket_id": "UL-ABCDEF", "tenant": "kose", "status": "open", "resolution": None,
              "created_at": "2025-04-01T00:00:00+00:00", "closed_at": None}

    async def handle(request: web.Request) -> web.Response:
        calls[request.method] += 1
        if calls[request.method] == 1:
            return web.json_response({"error": "unavailable", "field": None, "message": "busy"}, status=503)
        if request.path == "/api/v1/unlock-tickets/garbage":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        return web.json_response(ticket, status=200 if request.method == "GET" else 201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}", calls
    await runner.cleanup()


async def test_get_is_retried_post_is_not(flaky_portal) -> None:
    url, calls = flaky_portal
    async with PortalClient(url, "token", retry_backoff=0.01) as c:
        ticket = await c.get_unlock_ticket("kose", "UL-ABCDEF")
        assert ticket.ticket_id == "UL-ABCDEF" and calls["GET"] == 2
        with pytest.raises(PortalUnavailable) as e:
            await c.open_unlock_ticket("kose", "kose.ichiro", dt.date(1978, 2, 14))
        assert e.value.status == 503 and calls["POST"] == 1


async def test_unreadable_answer_is_unavailable(flaky_portal) -> None:
    url, calls = flaky_portal
    calls["GET"] = 1  # skip the 503
    async with PortalClient(url, "token") as c:
        with pytest.raises(PortalUnavailable):
            await c.get_unlock_ticket("kose", "garbage")


async def test_session_handed_in_is_not_closed(portal: RunningPortal) -> None:
    async with aiohttp.ClientSession() as session:
        async with PortalClient(portal.url, SERVICE_TOKEN, session=session) as c:
            await c.resend_otp("kose", "kose.hanako")
        assert not session.closed


def test_from_env() -> None:
    c = PortalClient.from_env({"KOSMO_PORTAL_SERVICE_TOKEN": "abc"})
    assert c.base_url == "http://127.0.0.1:8080" and c.timeout == 3.0
    c = PortalClient.from_env({"KOSMO_PORTAL_URL": "https://portal.example/", "KOSMO_PORTAL_SERVICE_TOKEN": "abc"})
    assert c.base_url == "https://portal.example"
    with pytest.raises(PortalConfigError):
        PortalClient.from_env({})
    with pytest.raises(PortalConfigError):  # the dev portal's token is not the client's to know
        PortalClient.from_env({"KOSMO_PORTAL_DEV": "1"})
    with pytest.raises(PortalConfigError):
        PortalClient("ftp://x", "t")
    assert "abc" not in repr(PortalClient.from_env({"KOSMO_PORTAL_SERVICE_TOKEN": "abc"}))


def test_the_client_knows_no_dev_token() -> None:
    import bot.portal_client.client as client_module
    from dev.portal.settings import DEV_SERVICE_TOKEN

    assert not hasattr(client_module, "DEV_SERVICE_TOKEN")
    assert DEV_SERVICE_TOKEN not in Path(client_module.__file__).read_text(encoding="utf-8")

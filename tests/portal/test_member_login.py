"""Member login as the manuals describe it: first login, email OTP, authenticator (TOTP)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import aiohttp
import pyotp
import pytest

from tests.portal.conftest import Api, RunningPortal, member


async def login(api: Api, society: str, user_id: str, password: str) -> tuple[int, dict]:
    reply = await api.post("/member/login", {"tenant": society, "user_id": user_id, "password": password}, token=None)
    return reply.status, reply.body


async def step(api: Api, path: str, body: dict) -> tuple[int, dict]:
    reply = await api.post(path, body, token=None)
    return reply.status, reply.body


async def open_link(http: aiohttp.ClientSession, portal: RunningPortal, link: str) -> int:
    """The mailed link points at the public URL; open the same path on the test server."""
    parsed = urlparse(link)
    async with http.get(portal.url + parsed.path, params={k: v[0] for k, v in parse_qs(parsed.query).items()}) as r:
        return r.status


def email_code(mail: dict) -> str:
    found = re.search(r"^\s+(\d{6})$", mail["body"], re.M)
    assert found, mail["body"]
    return found.group(1)


def link_in(mail: dict) -> str:
    found = re.search(r"(http://\S+)", mail["body"])
    assert found, mail["body"]
    return found.group(1)


async def test_kose_first_login_then_email_otp(api: Api, portal: RunningPortal, http: aiohttp.ClientSession) -> None:
    taro = member("kenpo.taro")
    status, body = await login(api, "kose", "kenpo.taro", "302468019850412")  # symbol+number+birth date
    assert status == 200 and body["next_step"] == "birth_date"
    session = body["session"]

    status, body = await step(api, "/member/first-login/birth-date", {"session": session, "birth_date": "1985-04-12"})
    assert (status, body["next_step"]) == (200, "terms")
    status, body = await step(api, "/member/first-login/terms", {"session": session, "accept": True})
    assert body["next_step"] == "user_id"
    status, body = await step(api, "/member/first-login/user-id", {"session": session, "user_id": "Kenpo.Taro85"})
    assert body["next_step"] == "password"
    # the initial password may not be kept, and the manual's rules apply
    status, body = await step(api, "/member/first-login/password",
                              {"session": session, "password": "302468019850412", "password_confirm": "302468019850412"})
    assert status == 422 and body["field"] == "password"
    status, body = await step(api, "/member/first-login/password",
                              {"session": session, "password": "short", "password_confirm": "short"})
    assert status == 422 and body["reason"] == "length"
    status, body = await step(api, "/member/first-login/password",
                              {"session": session, "password": "パスワード12345", "password_confirm": "パスワード12345"})
    assert status == 422 and body["reason"] == "characters"
    status, body = await step(api, "/member/first-login/password",
                              {"session": session, "password": "Taro!2025pw", "password_confirm": "Taro!2025px"})
    assert status == 422 and body["field"] == "password_confirm"
    status, body = await step(api, "/member/first-login/password",
                              {"session": session, "password": "Taro!2025pw", "password_confirm": "Taro!2025pw"})
    assert body["next_step"] == "email"
    status, body = await step(api, "/member/first-login/email", {"session": session, "email": "taro.kenpo@example.com"})
    assert body["next_step"] == "email_verification" and body["link_valid_minutes"] == 30

    status, body = await step(api, "/member/first-login/email/check", {"session": session})
    assert status == 409 and body["error"] == "email_not_verified"
    [mail] = await portal.mail("taro.kenpo@example.com")
    assert await open_link(http, portal, link_in(mail)) == 200
    assert await open_link(http, portal, link_in(mail)) == 410  # single use
    status, body = await step(api, "/member/first-login/email/check", {"session": session})
    assert (status, body["next_step"]) == (200, "done")
    assert body["user_id"] == "kenpo.taro85"
    assert (await step(api, "/member/logout", {"session": session}))[0] == 200
    assert (await step(api, "/member/session", {"session": session}))[0] == 401

    # second login: the old ID and the initial password are gone; the email OTP is the second factor
    assert (await login(api, "kose", "kenpo.taro", "302468019850412"))[0] == 401
    assert (await login(api, "kose", "kenpo.taro85", "302468019850412"))[0] == 401
    status, body = await login(api, "kose", "KENPO.TARO85", "Taro!2025pw")
    assert (status, body["next_step"], body["otp_method"]) == (200, "otp", "email")
    [_, otp_mail] = await portal.mail("taro.kenpo@example.com", 2)
    status, body = await step(api, "/member/otp", {"session": body["session"], "code": email_code(otp_mail)})
    assert (status, body["next_step"]) == (200, "done")
    assert taro.user_id == "kenpo.taro"


async def test_verification_link_expires_after_the_societys_minutes(
    api: Api, portal: RunningPortal, http: aiohttp.ClientSession
) -> None:
    _, body = await login(api, "ono", "ono.jiro01", "10246819920720")
    session = body["session"]
    await step(api, "/member/first-login/birth-date", {"session": session, "birth_date": "19920720"})
    await step(api, "/member/first-login/terms", {"session": session, "accept": True})
    await step(api, "/member/first-login/user-id", {"session": session})
    await step(api, "/member/first-login/password", {"session": session, "password": "Jiro-Ono2025", "password_confirm": "Jiro-Ono2025"})
    await step(api, "/member/first-login/email", {"session": session, "email": "jiro.ono@example.com"})
    [mail] = await portal.mail("jiro.ono@example.com")
    portal.clock.advance(20 * 60)
    assert (await step(api, "/member/session", {"session": session}))[0] == 200  # keeps the session alive
    portal.clock.advance(10 * 60 + 1)
    assert await open_link(http, portal, link_in(mail)) == 410
    # a fresh link works, and the old one stays dead
    _, body = await step(api, "/member/first-login/email/resend", {"session": session})
    [_, fresh] = await portal.mail("jiro.ono@example.com", 2)
    assert await open_link(http, portal, link_in(fresh)) == 200
    status, body = await step(api, "/member/first-login/email/check", {"session": session})
    assert body["next_step"] == "done"


async def test_wrong_birth_date_at_first_login_is_refused(api: Api) -> None:
    _, body = await login(api, "kose", "kenpo.taro", "302468019850412")
    status, body = await step(api, "/member/first-login/birth-date", {"session": body["session"], "birth_date": "1985-04-13"})
    assert status == 422 and body["field"] == "birth_date" and body["error"] == "birth_date_mismatch"


async def test_steps_must_come_in_order(api: Api) -> None:
    _, body = await login(api, "kose", "kenpo.taro", "302468019850412")
    status, body = await step(api, "/member/first-login/password",
                              {"session": body["session"], "password": "Taro!2025pw", "password_confirm": "Taro!2025pw"})
    assert status == 409 and body["error"] == "wrong_step" and body["next_step"] == "birth_date"


async def test_user_id_change_cannot_take_an_existing_id(api: Api) -> None:
    _, body = await login(api, "kose", "kenpo.taro", "302468019850412")
    session = body["session"]
    await step(api, "/member/first-login/birth-date", {"session": session, "birth_date": "1985-04-12"})
    await step(api, "/member/first-login/terms", {"session": session, "accept": True})
    status, body = await step(api, "/member/first-login/user-id", {"session": session, "user_id": "kose.hanako"})
    assert status == 409 and body["field"] == "user_id"
    status, body = await step(api, "/member/first-login/user-id", {"session": session, "user_id": "bad id!"})
    assert status == 422 and body["field"] == "user_id"


async def test_session_expires(api: Api, portal: RunningPortal) -> None:
    _, body = await login(api, "kose", "kenpo.taro", "302468019850412")
    portal.clock.advance(30 * 60 + 1)
    status, reply = await step(api, "/member/first-login/birth-date", {"session": body["session"], "birth_date": "1985-04-12"})
    assert status == 401 and reply["error"] == "session_invalid"


async def test_email_otp_is_single_use_and_resend_kills_the_old_code(api: Api, portal: RunningPortal) -> None:
    hanako = member("kose.hanako")
    _, body = await login(api, "kose", "kose.hanako", hanako.password)
    session = body["session"]
    [first] = await portal.mail(hanako.email)
    # the bot's resend, like the 再送信 button, replaces the code
    reply = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})
    assert reply.status == 202
    [_, second] = await portal.mail(hanako.email, 2)
    if email_code(first) != email_code(second):
        status, _ = await step(api, "/member/otp", {"session": session, "code": email_code(first)})
        assert status == 401
    status, body = await step(api, "/member/otp", {"session": session, "code": email_code(second)})
    assert (status, body["next_step"]) == (200, "done")
    # a second session cannot reuse the spent code
    _, again = await login(api, "kose", "kose.hanako", hanako.password)
    await portal.mail(hanako.email, 3)
    status, _ = await step(api, "/member/otp", {"session": again["session"], "code": email_code(second)})
    assert status == 401


async def test_email_otp_expires(api: Api, portal: RunningPortal) -> None:
    hanako = member("kose.hanako")
    _, body = await login(api, "kose", "kose.hanako", hanako.password)
    [mail] = await portal.mail(hanako.email)
    portal.clock.advance(portal.settings.email_otp_valid_seconds + 1)
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": email_code(mail)})
    assert status == 401 and reply["error"] == "invalid_code"


async def test_member_resend_button(api: Api, portal: RunningPortal) -> None:
    hanako = member("kose.hanako")
    _, body = await login(api, "kose", "kose.hanako", hanako.password)
    # the mails are sent in the background: wait for the first before asking for another,
    # so that which code is the resent one does not depend on delivery order
    [first] = await portal.mail(hanako.email, 1)
    status, reply = await step(api, "/member/otp/resend", {"session": body["session"]})
    assert status == 200 and reply["next_step"] == "otp"
    mails = await portal.mail(hanako.email, 2)
    [resent] = [m for m in mails if email_code(m) != email_code(first)]
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": email_code(resent)})
    assert reply["next_step"] == "done"


async def test_totp_code_is_accepted_once(api: Api, portal: RunningPortal) -> None:
    sakura = member("ono.sakura")
    code = portal.totp_code(sakura.totp_secret)
    _, body = await login(api, "ono", "ono.sakura", sakura.password)
    assert (body["next_step"], body["otp_method"]) == ("otp", "totp")
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": code})
    assert (status, reply["next_step"]) == (200, "done")
    _, body = await login(api, "ono", "ono.sakura", sakura.password)
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": code})
    assert status == 401 and reply["error"] == "invalid_code"
    # the next 30-second step brings a new code, which works
    portal.clock.advance(30)
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": portal.totp_code(sakura.totp_secret)})
    assert reply["next_step"] == "done"


@pytest.mark.parametrize("offset,ok", [(-60, False), (-30, True), (0, True), (30, True), (60, False)])
async def test_totp_login_window_is_one_step(api: Api, portal: RunningPortal, offset: int, ok: bool) -> None:
    sakura = member("ono.sakura")
    _, body = await login(api, "ono", "ono.sakura", sakura.password)
    status, _ = await step(api, "/member/otp", {"session": body["session"], "code": portal.totp_code(sakura.totp_secret, offset)})
    assert (status == 200) is ok


async def test_authenticator_setup_gives_a_qr_uri_and_binds_on_first_code(api: Api, portal: RunningPortal) -> None:
    kenta = member("ono.kenta")
    _, body = await login(api, "ono", "ono.kenta", kenta.password)
    assert body["next_step"] == "totp_setup"
    uri = body["provisioning_uri"]
    assert uri.startswith("otpauth://totp/") and "ono.kenta" in uri
    totp = pyotp.parse_uri(uri)
    assert totp.interval == 30 and totp.digits == 6 and totp.secret == body["secret"]
    status, reply = await step(api, "/member/otp", {"session": body["session"], "code": totp.at(portal.clock.now())})
    assert reply["next_step"] == "done"
    # next login asks for the code, not for setup; diagnosis now knows the member
    portal.clock.advance(30)
    _, body = await login(api, "ono", "ono.kenta", kenta.password)
    assert body["next_step"] == "otp"
    diag = await api.post("/api/v1/otp/diagnose", {"tenant": "ono", "user_id": "ono.kenta", "code": totp.at(portal.clock.now())})
    assert diag.body["result"] == "match"


async def test_forgot_password_mails_a_link_that_resets(api: Api, portal: RunningPortal, http: aiohttp.ClientSession) -> None:
    hanako = member("kose.hanako")
    reply = await api.post("/member/forgot-password", {"tenant": "kose", "user_id": "kose.hanako"}, token=None)
    unknown = await api.post("/member/forgot-password", {"tenant": "kose", "user_id": "nobody.1234"}, token=None)
    assert reply.status == unknown.status == 202 and reply.body == unknown.body
    [mail] = await portal.mail(hanako.email)
    token = parse_qs(urlparse(link_in(mail)).query)["token"][0]
    async with http.get(portal.url + urlparse(link_in(mail)).path, params={"token": token}) as page:
        assert page.status == 200 and token in await page.text()
    status, body = await step(api, "/member/reset-password", {"token": token, "password": "New-Hanako2025", "password_confirm": "New-Hanako2025"})
    assert status == 200
    status, body = await step(api, "/member/reset-password", {"token": token, "password": "New-Hanako2026", "password_confirm": "New-Hanako2026"})
    assert status == 401 and body["field"] == "token"
    assert (await login(api, "kose", "kose.hanako", hanako.password))[0] == 401
    assert (await login(api, "kose", "kose.hanako", "New-Hanako2025"))[0] == 200


SESSION = "s" * 43


@pytest.mark.parametrize(
    "path,body,status,field",
    [
        ("/member/login", {"user_id": "kose.hanako", "password": "x"}, 422, "tenant"),
        ("/member/login", {"tenant": "kose", "user_id": "kose.hanako"}, 422, "password"),
        ("/member/login", {"tenant": "kose", "user_id": "bad id", "password": "x"}, 401, None),
        ("/member/login", {"tenant": "kose", "user_id": "kose.hanako", "password": "x", "x": 1}, 422, "x"),
        ("/member/session", {"session": "short"}, 422, "session"),
        ("/member/session", {"session": SESSION}, 401, "session"),
        ("/member/first-login/birth-date", {"session": SESSION, "birth_date": "yesterday"}, 422, "birth_date"),
        ("/member/first-login/terms", {"session": SESSION, "accept": False}, 422, "accept"),
        ("/member/first-login/terms", {"session": SESSION, "accept": "yes"}, 422, "accept"),
        ("/member/first-login/email", {"session": SESSION, "email": "nope"}, 422, "email"),
        ("/member/first-login/password", {"session": SESSION, "password": "x"}, 401, "session"),
        ("/member/otp", {"session": SESSION, "code": "12345"}, 422, "code"),
        ("/member/otp", {"session": SESSION, "code": "123456"}, 401, "session"),
        ("/member/otp/resend", {}, 422, "session"),
        ("/member/logout", {"session": None}, 422, "session"),
        ("/member/forgot-password", {"tenant": "kose", "user_id": "x"}, 422, "user_id"),
        ("/member/reset-password", {"token": "bad", "password": "x", "password_confirm": "x"}, 422, "token"),
        ("/member/reset-password", {"token": SESSION, "password": "Good-pass123", "password_confirm": "Good-pass123"}, 401, "token"),
    ],
)
async def test_member_bad_inputs(api: Api, path: str, body: dict, status: int, field: str | None) -> None:
    reply = await api.post(path, body, token=None)
    assert reply.status == status, reply.body
    assert reply.body["field"] == field


async def test_verify_link_with_a_bad_token(api: Api, portal: RunningPortal, http: aiohttp.ClientSession) -> None:
    for token in ("", "short", "x" * 43):
        async with http.get(portal.url + "/member/verify-email", params={"token": token}) as r:
            assert r.status == 410
            assert "無効" in await r.text()


async def test_otp_resend_for_an_authenticator_member(api: Api) -> None:
    sakura = member("ono.sakura")
    _, body = await login(api, "ono", "ono.sakura", sakura.password)
    status, reply = await step(api, "/member/otp/resend", {"session": body["session"]})
    assert status == 409 and reply["error"] == "otp_method_mismatch"


async def test_healthz_and_dev_outbox(api: Api, portal: RunningPortal) -> None:
    assert (await api.get("/healthz", token=None)).body == {"status": "ok"}
    await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})
    await portal.mail("hanako.kose@example.com")
    listed = await api.get("/dev/outbox", token=None, params={"to": "HANAKO.KOSE@example.com"})
    assert len(listed.body["messages"]) == 1
    assert (await api.call("DELETE", "/dev/outbox", token=None)).status == 200
    assert (await api.get("/dev/outbox", token=None)).body["messages"] == []


async def test_no_dev_outbox_outside_dev_mode(make_portal, http: aiohttp.ClientSession) -> None:
    portal = make_portal(dev=False)
    assert (await Api(http, portal.url).get("/dev/outbox", token=None)).status == 404

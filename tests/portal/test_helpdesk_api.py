"""The helpdesk API the bot calls: happy paths, bad inputs, and answers that reveal nothing."""

from __future__ import annotations

import re

import pytest

from tests.portal.conftest import ADMIN_TOKEN, Api, RunningPortal, member, member_id

ACCEPTED = {
    "status": "accepted",
    "message": "If the details match a member with a registered address, mail is on its way.",
}


# ----------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/v1/otp/resend"),
        ("POST", "/api/v1/reminders/user-id"),
        ("POST", "/api/v1/unlock-tickets"),
        ("GET", "/api/v1/unlock-tickets/UL-ABCDEF"),
        ("POST", "/api/v1/otp/diagnose"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong-token", ADMIN_TOKEN])
async def test_helpdesk_api_needs_the_service_token(api: Api, method: str, path: str, token: str | None) -> None:
    reply = await api.call(method, path, {"tenant": "kose"}, token=token, params={"tenant": "kose"} if method == "GET" else None)
    assert reply.status == 401
    assert reply.body["error"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_openapi_is_public(api: Api) -> None:
    reply = await api.get("/api/v1/openapi.json", token=None)
    assert reply.status == 200
    assert reply.body["openapi"].startswith("3.")


# ----------------------------------------------------------------- OTP resend


async def test_resend_otp_mails_a_fresh_code(api: Api, portal: RunningPortal) -> None:
    hanako = member("kose.hanako")
    reply = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "KOSE.HANAKO"})
    assert reply.status == 202
    assert reply.body == ACCEPTED
    [mail] = await portal.mail(hanako.email)
    assert mail["rcpt_tos"] == [hanako.email]
    assert "ワンタイムパスワード" in mail["subject"]
    assert re.search(r"^\s+\d{6}$", mail["body"], re.M)
    assert "コーセー健康保険組合" in mail["from"]


async def test_resend_otp_same_answer_for_unknown_member(api: Api, portal: RunningPortal) -> None:
    known = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})
    unknown = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "nobody.1234"})
    no_email = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kenpo.taro"})
    assert known.status == unknown.status == no_email.status == 202
    assert known.body == unknown.body == no_email.body
    await portal.settle()
    assert len(portal.outbox.messages()) == 1  # only the real member got mail


async def test_resend_otp_for_an_authenticator_society_is_refused(api: Api, portal: RunningPortal) -> None:
    reply = await api.post("/api/v1/otp/resend", {"tenant": "ono", "user_id": "ono.sakura"})
    assert reply.status == 409
    assert reply.body["error"] == "otp_method_mismatch"
    assert reply.body["field"] == "tenant"
    assert reply.body["otp_method"] == "totp"


@pytest.mark.parametrize(
    "body,field,reason",
    [
        ({"user_id": "kose.hanako"}, "tenant", "required"),
        ({"tenant": "nope", "user_id": "kose.hanako"}, "tenant", "unknown_tenant"),
        ({"tenant": "kose"}, "user_id", "required"),
        ({"tenant": "kose", "user_id": "short"}, "user_id", "length"),
        ({"tenant": "kose", "user_id": "a" * 14}, "user_id", "length"),
        ({"tenant": "kose", "user_id": "kose hanako"}, "user_id", "characters"),
        ({"tenant": "kose", "user_id": "こうせいはなこさん"}, "user_id", "characters"),
        ({"tenant": "kose", "user_id": 12345678}, "user_id", "type"),
        ({"tenant": "kose", "user_id": "x" * 5000}, "user_id", "too_long"),
        ({"tenant": "kose", "user_id": "kose.hanako", "extra": 1}, "extra", "unknown_field"),
    ],
)
async def test_resend_otp_bad_inputs_name_the_field(api: Api, body: dict, field: str, reason: str) -> None:
    reply = await api.post("/api/v1/otp/resend", body)
    assert reply.status == 422, reply.body
    assert reply.body["error"] == "validation_error"
    assert reply.body["field"] == field
    assert reply.body["reason"] == reason


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b""])
async def test_body_must_be_a_json_object(api: Api, raw: bytes) -> None:
    reply = await api.post("/api/v1/otp/resend", raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status in (400, 422)
    assert reply.body["field"] == "body"


async def test_full_width_user_id_is_folded(api: Api, portal: RunningPortal) -> None:
    reply = await api.post("/api/v1/otp/resend", {"tenant": "ＫＯＳＥ", "user_id": "ｋｏｓｅ．ｈａｎａｋｏ"})
    assert reply.status == 202
    assert await portal.mail(member("kose.hanako").email)


# ----------------------------------------------------------------- user ID reminder


async def test_user_id_reminder_mails_the_id(api: Api, portal: RunningPortal) -> None:
    sakura = member("ono.sakura")
    reply = await api.post("/api/v1/reminders/user-id", {"tenant": "ono", "email": "Sakura.Ono@Example.COM"})
    assert reply.status == 202
    assert reply.body == ACCEPTED
    [mail] = await portal.mail(sakura.email)
    assert "ono.sakura" in mail["body"]
    assert "ユーザID" in mail["subject"]


async def test_user_id_reminder_same_answer_for_unknown_or_other_society(api: Api, portal: RunningPortal) -> None:
    replies = [
        await api.post("/api/v1/reminders/user-id", {"tenant": "ono", "email": "sakura.ono@example.com"}),
        await api.post("/api/v1/reminders/user-id", {"tenant": "ono", "email": "nobody@example.com"}),
        # a member of the other society: not revealed either
        await api.post("/api/v1/reminders/user-id", {"tenant": "kose", "email": "sakura.ono@example.com"}),
    ]
    assert {r.status for r in replies} == {202}
    assert all(r.body == replies[0].body for r in replies)
    await portal.settle()
    assert len(portal.outbox.messages()) == 1


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b", "a@-b.com", "a@b..com", ".a@b.com", "a..b@x.com", "a b@x.com", "a@b.c", "x" * 65 + "@example.com"]
)
async def test_user_id_reminder_rejects_bad_addresses(api: Api, email: str) -> None:
    reply = await api.post("/api/v1/reminders/user-id", {"tenant": "kose", "email": email})
    assert reply.status == 422
    assert reply.body["field"] == "email"


# ----------------------------------------------------------------- unlock tickets


async def test_open_and_read_an_unlock_ticket(api: Api) -> None:
    reply = await api.post(
        "/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": "1978-02-14"},
        sender="member-1",
    )
    assert reply.status == 201
    ticket = reply.body
    assert re.fullmatch(r"UL-[2-9A-HJ-NP-Z]{6}", ticket["ticket_id"])
    assert ticket["status"] == "open" and ticket["resolution"] is None
    assert reply.headers["Location"] == f"/api/v1/unlock-tickets/{ticket['ticket_id']}"
    assert set(ticket) == {"ticket_id", "tenant", "status", "resolution", "created_at", "closed_at", "already_open"}
    assert ticket["already_open"] is False

    read = await api.get(f"/api/v1/unlock-tickets/{ticket['ticket_id'].lower()}", params={"tenant": "kose"},
                         sender="member-1")
    assert read.status == 200
    assert read.body == {k: v for k, v in ticket.items() if k != "already_open"}


async def test_unlock_ticket_answers_alike_for_wrong_identity(api: Api) -> None:
    right = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": "1978-02-14"})
    wrong_birth = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.hanako", "birth_date": "1978-02-15"})
    unknown = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "nobody.1234", "birth_date": "1978-02-14"})
    assert right.status == wrong_birth.status == unknown.status == 201

    def shape(body: dict) -> dict:
        return {k: v for k, v in body.items() if k not in ("ticket_id", "created_at")}

    assert shape(right.body) == shape(wrong_birth.body) == shape(unknown.body)
    # asked again, with a right or a wrong birth date: the same ticket, the same answer
    for user_id, first in (("kose.ichiro", right), ("kose.hanako", wrong_birth), ("nobody.1234", unknown)):
        for birth_date in ("1978-02-14", "1990-11-03", "2000-01-01"):
            again = await api.post("/api/v1/unlock-tickets",
                                   {"tenant": "kose", "user_id": user_id, "birth_date": birth_date},
                                   sender=f"member-{birth_date}")
            assert (again.status, again.body) == (200, {**first.body, "already_open": True}), user_id


async def test_ticket_of_another_society_is_not_found(api: Api) -> None:
    opened = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": "1978-02-14"},
                            sender="member-1")
    other = await api.get(f"/api/v1/unlock-tickets/{opened.body['ticket_id']}", params={"tenant": "ono"},
                          sender="member-1")
    assert other.status == 404
    missing = await api.get("/api/v1/unlock-tickets/UL-ABCDEF", params={"tenant": "kose"})
    assert missing.status == 404
    assert missing.body["field"] == "ticket_id"


@pytest.mark.parametrize(
    "path,params,field",
    [
        ("/api/v1/unlock-tickets/UL-0000", {"tenant": "kose"}, "ticket_id"),
        ("/api/v1/unlock-tickets/ABCDEFGH", {"tenant": "kose"}, "ticket_id"),
        ("/api/v1/unlock-tickets/UL-ABCDEF", {}, "tenant"),
        ("/api/v1/unlock-tickets/UL-ABCDEF", {"tenant": "kose", "x": "1"}, "x"),
    ],
)
async def test_read_ticket_bad_inputs(api: Api, path: str, params: dict, field: str) -> None:
    reply = await api.get(path, params=params)
    assert reply.status == 422
    assert reply.body["field"] == field


@pytest.mark.parametrize(
    "birth_date,ok",
    [
        ("1978-02-14", True),
        ("19780214", True),
        ("１９７８－０２－１４", True),
        ("1978/02/14", True),
        ("1978-02-30", False),
        ("2999-01-01", False),
        ("1899-12-31", False),
        ("14/02/1978", False),
        ("", False),
    ],
)
async def test_unlock_ticket_birth_date_forms(api: Api, birth_date: str, ok: bool) -> None:
    reply = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": birth_date})
    if ok:
        assert reply.status == 201
    else:
        assert reply.status == 422
        assert reply.body["field"] == "birth_date"


# ----------------------------------------------------------------- diagnose: basics (offsets in test_totp_diagnose.py)


async def test_diagnose_for_an_email_society_is_refused(api: Api) -> None:
    reply = await api.post("/api/v1/otp/diagnose", {"tenant": "kose", "user_id": "kose.hanako", "code": "123456"})
    assert reply.status == 409
    assert reply.body["error"] == "otp_method_mismatch"
    assert reply.body["otp_method"] == "email"


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "12 34 5", ""])
async def test_diagnose_rejects_malformed_codes(api: Api, code: str) -> None:
    reply = await api.post("/api/v1/otp/diagnose", {"tenant": "ono", "user_id": "ono.sakura", "code": code})
    assert reply.status == 422
    assert reply.body["field"] == "code"


# ----------------------------------------------------------------- unknown routes, audit


async def test_unknown_route_is_json(api: Api) -> None:
    reply = await api.get("/api/v1/nothing")
    assert reply.status == 404
    assert reply.body["error"] == "not_found"


async def test_audit_log_records_calls_without_secrets(api: Api, portal: RunningPortal) -> None:
    from dev.portal import audit

    await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"},
                   sender="line:kose:Uconv-secret-123")
    await api.post("/api/v1/reminders/user-id", {"tenant": "kose", "email": "hanako.kose@example.com"})
    await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": "1978-02-14"})
    await api.post("/api/v1/otp/diagnose", {"tenant": "ono", "user_id": "ono.sakura", "code": "654321"})
    await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"}, token="bad")
    rows = portal.db.run_sync(lambda s: [
        (e.endpoint, e.society, e.subject, e.status, e.outcome, e.conversation, e.client)
        for e in reversed(audit.recent(s, 10))
    ])
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("otp_resend", 202, "sent"),
        ("user_id_reminder", 202, "sent"),
        ("unlock_open", 201, "verified"),
        ("otp_diagnose", 200, "no_match"),
        ("otp_resend", 401, "unauthorized"),
    ]
    text = repr(rows)
    for secret in ("1978-02-14", "19780214", "654321", "hanako.kose@example.com", "conv-secret-123",
                   member_id("line:kose:Uconv-secret-123"), "test-service-token"):
        assert secret not in text
    assert rows[1][2] == "h***@example.com"
    assert rows[0][5] is not None and rows[0][6] == "127.0.0.1"


async def test_a_dead_mail_server_changes_nothing_in_the_answer(make_portal, http, caplog) -> None:
    portal = make_portal()
    portal.smtp.stop()
    api = Api(http, portal.url)
    with caplog.at_level("ERROR", logger="dev.portal.app"):
        reply = await api.post("/api/v1/otp/resend", {"tenant": "kose", "user_id": "kose.hanako"})
        assert (reply.status, reply.body) == (202, ACCEPTED)
        for _ in range(100):
            if any("sending mail" in r.getMessage() for r in caplog.records):
                break
            await portal.settle()
    assert any("sending mail" in r.getMessage() for r in caplog.records)

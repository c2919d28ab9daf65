"""The helpdesk API the bot calls (``/api/v1/...``), with the service bearer token.

OTP resend, user ID reminder, unlock tickets (open, read) and the TOTP diagnosis.
Every call is audited and counted first for its member, its origin and (a
ceiling) its address (``limit_caller``), then per account asked about; answers
never tell whether a user ID or address exists.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.domain.portal_contract import ERROR_NOT_FOUND, SOCIETY_FIELD
from bot.domain.societies import OTP_EMAIL, OTP_TOTP
from dev.portal import audit, helpdesk_services, ratelimit, services, tickets
from dev.portal.audit import AuditRecord
from dev.portal.errors import ApiError
from dev.portal.ratelimit import RateCheck
from dev.portal.routes.common import (
    ACCEPTED_BODY,
    _audited,
    _json_body,
    _otp_method_mismatch,
    _today,
)
from dev.portal.validation import (
    ValidationError,
    parse_birth_date,
    parse_email,
    parse_otp_code,
    parse_society,
    parse_society_user_id,
    parse_ticket_id,
)

if TYPE_CHECKING:
    from dev.portal.app import Portal


def _add_helpdesk_routes(app: Sanic, portal: Portal) -> None:
    registry = portal.registry
    service = partial(_audited, portal, token_of=lambda: portal.settings.service_token, realm="helpdesk")

    async def limit_caller(request: Request, record: AuditRecord, endpoint: str) -> None:
        """Count the call for its member, its origin and (a ceiling) its address, before any other work.

        Calls that name no member all count as one member per address; a member
        without an origin is its own origin.
        """
        client = record.client or "unknown"
        member = record.member or f"client:{client}"
        checks = [
            RateCheck(endpoint, "client", client),
            RateCheck(endpoint, "member", member),
            RateCheck(endpoint, "origin", record.origin or f"member:{member}"),
        ]
        now = portal.clock.now()
        await portal.db.run(lambda s: ratelimit.consume(s, checks, portal.rules(), now))

    async def otp_resend(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "otp_resend")
        body = _json_body(request, (SOCIETY_FIELD, "user_id"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        record.society = society.key
        user_id = parse_society_user_id(body.get("user_id"), society)
        record.subject = user_id
        if society.otp_method != OTP_EMAIL:
            raise _otp_method_mismatch(society, OTP_EMAIL)
        ctx = portal.ctx()
        check = [RateCheck("otp_resend", "account", f"{society.key}:{user_id}")]

        def work(s: Session) -> str:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return helpdesk_services.helpdesk_resend_otp(s, ctx, society.key, user_id)

        record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(ACCEPTED_BODY, status=202)

    async def user_id_reminder(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "user_id_reminder")
        body = _json_body(request, (SOCIETY_FIELD, "email"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        record.society = society.key
        email = parse_email(body.get("email"))
        record.subject = audit.mask_email(email)
        ctx = portal.ctx()
        check = [RateCheck("user_id_reminder", "account", f"{society.key}:{email}")]

        def work(s: Session) -> str:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return helpdesk_services.helpdesk_user_id_reminder(s, ctx, society.key, email)

        record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(ACCEPTED_BODY, status=202)

    async def open_ticket(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "unlock_open")
        body = _json_body(request, (SOCIETY_FIELD, "user_id", "birth_date"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        record.society = society.key
        user_id = parse_society_user_id(body.get("user_id"), society)
        record.subject = user_id
        birth = parse_birth_date(body.get("birth_date"), _today(portal))
        ctx = portal.ctx()
        check = [RateCheck("unlock_open", "account", f"{society.key}:{user_id}")]
        opened_by = tickets.member_tag(record.member)

        def work(s: Session) -> tuple[dict[str, Any], str]:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return tickets.open_unlock_ticket(s, ctx, society.key, user_id, birth, opened_by)

        ticket, record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(
            ticket, status=200 if ticket["already_open"] else 201,
            headers={"Location": f"/api/v1/unlock-tickets/{ticket['ticket_id']}"},
        )

    async def read_ticket(request: Request, record: AuditRecord, ticket_id: str) -> HTTPResponse:
        await limit_caller(request, record, "unlock_read")
        unknown = set(request.args) - {SOCIETY_FIELD}
        if unknown:
            raise ValidationError(sorted(unknown)[0][:64], "is not a parameter of this request", "unknown_field")
        society = parse_society(request.args.get(SOCIETY_FIELD), registry)
        record.society = society.key
        tid = parse_ticket_id(ticket_id)
        record.subject = tid

        def work(s: Session) -> tuple[dict[str, Any] | None, bool]:
            ticket = tickets.get_ticket(s, society.key, tid)
            if ticket is None or not tickets.told_to(ticket, record.member):
                return None, ticket is not None
            return tickets.ticket_json(ticket), True

        found, exists = await portal.run(work)
        if found is None:
            # Another member's ticket is answered like a number that does not exist.
            record.outcome = "not_opener" if exists else "not_found"
            raise ApiError(404, ERROR_NOT_FOUND, "no such ticket for this society", "ticket_id")
        record.outcome = found["status"]
        return json_response(found)

    async def diagnose(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "otp_diagnose")
        body = _json_body(request, (SOCIETY_FIELD, "user_id", "code"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        record.society = society.key
        user_id = parse_society_user_id(body.get("user_id"), society)
        record.subject = user_id
        code = parse_otp_code(body.get("code"))
        if society.otp_method != OTP_TOTP:
            raise _otp_method_mismatch(society, OTP_TOTP)
        ctx = portal.ctx()
        check = [RateCheck("otp_diagnose", "account", f"{society.key}:{user_id}")]

        def work(s: Session) -> tuple[helpdesk_services.Diagnosis, str]:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return helpdesk_services.diagnose_totp(s, ctx, society.key, user_id, code)

        result, record.outcome = await portal.run(work)
        return json_response({**result.json(), "window_steps": portal.settings.totp_diagnose_window,
                              "step_seconds": services.TOTP_INTERVAL})

    app.add_route(service("otp_resend")(otp_resend), "/api/v1/otp/resend", methods=["POST"], name="otp_resend")
    app.add_route(service("user_id_reminder")(user_id_reminder), "/api/v1/reminders/user-id",
                  methods=["POST"], name="user_id_reminder")
    app.add_route(service("unlock_open")(open_ticket), "/api/v1/unlock-tickets", methods=["POST"],
                  name="unlock_open")
    app.add_route(service("unlock_read")(read_ticket), "/api/v1/unlock-tickets/<ticket_id:str>",
                  methods=["GET"], name="unlock_read")
    app.add_route(service("otp_diagnose")(diagnose), "/api/v1/otp/diagnose", methods=["POST"],
                  name="otp_diagnose")

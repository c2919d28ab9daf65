"""The admin API (``/admin/v1/...``): staff list unlock tickets and close them, with the admin bearer token.

Closing a ticket (resolve: the account is unlocked; reject) mails the member
in the background; every call is audited.
"""

from __future__ import annotations

from email.message import EmailMessage
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.domain.portal_contract import ERROR_NOT_FOUND, SOCIETY_FIELD
from dev.portal import tickets
from dev.portal.audit import AuditRecord
from dev.portal.errors import ApiError
from dev.portal.routes.common import Handler, _audited
from dev.portal.validation import ValidationError, parse_society, parse_ticket_id

if TYPE_CHECKING:
    from dev.portal.app import Portal


def _add_admin_routes(app: Sanic, portal: Portal) -> None:
    admin = partial(_audited, portal, token_of=lambda: portal.settings.admin_token, realm="admin")

    async def list_tickets(request: Request, record: AuditRecord) -> HTTPResponse:
        unknown = set(request.args) - {SOCIETY_FIELD, "status"}
        if unknown:
            raise ValidationError(sorted(unknown)[0][:64], "is not a parameter of this request", "unknown_field")
        society = None
        if request.args.get(SOCIETY_FIELD):
            society = parse_society(request.args.get(SOCIETY_FIELD), portal.registry).key
            record.society = society
        status = request.args.get("status") or None
        if status not in (None, "open", "closed"):
            raise ValidationError("status", "must be open or closed", "format")

        def work(s: Session) -> list[dict[str, Any]]:
            return [tickets.admin_ticket_json(s, t) for t in tickets.list_tickets(s, society, status)]

        rows = await portal.run(work)
        record.outcome = f"listed:{len(rows)}"
        return json_response({"tickets": rows})

    def closer(fn: Callable[..., Any], outcome: str) -> Handler:
        async def close(request: Request, record: AuditRecord, ticket_id: str) -> HTTPResponse:
            tid = parse_ticket_id(ticket_id)
            record.subject = tid
            now = portal.clock.now()
            mails: list[EmailMessage] = []

            def work(s: Session) -> dict[str, Any]:
                try:
                    ticket = fn(s, now, tid, "admin-api")
                except tickets.TicketError as e:
                    status = 404 if str(e).startswith("no ticket") else 409
                    raise ApiError(status, ERROR_NOT_FOUND if status == 404 else "ticket_not_resolvable",
                                   str(e), "ticket_id") from None
                message = tickets.closed_ticket_mail(s, portal.registry, portal.settings.mail_sender, ticket)
                mails.extend([message] if message else [])
                return tickets.admin_ticket_json(s, ticket)

            ticket = await portal.run(work)
            portal.send_later(mails)
            record.society = ticket[SOCIETY_FIELD]
            record.outcome = outcome
            return json_response(ticket)

        return close

    app.add_route(admin("admin_list_tickets")(list_tickets), "/admin/v1/unlock-tickets", methods=["GET"],
                  name="admin_list_tickets")
    app.add_route(admin("admin_resolve_ticket")(closer(tickets.resolve_ticket, "unlocked")),
                  "/admin/v1/unlock-tickets/<ticket_id:str>/resolve", methods=["POST"],
                  name="admin_resolve_ticket")
    app.add_route(admin("admin_reject_ticket")(closer(tickets.reject_ticket, "rejected")),
                  "/admin/v1/unlock-tickets/<ticket_id:str>/reject", methods=["POST"],
                  name="admin_reject_ticket")

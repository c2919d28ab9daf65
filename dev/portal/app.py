"""The reference portal as a Sanic app: member login, helpdesk API, admin API.

``create_app(settings, clock=..., mailer=...)`` builds it from what it is
given; nothing here reads the environment or opens a connection at import.

Routes (the full contract is ``openapi.json`` beside this file):

- ``/member/...``   the login a member goes through (JSON, so lockout and OTP are real);
- ``/api/v1/...``   the helpdesk API the bot calls, with the service bearer token;
- ``/admin/v1/...`` staff closing unlock tickets, with the admin bearer token;
- ``/dev/outbox``   mail the local SMTP server received (dev mode only).

Each group of routes is a module of ``dev.portal.routes`` (``member``,
``helpdesk``, ``admin``; what they share is ``routes.common``); the dev routes
and the error handler are here.

Answers of the helpdesk API never tell whether a user ID or address exists:
the same status and body come back, mail goes out in the background after the
answer, and rate limits are keyed on what was asked, known or not.

Every member reaches the helpdesk API through the action server's one address,
so limits are keyed on the account asked about, on the member the bot speaks
for (the signed ``X-Kosmo-Member`` header, :mod:`bot.portal_client.member`) and
on the member's origin on their channel (``X-Kosmo-Origin``, under the same
signature: their address on the widget or REST, their LINE user), which fresh
session ids do not reset, with only a generous ceiling per address: one member,
origin or account using up its budget never blocks another. An unlock ticket's status is told only to
the member that opened it, or, once a request with the matching birth date verified it,
to that request's member.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable

from sanic import Sanic
from sanic.config import Config
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.domain.portal_contract import ERROR_NOT_FOUND
from bot.domain.societies import SocietyRegistry, load_registry
from bot.portal_client import member as member_ids
from dev.portal import services
from dev.portal.clock import Clock, SystemClock
from dev.portal.db import Database
from dev.portal.devsmtp import DevOutbox
from dev.portal.errors import ApiError
from dev.portal.mail import Mailer, SmtpMailer
from dev.portal.ratelimit import RateLimited
from dev.portal.routes.admin import _add_admin_routes
from dev.portal.routes.common import _error, _rate_limited, _validation_error
from dev.portal.routes.helpdesk import _add_helpdesk_routes
from dev.portal.routes.member import _add_member_routes
from dev.portal.settings import PortalSettings
from dev.portal.validation import ValidationError

logger = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"
_app_numbers = itertools.count(1)


def load_openapi(dev: bool) -> dict[str, Any]:
    """The committed OpenAPI document; dev-only paths are dropped outside dev mode."""
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    if not dev:
        doc["paths"] = {
            path: item
            for path, item in doc["paths"].items()
            if not any(isinstance(op, dict) and "dev" in op.get("tags", []) for op in item.values())
        }
    return doc


class Portal:
    """What the handlers share; lives on ``app.ctx.portal``."""

    def __init__(
        self,
        settings: PortalSettings,
        clock: Clock,
        mailer: Mailer,
        registry: SocietyRegistry,
        db: Database,
        outbox: DevOutbox | None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.mailer = mailer
        self.registry = registry
        self.db = db
        self.outbox = outbox
        self.pending_mail: set[asyncio.Task[None]] = set()
        self.openapi = load_openapi(settings.dev)
        self.member_key = member_ids.member_key(settings.member_id_key, settings.service_token)

    def ctx(self) -> services.Ctx:
        return services.Ctx(settings=self.settings, registry=self.registry, now=self.clock.now())

    async def run(self, fn: Callable[[Session], Any]) -> Any:
        """One transaction; an ApiError is an answer, so what was counted before it is kept."""
        return await self.db.run(fn, keep_on=(ApiError,))

    def send_later(self, messages: list[EmailMessage]) -> None:
        for message in messages:
            task = asyncio.get_running_loop().create_task(self._send(message))
            self.pending_mail.add(task)
            task.add_done_callback(self.pending_mail.discard)

    async def _send(self, message: EmailMessage) -> None:
        try:
            await self.mailer.send(message)
        except Exception as e:  # noqa: BLE001 - a mail server problem must not reach the caller
            logger.error("sending mail %r failed: %s", message.get("Subject"), e)

    async def drain_mail(self, timeout: float = 10.0) -> None:
        if self.pending_mail:
            await asyncio.wait(set(self.pending_mail), timeout=timeout)

    def rules(self) -> Any:
        return self.settings.rate_rules


# --------------------------------------------------------------------------- app factory


def create_app(
    settings: PortalSettings,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    registry: SocietyRegistry | None = None,
    database: Database | None = None,
    outbox: DevOutbox | None = None,
) -> Sanic:
    """Build the portal app. The schema must already be migrated (``db-upgrade``)."""
    config = Config()
    config.REGISTER = False
    config.MOTD = False
    config.ACCESS_LOG = False  # the audit log records helpdesk calls
    config.REQUEST_MAX_SIZE = 64 * 1024
    config.FALLBACK_ERROR_FORMAT = "json"
    app = Sanic(f"kosmo_portal_{next(_app_numbers)}", config=config, configure_logging=False)
    owns_db = database is None
    portal = Portal(
        settings=settings,
        clock=clock or SystemClock(),
        mailer=mailer or SmtpMailer(
            settings.smtp_host, settings.smtp_port, username=settings.smtp_user,
            password=settings.smtp_password, starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        ),
        registry=registry or load_registry(settings.societies_file),
        db=database or Database.from_url(settings.db_url),
        outbox=outbox if settings.dev else None,
    )
    app.ctx.portal = portal

    async def _finish_mail(app: Sanic, _loop: Any) -> None:
        await portal.drain_mail()

    async def _close_db(app: Sanic, _loop: Any) -> None:
        if owns_db:
            portal.db.dispose()

    app.register_listener(_finish_mail, "before_server_stop")
    app.register_listener(_close_db, "after_server_stop")

    @app.exception(Exception)
    async def _on_error(request: Request, exc: Exception) -> HTTPResponse:
        if isinstance(exc, ApiError):
            return _error(exc)
        if isinstance(exc, ValidationError):
            return _error(_validation_error(exc))
        if isinstance(exc, RateLimited):
            return _error(_rate_limited(exc))
        if isinstance(exc, SanicException):
            status = int(getattr(exc, "status_code", 500) or 500)
            code = {404: ERROR_NOT_FOUND, 405: "method_not_allowed", 413: "too_large"}.get(status, "bad_request")
            message = str(exc) if status < 500 else "internal error"
            return _error(ApiError(status, code, message))
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error(ApiError(500, "internal_error", "internal error"))

    _add_member_routes(app, portal)
    _add_helpdesk_routes(app, portal)
    _add_admin_routes(app, portal)
    if settings.dev:
        _add_dev_routes(app, portal)

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/api/v1/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response(portal.openapi)

    return app


# --------------------------------------------------------------------------- dev


def _add_dev_routes(app: Sanic, portal: Portal) -> None:
    @app.get("/dev/outbox")
    async def dev_outbox(request: Request) -> HTTPResponse:
        if portal.outbox is None:
            return json_response({"messages": [], "note": "no local SMTP server in this process"})
        return json_response({"messages": portal.outbox.messages(request.args.get("to"))})

    @app.delete("/dev/outbox")
    async def dev_outbox_clear(request: Request) -> HTTPResponse:
        if portal.outbox is not None:
            portal.outbox.clear()
        return json_response({"status": "cleared"})

"""The reference portal as a Sanic app: member login, helpdesk API, admin API.

``create_app(settings, clock=..., mailer=...)`` builds it from what it is
given; nothing here reads the environment or opens a connection at import.

Routes (the full contract is ``openapi.json`` beside this file):

- ``/member/...``   the login a member goes through (JSON, so lockout and OTP are real);
- ``/api/v1/...``   the helpdesk API the bot calls, with the service bearer token;
- ``/admin/v1/...`` staff closing unlock tickets, with the admin bearer token;
- ``/dev/outbox``   mail the local SMTP server received (dev mode only).

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
import datetime as dt
import itertools
import json
import logging
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any, Callable, Coroutine

from sanic import Sanic
from sanic.config import Config
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, html
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.portal import audit, ratelimit, services, tickets
from bot.portal.audit import AuditRecord
from bot.portal.clock import Clock, SystemClock
from bot.portal.db import Database
from bot.portal.devsmtp import DevOutbox
from bot.portal.errors import ApiError
from bot.portal.mail import Mailer, SmtpMailer
from bot.portal.ratelimit import RateCheck, RateLimited
from bot.portal.security import identity_from_headers
from bot.portal.settings import PortalSettings
from bot.portal.validation import (
    ValidationError,
    parse_birth_date,
    parse_bool_true,
    parse_email,
    parse_new_password,
    parse_otp_code,
    parse_password_attempt,
    parse_tenant,
    parse_tenant_user_id,
    parse_ticket_id,
    parse_token,
    reject_unknown_fields,
    require_object,
)
from bot.portal_client import member as member_ids
from bot.shared_secret import bearer_matches
from bot.tenants import OTP_EMAIL, OTP_TOTP, Tenant, TenantRegistry, load_registry

logger = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"
JST = dt.timezone(dt.timedelta(hours=9))
ACCEPTED_BODY = {
    "status": "accepted",
    "message": "If the details match a member with a registered address, mail is on its way.",
}
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
        registry: TenantRegistry,
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


# --------------------------------------------------------------------------- helpers


def _error(e: ApiError) -> HTTPResponse:
    return json_response(e.body(), status=e.status, headers=e.headers)


def _validation_error(e: ValidationError) -> ApiError:
    return ApiError(422, "validation_error", e.message, e.field, extra={"reason": e.code})


def _client_ip(request: Request, settings: PortalSettings) -> str:
    """The caller's address (:class:`bot.client_address.ClientAddresses`): the peer, or,
    with ``KOSMO_PORTAL_TRUST_FORWARDED_FOR`` on a request from one of
    ``KOSMO_PORTAL_TRUSTED_PROXIES``, the nearest ``X-Forwarded-For`` entry that is not
    a trusted proxy, read from the right across all its lines (a client may send a line
    and entries of its own, a proxy appends). An IPv6 caller counts as its /64."""
    return settings.client_addresses.client_of(request.ip, request.headers)


def _check_bearer(request: Request, expected: str | None, realm: str) -> None:
    if expected is None:
        raise ApiError(403, "forbidden", f"the {realm} API is not enabled on this portal")
    if not bearer_matches(request.headers.get("Authorization"), expected):
        raise ApiError(
            401, "unauthorized", "a valid bearer token is required", "Authorization",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )


def _json_body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        raw = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON", "body") from None
    body = dict(require_object(raw))
    reject_unknown_fields(body, allowed)
    return body


def _otp_method_mismatch(tenant: Tenant, wanted: str) -> ApiError:
    what = "email one-time passwords" if wanted == OTP_EMAIL else "an authenticator app (TOTP)"
    return ApiError(
        409, "otp_method_mismatch",
        f"society {tenant.key!r} does not use {what}; it uses {tenant.otp_method}", "tenant",
        extra={"otp_method": tenant.otp_method},
    )


def _today(portal: Portal) -> dt.date:
    return portal.clock.now().astimezone(JST).date()


def _step_json(result: services.StepResult) -> dict[str, Any]:
    return {"session": result.session, "next_step": result.next_step, **result.details}


# --------------------------------------------------------------------------- app factory


def create_app(
    settings: PortalSettings,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    registry: TenantRegistry | None = None,
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
        registry=registry or load_registry(settings.tenants_file),
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
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "bad_request")
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


def _rate_limited(e: RateLimited) -> ApiError:
    return ApiError(
        429, "rate_limited", "too many requests; try again later", None,
        headers={"Retry-After": str(e.retry_after)}, extra={"retry_after": e.retry_after},
    )


# --------------------------------------------------------------------------- member login


def _add_member_routes(app: Sanic, portal: Portal) -> None:
    registry = portal.registry

    def session_of(body: dict[str, Any]) -> str:
        return parse_token(body.get("session"), "session")

    async def step(fn: Callable[..., services.StepResult], *args: Any) -> HTTPResponse:
        ctx = portal.ctx()
        result = await portal.run(lambda s: fn(s, ctx, *args))
        portal.send_later(ctx.mails)
        return json_response(_step_json(result))

    @app.post("/member/login")
    async def member_login(request: Request) -> HTTPResponse:
        body = _json_body(request, ("tenant", "user_id", "password"))
        tenant = parse_tenant(body.get("tenant"), registry)
        password = parse_password_attempt(body.get("password"))
        try:
            user_id = parse_tenant_user_id(body.get("user_id"), tenant)
        except ValidationError:
            # A malformed ID cannot exist; answer like a wrong password.
            raise ApiError(401, "invalid_credentials", "invalid user ID or password") from None
        return await step(services.login, tenant.key, user_id, password)

    @app.post("/member/session")
    async def member_session(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(services.session_status, session_of(body))

    @app.post("/member/first-login/birth-date")
    async def first_login_birth_date(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "birth_date"))
        token = session_of(body)
        birth = parse_birth_date(body.get("birth_date"), _today(portal))
        return await step(services.first_login_birth_date, token, birth)

    @app.post("/member/first-login/terms")
    async def first_login_terms(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "accept"))
        token = session_of(body)
        parse_bool_true(body.get("accept"), "accept")
        return await step(services.first_login_terms, token)

    @app.post("/member/first-login/user-id")
    async def first_login_user_id(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "user_id"))
        token = session_of(body)
        new_id = None
        if body.get("user_id") not in (None, ""):
            # The society is known from the session; rules are the same for every society today,
            # and checked again against the account's society below.
            tenant = await _session_tenant(portal, token)
            new_id = parse_tenant_user_id(body.get("user_id"), tenant, new=True)
        return await step(services.first_login_user_id, token, new_id)

    @app.post("/member/first-login/password")
    async def first_login_password(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "password", "password_confirm"))
        token = session_of(body)
        tenant = await _session_tenant(portal, token)
        password = parse_new_password(body.get("password"), tenant)
        if body.get("password_confirm") != password:
            raise ValidationError("password_confirm", "does not match password", "mismatch")
        return await step(services.first_login_password, token, password)

    @app.post("/member/first-login/email")
    async def first_login_email(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "email"))
        token = session_of(body)
        email = parse_email(body.get("email"))
        return await step(services.first_login_email, token, email)

    @app.post("/member/first-login/email/resend")
    async def first_login_email_resend(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(services.member_resend_verification, session_of(body))

    @app.post("/member/first-login/email/check")
    async def first_login_email_check(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(services.first_login_email_check, session_of(body))

    @app.get("/member/verify-email")
    async def verify_email(request: Request) -> HTTPResponse:
        try:
            token = parse_token(request.args.get("token"), "token")
        except ValidationError:
            ok = False
        else:
            ctx = portal.ctx()
            ok = await portal.run(lambda s: services.verify_email(s, ctx, token))
        if ok:
            return html(_page("メールアドレスを確認しました。元の画面に戻って続けてください。"))
        return html(_page("このリンクは無効か、有効期限が切れています。もう一度メールを送ってください。"), status=410)

    @app.post("/member/otp")
    async def member_otp(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "code"))
        token = session_of(body)
        code = parse_otp_code(body.get("code"))
        return await step(services.verify_otp, token, code)

    @app.post("/member/otp/resend")
    async def member_otp_resend(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(services.member_resend_otp, session_of(body))

    @app.post("/member/logout")
    async def member_logout(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        token = session_of(body)
        ctx = portal.ctx()
        await portal.run(lambda s: services.logout(s, ctx, token))
        return json_response({"status": "logged_out"})

    @app.post("/member/forgot-password")
    async def forgot_password(request: Request) -> HTTPResponse:
        body = _json_body(request, ("tenant", "user_id"))
        tenant = parse_tenant(body.get("tenant"), registry)
        user_id = parse_tenant_user_id(body.get("user_id"), tenant)
        ctx = portal.ctx()
        client = _client_ip(request, portal.settings)
        checks = [
            RateCheck("forgot_password", "client", client),
            RateCheck("forgot_password", "account", f"{tenant.key}:{user_id}"),
        ]

        def work(s: Session) -> str:
            ratelimit.consume(s, checks, portal.rules(), ctx.now)
            return services.forgot_password(s, ctx, tenant.key, user_id)

        await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(ACCEPTED_BODY, status=202)

    @app.get("/member/reset-password")
    async def reset_password_page(request: Request) -> HTTPResponse:
        """The page the reset mail links to: a form that posts to the JSON endpoint below."""
        try:
            token = parse_token(request.args.get("token"), "token")
        except ValidationError:
            return html(_page("このリンクは無効です。もう一度お手続きください。"), status=410)
        return html(_RESET_FORM.replace("__TOKEN__", token))

    @app.post("/member/reset-password")
    async def reset_password(request: Request) -> HTTPResponse:
        body = _json_body(request, ("token", "password", "password_confirm"))
        token = parse_token(body.get("token"), "token")
        raw_password = body.get("password")
        confirm = body.get("password_confirm")

        def password_for(tenant: Tenant) -> str:
            password = parse_new_password(raw_password, tenant)
            if confirm != password:
                raise ValidationError("password_confirm", "does not match password", "mismatch")
            return password

        ctx = portal.ctx()

        def work(s: Session) -> None:
            try:
                services.reset_password(s, ctx, token, password_for)
            except ValidationError as e:
                raise _validation_error(e) from None

        await portal.run(work)
        return json_response({"status": "password_changed"})


async def _session_tenant(portal: Portal, token: str) -> Tenant:
    ctx = portal.ctx()

    def work(s: Session) -> str:
        _row, account = services.session_account(s, ctx, token)
        return account.tenant

    return ctx.tenant(await portal.run(work))


_RESET_FORM = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>KOSMO Web</title></head>
<body><form id="f"><p>新しいパスワード <input type="password" name="password" required></p>
<p>確認のためもう一度 <input type="password" name="password_confirm" required></p>
<p><button>設定する</button></p><p id="m"></p></form>
<script>
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch("/member/reset-password", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: "__TOKEN__", password: f.get("password"), password_confirm: f.get("password_confirm")})});
  document.getElementById("m").textContent = r.ok ? "パスワードを設定しました。" : "設定できませんでした: " + (await r.json()).message;
});
</script></body></html>"""


def _page(text: str) -> str:
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>KOSMO Web</title></head>'
        f"<body><p>{text}</p></body></html>"
    )


# --------------------------------------------------------------------------- helpdesk API


Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def _audited(
    portal: Portal, endpoint: str, token_of: Callable[[], str | None], realm: str
) -> Callable[[Handler], Handler]:
    """Authenticate (the bearer token, then the member's signature), run, and write
    one audit row whatever the outcome."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: Request, **kwargs: Any) -> HTTPResponse:
            record = AuditRecord(endpoint=endpoint, client=_client_ip(request, portal.settings))
            try:
                _check_bearer(request, token_of(), realm)
                record.member, record.origin = identity_from_headers(request.headers, portal.member_key)
                response = await handler(request, record, **kwargs)
            except ApiError as e:
                response = _error(e)
                record.outcome = record.outcome or e.code
            except ValidationError as e:
                response = _error(_validation_error(e))
                record.outcome = f"invalid:{e.field}"[:48]
            except RateLimited as e:
                response = _error(_rate_limited(e))
                record.outcome = f"rate_limited:{e.scope}"
            record.status = response.status
            now = portal.clock.now()
            await portal.db.run(lambda s: audit.write(s, record, now))
            return response

        run.__name__ = handler.__name__
        return run

    return wrap


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
        body = _json_body(request, ("tenant", "user_id"))
        tenant = parse_tenant(body.get("tenant"), registry)
        record.tenant = tenant.key
        user_id = parse_tenant_user_id(body.get("user_id"), tenant)
        record.subject = user_id
        if tenant.otp_method != OTP_EMAIL:
            raise _otp_method_mismatch(tenant, OTP_EMAIL)
        ctx = portal.ctx()
        check = [RateCheck("otp_resend", "account", f"{tenant.key}:{user_id}")]

        def work(s: Session) -> str:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return services.helpdesk_resend_otp(s, ctx, tenant.key, user_id)

        record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(ACCEPTED_BODY, status=202)

    async def user_id_reminder(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "user_id_reminder")
        body = _json_body(request, ("tenant", "email"))
        tenant = parse_tenant(body.get("tenant"), registry)
        record.tenant = tenant.key
        email = parse_email(body.get("email"))
        record.subject = audit.mask_email(email)
        ctx = portal.ctx()
        check = [RateCheck("user_id_reminder", "account", f"{tenant.key}:{email}")]

        def work(s: Session) -> str:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return services.helpdesk_user_id_reminder(s, ctx, tenant.key, email)

        record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(ACCEPTED_BODY, status=202)

    async def open_ticket(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "unlock_open")
        body = _json_body(request, ("tenant", "user_id", "birth_date"))
        tenant = parse_tenant(body.get("tenant"), registry)
        record.tenant = tenant.key
        user_id = parse_tenant_user_id(body.get("user_id"), tenant)
        record.subject = user_id
        birth = parse_birth_date(body.get("birth_date"), _today(portal))
        ctx = portal.ctx()
        check = [RateCheck("unlock_open", "account", f"{tenant.key}:{user_id}")]
        opened_by = tickets.member_tag(record.member)

        def work(s: Session) -> tuple[dict[str, Any], str]:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return tickets.open_unlock_ticket(s, ctx, tenant.key, user_id, birth, opened_by)

        ticket, record.outcome = await portal.run(work)
        portal.send_later(ctx.mails)
        return json_response(
            ticket, status=200 if ticket["already_open"] else 201,
            headers={"Location": f"/api/v1/unlock-tickets/{ticket['ticket_id']}"},
        )

    async def read_ticket(request: Request, record: AuditRecord, ticket_id: str) -> HTTPResponse:
        await limit_caller(request, record, "unlock_read")
        unknown = set(request.args) - {"tenant"}
        if unknown:
            raise ValidationError(sorted(unknown)[0][:64], "is not a parameter of this request", "unknown_field")
        tenant = parse_tenant(request.args.get("tenant"), registry)
        record.tenant = tenant.key
        tid = parse_ticket_id(ticket_id)
        record.subject = tid

        def work(s: Session) -> tuple[dict[str, Any] | None, bool]:
            ticket = tickets.get_ticket(s, tenant.key, tid)
            if ticket is None or not tickets.told_to(ticket, record.member):
                return None, ticket is not None
            return tickets.ticket_json(ticket), True

        found, exists = await portal.run(work)
        if found is None:
            # Another member's ticket is answered like a number that does not exist.
            record.outcome = "not_opener" if exists else "not_found"
            raise ApiError(404, "not_found", "no such ticket for this society", "ticket_id")
        record.outcome = found["status"]
        return json_response(found)

    async def diagnose(request: Request, record: AuditRecord) -> HTTPResponse:
        await limit_caller(request, record, "otp_diagnose")
        body = _json_body(request, ("tenant", "user_id", "code"))
        tenant = parse_tenant(body.get("tenant"), registry)
        record.tenant = tenant.key
        user_id = parse_tenant_user_id(body.get("user_id"), tenant)
        record.subject = user_id
        code = parse_otp_code(body.get("code"))
        if tenant.otp_method != OTP_TOTP:
            raise _otp_method_mismatch(tenant, OTP_TOTP)
        ctx = portal.ctx()
        check = [RateCheck("otp_diagnose", "account", f"{tenant.key}:{user_id}")]

        def work(s: Session) -> tuple[services.Diagnosis, str]:
            ratelimit.consume(s, check, portal.rules(), ctx.now)
            return services.diagnose_totp(s, ctx, tenant.key, user_id, code)

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


# --------------------------------------------------------------------------- admin API


def _add_admin_routes(app: Sanic, portal: Portal) -> None:
    admin = partial(_audited, portal, token_of=lambda: portal.settings.admin_token, realm="admin")

    async def list_tickets(request: Request, record: AuditRecord) -> HTTPResponse:
        unknown = set(request.args) - {"tenant", "status"}
        if unknown:
            raise ValidationError(sorted(unknown)[0][:64], "is not a parameter of this request", "unknown_field")
        tenant = None
        if request.args.get("tenant"):
            tenant = parse_tenant(request.args.get("tenant"), portal.registry).key
            record.tenant = tenant
        status = request.args.get("status") or None
        if status not in (None, "open", "closed"):
            raise ValidationError("status", "must be open or closed", "format")

        def work(s: Session) -> list[dict[str, Any]]:
            return [tickets.admin_ticket_json(s, t) for t in tickets.list_tickets(s, tenant, status)]

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
                    raise ApiError(status, "not_found" if status == 404 else "ticket_not_resolvable",
                                   str(e), "ticket_id") from None
                message = tickets.closed_ticket_mail(s, portal.registry, portal.settings.mail_sender, ticket)
                mails.extend([message] if message else [])
                return tickets.admin_ticket_json(s, ticket)

            ticket = await portal.run(work)
            portal.send_later(mails)
            record.tenant = ticket["tenant"]
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

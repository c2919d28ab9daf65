"""The member login routes (``/member/...``): the login a member goes through, as JSON.

Login, first-login steps (birth date, terms, user ID, password, e-mail and its
verification), one-time password, logout, forgotten password and the reset page
its mail links to. Each step runs one service function (``dev.portal.login_steps``)
in one transaction and answers the session and its next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html
from sanic.response import json as json_response
from sqlalchemy.orm import Session

from bot.domain.portal_contract import SOCIETY_FIELD
from bot.domain.societies import Society
from dev.portal import login_steps, ratelimit
from dev.portal.errors import ApiError
from dev.portal.ratelimit import RateCheck
from dev.portal.routes.common import (
    ACCEPTED_BODY,
    _client_ip,
    _json_body,
    _today,
    _validation_error,
)
from dev.portal.validation import (
    ValidationError,
    parse_birth_date,
    parse_bool_true,
    parse_email,
    parse_new_password,
    parse_otp_code,
    parse_password_attempt,
    parse_society,
    parse_society_user_id,
    parse_token,
)

if TYPE_CHECKING:
    from dev.portal.app import Portal


def _step_json(result: login_steps.StepResult) -> dict[str, Any]:
    return {"session": result.session, "next_step": result.next_step, **result.details}


def _add_member_routes(app: Sanic, portal: Portal) -> None:
    registry = portal.registry

    def session_of(body: dict[str, Any]) -> str:
        return parse_token(body.get("session"), "session")

    async def step(fn: Callable[..., login_steps.StepResult], *args: Any) -> HTTPResponse:
        ctx = portal.ctx()
        result = await portal.run(lambda s: fn(s, ctx, *args))
        portal.send_later(ctx.mails)
        return json_response(_step_json(result))

    @app.post("/member/login")
    async def member_login(request: Request) -> HTTPResponse:
        body = _json_body(request, (SOCIETY_FIELD, "user_id", "password"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        password = parse_password_attempt(body.get("password"))
        try:
            user_id = parse_society_user_id(body.get("user_id"), society)
        except ValidationError:
            # A malformed ID cannot exist; answer like a wrong password.
            raise ApiError(401, "invalid_credentials", "invalid user ID or password") from None
        return await step(login_steps.login, society.key, user_id, password)

    @app.post("/member/session")
    async def member_session(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(login_steps.session_status, session_of(body))

    @app.post("/member/first-login/birth-date")
    async def first_login_birth_date(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "birth_date"))
        token = session_of(body)
        birth = parse_birth_date(body.get("birth_date"), _today(portal))
        return await step(login_steps.first_login_birth_date, token, birth)

    @app.post("/member/first-login/terms")
    async def first_login_terms(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "accept"))
        token = session_of(body)
        parse_bool_true(body.get("accept"), "accept")
        return await step(login_steps.first_login_terms, token)

    @app.post("/member/first-login/user-id")
    async def first_login_user_id(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "user_id"))
        token = session_of(body)
        new_id = None
        if body.get("user_id") not in (None, ""):
            # The society is known from the session; rules are the same for every society today,
            # and checked again against the account's society below.
            society = await _session_society(portal, token)
            new_id = parse_society_user_id(body.get("user_id"), society, new=True)
        return await step(login_steps.first_login_user_id, token, new_id)

    @app.post("/member/first-login/password")
    async def first_login_password(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "password", "password_confirm"))
        token = session_of(body)
        society = await _session_society(portal, token)
        password = parse_new_password(body.get("password"), society)
        if body.get("password_confirm") != password:
            raise ValidationError("password_confirm", "does not match password", "mismatch")
        return await step(login_steps.first_login_password, token, password)

    @app.post("/member/first-login/email")
    async def first_login_email(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "email"))
        token = session_of(body)
        email = parse_email(body.get("email"))
        return await step(login_steps.first_login_email, token, email)

    @app.post("/member/first-login/email/resend")
    async def first_login_email_resend(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(login_steps.member_resend_verification, session_of(body))

    @app.post("/member/first-login/email/check")
    async def first_login_email_check(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(login_steps.first_login_email_check, session_of(body))

    @app.get("/member/verify-email")
    async def verify_email(request: Request) -> HTTPResponse:
        try:
            token = parse_token(request.args.get("token"), "token")
        except ValidationError:
            ok = False
        else:
            ctx = portal.ctx()
            ok = await portal.run(lambda s: login_steps.verify_email(s, ctx, token))
        if ok:
            return html(_page("メールアドレスを確認しました。元の画面に戻って続けてください。"))
        return html(_page("このリンクは無効か、有効期限が切れています。もう一度メールを送ってください。"), status=410)

    @app.post("/member/otp")
    async def member_otp(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session", "code"))
        token = session_of(body)
        code = parse_otp_code(body.get("code"))
        return await step(login_steps.verify_otp, token, code)

    @app.post("/member/otp/resend")
    async def member_otp_resend(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        return await step(login_steps.member_resend_otp, session_of(body))

    @app.post("/member/logout")
    async def member_logout(request: Request) -> HTTPResponse:
        body = _json_body(request, ("session",))
        token = session_of(body)
        ctx = portal.ctx()
        await portal.run(lambda s: login_steps.logout(s, ctx, token))
        return json_response({"status": "logged_out"})

    @app.post("/member/forgot-password")
    async def forgot_password(request: Request) -> HTTPResponse:
        body = _json_body(request, (SOCIETY_FIELD, "user_id"))
        society = parse_society(body.get(SOCIETY_FIELD), registry)
        user_id = parse_society_user_id(body.get("user_id"), society)
        ctx = portal.ctx()
        client = _client_ip(request, portal.settings)
        checks = [
            RateCheck("forgot_password", "client", client),
            RateCheck("forgot_password", "account", f"{society.key}:{user_id}"),
        ]

        def work(s: Session) -> str:
            ratelimit.consume(s, checks, portal.rules(), ctx.now)
            return login_steps.forgot_password(s, ctx, society.key, user_id)

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

        def password_for(society: Society) -> str:
            password = parse_new_password(raw_password, society)
            if confirm != password:
                raise ValidationError("password_confirm", "does not match password", "mismatch")
            return password

        ctx = portal.ctx()

        def work(s: Session) -> None:
            try:
                login_steps.reset_password(s, ctx, token, password_for)
            except ValidationError as e:
                raise _validation_error(e) from None

        await portal.run(work)
        return json_response({"status": "password_changed"})


async def _session_society(portal: Portal, token: str) -> Society:
    ctx = portal.ctx()

    def work(s: Session) -> str:
        _row, account = login_steps.session_account(s, ctx, token)
        return account.society

    return ctx.society(await portal.run(work))


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

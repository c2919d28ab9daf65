"""Who may use the agents' console: session cookie, CSRF tokens, login and logout, society.

:class:`ConsoleAuth` is the middle layer of :class:`bot.handoff.console.Console`:
the session cookie (its token stored only as a hash, ``bot.handoff.store_agents``), the
CSRF checks of every POST (token and ``Origin``), the login form with its own
double-submit token and the failed-login throttle (``bot.handoff.login_throttle``),
and :meth:`ConsoleAuth.visible`, which hides another society's handoffs.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Mapping, Optional
from urllib.parse import urlsplit

from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import html as html_response

from bot.client_address import ClientAddresses, ProxyWarning
from bot.handoff.console_render import ConsoleRendering
from bot.handoff.display import render
from bot.handoff.login_throttle import LoginThrottle, Refusal
from bot.handoff.models import Agent, Handoff
from bot.handoff.store import HandoffStore
from bot.handoff.store_agents import normalise_login
from bot.settings import HandoffSettings

# the console's one logger, whichever of its modules logs (operators filter on it)
logger = logging.getLogger("bot.handoff.console")

SESSION_COOKIE = "kosmo_agent_session"
LOGIN_CSRF_COOKIE = "kosmo_agent_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
MAX_PASSWORD_LENGTH = 1024  # longer is wrong without hashing it
_HANDOFF_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConsoleAuth(ConsoleRendering):
    """Sessions, CSRF and login (attributes set by ``Console.__init__``)."""

    store: HandoffStore
    secure_cookies: bool
    client_addresses: ClientAddresses
    throttle: LoginThrottle
    proxy_warning: ProxyWarning
    login_url: str
    cookie_path: str

    def set_cookie(
        self, response: HTTPResponse, name: str, value: str, max_age: Optional[int]
    ) -> None:
        response.cookies[name] = value
        cookie = response.cookies[name]
        cookie["path"] = self.cookie_path
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        if self.secure_cookies:
            cookie["secure"] = True
        if max_age is not None:
            cookie["max-age"] = max_age

    # -- checks ------------------------------------------------------------------

    async def session(self, request: Request) -> Optional[tuple[Agent, str]]:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return await self.store.run(self.store.session, token)

    @staticmethod
    def foreign_origin(request: Request) -> bool:
        """True when the browser says the POST comes from a page of another host."""
        origin = request.headers.get("origin")
        if origin is None:
            return False
        return urlsplit(origin).netloc.lower() != (request.host or "").lower()

    @staticmethod
    def tokens_match(given: Optional[str], expected: Optional[str]) -> bool:
        if not given or not expected:
            return False
        return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    async def visible(self, handoff_id: str, agent: Agent) -> Optional[Handoff]:
        """The handoff if the agent may see it; another society's is as good as missing."""
        if not _HANDOFF_ID_RE.match(handoff_id):
            return None
        handoff = await self.store.run(self.store.get, handoff_id)
        if handoff is None or handoff.society != agent.society:
            return None
        return handoff

    # -- login -------------------------------------------------------------------

    def login_page(self, error: str = "", login: str = "", status: int = 200) -> HTTPResponse:
        token = secrets.token_urlsafe(32)
        content = render(
            "login.html", prefix=self.prefix, login_csrf=token, error=error, login=login
        )
        response = self.page("login", "ログイン", content, status=status)
        self.set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    def refused_page(self, refusal: Refusal, login: str) -> HTTPResponse:
        """429, the password unchecked: why and for how long (never whether the login exists)."""
        now = self.throttle.clock()
        response = self.login_page(refusal.message(now), login, status=429)
        response.headers["Retry-After"] = str(refusal.seconds_left(now))
        return response

    async def get_login(self, request: Request) -> HTTPResponse:
        if await self.session(request) is not None:
            return redirect(self.home)
        return self.login_page()

    async def post_login(self, request: Request) -> HTTPResponse:
        form = request.form or {}
        # as the store looks it up and the throttle counts it (a longer login than any
        # agent's stays one that names no agent)
        login = normalise_login(form.get("login") or "")
        password = form.get("password") or ""
        if self.foreign_origin(request) or not self.tokens_match(
            form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)
        ):
            return self.login_page(
                "画面の有効期限が切れました。もう一度ログインしてください。", login, status=403
            )
        self.proxy_warning.check(self.client_addresses, request.ip, request.headers)
        client = self.client_addresses.client_of(request.ip, request.headers)
        attempt = await self.store.run(self.throttle.begin, login, client)
        if isinstance(attempt, Refusal):
            return self.refused_page(attempt, login)
        agent = None
        if len(password) <= MAX_PASSWORD_LENGTH:
            agent = await self.store.run(self.store.authenticate, login, password)
        if agent is None:
            for scope, until in attempt.started.items():
                logger.warning(
                    "Console login failures: %s limit reached (login %r, client %s), refused until %s",
                    scope,
                    attempt.login,
                    client,
                    until.isoformat(timespec="seconds"),
                )
            return self.login_page(
                "ログインIDまたはパスワードが正しくありません。", login, status=401
            )
        await self.store.run(self.throttle.succeeded, attempt)
        token, _csrf = await self.store.run(self.store.start_session, agent)
        response = redirect(self.home, status=303)
        self.set_cookie(
            response,
            SESSION_COOKIE,
            token,
            max_age=int(self.store.session_lifetime.total_seconds()),
        )
        self.set_cookie(response, LOGIN_CSRF_COOKIE, "", max_age=0)
        return response

    async def post_logout(self, request: Request) -> HTTPResponse:
        session = await self.session(request)
        if session is None:
            return redirect(self.login_url, status=303)
        _agent, csrf = session
        form = request.form or {}
        if self.foreign_origin(request) or not self.tokens_match(form.get("csrf"), csrf):
            return html_response("不正な操作です（CSRF）。", status=403)
        await self.store.run(self.store.end_session, request.cookies.get(SESSION_COOKIE) or "")
        response = redirect(self.login_url, status=303)
        self.set_cookie(response, SESSION_COOKIE, "", max_age=0)
        return response

    async def api_session(
        self, request: Request, *, post: bool
    ) -> tuple[Optional[Agent], Optional[HTTPResponse]]:
        session = await self.session(request)
        if session is None:
            return None, self.api_error(401, "unauthenticated", "ログインしてください。")
        agent, csrf = session
        if post and (
            self.foreign_origin(request)
            or not self.tokens_match(request.headers.get(CSRF_HEADER), csrf)
        ):
            return None, self.api_error(
                403, "csrf", "不正な操作です。画面を読み込み直してください。"
            )
        return agent, None


def secure_cookies_from_env(env: Optional[Mapping[str, str]] = None) -> bool:
    """``KOSMO_AGENT_SECURE_COOKIES``: the console's cookies are ``Secure`` unless it is
    ``false`` (plain-http development: ``make run`` and the tests set it)."""
    return HandoffSettings.from_env(env).secure_cookies

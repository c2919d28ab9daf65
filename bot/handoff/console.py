"""The agent console: helpdesk people of a society take over conversations from the bot.

``console_blueprint(store, link, societies=..., secure_cookies=..., url_prefix=...,
client_addresses=...)`` builds a Sanic blueprint from what it is handed; the Rasa
server mounts it (at ``/webhooks/agent``) so the console, the gate that keeps the
bot silent and the delivery to the member live in one process. Every link and form
action is built from ``url_prefix``; mount the blueprint at that same prefix. What
the pages show (labels, times, escaping templates) is ``bot.handoff.display``.

Routes (below the prefix)::

    GET  /login                          login form                 POST /login   (form: login, password, csrf)
    POST /logout                         (form: csrf)
    GET  /                               queue page                 GET  /api/queue
    GET  /conversations/<id>             conversation page          GET  /api/conversations/<id>?after=<message id>
    POST /api/conversations/<id>/take    /reply {"text"}            /handback     /close
    GET  /static/console.js, console.css

Security, because the console reads what members typed and speaks for the society:

- a session cookie (``HttpOnly``, ``SameSite=Strict``, ``Path=<prefix>``, ``Secure``
  unless ``KOSMO_AGENT_SECURE_COOKIES=false``, for plain-http development) whose token
  is stored only as a SHA-256 hash; pages without it redirect to the login, APIs
  answer 401;
- an agent sees only its own society: another society's handoff is 404, like one that
  does not exist, so ids do not leak;
- every POST carries the session's CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``), and a POST whose ``Origin`` is another host is refused (403); the
  login form has its own double-submit token;
- failed logins are throttled per client first, so a stranger cannot lock a real agent
  out (``bot.handoff.login_throttle``: 10 failures from one client within 15 minutes
  refuse that client, 5 for one login refuse that login from that client, 20 for one
  login from everywhere let only clients it used before try it), all for 15 minutes;
  behind a reverse proxy ``KOSMO_CLIENT_IP_HEADER`` must be set (otherwise every
  login comes from the proxy): the first login from a trusted proxy's address that
  carries a forwarding header while it is unset logs a warning;
- pages send a strict Content-Security-Policy (scripts only from ``/static``), and all
  member text is escaped on the server and set with ``textContent`` in the browser.

Agent replies are stored first, then handed to the :class:`MemberLink`; when the link
fails the message stays stored and the agent gets a JSON error to see.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol, Sequence
from urllib.parse import urlsplit

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import html as html_response
from sanic.response import json as json_response

from bot.client_address import ClientAddresses, ProxyWarning
from bot.handoff.display import (
    AUTHOR_LABELS,
    CHANNEL_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    Markup,
    author_label,
    format_duration,
    jst,
    lines_html,
    progress_line,
    render,
)
from bot.handoff.login_throttle import LoginThrottle, Refusal
from bot.handoff.models import STATUS_ACTIVE, Agent, Handoff, Message
from bot.handoff.store import (
    HandoffClosed,
    HandoffNotFound,
    HandoffStore,
    NotAssigned,
    normalise_login,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

SECURE_COOKIES_ENV = "KOSMO_AGENT_SECURE_COOKIES"
SESSION_COOKIE = "kosmo_agent_session"
LOGIN_CSRF_COOKIE = "kosmo_agent_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
MAX_REPLY_LENGTH = 2000
MAX_PASSWORD_LENGTH = 1024  # longer is wrong without hashing it
_HANDOFF_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


class MemberLink(Protocol):
    """How the console reaches the member (implemented by the Rasa side, ``bot.handoff.link``)."""

    async def agent_reply(self, handoff: Handoff, agent: Agent, text: str) -> None:
        """Deliver the agent's text to the member on their channel and keep it in the history."""

    async def handed_back(self, handoff: Handoff, agent: Agent) -> None:
        """Tell the member the bot answers again."""

    async def closed(self, handoff: Handoff, agent: Agent) -> None:
        """Ask the member whether the matter was solved."""

    async def taken(self, handoff: Handoff, agent: Agent) -> None:
        """Tell the member a person has joined."""


class Console:
    """The handlers; one per blueprint, holding what the factory was handed."""

    def __init__(
        self,
        store: HandoffStore,
        link: MemberLink,
        societies: Mapping[str, str],
        secure_cookies: bool,
        prefix: str,
        client_addresses: ClientAddresses,
        throttle: LoginThrottle,
    ) -> None:
        self.store = store
        self.link = link
        self.societies = dict(societies)
        self.secure_cookies = secure_cookies
        self.client_addresses = client_addresses
        self.throttle = throttle
        self.proxy_warning = ProxyWarning(
            logger, "console login clients",
            "every agent's failed logins count against the proxy, and 10 wrong passwords "
            "from anyone refuse all logins for 15 minutes",
            forwarded_only=True,
        )
        self.prefix = prefix
        self.home = prefix + "/"
        self.login_url = prefix + "/login"
        self.cookie_path = prefix or "/"

    # -- values as the console shows them ------------------------------------

    def society_name(self, key: str) -> str:
        return self.societies.get(key, key)

    def handoff_json(self, handoff: Handoff, agent: Agent, now: dt.datetime) -> dict[str, Any]:
        waiting = handoff.waiting_seconds(now)
        return {
            "id": handoff.id,
            "society": handoff.society,
            "society_name": self.society_name(handoff.society),
            "channel": handoff.channel,
            "channel_label": CHANNEL_LABELS.get(handoff.channel, handoff.channel),
            "status": handoff.status,
            "status_label": STATUS_LABELS.get(handoff.status, handoff.status),
            "reason": handoff.reason,
            "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
            "topic": handoff.topic,
            "waiting_seconds": waiting,
            "waiting": format_duration(waiting),
            "assigned_agent": handoff.assigned_agent_name,
            "assigned_to_me": handoff.status == STATUS_ACTIVE
            and handoff.assigned_agent_id == agent.id,
            "created_at": handoff.created_at.isoformat(),
            "created": jst(handoff.created_at),
        }

    @staticmethod
    def message_json(message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "author": message.author,
            "author_label": author_label(message.author, message.agent_name),
            "text": message.text,
            "created_at": message.created_at.isoformat(),
            "time": jst(message.created_at),
        }

    # -- responses -------------------------------------------------------------

    def page(
        self,
        page: str,
        title: str,
        content: Markup,
        *,
        agent: Optional[Agent] = None,
        csrf: str = "",
        status: int = 200,
    ) -> HTTPResponse:
        header = Markup("")
        if agent is not None:
            header = render(
                "agent_bar.html",
                prefix=self.prefix,
                csrf=csrf,
                society_name=self.society_name(agent.society),
                agent_name=agent.display_name,
            )
        body = render(
            "layout.html",
            title=title,
            prefix=self.prefix,
            home=self.home,
            page=page,
            csrf=csrf,
            header=header,
            content=content,
        )
        return html_response(body, status=status)

    def not_found_page(self, agent: Agent, csrf: str) -> HTTPResponse:
        content = render(
            "error.html",
            heading="見つかりません",
            message="この会話は見つかりません。すでに終了したか、別の健保組合の会話です。",
            home=self.home,
        )
        return self.page("error", "見つかりません", content, agent=agent, csrf=csrf, status=404)

    @staticmethod
    def api_error(
        status: int, code: str, text: str, extra: Optional[Mapping[str, Any]] = None
    ) -> HTTPResponse:
        """``{"error": code, "message": text, ...extra}``; ``message`` is for the agent to read."""
        return json_response({**(extra or {}), "error": code, "message": text}, status=status)

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

    # -- pages -------------------------------------------------------------------

    def queue_rows(self, handoffs: Sequence[Handoff], now: dt.datetime) -> Markup:
        return Markup(
            "".join(
                render(
                    "queue_row.html",
                    status_code=h.status,
                    href=f"{self.prefix}/conversations/{h.id}",
                    created=jst(h.created_at),
                    waiting=format_duration(h.waiting_seconds(now)),
                    status=STATUS_LABELS.get(h.status, h.status),
                    reason=REASON_LABELS.get(h.reason, h.reason),
                    topic=h.topic,
                    channel=CHANNEL_LABELS.get(h.channel, h.channel),
                    assigned=h.assigned_agent_name or "",
                )
                for h in handoffs
            )
        )

    async def queue_page(self, request: Request) -> HTTPResponse:
        session = await self.session(request)
        if session is None:
            return redirect(self.login_url)
        agent, csrf = session
        handoffs = await self.store.run(self.store.queue, agent.society)
        now = self.store.clock()
        content = render(
            "queue.html",
            rows=self.queue_rows(handoffs, now),
            empty_hidden=Markup(" hidden" if handoffs else ""),
        )
        return self.page("queue", "対応待ちの会話", content, agent=agent, csrf=csrf)

    def transcript_html(self, packet: Mapping[str, Any], messages: Sequence[Message]) -> Markup:
        items: list[str] = []
        before = packet.get("transcript")
        for entry in before if isinstance(before, list) else []:
            if not isinstance(entry, Mapping):
                continue
            author = str(entry.get("author") or "bot")
            author = author if author in AUTHOR_LABELS else "bot"
            when = entry.get("at")
            time = ""
            if isinstance(when, str):
                try:
                    time = jst(dt.datetime.fromisoformat(when))
                except ValueError:
                    time = ""
            items.append(
                render(
                    "message.html",
                    author=f"{author} before",
                    id="",
                    label=f"{author_label(author)}（引き継ぎ前）",
                    time=time,
                    text=str(entry.get("text") or ""),
                )
            )
        for m in messages:
            items.append(
                render(
                    "message.html",
                    author=m.author,
                    id=m.id,
                    label=author_label(m.author, m.agent_name),
                    time=jst(m.created_at),
                    text=m.text,
                )
            )
        return Markup("".join(items))

    async def conversation_page(self, request: Request, handoff_id: str) -> HTTPResponse:
        session = await self.session(request)
        if session is None:
            return redirect(self.login_url)
        agent, csrf = session
        handoff = await self.visible(handoff_id, agent)
        if handoff is None:
            return self.not_found_page(agent, csrf)
        messages = await self.store.run(self.store.messages, handoff.id)
        packet = handoff.packet
        now = self.store.clock()
        content = render(
            "conversation.html",
            home=self.home,
            handoff_id=handoff.id,
            after=messages[-1].id if messages else 0,
            agent_id=agent.id,
            status=STATUS_LABELS.get(handoff.status, handoff.status),
            assigned=handoff.assigned_agent_name or "未割り当て",
            society_name=self.society_name(handoff.society),
            channel=CHANNEL_LABELS.get(handoff.channel, handoff.channel),
            reason=REASON_LABELS.get(handoff.reason, handoff.reason),
            topic=handoff.topic or "（不明）",
            created=jst(handoff.created_at),
            waiting=format_duration(handoff.waiting_seconds(now)),
            progress=lines_html(progress_line(packet.get("progress"))),
            errors=lines_html(packet.get("errors_mentioned")),
            bot_tried=lines_html(packet.get("bot_tried")),
            tickets=lines_html(packet.get("ticket_ids")),
            transcript=self.transcript_html(packet, messages),
        )
        return self.page("conversation", "会話", content, agent=agent, csrf=csrf)

    # -- JSON API ----------------------------------------------------------------

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

    async def api_queue(self, request: Request) -> HTTPResponse:
        agent, error = await self.api_session(request, post=False)
        if agent is None:
            assert error is not None
            return error
        handoffs = await self.store.run(self.store.queue, agent.society)
        now = self.store.clock()
        return json_response([self.handoff_json(h, agent, now) for h in handoffs])

    async def api_conversation(self, request: Request, handoff_id: str) -> HTTPResponse:
        agent, error = await self.api_session(request, post=False)
        if agent is None:
            assert error is not None
            return error
        handoff = await self.visible(handoff_id, agent)
        if handoff is None:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        raw_after = request.args.get("after", "0")
        if not raw_after.isdigit() or len(raw_after) > 18:
            return self.api_error(400, "bad_cursor", "after は 0 以上の整数で指定してください。")
        messages = await self.store.run(self.store.messages, handoff.id, int(raw_after))
        return json_response(
            {
                "handoff": self.handoff_json(handoff, agent, self.store.clock()),
                "packet": dict(handoff.packet),
                "messages": [self.message_json(m) for m in messages],
            }
        )

    async def api_action(self, request: Request, handoff_id: str, action: str) -> HTTPResponse:
        agent, error = await self.api_session(request, post=True)
        if agent is None:
            assert error is not None
            return error
        before = await self.visible(handoff_id, agent)
        if before is None:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        text = ""
        if action == "reply":
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                body = None
            given = body.get("text") if isinstance(body, dict) else None
            if not isinstance(given, str) or not given.strip() or len(given) > MAX_REPLY_LENGTH:
                return self.api_error(
                    400, "bad_text", f"返信は1〜{MAX_REPLY_LENGTH}文字で入力してください。"
                )
            text = given
        message: Optional[Message] = None
        try:
            if action == "take":
                handoff = await self.store.run(self.store.take, before.id, agent)
            elif action == "reply":
                message = await self.store.run(self.store.reply, before.id, agent, text)
                handoff = before
            elif action == "handback":
                handoff = await self.store.run(self.store.hand_back, before.id, agent)
            else:
                handoff = await self.store.run(self.store.close, before.id, agent)
        except HandoffNotFound:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        except HandoffClosed:
            return self.api_error(409, "closed", "この会話はすでに終了しています。")
        except NotAssigned:
            return self.api_error(
                409,
                "not_assigned",
                "先に「対応する」を押してください（ほかの担当者が対応中です）。",
            )
        now = self.store.clock()
        result: dict[str, Any] = {"handoff": self.handoff_json(handoff, agent, now)}
        if message is not None:
            result["message"] = self.message_json(message)
        try:
            if action == "take":
                changed = not (
                    before.status == STATUS_ACTIVE and before.assigned_agent_id == agent.id
                )
                if changed:
                    await self.link.taken(handoff, agent)
            elif action == "reply":
                await self.link.agent_reply(handoff, agent, text)
            elif action == "handback":
                await self.link.handed_back(handoff, agent)
            else:
                await self.link.closed(handoff, agent)
        except Exception:  # noqa: BLE001 - whatever the channel raised, the agent must see it
            logger.exception("Delivery to the member failed (%s, handoff %s)", action, handoff.id)
            return self.api_error(
                502,
                "delivery_failed",
                "会員への送信に失敗しました。記録には残っています。少し待ってからもう一度お試しください。",
                {
                    "handoff": result["handoff"],
                    **({"stored_message": result["message"]} if message is not None else {}),
                },
            )
        return json_response(result)


def _normalise_prefix(url_prefix: str) -> str:
    stripped = (url_prefix or "").strip().strip("/")
    return "/" + stripped if stripped else ""


def secure_cookies_from_env(env: Mapping[str, str]) -> bool:
    """``KOSMO_AGENT_SECURE_COOKIES``: the console's cookies are ``Secure`` unless it is
    ``false`` (plain-http development: ``make run`` and the tests set it)."""
    raw = (env.get(SECURE_COOKIES_ENV) or "").strip().lower()
    if raw in ("", "1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{SECURE_COOKIES_ENV} must be true or false, not {raw!r}")


def console_blueprint(
    store: HandoffStore,
    link: MemberLink,
    *,
    societies: Mapping[str, str],
    secure_cookies: bool,
    url_prefix: str,
    client_addresses: ClientAddresses = ClientAddresses(),
    login_throttle: Optional[LoginThrottle] = None,
    name: str = "handoff_console",
) -> Blueprint:
    """The console as a blueprint mounted at ``url_prefix`` (``name`` must be unique per app).

    ``client_addresses`` tells login clients apart (default: the connection's peer);
    ``login_throttle`` defaults to one on the store's database and clock.
    """
    prefix = _normalise_prefix(url_prefix)
    throttle = login_throttle or LoginThrottle(store.engine, store.clock)
    console = Console(store, link, societies, secure_cookies, prefix, client_addresses, throttle)
    bp = Blueprint(name, url_prefix=prefix or None)

    @bp.middleware("response")
    async def security_headers(_request: Request, response: HTTPResponse) -> None:
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)

    bp.static("/static", str(STATIC_DIR), name="static")

    @bp.get("/login")
    async def get_login(request: Request) -> HTTPResponse:
        return await console.get_login(request)

    @bp.post("/login")
    async def post_login(request: Request) -> HTTPResponse:
        return await console.post_login(request)

    @bp.post("/logout")
    async def post_logout(request: Request) -> HTTPResponse:
        return await console.post_logout(request)

    @bp.get("/", strict_slashes=False)
    async def queue_page(request: Request) -> HTTPResponse:
        return await console.queue_page(request)

    @bp.get("/conversations/<handoff_id:str>")
    async def conversation_page(request: Request, handoff_id: str) -> HTTPResponse:
        return await console.conversation_page(request, handoff_id)

    @bp.get("/api/queue")
    async def api_queue(request: Request) -> HTTPResponse:
        return await console.api_queue(request)

    @bp.get("/api/conversations/<handoff_id:str>")
    async def api_conversation(request: Request, handoff_id: str) -> HTTPResponse:
        return await console.api_conversation(request, handoff_id)

    def add_action(action: str) -> None:
        async def handler(request: Request, handoff_id: str) -> HTTPResponse:
            return await console.api_action(request, handoff_id, action)

        bp.add_route(
            handler,
            f"/api/conversations/<handoff_id:str>/{action}",
            methods=["POST"],
            name=f"api_{action}",
        )

    for action in ("take", "reply", "handback", "close"):
        add_action(action)

    return bp

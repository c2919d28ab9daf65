"""The agent console: helpdesk people of a society take over conversations from the bot.

``console_blueprint(store, link, societies=..., secure_cookies=..., url_prefix=...,
client_addresses=...)`` builds a Sanic blueprint from what it is handed; the Rasa
server mounts it (at ``/webhooks/agent``) so the console, the gate that keeps the
bot silent and the delivery to the member live in one process. Every link and form
action is built from ``url_prefix``; mount the blueprint at that same prefix. What
the pages show (labels, times, escaping templates) is ``bot.handoff.display``.

The handlers are one :class:`Console`, built in three layers:
``bot.handoff.console_render`` (what pages and the API show), ``console_auth``
(session cookie, CSRF, login and logout, the society check) and ``console_views``
(the pages and the JSON API).

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

import logging
from pathlib import Path
from typing import Mapping, Optional

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.client_address import ClientAddresses, ProxyWarning
from bot.handoff.console_views import ConsoleViews, MemberLink
from bot.handoff.login_throttle import LoginThrottle
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

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


class Console(ConsoleViews):
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


def _normalise_prefix(url_prefix: str) -> str:
    stripped = (url_prefix or "").strip().strip("/")
    return "/" + stripped if stripped else ""


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

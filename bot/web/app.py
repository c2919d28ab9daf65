"""The web service: the chat widget's files, as a portal page loads them.

``create_app`` builds the Sanic app from what it is handed (the societies, the
settings); nothing is read or started at import time::

    GET /healthz               200 "ok" (``dev.stack`` waits for it)
    GET /agent                 302 to the agents' console, served by the Rasa server
                               (bot/channels/agent_console.py) at <Rasa>/webhooks/agent/
    GET /widget/widget.js      the widget (+ widget.css, vendor/socket.io.min.js)

The demo portal pages (``/``, ``/demo/<society>``) are added by ``dev.demo.app``,
a development tool that is not shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain.societies import SocietyRegistry
from bot.settings import DEFAULT_RASA_URL, WidgetServiceSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"
WIDGET_DIR = STATIC_DIR / "widget"



@dataclass(frozen=True)
class WebSettings:
    """What the pages need to know about the rest of the system."""

    # Rasa's socket.io endpoint as the member's browser reaches it
    socket_url: str = DEFAULT_RASA_URL

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "WebSettings":
        """``KOSMO_WIDGET_SOCKET_URL``, else ``KOSMO_RASA_URL`` (bot.settings)."""
        settings = WidgetServiceSettings.from_env(environ)
        return cls(socket_url=(settings.socket_url or settings.rasa_url).rstrip("/"))


def create_app(registry: SocietyRegistry, settings: WebSettings, name: str = "kosmo_web") -> Sanic:
    """The widget service (``name`` must be unique per process); ``registry`` is for
    callers that add pages per society (``dev.demo.app``)."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "html"

    @app.get("/healthz")
    async def healthz(_: Request) -> HTTPResponse:
        return response.text("ok")

    @app.get("/agent")
    async def agent_console(_: Request) -> HTTPResponse:
        return response.redirect(f"{settings.socket_url}/webhooks/agent/")

    app.static("/widget", str(WIDGET_DIR), name="widget")

    @app.middleware("response")
    async def security_headers(_: Request, resp: HTTPResponse) -> None:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")

    return app

"""The helpdesk agents' console, mounted in the Rasa server as a channel.

Agents take conversations over from the bot (``bot.handoff``). The console has
to reach members on the channel they use (the widget's socket.io server, the
LINE channel's push) and to write into their conversations, and all of those
live in the Rasa server: so the console is served by the Rasa server itself,
at ``/webhooks/agent/`` (the web service's ``/agent`` redirects there).

When the server starts, this channel

- creates the handoff tables if missing (``$KOSMO_HANDOFF_DB_URL``, the same
  database the action server queues conversations in);
- puts the :class:`~bot.handoff.gate.HandoffGate` on ``app.ctx``, where our
  other channels find it, so that the bot stays silent while people have a
  conversation;
- starts the :class:`~bot.handoff.gate.QueueWatcher`, which tells members who
  wait longer than their society allows.

``credentials.yml``::

    bot.channels.agent_console.AgentConsoleInput:

The console sends no CORS headers at all (:func:`no_cors_for_console`): only
its own pages call it, and Rasa's ``--cors`` (sanic-cors on every route, with
credentials) must not let another site's scripts read or drive it.

Settings from the environment (``bot.settings``): ``KOSMO_AGENT_SECURE_COOKIES`` (the session
cookie is ``Secure`` unless ``false``, for plain-http development),
``KOSMO_CLIENT_IP_HEADER`` / ``KOSMO_TRUSTED_PROXIES`` (behind a
reverse proxy: how clients are told apart, ``bot.client_address``)
and ``KOSMO_HANDOFF_WATCH_SECONDS`` (how often the queue is checked, default 15).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import BaseHTTPResponse

from bot.client_address import ClientAddresses
from bot.domain.societies import SocietyRegistry, load_registry
from bot.handoff.console import console_blueprint
from bot.handoff.gate import GATE_CTX_KEY, HandoffGate, QueueWatcher
from bot.handoff.link import RasaMemberLink
from bot.handoff.store import HandoffStore
from bot.settings import HandoffSettings

URL_PREFIX = "/webhooks/agent"
CORS_HEADER_PREFIX = "access-control-"


def strip_cors_headers(path: str, response: BaseHTTPResponse) -> None:
    """Remove every ``Access-Control-*`` header from a response for a console path."""
    if path != URL_PREFIX and not path.startswith(URL_PREFIX + "/"):
        return
    for name in [n for n in response.headers if n.lower().startswith(CORS_HEADER_PREFIX)]:
        del response.headers[name]


def no_cors_for_console(bp: Blueprint) -> None:
    """No CORS headers on any response under the console's path.

    Rasa's sanic-cors adds them in app-wide middleware and in its error handler
    (404s, and the answers to preflight ``OPTIONS`` requests, which match no
    route of ours). Sanic's ``http.lifecycle.response`` signal comes after all of
    those, just before a response is sent, whichever way it was made; a
    blueprint's signal is called for every request, so the path decides.
    """

    @bp.signal("http.lifecycle.response")
    async def _no_cors(request: Request, response: BaseHTTPResponse, **_: Any) -> None:
        strip_cors_headers(request.path, response)


class AgentConsoleInput(InputChannel):
    """Not a way in for members: the agents' console and the handoff gate (see above)."""

    @classmethod
    def name(cls) -> Text:
        return "agent"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "AgentConsoleInput":
        return cls()

    def __init__(
        self,
        store: Optional[HandoffStore] = None,
        registry: Optional[SocietyRegistry] = None,
        secure_cookies: Optional[bool] = None,
        watch_seconds: Optional[float] = None,
    ) -> None:
        self.registry = registry or load_registry()
        self.store = store or HandoffStore.from_env(known_societies=set(self.registry.societies))
        settings = HandoffSettings.from_env()
        self.secure_cookies = secure_cookies if secure_cookies is not None else settings.secure_cookies
        self.client_addresses = ClientAddresses.from_env()
        self.watch_seconds = watch_seconds or settings.watch_seconds
        self.link = RasaMemberLink()
        self._watcher: Optional[asyncio.Task] = None

    def url_prefix(self) -> Text:
        return "agent"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = console_blueprint(
            self.store,
            self.link,
            societies={t.key: t.name for t in self.registry},
            secure_cookies=self.secure_cookies,
            url_prefix=URL_PREFIX,
            client_addresses=self.client_addresses,
        )
        no_cors_for_console(bp)

        @bp.listener("before_server_start")
        async def start(app: Any, _loop: Any) -> None:
            await self.store.run(self.store.create_schema)
            self.link.app = app
            setattr(app.ctx, GATE_CTX_KEY, HandoffGate(self.store, self.link))
            watcher = QueueWatcher(self.store, self.link, self.registry, self.watch_seconds)
            self._watcher = asyncio.ensure_future(watcher.run_forever())

        @bp.listener("after_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            if self._watcher is not None:
                self._watcher.cancel()
                await asyncio.gather(self._watcher, return_exceptions=True)
            self.store.dispose()

        return bp

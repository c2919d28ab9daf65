"""The portal chat widget's channel: Rasa's socket.io channel with server-issued sessions.

The widget (``bot/web/static/widget.js``) talks socket.io to the Rasa server::

    widget                                   Rasa (this channel)
    session_request {session_id?}   ──►   valid signed id?  keep it  : issue a new one
                                    ◄──   session_confirm <id>        (socket joins room <id>)
                                    ◄──   session_history {messages}  (this session's transcript)
    user_uttered {message, metadata: {tenant}}
                                    ──►   Rasa, as conversation <id> bound to this socket
                                    ◄──   user_echo (to the session's other tabs)
                                    ◄──   bot_uttered ... (to every tab of the session)
                                    ◄──   turn_end    (the bot is done: typing indicator off)

Why not Rasa's own ``socketio`` channel: it takes whatever ``session_id`` a client sends
(in the session request *and* in every message), so anyone who knows or guesses an id,
including a LINE or REST conversation id, can write into that conversation; and with
the python-socketio it is pinned to here, its ``session_persistence`` never joins the
room (``enter_room`` became a coroutine that Rasa 3.6 does not await), so replies to a
persistent session reach no one. Here session ids are 128 random bits plus an HMAC
(``session_secret``), made only by the server; a socket writes only into the session
it was confirmed for. Messages are bounded like every channel's
(``bot.channels.input_bounds``: length, metadata keys, payloads, ``display_text``),
and a socket.io packet may have at most ``MAX_BODY_BYTES`` (python-engineio's
default was a megabyte); a larger polling POST is refused (413) before its body is
read, by the stream's own limit set on routing (python-engineio would check only
after Sanic had buffered it whole). Each message carries its *origin* in the metadata
(``bot.channels.origin``): the socket's client address (the peer of its opening
request, or behind a trusted proxy ``KOSMO_CLIENT_IP_HEADER``, ``bot.client_address``)
as a digest keyed with the session secret. Fresh sessions from one address share it,
so the portal's per-origin limits hold however many sessions a client opens; a
client-sent ``origin`` is dropped.

``credentials.yml``::

    bot.channels.widget.WidgetInput:
      session_secret: ${KOSMO_WIDGET_SESSION_SECRET}
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.every_turn import answer_every_turn
from bot.channels.input_bounds import (
    MAX_BODY_BYTES,
    InputBounds,
    bound_inputs,
    bounded_metadata,
)
from bot.channels.origin import KIND_WIDGET, Origins
from bot.channels.questions import answer_each_question
from bot.client_address import ClientAddresses
from bot.domain.messages import shown_text
from bot.domain.societies import METADATA_KEY
from bot.gc_tuning import freeze_after_start
from bot.handoff.gate import AppHolder, gate_messages
from bot.shared_secret import weak_secret

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 100

_SESSION_ID = re.compile(r"[0-9a-f]{64}")


class SessionIds:
    """Session ids only the server can make: 32 random hex digits + 32 of their HMAC."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")
        self.secret = secret

    def _mac(self, nonce: str) -> str:
        return hmac.new(
            self._key, b"kosmo-widget-session:" + nonce.encode(), hashlib.sha256
        ).hexdigest()[:32]

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        return nonce + self._mac(nonce)

    def valid(self, session_id: Any) -> bool:
        if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
            return False
        return hmac.compare_digest(self._mac(session_id[:32]), session_id[32:])


def transcript(events: Iterable[Event], limit: int = HISTORY_LIMIT) -> List[Dict[str, Any]]:
    """What the member saw in the current session, oldest first, for a reloaded widget.

    A button press shows as the button's title (``display_text``); hidden payloads
    such as the widget's opening ``/greet`` are left out.
    """
    shown: List[Dict[str, Any]] = []
    for event in events:
        if isinstance(event, SessionStarted) or (
            isinstance(event, ActionExecuted) and event.action_name == "action_session_start"
        ):
            shown = []
        elif isinstance(event, UserUttered):
            text = shown_text(event.text or "", event.metadata)
            if text:
                shown.append({"sender": "user", "text": text})
        elif isinstance(event, BotUttered):
            item: Dict[str, Any] = {"sender": "bot", "text": event.text or ""}
            data = event.data or {}
            for key in ("buttons", "quick_replies", "image"):
                if data.get(key):
                    item[key] = data[key]
            if item["text"] or len(item) > 2:
                shown.append(item)
    return shown[-limit:]


class WidgetInput(SocketIOInput):
    """socket.io for the portal widget; see the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WidgetInput":
        credentials = credentials or {}
        secret = str(credentials.get("session_secret") or "")
        if weak_secret(secret):
            raise RasaException(
                "widget channel: session_secret must be a random string of 16+ characters "
                "(KOSMO_WIDGET_SESSION_SECRET in .env; `make env` makes one)"
            )
        return cls(
            SessionIds(secret),
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            cors_allowed_origins=credentials.get("cors_allowed_origins"),
        )

    def __init__(
        self,
        session_ids: SessionIds,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        socketio_path: Text = "/socket.io",
        cors_allowed_origins: Optional[List[Text]] = None,
        bounds: Optional[InputBounds] = None,
        client_addresses: Optional[ClientAddresses] = None,
    ) -> None:
        super().__init__(
            user_message_evt=user_message_evt,
            bot_message_evt=bot_message_evt,
            namespace=namespace,
            session_persistence=True,
            socketio_path=socketio_path,
        )
        self.session_ids = session_ids
        # None: no origin check here (Rasa's --cors governs), as in Rasa's channel
        self.cors_allowed_origins = cors_allowed_origins
        self._tracker_store: Optional[Callable[[], Any]] = None
        self._bounds = bounds
        # KOSMO_CLIENT_IP_HEADER / KOSMO_TRUSTED_PROXIES, the Rasa server's one setting
        self.client_addresses = client_addresses or ClientAddresses.from_env()
        self.origins = Origins(KIND_WIDGET, session_ids.secret)

    def origin_of(self, environ: Any) -> str:
        """The origin of a socket: its opening request's client (python-engineio's Sanic
        driver writes 127.0.0.1 as ``REMOTE_ADDR``, so the request itself is asked)."""
        request = environ.get("sanic.request") if isinstance(environ, dict) else None
        if request is None:
            peer, headers = "", {}
        else:
            peer, headers = request.ip, request.headers
        return self.origins.of_request(self.client_addresses, peer, headers)

    async def history(self, session_id: str) -> List[Dict[str, Any]]:
        store = self._tracker_store() if self._tracker_store else None
        if store is None:
            return []
        try:
            tracker = await store.retrieve(session_id)
        except Exception:  # the transcript is a convenience: never fail the session for it
            logger.exception("widget: could not load the transcript of a session")
            return []
        return transcript(tracker.events) if tracker is not None else []

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            max_http_buffer_size=MAX_BODY_BYTES,
            cors_allowed_origins=self.cors_allowed_origins if self.cors_allowed_origins else [],
        )
        self.sio = sio
        ns = self.namespace
        widget_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        # while an agent has the conversation, messages go to the agent (bot.handoff.gate)
        holder = AppHolder()
        holder.attach(widget_webhook)
        freeze_after_start(widget_webhook)
        bounds = self._bounds or InputBounds.from_env()
        handle = bound_inputs(gate_messages(answer_each_question(answer_every_turn(on_new_message), holder), holder), bounds)

        @widget_webhook.listener("after_server_start")
        async def remember_agent(app: Any, _loop: Any) -> None:
            def store() -> Any:
                agent = getattr(app.ctx, "agent", None)
                return getattr(agent, "tracker_store", None)

            self._tracker_store = store

        socketio_prefix = "/" + self.socketio_path.strip("/") + "/"

        @widget_webhook.signal("http.routing.after")
        async def bound_socketio_body(request: Request, **_: Any) -> None:
            # python-engineio checks max_http_buffer_size only once Sanic has buffered
            # the whole polling POST (up to the server's REQUEST_MAX_SIZE, 100 MB). This
            # signal runs after routing and before Sanic preloads the body, so the
            # stream's own limit refuses a larger body (413, connection closed) before
            # it is read: at once for a Content-Length over the limit, and as soon as a
            # chunked body passes it. (A blueprint's signal runs for every request.)
            stream = request.stream
            if stream is not None and stream.request_body and request.path.startswith(socketio_prefix):
                stream.request_max_size = min(stream.request_max_size, MAX_BODY_BYTES)

        @widget_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=ns)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            return True

        @sio.on("session_request", namespace=ns)
        async def session_request(sid: Text, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            resumed = self.session_ids.valid(requested)
            session_id = str(requested) if resumed else self.session_ids.issue()
            if requested and not resumed:
                logger.info("widget: unknown or forged session id refused; issued a new one")
            session = await sio.get_session(sid, namespace=ns)
            old = session.get("session_id")
            if old and old != session_id:
                await sio.leave_room(sid, old, namespace=ns)
            await sio.save_session(sid, {"session_id": session_id}, namespace=ns)
            await sio.enter_room(sid, session_id, namespace=ns)
            await sio.emit("session_confirm", session_id, room=sid, namespace=ns)
            messages = await self.history(session_id) if resumed else []
            await sio.emit("session_history", {"messages": messages}, room=sid, namespace=ns)

        @sio.on(self.user_message_evt, namespace=ns)
        async def handle_message(sid: Text, data: Any) -> None:
            session_id = (await sio.get_session(sid, namespace=ns)).get("session_id")
            if not isinstance(data, dict) or not session_id:
                logger.warning("widget: a message before session_confirm was ignored")
                return
            claimed = data.get("session_id")
            if claimed and claimed != session_id:
                logger.warning("widget: a message for another session was ignored")
                return
            raw = data.get("message")
            text = raw.strip() if isinstance(raw, str) else ""
            if not text:
                return
            metadata = bounded_metadata(data.get("metadata"))
            society = metadata[METADATA_KEY].lower() if METADATA_KEY in metadata else None
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt),
                session_id,
                input_channel=self.name(),
                metadata=metadata,
            )

            async def echo(bounded: UserMessage) -> None:
                # the session's other tabs show the member's message too, as the bot reads it
                shown = shown_text(bounded.text or "", bounded.metadata)
                if shown:
                    await sio.emit(
                        "user_echo", {"text": shown}, room=session_id, skip_sid=sid, namespace=ns
                    )

            origin = self.origin_of(sio.get_environ(sid, namespace=ns))
            try:
                await handle(message, origin, society, echo)
            finally:
                await sio.emit("turn_end", {}, room=session_id, namespace=ns)

        return widget_webhook

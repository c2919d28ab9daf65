"""The REST channel: Rasa's webhook, bounded, behind a token, in its own conversations.

Same URL and body as Rasa's own (``POST /webhooks/rest/webhook`` with
``{"sender", "message", "metadata": {"tenant": <society>}}``; the answer is the list
of the bot's messages), for development, tests and a trusted server of ours.
Unlike Rasa's:

- **token**: with ``token`` configured (``credentials.yml``:
  ``token: ${KOSMO_REST_TOKEN}``), every request needs
  ``Authorization: Bearer <token>``; without it the answer is 401 and nothing
  is read. A placeholder or short token refuses to start, and so does a missing
  ``token`` line unless ``allow_unauthenticated: true`` is set next to it (an
  open channel, for development on one's own machine only: anyone who reaches
  the port can then post as any sender, and the origin key is random per process).
- **own conversations**: the conversation of sender ``alice`` is ``rest:alice``
  (:func:`conversation_id`), and a sender is 1-64 letters, digits, ``_ . -``
  (no ``:``), so a REST post can never write into a LINE (``line:<society>:…``)
  or widget conversation. The answer's ``recipient_id`` is the sender as sent.
  The ``input_channel`` is always ``rest`` (Rasa let the body choose it).
- **bounded**: the body is read only up to ``MAX_BODY_BYTES`` (its
  ``Content-Length`` is checked first; 413 beyond, and Sanic closes the
  connection instead of draining the rest; 408 if it takes over
  ``BODY_READ_SECONDS``; the same reader as LINE's webhook,
  ``bot.channels.line_intake.read_body``); a malformed body or sender
  gets 400 with a short reason; the message and its metadata then go through
  ``bot.channels.input_bounds`` like every channel's (length, metadata keys,
  payloads). No ``?stream=true``: the answer is always the whole list.
- **origin**: the request's client address (``bot.client_address``: the peer, or
  behind a trusted proxy ``KOSMO_CLIENT_IP_HEADER``), as a digest keyed with the
  token (``bot.channels.origin``), goes into the metadata as ``origin``; a
  client-sent ``origin`` is dropped. The portal's per-origin limits then hold
  whatever sender ids a caller picks.

For a payload message (``/choose_topic{"topic": ...}``) Rasa's
RegexMessageHandler replaces the entities the NLU pipeline found, the
``society`` one included, so the society is written into the payload the way
the other channels do (``bot.channels.input_bounds``: only a society the
registry knows, from the metadata; one typed into the payload is dropped).
While an agent has the conversation, messages go to the agent, not the bot (``bot.handoff.gate``);
the answer is then an empty list. A turn that produced no answer at all (a
failed action) gets an apology (``bot.channels.every_turn``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.every_turn import answer_every_turn
from bot.channels.input_bounds import MAX_BODY_BYTES, InputBounds, bound_inputs, bounded_metadata
from bot.channels.line_intake import BodyRefused, read_body, stop_reading
from bot.channels.origin import KIND_REST, Origins
from bot.channels.questions import answer_each_question
from bot.client_address import ClientAddresses
from bot.domain.societies import METADATA_KEY, SocietyRegistry, load_registry
from bot.gc_tuning import freeze_after_start
from bot.handoff.gate import AppHolder, gate_messages
from bot.shared_secret import bearer_matches, weak_secret

logger = logging.getLogger(__name__)

CONVERSATION_PREFIX = "rest:"
_SENDER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# reading one body may not take longer than this (a slow sender holds a connection, not the bot)
BODY_READ_SECONDS = 10.0


def conversation_id(sender: str) -> str:
    """The conversation of a REST sender: its own namespace, apart from LINE's and the widget's."""
    return CONVERSATION_PREFIX + sender


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def _refused(request: Request, status: int, reason: str) -> HTTPResponse:
    """An answer to a request whose body is left unread: the connection is closed after it.

    Sanic reads no more of the body (``stop_reading``) and says ``Connection: close``,
    so a client does not send its next request on a connection about to close.
    """
    stop_reading(request)
    if request.stream is not None and request.stream.request_body:
        request.stream.keep_alive = False
    return _error(status, reason)


class SocietyRestInput(InputChannel):
    """Rasa's REST webhook with a token, its own conversations and bounded inputs."""

    def __init__(
        self,
        registry: Optional[SocietyRegistry] = None,
        token: Optional[str] = None,
        bounds: Optional[InputBounds] = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        client_addresses: Optional[ClientAddresses] = None,
        allow_unauthenticated: bool = False,
    ) -> None:
        self._registry = registry
        self.token = token or None
        # without a token the channel is open; from_credentials refuses that unless allowed
        self.allow_unauthenticated = allow_unauthenticated
        self._bounds = bounds
        self.max_body_bytes = max_body_bytes
        # KOSMO_CLIENT_IP_HEADER / KOSMO_TRUSTED_PROXIES, the Rasa server's one setting
        self.client_addresses = client_addresses or ClientAddresses.from_env()
        self.origins = Origins(KIND_REST, self.token)

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SocietyRestInput":
        credentials = credentials or {}
        allow_open = credentials.get("allow_unauthenticated", False)
        if not isinstance(allow_open, bool):
            raise RasaException("rest channel: allow_unauthenticated must be true or false")
        if "token" not in credentials:
            if not allow_open:
                raise RasaException(
                    "rest channel: no token configured. Set `token: ${KOSMO_REST_TOKEN}` "
                    "under bot.channels.rest.SocietyRestInput in credentials.yml (`make env` "
                    "makes one), or, for development only, `allow_unauthenticated: true`"
                )
            logger.warning("rest channel: OPEN, no token (allow_unauthenticated: true); development only")
            return cls(allow_unauthenticated=True)
        token = str(credentials.get("token") or "")
        if weak_secret(token):
            raise RasaException(
                "rest channel: token must be a random string of 16+ characters "
                "(KOSMO_REST_TOKEN in .env; `make env` makes one)"
            )
        return cls(token=token)

    @property
    def registry(self) -> SocietyRegistry:
        if self._registry is None:
            self._registry = load_registry()
        return self._registry

    @property
    def bounds(self) -> InputBounds:
        if self._bounds is None:
            self._bounds = InputBounds.from_env()
        return self._bounds

    def authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        return bearer_matches(request.headers.get("authorization"), self.token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook; a conversation an agent has goes to the agent (bot.handoff.gate)."""
        holder = AppHolder()
        handle = bound_inputs(gate_messages(answer_each_question(answer_every_turn(on_new_message), holder), holder), self.bounds)
        bp = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.authorized(request):
                return _refused(request, 401, "a valid bearer token is required")
            try:
                raw = await read_body(request, self.max_body_bytes, BODY_READ_SECONDS)
            except BodyRefused as refused:
                if refused.status == 413:
                    return _refused(request, 413, f"the body may have at most {self.max_body_bytes} bytes")
                return _refused(request, refused.status, refused.message)
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
                return _error(400, "the body must be JSON")
            if not isinstance(body, dict):
                return _error(400, "the body must be a JSON object")
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
                return _error(400, "sender must be 1-64 letters, digits, '_', '.' or '-'")
            if not isinstance(text, str):
                return _error(400, "message must be a string")
            metadata = bounded_metadata(body.get("metadata"))
            known = self.registry.get(metadata[METADATA_KEY]) if METADATA_KEY in metadata else None
            collector = CollectingOutputChannel()
            message = UserMessage(
                text, collector, conversation_id(sender), input_channel=self.name(), metadata=metadata
            )
            origin = self.origins.of_request(self.client_addresses, request.ip, request.headers)
            try:
                await handle(message, origin, known.key if known is not None else None)
            except asyncio.CancelledError:
                logger.error("rest: a turn of %s was cancelled", message.sender_id)
            except Exception:
                logger.exception("rest: a turn of %s failed", message.sender_id)
            return response.json([{**m, "recipient_id": sender} for m in collector.messages])

        return freeze_after_start(holder.attach(bp))

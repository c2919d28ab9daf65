"""How the bot's answers reach a LINE user: conversation ids, reply tokens, :class:`LineOutput`.

A conversation id (``line:<society>:<LINE userId>``) names the society's channel
and the user to send to. The messages of one webhook turn are collected and sent
together: by reply while the reply token is usable (unused, under 50 s after the
event) and LINE accepts it, by push otherwise; messages sent outside a webhook turn
are pushed at once. Their shape is :mod:`bot.channels.line_messages`; the calls are
:mod:`bot.channels.line_api`; the webhook is :mod:`bot.channels.line`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Text

import aiohttp
from rasa.core.channels.channel import OutputChannel

from bot.channels.line_api import LineApi, LineApiError
from bot.channels.line_messages import plan_calls, quick_reply_items, text_messages

logger = logging.getLogger(__name__)

REPLY_TOKEN_TTL_S = 50.0  # LINE does not promise a lifetime; this leaves a margin

CONVERSATION_PREFIX = "line"

Clock = Callable[[], float]


# --- conversation ids ---------------------------------------------------------------


def conversation_id(society: str, user_id: str) -> str:
    """The Rasa sender id of a LINE user talking to a society's account."""
    return f"{CONVERSATION_PREFIX}:{society}:{user_id}"


def parse_conversation_id(sender_id: str) -> tuple[str, str]:
    """(society, LINE userId) of a conversation id made by :func:`conversation_id`."""
    prefix, _, rest = sender_id.partition(":")
    society, _, user_id = rest.rpartition(":")
    if prefix != CONVERSATION_PREFIX or not society or not user_id:
        raise ValueError(f"not a LINE conversation id: {sender_id!r}")
    return society, user_id


# --- reply tokens -------------------------------------------------------------------


@dataclass
class ReplyToken:
    """A reply token: usable once, and only shortly after its event."""

    token: str
    issued_at: float
    ttl: float = REPLY_TOKEN_TTL_S
    used: bool = False

    def usable(self, now: float) -> bool:
        return not self.used and now - self.issued_at < self.ttl


# --- output -------------------------------------------------------------------------


class LineOutput(OutputChannel):
    """Sends the bot's messages to LINE users.

    ``buffered``: messages are kept until :meth:`flush` (a webhook turn, so one reply
    call carries them all); otherwise each message is pushed at once (messages Rasa
    sends outside a webhook turn, e.g. through the HTTP API).
    """

    @classmethod
    def name(cls) -> Text:
        return "line"

    def __init__(
        self,
        apis: Mapping[str, LineApi],
        reply_token: Optional[ReplyToken] = None,
        buffered: bool = False,
        clock: Clock = time.time,
    ) -> None:
        self.apis = apis
        self.reply_token = reply_token
        self.buffered = buffered
        self.clock = clock
        self._pending: Dict[str, List[Dict[str, Any]]] = {}
        self._quick_reply: Dict[str, List[Dict[str, Any]]] = {}

    async def _queue(
        self,
        recipient_id: Text,
        messages: List[Dict[str, Any]],
        quick_reply: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        self._pending.setdefault(recipient_id, []).extend(messages)
        if quick_reply:
            self._quick_reply[recipient_id] = quick_reply
        if not self.buffered:
            await self.flush()

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._queue(recipient_id, text_messages(text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._queue(recipient_id, text_messages(text), quick_reply_items(buttons))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        if image.startswith("https://"):
            message = {"type": "image", "originalContentUrl": image, "previewImageUrl": image}
            await self._queue(recipient_id, [message])
        else:
            await self._queue(recipient_id, text_messages(image))

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: Text, attachment: Any, **kwargs: Any
    ) -> None:
        await self._queue(recipient_id, text_messages(str(attachment)))

    async def send_elements(
        self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        for element in elements:
            text = "\n".join(str(element.get(k) or "") for k in ("title", "subtitle")).strip()
            await self.send_text_with_buttons(recipient_id, text, element.get("buttons") or [])

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """``custom: {line: [<LINE message objects>]}`` in a response is sent as is."""
        line_messages = json_message.get("line")
        if isinstance(line_messages, dict):
            line_messages = [line_messages]
        if isinstance(line_messages, list) and all(isinstance(m, dict) for m in line_messages):
            await self._queue(recipient_id, list(line_messages))
        else:
            logger.warning("LINE: custom payload without a 'line' message list ignored")

    async def flush(self) -> None:
        """Send everything queued: reply while the token is usable, push otherwise."""
        pending, self._pending = self._pending, {}
        quick, self._quick_reply = self._quick_reply, {}
        for recipient_id, messages in pending.items():
            try:
                society, user_id = parse_conversation_id(recipient_id)
            except ValueError:
                logger.error("LINE: cannot send to %r: not a LINE conversation", recipient_id)
                continue
            api = self.apis.get(society)
            if api is None:
                logger.error("LINE: no channel configured for society %r", society)
                continue
            for call in plan_calls(messages, quick.get(recipient_id)):
                await self._deliver(api, user_id, call)

    async def _deliver(self, api: LineApi, user_id: str, messages: List[Dict[str, Any]]) -> None:
        token = self.reply_token
        if token is not None and token.usable(self.clock()):
            token.used = True
            try:
                await api.reply(token.token, messages)
                return
            except LineApiError as e:
                if not e.invalid_reply_token:
                    logger.error("LINE reply failed: %s", e)
                    return
                logger.info("LINE reply token no longer valid; pushing instead")
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                # the reply may have arrived: pushing could say it twice
                logger.error("LINE reply failed: %r", e)
                return
        try:
            await api.push(user_id, messages)
        except (LineApiError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.error("LINE push to %s failed: %r", user_id, e)

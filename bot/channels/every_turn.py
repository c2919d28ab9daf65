"""Every member message gets an answer, even when the bot's turn produced none.

Rasa ends a turn silently when a custom action fails: the action server is
down, or it did not answer within our bound (``KOSMO_ACTION_TIMEOUT``, see
``bot.speedups.action_timeout``); Rasa logs the error, drops
the action's events and predicts on. The member would see nothing at all and
wait. :func:`answer_every_turn` watches the turn's output channel and, when
nothing was sent by the end of the turn, says that something went wrong and
to try again, so the member is never left waiting.

Turns that people own (human handoff, ``bot.handoff.gate``) never reach this
wrapper: the gate stands in front of it, so the bot stays silent there.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import OutputChannel, UserMessage

logger = logging.getLogger(__name__)

NOTHING_SAID = (
    "申し訳ありません、いまお返事をうまく用意できませんでした。\n"
    "少し時間をおいて、もう一度送ってください。"
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WatchedOutput:
    """The turn's output channel, noting whether anything was sent through it.

    Not an OutputChannel subclass: every other attribute (``name()``, a REST
    collector's ``messages``, ...) is the wrapped channel's own.
    """

    def __init__(self, inner: OutputChannel) -> None:
        self._inner = inner
        self.said_something = False

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.said_something = True
        await self._inner.send_response(recipient_id, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def answer_every_turn(on_new_message: OnNewMessage) -> OnNewMessage:
    """``on_new_message`` that apologises when the bot's turn said nothing."""

    async def answered(message: UserMessage) -> Any:
        inner = message.output_channel
        watched = WatchedOutput(inner)
        message.output_channel = watched  # type: ignore[assignment]
        try:
            result = await on_new_message(message)
        finally:
            message.output_channel = inner
        if not watched.said_something:
            logger.warning("a turn of %s ended without an answer: apologising", message.sender_id)
            await inner.send_response(message.sender_id or "", {"text": NOTHING_SAID})
        return result

    return answered

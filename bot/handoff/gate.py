"""The gate in front of the bot: while people have a conversation, the bot does not answer it.

Every channel of ours (REST, widget, LINE) hands its messages to Rasa through
:func:`gate_messages`. For a conversation with an open handoff (queued or
taken by an agent) the message does not reach the bot:

- it is added to the handoff's messages, so the agent console shows it live
  (with the same masking as the tracker store: a birth date or a password
  typed to the agent is kept as ``****``), and to the conversation's tracker
  as a ``handoff_message`` turn (the bot runs no prediction for it);
- while the conversation still waits in the queue, "やっぱりいいです" (the
  member's stop or no) takes it out of the queue and back to the bot, and the
  first message gets a short "your message reached the helpdesk" answer.

:class:`QueueWatcher` tells members who waited longer than their society's
``max_wait_minutes`` (``data/societies.yml``) and what they can do instead.

The gate and the watcher live in the Rasa server (``bot.channels.agent_console``
puts the gate on ``app.ctx``); a channel finds it through the app it runs in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from bot.domain.masking import MASK, sensitive_text
from bot.domain.messages import shown_text
from bot.domain.societies import SocietyRegistry
from bot.handoff.link import LEFT, WAIT_LONG, WAITING, RasaMemberLink
from bot.handoff.models import STATUS_QUEUED, Handoff
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

GATE_CTX_KEY = "kosmo_handoff_gate"
# what a member says to leave the queue, and how sure the NLU must be
LEAVE_INTENTS = frozenset({"stop", "deny"})
LEAVE_CONFIDENCE = 0.6

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class HandoffGate:
    """Decides, per message, whether the bot or the helpdesk gets it."""

    def __init__(self, store: HandoffStore, link: RasaMemberLink) -> None:
        self.store = store
        self.link = link

    async def intercept(self, message: UserMessage) -> bool:
        """True when the message went to people (the bot must stay silent)."""
        sender = message.sender_id or ""
        handoff = await self.store.run(self.store.current, sender)
        if handoff is None:
            return False
        text = kept_text(member_text(message))
        channel = message.input_channel or ""
        queued = handoff.status == STATUS_QUEUED
        if queued and await self._wants_to_leave(message):
            if await self.store.run(self.store.leave, sender) is not None:
                await self.link.keep_member_message(handoff, text, channel)
                await self.link.trigger(handoff, LEFT, message.output_channel)
                return True
        # only while waiting: the first message gets "it reached the helpdesk"
        first_while_queued = queued and not any(
            m.author == "member" for m in await self.store.run(self.store.messages, handoff.id)
        )
        await self.store.run(self.store.add_message, handoff.id, "member", text)
        await self.link.keep_member_message(handoff, text, channel)
        if first_while_queued:
            await self.link.trigger(handoff, WAITING, message.output_channel)
        return True

    async def _wants_to_leave(self, message: UserMessage) -> bool:
        text = (message.text or "").strip()
        if not text:
            return False
        try:
            parsed = await self.link.parse(text)
        except Exception:  # the NLU is a convenience here: keep the member in the queue
            logger.exception("handoff gate: could not parse a queued member's message")
            return False
        intent = parsed.get("intent") or {}
        return (
            intent.get("name") in LEAVE_INTENTS
            and float(intent.get("confidence") or 0) >= LEAVE_CONFIDENCE
        )


def member_text(message: UserMessage) -> str:
    """What the member sent, as they saw it; a payload without a title as its intent (/affirm)."""
    text = message.text or ""
    return shown_text(text, message.metadata) or text.split("{")[0]


def kept_text(text: str) -> str:
    return MASK if sensitive_text(text) else text


class AppHolder:
    """The Sanic app a channel's blueprint runs in, known once the server starts."""

    def __init__(self) -> None:
        self.app: Any = None

    def attach(self, bp: Blueprint) -> Blueprint:
        @bp.listener("before_server_start")
        async def remember(app: Any, _loop: Any) -> None:
            self.app = app

        return bp

    @property
    def gate(self) -> Optional[HandoffGate]:
        ctx = getattr(self.app, "ctx", None)
        return getattr(ctx, GATE_CTX_KEY, None)


def gate_messages(on_new_message: OnNewMessage, holder: AppHolder) -> OnNewMessage:
    """``on_new_message`` behind the gate of the app ``holder`` knows (none: straight through)."""

    async def gated(message: UserMessage) -> Any:
        gate = holder.gate
        if gate is not None:
            try:
                if await gate.intercept(message):
                    return None
            except Exception:
                # never lose the member's message: the bot answers it instead
                logger.exception("handoff gate failed; the bot answers this message")
        return await on_new_message(message)

    return gated


class QueueWatcher:
    """Every ``interval`` seconds, tells members who waited too long (once per handoff)."""

    def __init__(
        self,
        store: HandoffStore,
        link: RasaMemberLink,
        registry: SocietyRegistry,
        interval: float = 15.0,
        default_max_wait_minutes: float = 10.0,
    ) -> None:
        self.store = store
        self.link = link
        self.registry = registry
        self.interval = interval
        self.default_max_wait = default_max_wait_minutes

    def max_wait(self, society: str) -> dt.timedelta:
        facts = self.registry.get(society)
        minutes = (
            facts.helpdesk.max_wait_minutes
            if facts is not None and facts.helpdesk is not None
            else self.default_max_wait
        )
        return dt.timedelta(minutes=minutes)

    async def check_once(self) -> list[Handoff]:
        """Notify every overdue handoff now; returns the ones notified."""
        shortest = min([self.max_wait(t.key) for t in self.registry] or [dt.timedelta(minutes=10)])
        notified = []
        for handoff in await self.store.run(self.store.overdue, shortest):
            now = self.store.clock()
            if now - handoff.created_at < self.max_wait(handoff.society):
                continue
            try:
                await self.link.trigger(handoff, WAIT_LONG)
            except Exception:
                logger.exception("handoff: could not tell a waiting member")
                continue
            await self.store.run(self.store.mark_wait_notified, handoff.id)
            notified.append(handoff)
        return notified

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check_once()
            except Exception:
                logger.exception("handoff: the queue check failed")

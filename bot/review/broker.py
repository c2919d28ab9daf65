"""The event broker that records what the bot could not handle well, for the helpdesk's review.

Rasa hands an event broker every event of every conversation as the tracker
store saves it (``endpoints.yml``: ``event_broker: type:
bot.review.broker.ReviewEventBroker``). This one follows each conversation's
turns (a member's message, the bot's actions, up to ``action_listen``) and,
when a turn's actions include one of :data:`ACTION_KINDS`, queues one row
for the review database (``bot.review.store``): a clarification question, a
fallback, "it did not help", a handoff or an out-of-scope answer.

- **Which message.** The turn's own message; for "did not help" the message
  the bot answered in the turn before (the question whose answer did not
  help, with the actions that answered it), since "まだできない" itself is
  understood well. A turn is judged by its first action of a kind
  (``utter_give_up`` then ``action_offer_handoff`` is a fallback); the row lists
  all of the turn's actions.
- **Masked as the tracker store masks.** A message goes through
  :func:`bot.domain.masking_events.mask_events_from` with the slot the bot was asking for
  when it arrived, followed here as the tracker store follows it: a message
  with a birth date, code or password in it is ``****``, and so is any answer
  to a sensitive slot. Each turn is masked when it ends (about 10-20 µs for
  an ordinary message), so no member text is kept as typed after its turn.
- **Society** from the conversation's ``society`` slot, else the message's
  metadata (``tenant``, the society's wire name); **channel** as the handoff names it (``widget`` for
  Rasa's ``socketio``, ``line``, ``rest``).
- **Never in the member's way.** Rows are written by a thread behind a bounded
  queue (``bot.review.writer``); a database that is down costs warnings and
  rows, never a turn. Conversations are followed in a bounded LRU
  (``max_conversations``): one that falls out starts again with nothing known
  (its next message is masked by its content alone).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import numbers
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.constants import IS_EXTERNAL
from rasa.utils.endpoints import EndpointConfig

from bot.domain.masking_events import mask_events_from, requested_after
from bot.domain.societies import METADATA_KEY, SOCIETY_SLOT
from bot.handoff.models import HANDOFF_CHANNEL_OF
from bot.review.store import (
    MAX_CHANNEL,
    MAX_SOCIETY,
    MAX_TEXT,
    ReviewRow,
    ReviewStore,
    review_db_url,
)
from bot.review.writer import DEFAULT_CAPACITY, RowWriter

logger = logging.getLogger(__name__)

# The bot's actions that mark a message for review, and what each says happened.
ACTION_KINDS: Mapping[str, str] = {
    "action_clarify": "clarification",
    "action_default_fallback": "fallback",
    "utter_ask_rephrase": "fallback",
    "utter_give_up": "fallback",
    "action_did_not_help": "did_not_help",
    "action_offer_handoff": "handoff",
    "action_handoff": "handoff",
    "utter_out_of_scope": "out_of_scope",
    "action_out_of_scope": "out_of_scope",
}
DID_NOT_HELP = "did_not_help"

DEFAULT_MAX_CONVERSATIONS = 5000
MAX_TURN_ACTIONS = 16  # a turn has a handful; more are not listed
LISTEN = "action_listen"
NLU_FALLBACK = "nlu_fallback"

# the event types this broker reads (Rasa's type names); everything else passes at once
_USER, _ACTION, _SLOT = "user", "action", "slot"
_LOOP_EVENTS = frozenset({"active_loop", "form"})
_READ = frozenset({_USER, _ACTION, _SLOT, *_LOOP_EVENTS})


@dataclass(frozen=True)
class _Message:
    """A member's message of an ended turn, masked, and what the bot did with it."""

    at: dt.datetime
    channel: Optional[str]
    society: Optional[str]
    intent: Optional[str]
    confidence: Optional[float]
    guess: Optional[str]
    guess_confidence: Optional[float]
    text: str
    bot_actions: tuple[str, ...]


@dataclass
class _Turn:
    """The current turn: the member's message as published (until the turn ends) and the actions."""

    user: Mapping[str, Any]
    requested: Optional[str]  # the slot the bot was asking for when the message came
    actions: list[str] = field(default_factory=list)


@dataclass
class _Conversation:
    requested: Optional[str] = None
    society: Optional[str] = None
    turn: Optional[_Turn] = None
    previous: Optional[_Message] = None  # the last ended turn's message, for "did not help"


class ReviewEventBroker(EventBroker):
    """Rasa event broker that records messages ending in a clarification, fallback,
    "did not help", handoff or out-of-scope answer (see the module docstring)."""

    def __init__(
        self,
        store: Optional[ReviewStore] = None,
        *,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        queue_size: int = DEFAULT_CAPACITY,
        writer: Optional[RowWriter] = None,
    ) -> None:
        store = store if store is not None else ReviewStore(review_db_url())
        self.writer = writer if writer is not None else RowWriter(store, capacity=queue_size)
        self.max_conversations = max(1, max_conversations)
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig,
        event_loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> "ReviewEventBroker":
        """Settings from ``endpoints.yml``: ``db_url`` (default ``$KOSMO_REVIEW_DB_URL``,
        then ``var/review.db``), ``max_conversations``, ``queue_size``."""
        kwargs = broker_config.kwargs if broker_config is not None else {}
        broker = cls(
            ReviewStore(review_db_url(kwargs.get("db_url"))),
            max_conversations=_int(kwargs.get("max_conversations"), DEFAULT_MAX_CONVERSATIONS),
            queue_size=_int(kwargs.get("queue_size"), DEFAULT_CAPACITY),
        )
        broker.writer.start()  # creates the table in its thread; the server starts at once
        return broker

    # -- Rasa's interface

    def publish(self, event: dict[Text, Any]) -> None:
        """Follow one event of a conversation; never raises (the member's turn comes first)."""
        kind = event.get("event")
        if kind not in _READ:
            return
        try:
            self._see(kind, event)
        except Exception:
            logger.warning("Review log: an event could not be followed", exc_info=True)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        """End the turns still open, write what is queued, stop the writer."""
        for conversation in list(self._conversations.values()):
            if conversation.turn is not None:
                self._end_turn(conversation)
        await asyncio.to_thread(self.writer.close)

    # -- following conversations

    def _conversation(self, sender_id: str) -> _Conversation:
        conversations = self._conversations
        conversation = conversations.get(sender_id)
        if conversation is None:
            conversation = conversations[sender_id] = _Conversation()
            if len(conversations) > self.max_conversations:
                conversations.popitem(last=False)
        else:
            conversations.move_to_end(sender_id)
        return conversation

    def _see(self, kind: str, event: Mapping[str, Any]) -> None:
        sender_id = event.get("sender_id")
        if not isinstance(sender_id, str):
            return
        conversation = self._conversation(sender_id)
        if kind == _USER:
            if conversation.turn is not None:  # the last turn never reached action_listen
                self._end_turn(conversation)
            conversation.turn = _Turn(user=event, requested=conversation.requested)
        elif kind == _ACTION:
            name = event.get("name")
            if name == LISTEN:
                if conversation.turn is not None:
                    self._end_turn(conversation)
            elif conversation.turn is not None and isinstance(name, str):
                if len(conversation.turn.actions) < MAX_TURN_ACTIONS:
                    conversation.turn.actions.append(name)
        else:
            conversation.requested = requested_after(event, conversation.requested)
            if kind == _SLOT and event.get("name") == SOCIETY_SLOT:
                value = event.get("value")
                conversation.society = value[:MAX_SOCIETY] if isinstance(value, str) else None

    def _end_turn(self, conversation: _Conversation) -> None:
        turn = conversation.turn
        conversation.turn = None
        if turn is None:
            return
        message = _message(turn, conversation.society)
        previous = conversation.previous
        if message is not None:  # an external event's turn leaves the member's last question
            conversation.previous = message
        kind, action = _kind_of(turn.actions)
        if kind == DID_NOT_HELP and previous is not None:
            message = previous  # the question whose answer did not help
        if kind is not None and message is not None:
            self.writer.put(_row(message, kind, action))


def _kind_of(actions: list[str]) -> tuple[Optional[str], str]:
    """The turn's kind and the action that decided it: its first action that has a kind."""
    for name in actions:
        kind = ACTION_KINDS.get(name)
        if kind is not None:
            return kind, name
    return None, ""


def _message(turn: _Turn, society: Optional[str]) -> Optional[_Message]:
    """The turn's message, masked; None when it has no text or is not the member's
    (an external event: what the handoff reports, ``EXTERNAL_...`` intents)."""
    user = turn.user
    metadata = user.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    if metadata.get(IS_EXTERNAL) is True:
        return None
    if not isinstance(user.get("text"), str) or not user["text"].strip():
        return None
    masked = mask_events_from([user], turn.requested)[0][0]
    parse = user.get("parse_data")
    parse = parse if isinstance(parse, Mapping) else {}
    intent, confidence = _intent(parse.get("intent"))
    guess: Optional[str] = None
    guess_confidence: Optional[float] = None
    if intent == NLU_FALLBACK:
        ranking = parse.get("intent_ranking")
        for entry in ranking if isinstance(ranking, list) else []:
            name, score = _intent(entry)
            if name is not None and name != NLU_FALLBACK:
                guess, guess_confidence = name, score
                break
    metadata_society = metadata.get(METADATA_KEY)
    society = society or (metadata_society if isinstance(metadata_society, str) else None)
    channel = user.get("input_channel")
    channel = HANDOFF_CHANNEL_OF.get(channel, channel) if isinstance(channel, str) else None
    return _Message(
        at=_time(user.get("timestamp")),
        channel=channel[:MAX_CHANNEL] if channel else None,
        society=society[:MAX_SOCIETY] if society else None,
        intent=intent,
        confidence=confidence,
        guess=guess,
        guess_confidence=guess_confidence,
        text=str(masked.get("text") or "")[:MAX_TEXT],
        bot_actions=tuple(turn.actions),
    )


def _row(message: _Message, kind: str, action: str) -> ReviewRow:
    return ReviewRow(
        at=message.at,
        society=message.society,
        channel=message.channel,
        kind=kind,
        action=action,
        bot_actions=" ".join(message.bot_actions),
        intent=message.intent,
        confidence=message.confidence,
        guess=message.guess,
        guess_confidence=message.guess_confidence,
        text=message.text,
    )


def _intent(value: Any) -> tuple[Optional[str], Optional[float]]:
    if not isinstance(value, Mapping):
        return None, None
    name = value.get("name")
    confidence = value.get("confidence")
    return (
        name if isinstance(name, str) else None,
        float(confidence)
        if isinstance(confidence, numbers.Real) and not isinstance(confidence, bool)
        else None,
    )


def _time(timestamp: Any) -> dt.datetime:
    seconds = timestamp if isinstance(timestamp, (int, float)) else time.time()
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.now(dt.timezone.utc)


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default

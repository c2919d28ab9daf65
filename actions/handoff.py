"""Human handoff on the action server's side: offer a person, queue the conversation, ask "solved?".

The bot offers a person when the member asks for one, after two misses in a
row, when the portal cannot be reached, and after a form's second invalid
answer (those set ``handoff_reason`` and follow up with ``action_offer_handoff``).

- :class:`ActionOfferHandoff` says what happens next and asks for consent.
  Outside the society's staffed hours (``helpdesk`` in ``data/societies.yml``) it
  says nobody can answer now and what the member can do instead.
- :class:`ActionHandoff` (after "yes") puts the conversation in its society's
  queue with a handoff packet (``bot.handoff.packet``): the agent console reads
  it from the same database. From then on the channels pass the member's
  messages to the agent, not to the bot (``bot/handoff/gate.py``).
- :class:`ActionRecordHandoffSolved` stores the member's answer to "was it
  solved?", which the Rasa server asks when an agent closes the conversation.

The store is handed in (``store_factory``; default: ``$KOSMO_HANDOFF_DB_URL``),
and nothing connects when this module is imported.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Any, Callable, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.forms_common import (
    REASON_MEMBER_ASKED,
    REASON_NOT_UNDERSTOOD,
    SLOT_HANDOFF_REASON,
)
from actions.portal import society_of, society_registry
from bot.domain.topics import load_topic_labels
from bot.handoff.models import HANDOFF_CHANNEL_OF
from bot.handoff.packet import build_packet, load_first_login_steps
from bot.handoff.store import HandoffStore
from bot.handoff.store_errors import HandoffError

logger = logging.getLogger(__name__)

StoreFactory = Callable[[], HandoffStore]


@lru_cache(maxsize=1)
def store_from_env() -> HandoffStore:
    """The handoff database of ``$KOSMO_HANDOFF_DB_URL``, its tables created on first use."""
    store = HandoffStore.from_env(known_societies=set(society_registry().societies))
    store.create_schema()
    return store


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def reason_of(tracker: Tracker) -> str:
    """Why a person is offered: the reason an action set, else what the member's message was."""
    reason = tracker.get_slot(SLOT_HANDOFF_REASON)
    if reason:
        return str(reason)
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return REASON_NOT_UNDERSTOOD if intent == "nlu_fallback" else REASON_MEMBER_ASKED


def channel_of(tracker: Tracker) -> str:
    """How an agent's reply reaches the member: the channel of their latest message."""
    return HANDOFF_CHANNEL_OF.get(tracker.get_latest_input_channel() or "", "rest")


class HandoffAction(Action, ABC):
    """An action that reads or writes the handoff database (abstract: not registered itself)."""

    store_factory: StoreFactory = staticmethod(store_from_env)  # type: ignore[assignment]
    clock: Callable[[], dt.datetime] = staticmethod(utc_now)  # type: ignore[assignment]

    @abstractmethod
    def name(self) -> Text: ...

    async def current_handoff(self, tracker: Tracker) -> Any:
        store = self.store_factory()
        return await store.run(store.current, tracker.sender_id)


class ActionOfferHandoff(HandoffAction):
    def name(self) -> Text:
        return "action_offer_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            current = await self.current_handoff(tracker)
        except (HandoffError, SQLAlchemyError, OSError):
            logger.exception("handoff: the queue could not be read")
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return [SlotSet(SLOT_HANDOFF_REASON, None)]
        if current is not None:
            dispatcher.utter_message(response="utter_handoff_already_queued")
            return []
        helpdesk = society_of(tracker).helpdesk
        staffed = helpdesk is not None and helpdesk.is_staffed(self.clock())
        dispatcher.utter_message(
            response="utter_handoff_offer" if staffed else "utter_handoff_offer_closed"
        )
        return [SlotSet(SLOT_HANDOFF_REASON, reason_of(tracker))]


class ActionHandoff(HandoffAction):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        society = society_of(tracker)
        channel = channel_of(tracker)
        reason = reason_of(tracker)
        packet = build_packet(
            tracker.events,
            society=society.key,
            society_name=society.name,
            channel=channel,
            reason=reason,
            labels=load_topic_labels(),
            steps=load_first_login_steps(),
            now=self.clock(),
        )
        try:
            store = self.store_factory()
            await store.run(store.open, tracker.sender_id, society.key, channel, reason, packet)
        except (HandoffError, SQLAlchemyError, OSError):
            logger.exception("handoff: the conversation could not be queued")
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return [SlotSet(SLOT_HANDOFF_REASON, None)]
        dispatcher.utter_message(response="utter_handoff_queued")
        return [SlotSet(SLOT_HANDOFF_REASON, None)]


class ActionRecordHandoffSolved(HandoffAction):
    def name(self) -> Text:
        return "action_record_handoff_solved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        # yes is solved; no, or 「まだできません」 (did_not_help), is not
        solved = ((tracker.latest_message or {}).get("intent") or {}).get("name") == "affirm"
        try:
            store = self.store_factory()
            await store.run(store.record_solved, solved, conversation_id=tracker.sender_id)
        except (HandoffError, SQLAlchemyError, OSError):
            logger.exception("handoff: the member's answer could not be stored")
        dispatcher.utter_message(
            response="utter_handoff_solved" if solved else "utter_handoff_not_solved"
        )
        return []

"""Real Rasa events for the review tests: one member turn as the tracker store publishes it."""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered


def turn_events(
    text: str,
    intent: str,
    confidence: float,
    actions: Sequence[str],
    *,
    society: Optional[str] = None,
    metadata: Optional[dict[str, Any]] = None,
    channel: str = "rest",
    ranking: Sequence[tuple[str, float]] = (),
    at: Optional[float] = None,
) -> list[Event]:
    """A member's message, the society slot, the bot's actions (each with an utterance), listen."""
    at = time.time() if at is None else at
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "intent_ranking": [{"name": intent, "confidence": confidence}]
        + [{"name": n, "confidence": c} for n, c in ranking],
    }
    events: list[Event] = [
        UserUttered(
            text,
            parse_data["intent"],
            parse_data=parse_data,
            input_channel=channel,
            metadata=metadata or {},
            timestamp=at,
        )
    ]
    if society is not None:
        events.append(SlotSet("society", society, timestamp=at))
    for name in actions:
        events += [ActionExecuted(name, timestamp=at), BotUttered("…", timestamp=at)]
    events.append(ActionExecuted("action_listen", timestamp=at))
    return events


def publish(broker: EventBroker, sender_id: str, events: Sequence[Event]) -> None:
    """What Rasa's tracker store does with each new event."""
    for event in events:
        broker.publish({"sender_id": sender_id, **event.as_dict()})

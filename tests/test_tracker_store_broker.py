"""The tracker store hands the event broker exactly the events Rasa's own store would."""

from __future__ import annotations

import time
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import UrlSQLTrackerStore
from tests.review.events import turn_events

DOMAIN = Domain.from_dict(
    {
        "intents": ["faq", "nlu_fallback"],
        "slots": {"society": {"type": "text", "mappings": [{"type": "custom"}]}},
    }
)


class Recording(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


async def conversation(store: Any, sessions: int = 2) -> None:
    """Two sessions of three turns each, saved after every turn as Rasa does."""
    now = time.time()
    tracker = DialogueStateTracker("rest:m1", DOMAIN.slots)
    for s in range(sessions):
        start = now + 100 * s
        tracker.update(ActionExecuted("action_session_start", timestamp=start))
        tracker.update(SessionStarted(timestamp=start))
        for i in range(3):
            for event in turn_events(
                f"質問{s}-{i}", "faq", 0.9, ["utter_faq"], society="ono", at=start + 1 + i
            ):
                tracker.update(event)
            await store.save(tracker)
            loaded = await store.retrieve("rest:m1")
            assert loaded is not None
            tracker = loaded


async def test_published_events_are_those_of_rasas_own_store(tmp_path):
    ours, rasas = Recording(), Recording()
    store = UrlSQLTrackerStore(
        domain=DOMAIN, db_url=f"sqlite:///{tmp_path / 'a.db'}", event_broker=ours
    )
    plain = SQLTrackerStore(
        domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "b.db"), event_broker=rasas
    )
    try:
        await conversation(store)
        await conversation(plain)
    finally:
        store.engine.dispose()
        plain.engine.dispose()

    def shape(events: list[dict[str, Any]]) -> list[tuple]:
        return [(e["sender_id"], e["event"], e.get("name"), e.get("text")) for e in events]

    assert shape(ours.published) == shape(rasas.published)
    assert len(ours.published) == 2 * (2 + 3 * 5)  # each event once (5 a turn)
    # as the channel gave it (the broker masks what it keeps itself)
    assert ours.published[2]["text"] == "質問0-0"

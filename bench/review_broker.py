"""`python -m bench.review_broker`: what the review event broker costs a member's turn.

Measures, in this process, on the event loop's thread:

- ``publish`` of every event of an ordinary turn (message, society slot, an
  answer, ``action_listen``): the broker's whole work for a message it does not
  record (following the turn, masking its text when it ends);
- the same for a turn that is recorded (``action_clarify``): the row is queued,
  the writer thread writes it to a real SQLite file;
- ``UrlSQLTrackerStore.save`` of one turn without a broker, with Rasa's way of
  finding the new events (``stream_events``: the conversation loaded again) and
  with ours (the stored count), each with this broker.

Rounds alternate the variants, and the median of the rounds' medians is
printed, since this machine's speed drifts. Nothing leaves the temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.societies import PROJECT_ROOT
from bot.review.broker import ReviewEventBroker
from bot.review.store import ReviewStore
from bot.tracker_store import UrlSQLTrackerStore
from tests.review.events import turn_events

ORDINARY = "ワンタイムパスワードのメールが届かないのですが、どうすればいいですか？"


def turn_dicts(sender: str, text: str, actions: list[str], at: float) -> list[dict[str, Any]]:
    events = turn_events(text, "faq", 0.93, actions, society="kose", at=at)
    return [{"sender_id": sender, **e.as_dict()} for e in events]


def publish_cost(broker: ReviewEventBroker, actions: list[str], turns: int) -> list[float]:
    """Seconds per turn of publishing its events, for ``turns`` turns of 100 conversations."""
    now = time.time()
    batches = [turn_dicts(f"rest:m{i % 100}", ORDINARY, actions, now + i) for i in range(turns)]
    out = []
    for batch in batches:
        start = time.perf_counter()
        for event in batch:
            broker.publish(event)
        out.append(time.perf_counter() - start)
    return out


class RasasStreaming(UrlSQLTrackerStore):
    """Our store, but finding new events for the broker the way Rasa's base class does."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        broker, self.event_broker = self.event_broker, None
        try:
            await super().save(tracker)
        finally:
            self.event_broker = broker
        await TrackerStore.stream_events(self, tracker)


async def save_cost(store: UrlSQLTrackerStore, domain: Domain, turns: int) -> list[float]:
    """Seconds per ``save`` of one more turn, in a conversation of ``turns`` turns."""
    now = time.time()
    tracker = DialogueStateTracker.from_events(
        "rest:m",
        [ActionExecuted("action_session_start", timestamp=now), SessionStarted(timestamp=now)],
        domain.slots,
    )
    out = []
    for i in range(turns):
        for event in turn_events(ORDINARY, "faq", 0.93, ["utter_faq"], society="kose", at=now + i):
            tracker.update(event)
        start = time.perf_counter()
        await store.save(tracker)
        out.append(time.perf_counter() - start)
        loaded = await store.retrieve("rest:m")
        assert loaded is not None
        tracker = loaded
    return out


def median_us(values: list[float]) -> float:
    return statistics.median(values) * 1e6


async def main_async(rounds: int, turns: int) -> None:
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    work = Path(tempfile.mkdtemp(prefix="review-bench-"))
    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    for r in range(rounds):
        broker = ReviewEventBroker(ReviewStore(f"sqlite:///{work / f'review{r}.db'}"))
        broker.writer.start()
        add(
            "publish, ordinary turn (not recorded)",
            median_us(publish_cost(broker, ["utter_faq"], turns)),
        )
        add(
            "publish, clarification turn (recorded)",
            median_us(publish_cost(broker, ["action_clarify"], turns)),
        )
        await broker.close()
        for v, (name, cls, with_broker) in enumerate(
            (
                ("save, no broker", UrlSQLTrackerStore, False),
                ("save + broker, Rasa's stream_events", RasasStreaming, True),
                ("save + broker, stored count (ours)", UrlSQLTrackerStore, True),
            )
        ):
            b = ReviewEventBroker(ReviewStore(f"sqlite:///{work / f'r{r}-{v}.db'}"))
            store = cls(
                domain=domain,
                db_url=f"sqlite:///{work / f't{r}-{v}.db'}",
                event_broker=b if with_broker else None,
            )
            add(name, median_us(await save_cost(store, domain, turns)))
            await b.close()
            store.engine.dispose()
    print(f"{rounds} rounds, {turns} turns each; median of the rounds' medians, microseconds")
    for name, values in results.items():
        print(
            f"  {name:<42} {statistics.median(values):8.1f}   rounds: "
            + ", ".join(f"{v:.1f}" for v in values)
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.review_broker")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=80)
    args = parser.parse_args()
    asyncio.run(main_async(max(1, min(args.rounds, 50)), max(1, min(args.turns, 2000))))


if __name__ == "__main__":
    main()

"""The tracker store's in-memory copy of recent sessions never disagrees with the database."""

from __future__ import annotations

import time

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.masking import MASK
from bot.tracker_store import UrlSQLTrackerStore

DOMAIN = Domain.from_dict(
    {
        "intents": ["greet", "faq"],
        "slots": {
            "society": {"type": "text", "mappings": [{"type": "custom"}]},
            "totp_code": {"type": "text", "mappings": [{"type": "custom"}]},
        },
    }
)


def turn(text: str, answer: str, at: float) -> list[Event]:
    return [
        UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=at),
        ActionExecuted("utter_greet", timestamp=at + 0.001),
        BotUttered(answer, timestamp=at + 0.002),
        ActionExecuted("action_listen", timestamp=at + 0.003),
    ]


def as_dicts(tracker: DialogueStateTracker | None) -> list[dict]:
    assert tracker is not None
    return [e.as_dict() for e in tracker.events]


async def kept_after_one_turn(
    store: UrlSQLTrackerStore, text: str, at: float
) -> DialogueStateTracker:
    """Store a conversation of one turn and load it back (from then on it is kept in memory)."""
    await store.save(
        DialogueStateTracker.from_events("member", turn(text, "はい", at), DOMAIN.slots)
    )
    tracker = await store.retrieve("member")
    assert tracker is not None
    return tracker


async def reference(db_url: str, sender: str) -> list[dict]:
    """What Rasa's own SQL store loads from the same database."""
    plain = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db_url.removeprefix("sqlite:///"))
    try:
        return as_dicts(await plain.retrieve(sender))
    finally:
        plain.engine.dispose()


async def test_kept_sessions_match_the_database_turn_after_turn(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = UrlSQLTrackerStore(domain=DOMAIN, db_url=url)
    now = time.time()
    tracker = DialogueStateTracker.from_events(
        "member",
        [ActionExecuted("action_session_start", timestamp=now), SessionStarted(timestamp=now)],
        DOMAIN.slots,
    )
    for i in range(4):
        for event in turn(f"質問{i}", f"答え{i}", now + 1 + i):
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve("member")
        assert "member" in store._sessions  # served from memory from now on
        assert as_dicts(tracker) == await reference(url, "member")
    # what a turn adds on top of a kept session is stored once, in order
    tracker.update(SlotSet("society", "ono", timestamp=now + 10))
    await store.save(tracker)
    await store.save(tracker)  # nothing new: nothing written
    assert as_dicts(await store.retrieve("member")) == await reference(url, "member")
    assert len(await reference(url, "member")) == 2 + 4 * 4 + 1


async def test_a_sensitive_message_is_masked_in_memory_as_in_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = UrlSQLTrackerStore(domain=DOMAIN, db_url=url)
    tracker = await kept_after_one_turn(store, "こんにちは", time.time())
    tracker.update(UserUttered("コードは 123456 です", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("totp_code", "123456"))
    await store.save(tracker)
    kept = as_dicts(await store.retrieve("member"))
    assert kept == await reference(url, "member")
    assert kept[-2]["text"] == MASK and kept[-1]["value"] == MASK
    assert "123456" not in repr(kept)


async def test_a_write_by_another_process_is_seen(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    ours, other = (UrlSQLTrackerStore(domain=DOMAIN, db_url=url) for _ in range(2))
    now = time.time()
    await kept_after_one_turn(ours, "一つ目", now)
    theirs = await other.retrieve("member")
    for event in turn("二つ目", "はい", now + 1):
        theirs.update(event)
    await other.save(theirs)
    seen = as_dicts(await ours.retrieve("member"))
    assert seen == await reference(url, "member")
    assert [e.get("text") for e in seen if e["event"] == "user"] == ["一つ目", "二つ目"]


async def test_a_new_session_is_what_is_loaded_afterwards(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = UrlSQLTrackerStore(domain=DOMAIN, db_url=url)
    now = time.time()
    tracker = await kept_after_one_turn(store, "昨日の質問", now)
    tracker.update(ActionExecuted("action_session_start", timestamp=now + 100))
    tracker.update(SessionStarted(timestamp=now + 100.001))
    for event in turn("今日の質問", "はい", now + 101):
        tracker.update(event)
    await store.save(tracker)
    kept = as_dicts(await store.retrieve("member"))
    assert kept == await reference(url, "member")
    assert [e.get("text") for e in kept if e["event"] == "user"] == ["今日の質問"]


async def test_memory_is_bounded_and_can_be_turned_off(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    small = UrlSQLTrackerStore(domain=DOMAIN, db_url=url, cache_size=2)
    off = UrlSQLTrackerStore(domain=DOMAIN, db_url=url, cache_size=0)
    now = time.time()
    for n in range(3):
        sender = f"member-{n}"
        await small.save(
            DialogueStateTracker.from_events(sender, turn("質問", "答え", now + n), DOMAIN.slots)
        )
        await small.retrieve(sender)
        assert as_dicts(await off.retrieve(sender)) == await reference(url, sender)
    assert list(small._sessions) == ["member-1", "member-2"]
    assert not off._sessions


async def test_a_new_conversation_is_kept_from_its_first_save(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = UrlSQLTrackerStore(domain=DOMAIN, db_url=url)
    tracker = DialogueStateTracker.from_events(
        "member", turn("最初", "はい", time.time()), DOMAIN.slots
    )
    tracker.update(UserUttered("パスワードは 19900101 です", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    assert "member" in store._sessions  # no load from the database at the next message
    kept = as_dicts(await store.retrieve("member"))
    assert kept == await reference(url, "member")
    assert kept[-1]["text"] == MASK


async def test_without_memory_only_new_events_are_written(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    off = UrlSQLTrackerStore(domain=DOMAIN, db_url=url, cache_size=0)
    now = time.time()
    tracker = DialogueStateTracker.from_events("member", turn("一つ目", "はい", now), DOMAIN.slots)
    await off.save(tracker)
    tracker = await off.retrieve("member")
    for event in turn("二つ目", "はい", now + 1):
        tracker.update(event)
    await off.save(tracker)
    stored = await reference(url, "member")
    assert stored == as_dicts(tracker)
    assert [e.get("text") for e in stored if e["event"] == "user"] == ["一つ目", "二つ目"]


async def test_the_stores_queries_select_what_rasas_query_selects(tmp_path):
    """The prebuilt latest-session queries agree with Rasa's ``_event_query``."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    plain = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))
    store = UrlSQLTrackerStore(domain=DOMAIN, db_url=url, cache_size=0)
    now = time.time()
    no_session = turn("セッションなし", "はい", now)
    two_sessions = (
        [ActionExecuted("action_session_start", timestamp=now), SessionStarted(timestamp=now)]
        + turn("古い", "はい", now + 1)
        + [
            ActionExecuted("action_session_start", timestamp=now + 50),
            SessionStarted(timestamp=now + 50),
        ]
        + turn("新しい", "はい", now + 51)
    )
    for sender, events in [("a", no_session), ("b", two_sessions), ("c", two_sessions[:4])]:
        await plain.save(DialogueStateTracker.from_events(sender, events, DOMAIN.slots))
    for sender in ["a", "b", "c", "nobody"]:
        with store.session_scope() as session:
            expected = [row.id for row in plain._event_query(session, sender, False)]
            conn = session.connection()
            rows = conn.execute(store._session_rows_query, {"sender_id": sender}).all()
            count = conn.execute(store._session_count_query, {"sender_id": sender}).scalar()
        assert [row[0] for row in rows] == expected
        assert count == len(expected)
    plain.engine.dispose()


async def test_a_conversation_stored_before_the_slot_was_renamed_keeps_its_society(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    old = DialogueStateTracker.from_events(
        "member", [SlotSet("tenant", "ono"), *turn("こんにちは", "はい", time.time())], DOMAIN.slots
    )
    await UrlSQLTrackerStore(domain=DOMAIN, db_url=url).save(old)  # written as the old version wrote it
    loaded = await UrlSQLTrackerStore(domain=DOMAIN, db_url=url).retrieve("member")
    assert loaded is not None
    assert loaded.get_slot("society") == "ono"
    assert not [e for e in as_dicts(loaded) if e["event"] == "slot" and e["name"] == "tenant"]

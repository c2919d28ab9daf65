"""The review broker: real Rasa events in, rows in a real SQLite file out."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.review.broker import ReviewEventBroker
from bot.review.store import ReviewRow, ReviewStore
from bot.review.writer import RowWriter
from bot.tracker_store import UrlSQLTrackerStore
from tests.review.events import publish, turn_events

NONSENSE = "ぽよぽよ"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def make_broker(tmp_path: Path, **kwargs) -> tuple[ReviewEventBroker, str]:
    url = f"sqlite:///{tmp_path / 'var' / 'review.db'}"
    broker = ReviewEventBroker(ReviewStore(url), **kwargs)
    broker.writer.start()  # as from_endpoint_config does
    return broker, url


async def recorded(broker: ReviewEventBroker, url: str) -> list[ReviewRow]:
    """Close the broker (its queue is written) and read back its rows, oldest first."""
    await broker.close()
    store = ReviewStore(url)
    try:
        return list(reversed(store.rows()))
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "text, intent, actions, kind, action, bot_actions",
    [
        (
            NONSENSE,
            "nlu_fallback",
            ["action_clarify"],
            "clarification",
            "action_clarify",
            "action_clarify",
        ),
        (
            "ふがふが",
            "nlu_fallback",
            ["utter_give_up", "action_offer_handoff"],
            "fallback",
            "utter_give_up",
            "utter_give_up action_offer_handoff",
        ),
        (
            "なにこれ",
            "nlu_fallback",
            ["action_default_fallback"],
            "fallback",
            "action_default_fallback",
            "action_default_fallback",
        ),
        (
            "担当者と話したい",
            "request_human",
            ["action_offer_handoff"],
            "handoff",
            "action_offer_handoff",
            "action_offer_handoff",
        ),
        ("はい", "affirm", ["action_handoff"], "handoff", "action_handoff", "action_handoff"),
        (
            "今日の天気は？",
            "out_of_scope",
            ["utter_out_of_scope"],
            "out_of_scope",
            "utter_out_of_scope",
            "utter_out_of_scope",
        ),
        (
            "健診の予約",
            "out_of_scope",
            ["action_out_of_scope"],
            "out_of_scope",
            "action_out_of_scope",
            "action_out_of_scope",
        ),
    ],
)
async def test_each_kind_is_recorded_with_what_the_bot_did(
    tmp_path, text, intent, actions, kind, action, bot_actions
):
    broker, url = make_broker(tmp_path)
    publish(
        broker,
        "rest:m1",
        turn_events(text, intent, 0.4, actions, society="ono", ranking=[("faq", 0.31)]),
    )
    [row] = await recorded(broker, url)
    assert (row.kind, row.action, row.bot_actions) == (kind, action, bot_actions)
    assert (row.text, row.society, row.channel) == (text, "ono", "rest")
    assert (row.intent, row.confidence) == (intent, pytest.approx(0.4))
    if intent == "nlu_fallback":  # what the NLU would have said without the threshold
        assert (row.guess, row.guess_confidence) == ("faq", pytest.approx(0.31))
    else:
        assert row.guess is None


async def test_an_answered_message_is_not_recorded(tmp_path):
    broker, url = make_broker(tmp_path)
    publish(broker, "rest:m1", turn_events("QRコードが読めない", "faq", 0.97, ["utter_faq/qr"]))
    assert await recorded(broker, url) == []


async def test_did_not_help_records_the_question_whose_answer_did_not_help(tmp_path):
    broker, url = make_broker(tmp_path)
    at = time.time()
    publish(
        broker,
        "line:kose:U1",
        turn_events(
            "QRコードが読めない",
            "faq",
            0.9,
            ["action_answer_faq"],
            society="kose",
            channel="line",
            at=at,
        ),
    )
    publish(
        broker,
        "line:kose:U1",
        turn_events(
            "まだできない", "did_not_help", 0.99, ["action_did_not_help"], channel="line", at=at + 5
        ),
    )
    [row] = await recorded(broker, url)
    assert row.kind == "did_not_help" and row.action == "action_did_not_help"
    assert row.text == "QRコードが読めない"
    assert row.bot_actions == "action_answer_faq"  # what the bot answered it with
    assert (row.intent, row.society, row.channel) == ("faq", "kose", "line")
    assert abs(row.at.timestamp() - at) < 0.01


async def test_an_external_event_between_is_not_the_members_question(tmp_path):
    broker, url = make_broker(tmp_path)
    publish(broker, "rest:m1", turn_events("QRコードが読めない", "faq", 0.9, ["utter_faq"]))
    external = UserUttered.create_external("EXTERNAL_handoff_returned", input_channel="rest")
    publish(
        broker,
        "rest:m1",
        [
            external,
            ActionExecuted("utter_handoff_returned"),
            BotUttered("…"),
            ActionExecuted("action_listen"),
        ],
    )
    publish(
        broker, "rest:m1", turn_events("まだできない", "did_not_help", 0.9, ["action_did_not_help"])
    )
    assert [(r.kind, r.text) for r in await recorded(broker, url)] == [
        ("did_not_help", "QRコードが読めない")
    ]


async def test_society_from_the_slot_else_the_metadata_and_widget_channel(tmp_path):
    broker, url = make_broker(tmp_path)
    publish(
        broker,
        "a",
        turn_events(
            "x1", "nlu_fallback", 0.2, ["action_clarify"], society="ono", metadata={"tenant": "kose"}
        ),
    )
    publish(
        broker,
        "b",
        turn_events(
            "x2",
            "nlu_fallback",
            0.2,
            ["action_clarify"],
            metadata={"tenant": "kose"},
            channel="socketio",
        ),
    )
    publish(broker, "c", turn_events("x3", "nlu_fallback", 0.2, ["action_clarify"]))
    rows = await recorded(broker, url)
    assert [(r.text, r.society, r.channel) for r in rows] == [
        ("x1", "ono", "rest"),
        ("x2", "kose", "widget"),
        ("x3", None, "rest"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "生年月日は1978年2月14日です",  # a birth date
        "Hanako-Kose2024",  # a password on its own
        "私のパスワード ichiro2024 が通りません",  # a password in a sentence
        "コードは 123 456 でした",  # an OTP code
    ],
)
async def test_sensitive_messages_are_masked_as_the_tracker_store_masks_them(tmp_path, text):
    broker, url = make_broker(tmp_path)
    publish(broker, "rest:m1", turn_events(text, "nlu_fallback", 0.3, ["action_clarify"]))
    [row] = await recorded(broker, url)
    assert row.text == "****"
    raw = (tmp_path / "var" / "review.db").read_bytes()
    assert text.encode() not in raw
    for part in ("1978", "Hanako", "ichiro2024", "123 456"):
        assert part.encode() not in raw


async def test_an_answer_to_a_sensitive_slot_is_masked_whatever_it_says(tmp_path):
    broker, url = make_broker(tmp_path)
    for event in (ActiveLoop("unlock_form"), SlotSet("requested_slot", "unlock_birth_date")):
        publish(broker, "rest:m1", [event])
    publish(broker, "rest:m1", turn_events("わかりません", "nlu_fallback", 0.3, ["action_clarify"]))
    # the form ended: the next message is judged by its content again
    publish(broker, "rest:m1", [ActiveLoop(None)])
    publish(broker, "rest:m1", turn_events("わかりません", "nlu_fallback", 0.3, ["action_clarify"]))
    assert [r.text for r in await recorded(broker, url)] == ["****", "わかりません"]


async def test_the_database_file_is_private(tmp_path):
    broker, url = make_broker(tmp_path)
    publish(broker, "rest:m1", turn_events(NONSENSE, "nlu_fallback", 0.3, ["action_clarify"]))
    await recorded(broker, url)
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "review.db").st_mode)
    assert mode == 0o600


async def test_through_the_tracker_store_as_rasa_saves(tmp_path):
    """The real path: UrlSQLTrackerStore.save hands the broker each new event once."""
    broker, url = make_broker(tmp_path)
    domain = Domain.from_dict(
        {
            "intents": ["nlu_fallback", "faq"],
            "slots": {"society": {"type": "text", "mappings": [{"type": "custom"}]}},
        }
    )
    store = UrlSQLTrackerStore(
        domain=domain, db_url=f"sqlite:///{tmp_path / 'tracker.db'}", event_broker=broker
    )
    now = time.time()
    tracker = DialogueStateTracker.from_events(
        "rest:m1",
        [ActionExecuted("action_session_start", timestamp=now), SessionStarted(timestamp=now)],
        domain.slots,
    )
    for i, (text, intent, actions) in enumerate(
        [
            ("QRコードが読めない", "faq", ["utter_faq"]),
            (NONSENSE, "nlu_fallback", ["action_clarify"]),
            ("ふがふが", "nlu_fallback", ["utter_give_up", "action_offer_handoff"]),
        ]
    ):
        for event in turn_events(text, intent, 0.4, actions, society="kose", at=now + 1 + i):
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve("rest:m1")
        assert tracker is not None
    store.engine.dispose()
    rows = await recorded(broker, url)
    assert [(r.text, r.kind, r.society) for r in rows] == [
        (NONSENSE, "clarification", "kose"),
        ("ふがふが", "fallback", "kose"),
    ]


async def test_from_endpoint_config_reads_its_settings(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("KOSMO_REVIEW_DB_URL", url)
    config = EndpointConfig(
        type="bot.review.broker.ReviewEventBroker", max_conversations=7, queue_size="9"
    )
    broker = await ReviewEventBroker.from_endpoint_config(config)
    assert broker.max_conversations == 7
    assert broker.writer.store.url == url
    assert broker.writer._queue.maxsize == 9
    await broker.close()
    assert ReviewStore(url).rows() == []  # the table is made when the server starts


async def test_rasa_makes_it_from_the_projects_endpoints_yml(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("KOSMO_REVIEW_DB_URL", url)
    monkeypatch.setenv("KOSMO_ACTION_ENDPOINT", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("KOSMO_ACTION_SERVER_TOKEN", "x" * 32)
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    broker = await EventBroker.create(endpoints.event_broker)
    assert isinstance(broker, ReviewEventBroker)
    assert broker.max_conversations == 5000 and broker.writer._queue.maxsize == 1000
    await broker.close()
    assert (tmp_path / "r.db").exists()


async def test_conversations_are_followed_in_a_bounded_lru(tmp_path):
    broker, url = make_broker(tmp_path, max_conversations=2)
    for sender in ("a", "b", "c"):
        publish(broker, sender, [SlotSet("society", "ono")])
    assert list(broker._conversations) == ["b", "c"]
    await broker.close()


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"event": "user"},
        {"event": "user", "sender_id": 5, "text": "x"},
        {"event": "user", "sender_id": "s", "text": None, "parse_data": "nonsense"},
        {"event": "action", "sender_id": "s", "name": None},
        {"event": "slot", "sender_id": "s", "name": "society", "value": ["not", "text"]},
        {
            "event": "user",
            "sender_id": "s",
            "text": "x",
            "parse_data": {"intent": "x"},
            "metadata": "m",
            "timestamp": "later",
            "input_channel": 3,
        },
    ],
)
async def test_malformed_events_never_raise(tmp_path, event):
    broker, url = make_broker(tmp_path)
    broker.publish(event)
    broker.publish({"event": "action", "sender_id": "s", "name": "action_clarify"})
    broker.publish({"event": "action", "sender_id": "s", "name": "action_listen"})
    await recorded(broker, url)


async def test_a_database_that_is_down_costs_rows_and_a_warning_never_the_turn(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'review.db'}"  # its folder is a file: every write fails
    with caplog.at_level(logging.WARNING, logger="bot.review"):
        broker = ReviewEventBroker(ReviewStore(url))
        publish(broker, "rest:m1", turn_events(NONSENSE, "nlu_fallback", 0.3, ["action_clarify"]))
        await broker.close()
    assert broker.writer.dropped == 1 and broker.writer.written == 0
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("bot.review")]
    assert any("1 message(s) not recorded" in w for w in warnings), warnings
    assert not any(NONSENSE in w for w in warnings)


class BlockedStore(ReviewStore):
    """A store whose writes wait until released (a locked or slow database)."""

    def __init__(self) -> None:
        super().__init__("sqlite://")
        self.release = threading.Event()
        self.written: list[ReviewRow] = []

    def add(self, rows) -> None:
        self.release.wait(10)
        self.written += rows


async def test_a_slow_database_never_blocks_publish_and_the_queue_is_bounded(tmp_path):
    store = BlockedStore()
    broker = ReviewEventBroker(writer=RowWriter(store, capacity=2, batch=1))
    started = time.perf_counter()
    for i in range(10):
        publish(broker, f"s{i}", turn_events(f"x{i}", "nlu_fallback", 0.3, ["action_clarify"]))
    assert time.perf_counter() - started < 0.5
    # one row in the writer's hands, two queued, the rest dropped
    assert broker.writer.dropped >= 6
    store.release.set()
    await broker.close()
    assert 2 <= len(store.written) <= 4
    assert len(store.written) + broker.writer.dropped == 10


async def test_close_ends_an_open_turn(tmp_path):
    broker, url = make_broker(tmp_path)
    events = turn_events(NONSENSE, "nlu_fallback", 0.3, ["action_clarify"])
    publish(broker, "rest:m1", events[:-1])  # no action_listen yet
    assert [r.text for r in await recorded(broker, url)] == [NONSENSE]


async def test_publish_after_close_drops_quietly(tmp_path):
    broker, url = make_broker(tmp_path)
    await broker.close()
    publish(broker, "rest:m1", turn_events(NONSENSE, "nlu_fallback", 0.3, ["action_clarify"]))
    await asyncio.sleep(0)
    assert broker.writer.written == 0

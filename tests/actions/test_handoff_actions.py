"""The handoff actions against a real handoff database: offer, queue with a packet, "solved?"."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff, ActionOfferHandoff, ActionRecordHandoffSolved
from bot.handoff.store import HandoffStore

JST = dt.timezone(dt.timedelta(hours=9))
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST)
TUESDAY_20 = dt.datetime(2026, 11, 24, 20, 0, tzinfo=JST)
SUNDAY_10 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=JST)


@pytest.fixture
def store(tmp_path) -> Any:
    s = HandoffStore(f"sqlite:///{tmp_path / 'handoff.db'}")
    s.create_schema()
    yield s
    s.dispose()


def events(channel: str = "rest") -> list[dict]:
    return [
        e.as_dict()
        for e in (
            ActionExecuted("action_listen"),
            UserUttered(
                "アカウントがロックされました",
                intent={"name": "account_locked", "confidence": 0.9},
                input_channel=channel,
            ),
            BotUttered(
                "ロックの解除を申請しますか？", metadata={"utter_action": "utter_account_locked"}
            ),
            ActionExecuted("action_listen"),
            UserUttered(
                "生年月日は 1978/2/14 です。人と話したい",
                intent={"name": "request_human", "confidence": 0.9},
                input_channel=channel,
            ),
            ActionExecuted("action_offer_handoff"),
            SlotSet("handoff_reason", "member_asked"),
            ActionExecuted("action_listen"),
            UserUttered(
                "はい", intent={"name": "affirm", "confidence": 0.9}, input_channel=channel
            ),
        )
    ]


def tracker(society: str, intent: str = "request_human", **slots: Any) -> Tracker:
    evs = events()
    return Tracker(
        sender_id="member-1",
        slots={"society": society, **slots},
        latest_message={"text": "x", "intent": {"name": intent}},
        events=evs,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def action(cls: Any, store: HandoffStore, now: dt.datetime) -> Any:
    a = cls()
    a.store_factory = lambda: store
    a.clock = lambda: now
    return a


async def run(a: Any, t: Tracker) -> tuple[list[str], list[dict]]:
    dispatcher = CollectingDispatcher()
    evs = await a.run(dispatcher, t, {})
    return [m.get("response") or m.get("text") for m in dispatcher.messages], evs


@pytest.mark.parametrize(
    ("now", "response"),
    [
        (TUESDAY_10, "utter_handoff_offer"),
        (TUESDAY_20, "utter_handoff_offer_closed"),  # after hours
        (SUNDAY_10, "utter_handoff_offer_closed"),
    ],
)
async def test_offer_depends_on_the_societys_staffed_hours(store, now, response):
    said, evs = await run(action(ActionOfferHandoff, store, now), tracker("kose"))
    assert said == [response]
    assert {"event": "slot", "name": "handoff_reason", "value": "member_asked"}.items() <= evs[
        0
    ].items()


@pytest.mark.parametrize(
    ("intent", "slots", "reason"),
    [
        ("nlu_fallback", {}, "not_understood"),
        ("inform", {"handoff_reason": "portal_down"}, "portal_down"),
        ("request_human", {}, "member_asked"),
    ],
)
async def test_the_reason_comes_from_the_trigger(store, intent, slots, reason):
    _, evs = await run(
        action(ActionOfferHandoff, store, TUESDAY_10), tracker("ono", intent, **slots)
    )
    assert evs[0]["value"] == reason


async def test_consent_queues_the_conversation_with_a_masked_packet(store):
    said, evs = await run(
        action(ActionHandoff, store, TUESDAY_10),
        tracker("kose", "affirm", handoff_reason="member_asked"),
    )
    assert said == ["utter_handoff_queued"]
    handoff = store.current("member-1")
    assert handoff is not None and handoff.society == "kose" and handoff.channel == "rest"
    assert handoff.reason == "member_asked" and handoff.status == "queued"
    packet = handoff.packet
    assert packet["society_name"] == "コーセー健康保険組合"
    assert packet["topic"]["key"] == "account_locked"
    assert "1978/2/14" not in json.dumps(packet, ensure_ascii=False)
    # asking again while queued: no second entry, the member is told it is queued already
    said, _ = await run(action(ActionOfferHandoff, store, TUESDAY_10), tracker("kose"))
    assert said == ["utter_handoff_already_queued"]
    await run(action(ActionHandoff, store, TUESDAY_10), tracker("kose", "affirm"))
    assert len(store.queue("kose")) == 1


async def test_a_broken_database_gets_an_apology_not_a_crash(tmp_path):
    broken = HandoffStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")  # no tables
    said, _ = await run(action(ActionHandoff, broken, TUESDAY_10), tracker("kose", "affirm"))
    assert said == ["utter_handoff_unavailable"]
    said, _ = await run(action(ActionOfferHandoff, broken, TUESDAY_10), tracker("kose"))
    assert said == ["utter_handoff_unavailable"]


@pytest.mark.parametrize(
    ("intent", "solved", "response"),
    [
        ("affirm", True, "utter_handoff_solved"),
        ("deny", False, "utter_handoff_not_solved"),
    ],
)
async def test_solved_or_not_is_stored(store, intent, solved, response):
    store.create_agent("kose", "sato", "correct-horse-battery", "佐藤")
    agent = store.agent_by_login("sato")
    h = store.open("member-1", "kose", "rest", "member_asked", {})
    store.take(h.id, agent)
    store.close(h.id, agent)
    said, _ = await run(
        action(ActionRecordHandoffSolved, store, TUESDAY_10), tracker("kose", intent)
    )
    assert said == [response]
    assert store.get(h.id).solved is solved

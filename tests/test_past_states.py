"""A tracker's remembered past states are always the ones Rasa's replay gives."""

from __future__ import annotations

import pytest
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

from bot.past_states import remember_past_states
from bot.tenants import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(PROJECT_ROOT / "domain.yml")


@pytest.fixture
def installed():
    original = DialogueStateTracker.past_states
    remember_past_states()
    remember_past_states()  # idempotent
    yield
    DialogueStateTracker.past_states = original


def rasa_states(tracker: DialogueStateTracker, domain: Domain, **kwargs) -> list:
    method = DialogueStateTracker.past_states
    method = getattr(method, "rasa_original", method)
    return method(tracker, domain, **kwargs)


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9})


CONVERSATION = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    SlotSet("tenant", "kose"),
    ActionExecuted("action_listen"),
    user("初期パスワードは?", "faq"),
    ActionExecuted("utter_faq"),
    BotUttered("記号と番号と生年月日です"),
    ActionExecuted("action_listen"),
    user("ロックされた", "account_locked"),
    ActionExecuted("unlock_form"),
    ActiveLoop("unlock_form"),
    SlotSet("requested_slot", "unlock_birth_date"),
    ActionExecuted("action_listen"),
    user("やめます", "stop"),
    ActionExecuted("unlock_form"),
    ActiveLoop(None),
    SlotSet("requested_slot", None),
    ActionExecuted("action_listen"),
]


def test_states_equal_rasas_after_every_event_and_survive_the_featurizers_edits(domain, installed):
    rule_only = {"slots": ["requested_slot"], "active_loops": ["unlock_form"]}
    tracker = DialogueStateTracker("member", domain.slots)
    for event in CONVERSATION:
        tracker.update(event)
        for kwargs in ({}, {"rule_only_data": rule_only}, {"omit_unset_slots": True}):
            expected = rasa_states(tracker, domain, **kwargs)
            first = tracker.past_states(domain, **kwargs)
            assert first == expected
            # Rasa's featurizer deletes sub-state keys and states in what it gets
            for state in first:
                for sub in state.values():
                    if isinstance(sub, dict):
                        sub.clear()
            first.clear()
            assert tracker.past_states(domain, **kwargs) == expected


def test_a_kept_answer_is_reused_only_for_the_same_tracker_version(domain, installed):
    tracker = DialogueStateTracker.from_events("member", CONVERSATION[:8], domain.slots)
    tracker.past_states(domain, rule_only_data={"rule_only_slots": ["requested_slot"]})
    kept = tracker.__dict__["_kosmo_past_states"]
    # RulePolicy hands in a new dict with the same lists at every call
    tracker.past_states(domain, rule_only_data={"rule_only_slots": ["requested_slot"]})
    assert tracker.__dict__["_kosmo_past_states"] is kept  # reused
    tracker.past_states(domain, rule_only_data={"rule_only_slots": []})
    assert tracker.__dict__["_kosmo_past_states"] is not kept
    kept = tracker.__dict__["_kosmo_past_states"]
    tracker.update(user("ありがとう", "thank"))
    assert tracker.past_states(domain) == rasa_states(tracker, domain)
    assert tracker.__dict__["_kosmo_past_states"] is not kept
    other_domain = Domain.load(PROJECT_ROOT / "domain.yml")
    assert tracker.past_states(other_domain) == rasa_states(tracker, other_domain)


def test_a_full_event_history_that_drops_its_oldest_event_is_a_new_version(domain, installed):
    tracker = DialogueStateTracker("member", domain.slots, max_event_history=6)
    for event in CONVERSATION:
        tracker.update(event)
        assert tracker.past_states(domain) == rasa_states(tracker, domain)
    assert len(tracker.events) == 6

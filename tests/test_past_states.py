"""A tracker's remembered past states are always the ones Rasa's replay gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import past_states
from bot.domain.societies import PROJECT_ROOT
from bot.past_states import remembered_past_states as ours


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(PROJECT_ROOT / "domain.yml")


def rasa_states(tracker: DialogueStateTracker, domain: Domain, **kwargs) -> list:
    return DialogueStateTracker.past_states(tracker, domain, **kwargs)


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9})


CONVERSATION = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    SlotSet("society", "kose"),
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


def test_states_equal_rasas_after_every_event_and_survive_the_featurizers_edits(domain):
    rule_only = {"slots": ["requested_slot"], "active_loops": ["unlock_form"]}
    tracker = DialogueStateTracker("member", domain.slots)
    for event in CONVERSATION:
        tracker.update(event)
        for kwargs in ({}, {"rule_only_data": rule_only}, {"omit_unset_slots": True}):
            expected = rasa_states(tracker, domain, **kwargs)
            first = ours(tracker, domain, **kwargs)
            assert first == expected
            # Rasa's featurizer deletes sub-state keys and states in what it gets
            for state in first:
                for sub in state.values():
                    if isinstance(sub, dict):
                        sub.clear()
            first.clear()
            assert ours(tracker, domain, **kwargs) == expected


def test_a_kept_answer_is_reused_only_for_the_same_tracker_version(domain):
    tracker = DialogueStateTracker.from_events("member", CONVERSATION[:8], domain.slots)
    ours(tracker, domain, rule_only_data={"rule_only_slots": ["requested_slot"]})
    kept = tracker.__dict__["_kosmo_past_states"]
    # RulePolicy hands in a new dict with the same lists at every call
    ours(tracker, domain, rule_only_data={"rule_only_slots": ["requested_slot"]})
    assert tracker.__dict__["_kosmo_past_states"] is kept  # reused
    ours(tracker, domain, rule_only_data={"rule_only_slots": []})
    assert tracker.__dict__["_kosmo_past_states"] is not kept
    kept = tracker.__dict__["_kosmo_past_states"]
    tracker.update(user("ありがとう", "thank"))
    assert ours(tracker, domain) == rasa_states(tracker, domain)
    assert tracker.__dict__["_kosmo_past_states"] is not kept
    other_domain = Domain.load(PROJECT_ROOT / "domain.yml")
    assert ours(tracker, other_domain) == rasa_states(tracker, other_domain)


def test_a_full_event_history_that_drops_its_oldest_event_is_a_new_version(domain):
    tracker = DialogueStateTracker("member", domain.slots, max_event_history=6)
    for event in CONVERSATION:
        tracker.update(event)
        assert ours(tracker, domain) == rasa_states(tracker, domain)
    assert len(tracker.events) == 6


EVENT_POOL = [
    lambda: ActionExecuted("action_listen"),
    lambda: user("初期パスワードは?", "faq"),
    lambda: user("ロックされた", "account_locked"),
    lambda: user("やめます", "stop"),
    lambda: ActionExecuted("utter_faq"),
    lambda: BotUttered("答え"),
    lambda: ActionExecuted("unlock_form"),
    lambda: ActiveLoop("unlock_form"),
    lambda: ActiveLoop(None),
    lambda: SlotSet("requested_slot", "unlock_birth_date"),
    lambda: SlotSet("requested_slot", None),
    lambda: SlotSet("society", "ono"),
    lambda: SessionStarted(),
    lambda: ActionExecuted("action_session_start"),
    lambda: Restarted(),
    lambda: UserUtteranceReverted(),
    lambda: ActionReverted(),
]


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.lists(st.integers(0, len(EVENT_POOL) - 1), min_size=1, max_size=4),
        min_size=1,
        max_size=25,
    ),
    with_rule_only=st.booleans(),
    omit=st.booleans(),
)
def test_going_on_from_a_kept_replay_gives_rasas_states(domain, steps, with_rule_only, omit):
    kwargs = {"omit_unset_slots": omit}
    if with_rule_only:
        kwargs["rule_only_data"] = {
            "rule_only_slots": ["requested_slot"],
            "rule_only_loops": [],
        }
    tracker = DialogueStateTracker("member", domain.slots)
    for step in steps:
        for index in step:  # several events between two predictions, as in a turn
            tracker.update(EVENT_POOL[index]())
        assert ours(tracker, domain, **kwargs) == rasa_states(tracker, domain, **kwargs)
        # asked again (RulePolicy's text, then intent lookup)
        assert ours(tracker, domain, **kwargs) == rasa_states(tracker, domain, **kwargs)


def test_a_turn_goes_on_from_the_kept_replay_and_a_rewind_does_not(domain):
    tracker = DialogueStateTracker.from_events("member", CONVERSATION[:8], domain.slots)
    ours(tracker, domain)
    replayed = tracker.__dict__["_kosmo_past_states"].replay
    assert replayed is not None
    tracker.update(user("ありがとう", "thank"))
    tracker.update(ActionExecuted("utter_thank"))
    assert ours(tracker, domain) == rasa_states(tracker, domain)
    assert tracker.__dict__["_kosmo_past_states"].replay is replayed  # went on, no new replay
    tracker.update(UserUtteranceReverted())
    assert ours(tracker, domain) == rasa_states(tracker, domain)
    assert tracker.__dict__["_kosmo_past_states"].replay is not replayed


def test_it_has_the_signature_of_the_featurizers_create_states():
    """``IndexedRulePolicy`` puts it in place of its featurizer's ``_create_states``."""
    import inspect

    from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer

    assert list(inspect.signature(ours).parameters) == list(
        inspect.signature(TrackerFeaturizer._create_states).parameters
    )


def test_a_tracker_class_with_its_own_past_states_gets_its_own(domain):
    class OwnStates(DialogueStateTracker):
        def past_states(self, *args, **kwargs):
            return [{"own": {}}]

    tracker = OwnStates.from_events("member", CONVERSATION[:8], domain.slots)
    assert ours(tracker, domain) == [{"own": {}}]
    assert past_states._own_replay_is_rasas(tracker, domain) is False

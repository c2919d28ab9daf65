"""RulePolicy's indexed, early-stopped rule matching finds exactly the rules Rasa's full walk finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.policies.rule_policy import RulePolicy

from bot import rule_matching
from bot.rule_matching import (
    INDEXES_KEPT,
    SHOULD_NOT_BE_SET,
    bounded_possible_keys,
    indexed_possible_keys,
    rule_index,
)
from tests.conftest import PROJECT_ROOT
from tests.model_support import model_path

# Few names, so that many rules share their last state's action and intent.
ACTIONS = ["action_listen", "utter_greet", "unlock_form", SHOULD_NOT_BE_SET, ""]
INTENTS = ["greet", "affirm", "deny", SHOULD_NOT_BE_SET, ""]
LOOPS = ["unlock_form", SHOULD_NOT_BE_SET, ""]
SLOT_VALUES = [(1.0,), [1.0], (0.0, 1.0), [0.0, 1.0], "kose", SHOULD_NOT_BE_SET, None]


def value(names: List[Any]) -> st.SearchStrategy[Any]:
    """A name, mostly; sometimes missing (None) or a list or tuple of names."""
    name = st.sampled_from(names)
    return st.one_of(
        name, name, name, st.none(), st.lists(name, min_size=1, max_size=2), st.tuples(name)
    )


def sub_state(required: Dict[str, st.SearchStrategy[Any]], optional: Dict[str, Any]) -> Any:
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda d: {k: v for k, v in d.items() if v is not None}
    )


prev_action = st.one_of(
    sub_state({"action_name": value(ACTIONS)}, {"action_text": st.sampled_from(["はい", "hi"])}),
    sub_state({"action_name": value(ACTIONS)}, {}),
    st.fixed_dictionaries({"action_text": st.sampled_from(["はい", "hi"])}),
)
user = st.one_of(
    sub_state({"intent": value(INTENTS)}, {"text": st.sampled_from(["こんにちは", "hi"])}),
    sub_state({}, {"text": st.sampled_from(["こんにちは", "hi"])}),
)
slots = st.dictionaries(
    st.sampled_from(["society", "handoff_reason", "requested_slot"]),
    st.sampled_from(SLOT_VALUES),
    max_size=2,
)
active_loop = sub_state({"name": value(LOOPS)}, {})

# A conversation start has no prev_action (or a falsy one); rules with
# `conversation_start: true` begin with such a state.
start = st.fixed_dictionaries(
    {},
    optional={
        "prev_action": st.just({}),
        "user": user,
        "slots": slots,
        "active_loop": active_loop,
    },
)
after_an_action = st.fixed_dictionaries(
    {"prev_action": prev_action},
    optional={"user": user, "slots": slots, "active_loop": active_loop},
)
state = st.one_of(after_an_action, after_an_action, after_an_action, start)


def as_conversation(rule_state: Dict[str, Any]) -> Dict[str, Any]:
    """A conversation state a rule state was made from: lists back to tuples, as Rasa's states have."""
    return {
        kind: {
            key: tuple(v) if isinstance(v, list) else v
            for key, v in sub.items()
            if v != SHOULD_NOT_BE_SET
        }
        for kind, sub in rule_state.items()
    }


@st.composite
def rules_and_conversation(draw: Any) -> Tuple[Dict[str, str], List[Dict[str, Any]]]:
    """Up to 40 rules made of a few states, so that they share last states and match."""
    pool = draw(st.lists(state, min_size=1, max_size=8))
    starts = [s for s in pool if not s.get("prev_action")] or [{}]
    some_states = st.lists(st.sampled_from(pool), min_size=1, max_size=4)
    rule = st.one_of(
        some_states,
        st.builds(lambda first, rest: [first, *rest], st.sampled_from(starts), some_states),
    )
    count = draw(st.one_of(st.integers(0, 8), st.integers(20, 40)))
    rules = draw(st.lists(rule, min_size=count, max_size=count))
    lookup = {json.dumps(rule, sort_keys=True): "utter_x" for rule in rules}
    if draw(st.integers(0, 3)) == 0:
        lookup["[]"] = "utter_x"  # a rule of no state, which fits everything
    conversation = draw(st.lists(st.one_of(st.sampled_from(pool), state), max_size=8))
    if rules and draw(st.booleans()):
        # end the conversation with (the states of) one of the rules, so that
        # rules do match, often at several distances
        chosen = draw(st.sampled_from(rules))
        conversation += chosen[draw(st.integers(0, len(chosen) - 1)) :]
    # as a policy has them (tuples, no should_not_be_set) or as the rule has them
    return lookup, [
        as_conversation(s) if draw(st.booleans()) else json.loads(json.dumps(s))
        for s in conversation
    ]


def rasa_walk(policy: RulePolicy, lookup: dict, states: list) -> Set[str]:
    """Rasa 3.6's own `_get_possible_keys`."""
    return RulePolicy._get_possible_keys(policy, lookup, states)


def new_policy(cls: type = RulePolicy) -> Any:
    return object.__new__(cls)  # matching uses no configuration


@settings(max_examples=250, deadline=None)
@given(rules_and_conversation())
def test_indexed_matching_finds_the_same_rules_as_rasa(case):
    lookup, conversation = case
    policy = new_policy()
    # at every prediction of the conversation, as a policy meets it
    for end in range(len(conversation) + 1):
        states = conversation[:end]
        expected = rasa_walk(policy, lookup, states)
        assert indexed_possible_keys(policy, lookup, states) == expected
        assert bounded_possible_keys(policy, lookup, states) == expected


def test_a_conversation_start_matches_the_rules_without_prev_action_whatever_their_intent():
    policy = new_policy()
    start_rule = json.dumps([{"user": {"intent": "greet"}}])
    greet_rule = json.dumps([{"prev_action": {"action_name": "action_listen"}}])
    lookup = {start_rule: "utter_greet", greet_rule: "utter_greet"}
    for start in (
        {},
        {"user": {"intent": "deny"}},
        {"prev_action": {}, "slots": {"society": (1.0,)}},
    ):
        assert indexed_possible_keys(policy, lookup, [start]) == {start_rule}
        assert rasa_walk(policy, lookup, [start]) == {start_rule}
    after = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "deny"}}
    assert indexed_possible_keys(policy, lookup, [after]) == {greet_rule}


def test_buckets_hold_only_values_that_impose_equality():
    states = [
        {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}},
        {"prev_action": {"action_name": SHOULD_NOT_BE_SET}, "user": {"intent": "greet"}},
        {"prev_action": {"action_name": ["action_listen"]}},
        {"prev_action": {"action_text": "hi"}, "user": {"intent": ""}},
        {"user": {"intent": "greet"}},
    ]
    keys = [json.dumps([s]) for s in states]
    index = rule_index(dict.fromkeys(keys, "utter_x"))
    by_key = {rule[0]: bucket for bucket, rules in index.buckets.items() for rule in rules}
    assert by_key == {
        keys[0]: ("action_listen", "greet"),
        keys[1]: (None, "greet"),
        keys[2]: (None, None),
        keys[3]: (None, None),
    }  # keys[4] can only match a conversation start, tested with every rule
    assert not index.unbucketed


def test_a_changed_lookup_is_matched_as_it_is_now():
    policy = new_policy()
    listen_greet = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    conversation = [{}, listen_greet]
    greet = json.dumps([listen_greet])
    longer = json.dumps([{}, listen_greet])
    other = json.dumps([{"prev_action": {"action_name": "utter_greet"}}])
    lookup = {other: "action_listen"}
    assert indexed_possible_keys(policy, lookup, conversation) == set()
    lookup[greet] = "utter_greet"  # as training does: the same dict, changed
    assert indexed_possible_keys(policy, lookup, conversation) == {greet}
    lookup[longer] = "utter_greet"
    assert indexed_possible_keys(policy, lookup, conversation) == {greet, longer}
    del lookup[greet]
    assert indexed_possible_keys(policy, lookup, conversation) == {longer}
    lookup.clear()
    assert indexed_possible_keys(policy, lookup, conversation) == set()
    # more lookups than the cache keeps, in turns: each still its own rules
    lookups = [{greet: "a"}, {longer: "b"}, {other: "c"}, {greet: "d", other: "e"}, {longer: "f"}]
    for _ in range(2):
        for each in lookups:
            assert indexed_possible_keys(policy, each, conversation) == rasa_walk(
                policy, each, conversation
            )
    assert len(rule_matching._INDEXES) <= INDEXES_KEPT


def test_a_policy_with_its_own_matching_keeps_it():
    class Lenient(RulePolicy):
        @staticmethod
        def _does_rule_match_state(rule_state: Any, conversation_state: Any) -> bool:
            return True

    rule = json.dumps([{"prev_action": {"action_name": "utter_greet"}, "user": {"intent": "deny"}}])
    conversation = [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]
    assert rasa_walk(new_policy(Lenient), {rule: "x"}, conversation) == {rule}
    assert indexed_possible_keys(new_policy(Lenient), {rule: "x"}, conversation) == {rule}
    assert indexed_possible_keys(new_policy(), {rule: "x"}, conversation) == set()


@pytest.mark.parametrize("shortcut", [True, False])
def test_the_indexed_policy_matches_with_the_index_once_loaded_with_it(shortcut, monkeypatch):
    from bot.indexed_rule_policy import IndexedRulePolicy

    policy = new_policy(IndexedRulePolicy)
    policy._rule_matching = rule_matching if shortcut else None
    used = []
    monkeypatch.setattr(rule_matching, "indexed_possible_keys", lambda *a: used.append("ours") or set())
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", lambda *a: used.append("rasa") or set())
    policy._get_possible_keys({}, [])
    assert used == (["ours"] if shortcut else ["rasa"])


# --- the real model's rules, on the test stories ---------------------------------


@pytest.fixture(scope="module")
def trained_rule_policy(tmp_path_factory: pytest.TempPathFactory) -> Tuple[RulePolicy, Any]:
    """The trained RulePolicy and domain, loaded from the model alone (no NLU, no agent)."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage, metadata = LocalModelStorage.from_model_archive(
        tmp_path_factory.mktemp("model"), Path(model_path())
    )
    nodes = [
        node
        for node in metadata.predict_schema.nodes.values()
        if isinstance(node.uses, type) and issubclass(node.uses, RulePolicy)
    ]
    assert len(nodes) == 1, nodes
    node = nodes[0]
    policy = node.uses.load(
        {**node.uses.get_default_config(), **node.config},
        storage,
        node.resource,
        ExecutionContext(metadata.predict_schema, metadata.model_id),
    )
    return policy, metadata.domain


def story_trackers(domain: Any) -> List[Any]:
    """Every test story as a tracker, and one long conversation of the first 40 in a row."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.training_data.loading import load_data_from_resource
    from rasa.shared.core.training_data.structures import StoryGraph

    steps = load_data_from_resource(str(PROJECT_ROOT / "tests" / "stories"), domain)
    trackers = TrainingDataGenerator(
        StoryGraph(steps),
        domain,
        remove_duplicates=False,
        augmentation_factor=0,
        use_story_concatenation=False,
    ).generate_story_trackers()
    long_events: List[Any] = []
    for tracker in trackers[:40]:
        for event in tracker.events:
            if long_events or not isinstance(event, ActionExecuted):
                long_events.append(event)
    long = DialogueStateTracker.from_events("long", long_events, slots=domain.slots)
    return [*trackers, long]


@pytest.mark.model
def test_real_rules_over_the_test_stories_match_as_rasas(trained_rule_policy, monkeypatch):
    """At every prediction of every test story, the indexed matching finds Rasa's rules."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    policy, domain = trained_rule_policy
    assert len(policy.lookup["rules"]) > 50
    calls: List[Tuple[str, int]] = []

    def compare(self: RulePolicy, lookup: Dict[str, str], states: List[Any]) -> Set[str]:
        expected = rasa_walk(self, lookup, states)
        found = indexed_possible_keys(self, lookup, states)
        assert found == expected, (states, found ^ expected)
        which = "loop" if lookup is self.lookup["rules_for_loop_unhappy_path"] else "rules"
        calls.append((which, len(expected)))
        return expected

    monkeypatch.setattr(type(policy), "_get_possible_keys", compare)
    rule_only_data = policy._get_rule_only_data()
    trackers = story_trackers(domain)
    assert len(trackers) > 40
    for tracker in trackers:
        events = list(tracker.events)
        for i, event in enumerate(events):
            if i and isinstance(event, ActionExecuted):  # predict this action
                before = DialogueStateTracker.from_events(
                    tracker.sender_id, events[:i], slots=domain.slots
                )
                policy.predict_action_probabilities(before, domain, rule_only_data=rule_only_data)
    assert len(calls) > 500
    assert any(which == "loop" for which, _ in calls)  # the loops' unhappy paths too
    assert sum(1 for _, found in calls if found) > 200  # mostly predictions that found rules

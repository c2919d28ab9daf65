"""RulePolicy's rule matching, stopped early, finds exactly the rules Rasa's full walk finds."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.policies.rule_policy import RulePolicy

from bot.rule_matching import bound_rule_matching, bounded_possible_keys

ACTIONS = ["action_listen", "utter_greet", "utter_faq", "unlock_form", "action_offer_handoff"]
INTENTS = ["greet", "faq", "account_locked", "affirm", "deny"]

user = st.fixed_dictionaries({"intent": st.sampled_from(INTENTS)})
prev = st.fixed_dictionaries({"action_name": st.sampled_from(ACTIONS)})
slots = st.dictionaries(
    st.sampled_from(["tenant", "handoff_reason"]),
    st.sampled_from([(1.0,), "should_not_be_set"]),
    max_size=1,
)
loop = st.fixed_dictionaries({"name": st.sampled_from(["unlock_form", "should_not_be_set"])})

state = st.one_of(
    st.just({}),  # a conversation start
    st.builds(
        lambda p, u, s, a: {
            k: v
            for k, v in {"prev_action": p, "user": u, "slots": s, "active_loop": a}.items()
            if v
        },
        prev,
        st.one_of(st.none(), user),
        slots,
        st.one_of(st.none(), loop),
    ),
)


def rasa_walk(policy: RulePolicy, lookup: dict, states: list) -> set:
    """Rasa 3.6's own `_get_possible_keys`, whether or not ours is installed."""
    method = RulePolicy._get_possible_keys
    method = getattr(method, "rasa_original", method)
    return method(policy, lookup, states)


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(st.lists(state, min_size=1, max_size=6), min_size=0, max_size=12),
    conversation=st.lists(state, min_size=0, max_size=25),
)
def test_the_early_stop_finds_the_same_rules(rules, conversation):
    policy = object.__new__(RulePolicy)
    lookup = {json.dumps(rule, sort_keys=True): "utter_x" for rule in rules}
    assert bounded_possible_keys(policy, lookup, conversation) == rasa_walk(
        policy, lookup, conversation
    )


def test_installing_it_replaces_rasas_walk_once():
    bound_rule_matching()
    bound_rule_matching()
    installed = RulePolicy._get_possible_keys
    assert getattr(installed, "rasa_original", None) is not None
    assert not hasattr(installed.rasa_original, "rasa_original")
    policy = object.__new__(RulePolicy)
    rule = json.dumps(
        [{}, {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]
    )
    states = [{}, {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]
    assert policy._get_possible_keys({rule: "utter_greet"}, states) == {rule}
    assert (
        policy._get_possible_keys(
            {rule: "utter_greet"}, [{"prev_action": {"action_name": "utter_faq"}}, states[1]]
        )
        == set()
    )

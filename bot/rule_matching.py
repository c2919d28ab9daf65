"""Rasa's rule matching, with the rules indexed by their last state and the walk stopped early.

RulePolicy finds the rules that fit a conversation with ``_get_possible_keys``:
it walks the conversation's states from the newest to the oldest and, at each
distance, keeps the rules whose state at that distance matches
(``_is_rule_applicable``). Rasa 3.6 tests every rule at the newest state (and
the rules left at every older state, to the first), parsing and reversing each
rule's states again for each test.

``indexed_possible_keys`` is the same walk with two changes that do not
change its result:

* **The first step looks the rules up.** Each lookup
  (``policy.lookup["rules"]``, ``["rules_for_loop_unhappy_path"]``) gets an
  index: every rule's states, parsed and reversed once, and its rule in a
  bucket named by what its last state requires of ``prev_action.action_name``
  and of ``user.intent`` (a wildcard where it requires nothing). A conversation
  state tests only the rules of its (at most 4) buckets (name, intent),
  (name, *), (*, intent) and (*, *), and the rules left are walked back as
  before, on their pre-reversed states, with the logic of
  ``_is_rule_applicable`` (inlined, calling the policy's
  ``_does_rule_match_state``).

* **The walk stops** as soon as every rule left is shorter than the distance (a
  rule shorter than the distance always "matches" there), or none is left.
  Without this stop the cost grew with the conversation (about 13 ms of each
  turn at 80 turns, 4 predictions a turn, when every rule was walked back).

Why the buckets are exact (Rasa 3.6's ``_is_rule_applicable`` and
``_does_rule_match_state``): at distance 0, a rule whose last state has no
(truthy) ``prev_action`` matches every conversation state without one and no
other, and a rule with one matches no conversation state without one; so a
state without a truthy ``prev_action`` (a conversation start) tests every rule,
and the others never test the rules without ``prev_action``. A rule's value
must be equal only when it is truthy and not ``should_not_be_set``; a rule is
bucketed by such a value only when it is a ``str`` (any other is a wildcard and
left to the test), and a conversation's value is looked up only when it is a
``str`` (absent, that is ``None``, it can equal no such value, so only the
wildcard buckets are candidates). A state with any other value (a list or
tuple, a ``prev_action`` or ``user`` that is not a dict) tests every rule, and
a rule that cannot be bucketed (no state, a last state that is not a dict) is a
candidate for every state. The buckets thus leave out only rules that Rasa's
test rejects, and every candidate is tested as Rasa tests it. A policy class
that overrides ``_is_rule_applicable``, ``_does_rule_match_state`` or
``_rule_key_to_state`` gets the stopped walk with its own methods instead.

The result is the same set of rules, exactly. ``tests/test_rule_matching.py``
compares it with Rasa's at every prediction of generated conversations and
rules (conversation starts, ``conversation_start``-like rules,
``should_not_be_set``, list and tuple values, active loops, up to 40 rules
sharing a few states) and of the test stories with the trained model's rules.
(When several rules of the same key length fit, Rasa picks one by the set's
iteration order, which depends on the process's string hashes; that was never
deterministic, with or without the index.)

The index is never stale: it is cached by the lookup's keys (all that the
result depends on), so a rule added or removed, as training does to the lookup,
or another model's lookup finds or builds its own index; the last 4 are kept.
That key, a tuple of ~170 keys, costs ~2 µs a call (a frozenset ~5 µs).

Measured on the model kosmo-bd463ec659ea (174 rules, 4 for loops' unhappy
paths) over the 1171 calls of the 133 test stories and of one conversation of
40 of them in a row (up to 148 states), per call: Rasa's ``_get_possible_keys``
~330 µs, the stopped walk alone ~330 µs (these conversations are short, and
most rules are rejected at the newest state anyway), indexed ~16 µs (~14 µs
after an action, where a state has 0 to 7 candidates; ~35 µs at a conversation
start, where all 174 rules are tested).

``bot.indexed_rule_policy.IndexedRulePolicy`` matches its rules with it once
its model is loaded; training is Rasa's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set, Text, Tuple

# Rasa's names (rasa.shared.core.constants and rasa.shared.nlu.constants), here
# as literals so that importing this module does not import Rasa.
SHOULD_NOT_BE_SET = "should_not_be_set"
PREVIOUS_ACTION = "prev_action"
USER = "user"
ACTION_NAME = "action_name"
INTENT = "intent"

# How many lookups' indexes are kept: a policy has two, and a server loading a
# new model briefly has both models' (training mutates its lookup in steps).
INDEXES_KEPT = 4

State = Dict[Text, Any]
# A rule: its key (as in the lookup) and its states from the last to the first.
Rule = Tuple[Text, Tuple[State, ...]]
# What a rule's last state requires of prev_action.action_name and user.intent.
Bucket = Tuple[Optional[Text], Optional[Text]]
WILDCARD = None

_RulePolicy: Any = None


def _rule_policy() -> Any:
    """Rasa's RulePolicy class, imported when first needed (Rasa is slow to import)."""
    global _RulePolicy
    if _RulePolicy is None:
        from rasa.core.policies.rule_policy import RulePolicy

        _RulePolicy = RulePolicy
    return _RulePolicy


class RuleIndex:
    """A lookup's rules, parsed and reversed once, bucketed by their last state."""

    __slots__ = ("rules", "buckets", "unbucketed")

    def __init__(self, rule_keys: Sequence[Text]) -> None:
        parse = _rule_policy()._rule_key_to_state
        self.rules: Tuple[Rule, ...] = tuple(
            (key, tuple(reversed(parse(key)))) for key in rule_keys
        )
        # Rules whose last state has a truthy prev_action, by the (action name,
        # intent) it requires, None (a wildcard) where it requires no str.
        buckets: Dict[Bucket, List[Rule]] = {}
        # Rules that cannot be bucketed: candidates for every state.
        unbucketed: List[Rule] = []
        for rule in self.rules:
            states = rule[1]
            if states and type(states[0]) is dict and not states[0].get(PREVIOUS_ACTION):
                continue  # matches only a conversation start, where every rule is tested
            bucket = _bucket_of(states)
            if bucket is None:
                unbucketed.append(rule)
            else:
                buckets.setdefault(bucket, []).append(rule)
        self.buckets: Dict[Bucket, Tuple[Rule, ...]] = {
            bucket: tuple(rules) for bucket, rules in buckets.items()
        }
        self.unbucketed: Tuple[Rule, ...] = tuple(unbucketed)

    def candidates(self, state: Any) -> Sequence[Rule]:
        """The rules that may match ``state`` at distance 0: all whose bucket fits it."""
        if type(state) is not dict:
            return self.rules
        previous = state.get(PREVIOUS_ACTION)
        if not previous or type(previous) is not dict:
            return self.rules  # a conversation start (or an odd state): test them all
        user = state.get(USER, {})
        if type(user) is not dict:
            return self.rules
        name = previous.get(ACTION_NAME)
        intent = user.get(INTENT)
        if (name is not None and type(name) is not str) or (
            intent is not None and type(intent) is not str
        ):
            return self.rules
        buckets = self.buckets
        found: List[Rule] = list(self.unbucketed)
        for bucket in {(name, intent), (name, WILDCARD), (WILDCARD, intent), (WILDCARD, WILDCARD)}:
            rules = buckets.get(bucket)
            if rules:
                found.extend(rules)
        return found


def _required(value: Any) -> Optional[Text]:
    """The str a rule's value requires the conversation's to equal, else None (a wildcard).

    Only a truthy value other than ``should_not_be_set`` must be equal
    (``_does_rule_match_state``); one that is not a str (a list, which Rasa
    compares as a tuple) is left to the test, as a wildcard.
    """
    if type(value) is str and value and value != SHOULD_NOT_BE_SET:
        return value
    return WILDCARD


def _bucket_of(reversed_states: Tuple[State, ...]) -> Optional[Bucket]:
    """The bucket of a rule whose last state has a truthy prev_action; None if it has none."""
    if not reversed_states or type(reversed_states[0]) is not dict:
        return None  # no state: matches everything; not a dict: Rasa's test fails alike
    last = reversed_states[0]
    previous = last.get(PREVIOUS_ACTION)
    user = last.get(USER, {})
    if type(previous) is not dict or type(user) is not dict:
        return None
    return (_required(previous.get(ACTION_NAME)), _required(user.get(INTENT)))


_INDEXES: Dict[Tuple[Text, ...], RuleIndex] = {}


def rule_index(lookup: Dict[Text, Text]) -> RuleIndex:
    """The index of ``lookup``'s rules as they are now.

    Cached by the lookup's keys, in their order: the same keys give the same
    rules (the result never depends on the actions). A tuple is built and
    hashed about twice as fast as a frozenset (a lookup whose keys come in
    another order merely gets an index of its own).
    """
    keys = tuple(lookup)
    index = _INDEXES.get(keys)
    if index is None:
        index = RuleIndex(keys)
        while len(_INDEXES) >= INDEXES_KEPT:
            _INDEXES.pop(next(iter(_INDEXES)), None)
        _INDEXES[keys] = index
    return index


def _uses_rasas_matching(policy: Any) -> bool:
    """Whether ``policy`` matches rules with Rasa's methods (those the index assumes)."""
    cls, rasa = type(policy), _rule_policy()
    return (
        cls._is_rule_applicable is rasa._is_rule_applicable
        and cls._does_rule_match_state is rasa._does_rule_match_state
        and cls._rule_key_to_state is rasa._rule_key_to_state
    )


def indexed_possible_keys(policy: Any, lookup: Dict[Text, Text], states: List[Any]) -> Set[Text]:
    """The rules of ``lookup`` that fit ``states``, as Rasa's ``_get_possible_keys`` finds them."""
    if not states or not lookup:
        return set(lookup)
    if not _uses_rasas_matching(policy):
        return bounded_possible_keys(policy, lookup, states)
    matches = policy._does_rule_match_state
    index = rule_index(lookup)
    # Rasa's _is_rule_applicable, inlined, on pre-reversed states: first at
    # distance 0 on the candidates only, then walking back on the rules that
    # are left until none reaches further back.
    rules: Sequence[Rule] = index.candidates(states[-1])
    distance = 0
    while rules and distance < len(states):
        state = states[-1 - distance]
        if type(state) is not dict:
            return bounded_possible_keys(policy, lookup, states)
        previous = state.get(PREVIOUS_ACTION)
        kept = []
        for rule in rules:
            reversed_states = rule[1]
            if distance >= len(reversed_states):
                kept.append(rule)
                continue
            rule_state = reversed_states[distance]
            rule_previous = rule_state.get(PREVIOUS_ACTION)
            if not rule_previous and not previous:
                kept.append(rule)
            elif rule_previous and previous and matches(rule_state, state):
                kept.append(rule)
        rules = kept
        distance += 1
        if distance >= max((len(rule[1]) for rule in rules), default=0):
            break  # every rule left is shorter than this distance: all stay
    return {rule[0] for rule in rules}


def bounded_possible_keys(policy: Any, lookup: Dict[Text, Text], states: List[Any]) -> Set[Text]:
    """Rasa's walk with the policy's own ``_is_rule_applicable``, stopped once no rule reaches further."""
    possible = set(lookup.keys())
    reach = max((len(policy._rule_key_to_state(key)) for key in possible), default=0)
    for distance, state in enumerate(reversed(states)):
        if not possible or distance >= reach:
            break  # every rule left is shorter than this distance: all stay
        possible = {key for key in possible if policy._is_rule_applicable(key, distance, state)}
        reach = max((len(policy._rule_key_to_state(key)) for key in possible), default=0)
    return possible


def _mirrored() -> List[Any]:
    """The Rasa code this module follows (its source is guarded, see ``bot.indexed_rule_policy``)."""
    RulePolicy = _rule_policy()
    return [
        RulePolicy._get_possible_keys,
        RulePolicy._is_rule_applicable,
        RulePolicy._does_rule_match_state,
        RulePolicy._rule_key_to_state,
    ]


MIRRORED_SHA256 = "23e0c3f7ccc0c44f5150ea3e7eab226feda30c6f62486625d7f754eecd203df6"

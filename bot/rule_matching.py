"""Rasa's rule matching, stopped as soon as no rule can look further back.

RulePolicy finds the rules that fit a conversation with
``_get_possible_keys``: it walks the conversation's states from the newest to
the oldest and, at each step, keeps the rules whose state at that distance
matches. A rule shorter than the distance always "matches" there, so once
every remaining rule is shorter than the distance, nothing can change, yet
Rasa 3.6 goes on to the first state of the conversation, checking every
remaining rule again at each step. That made the cost grow with the
conversation (about 13 ms of each turn at 80 turns, 4 predictions per turn).

``bound_rule_matching`` installs the same walk with that stop (and a stop when
no rule is left). The result is the same set of rules, exactly:
``tests/test_rule_matching.py`` compares it with Rasa's on generated rules and
conversations. Like the tracker store's other adjustments (``bot.tracker_store``),
it is installed by the tracker store when the Rasa server starts.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Set, Text


@functools.lru_cache(maxsize=8192)
def _rule_length(rule_key: Text) -> int:
    from rasa.core.policies.rule_policy import RulePolicy

    return len(RulePolicy._rule_key_to_state(rule_key))


def bounded_possible_keys(policy: Any, lookup: Dict[Text, Text], states: List[Any]) -> Set[Text]:
    """The rules of ``lookup`` that fit ``states``, as Rasa's ``_get_possible_keys`` finds them."""
    possible = set(lookup.keys())
    reach = max((_rule_length(key) for key in possible), default=0)
    for distance, state in enumerate(reversed(states)):
        if not possible or distance >= reach:
            break  # every rule left is shorter than this distance: all stay
        possible = {key for key in possible if policy._is_rule_applicable(key, distance, state)}
        reach = max((_rule_length(key) for key in possible), default=0)
    return possible


def bound_rule_matching() -> None:
    """Make RulePolicy stop walking back once no remaining rule reaches further (idempotent)."""
    from rasa.core.policies.rule_policy import RulePolicy

    if hasattr(RulePolicy._get_possible_keys, "rasa_original"):
        return

    def _get_possible_keys(self: Any, lookup: Dict[Text, Text], states: List[Any]) -> Set[Text]:
        return bounded_possible_keys(self, lookup, states)

    _get_possible_keys.rasa_original = RulePolicy._get_possible_keys  # type: ignore[attr-defined]
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]

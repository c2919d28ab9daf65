"""A tracker's past states, computed once per tracker version instead of once per question.

To predict the action after a member's message, RulePolicy asks for the
conversation's states twice: once with the message's text, once with its
intent (Rasa 3.6, ``RulePolicy._find_action_from_rules``). Each time Rasa
replays the whole conversation event by event (``DialogueStateTracker.past_states``,
``Domain.states_for_tracker_history``); the two replays see the same events and
give the same states. That was about a third of the state-building cost, about
0.6 ms of CPU per member message in the server.

``remember_past_states`` makes ``past_states`` keep its last answer on the
tracker, with what it was computed from: the number of events, the newest
event object itself (``is``, so appending, or a full deque that drops its
oldest event, makes a new version), the domain object, and the arguments
(``rule_only_data`` by value: RulePolicy builds a new dict of the same lists
for every call). A call with all
of these unchanged gets a copy of the kept states; anything else computes them
as Rasa does. The copy is two levels deep because Rasa's featurizer deletes keys
from a state's sub-dicts (``_choose_last_user_input``) and states from the list;
below that, state values are strings and tuples, which nothing changes.
``tests/test_past_states.py`` checks equality with Rasa's own replay. The
tracker store installs it when the server starts (``bot.tracker_store``).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Text

_MEMO = "_kosmo_past_states"


def _copy(states: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    return [
        {name: dict(sub) if isinstance(sub, dict) else sub for name, sub in state.items()}
        for state in states
    ]


def remember_past_states() -> None:
    """Install the memo on ``DialogueStateTracker.past_states`` (idempotent)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if hasattr(DialogueStateTracker.past_states, "rasa_original"):
        return
    original = DialogueStateTracker.past_states

    def past_states(
        self: DialogueStateTracker,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[Text, Any]] = None,
    ) -> List[Dict[Text, Any]]:
        newest = self.events[-1] if self.events else None
        memo = self.__dict__.get(_MEMO)
        if (
            memo is not None
            and memo[0] == len(self.events)
            and memo[1] is newest
            and memo[2] is domain
            and memo[3] == (omit_unset_slots, ignore_rule_only_turns)
            and memo[4] == rule_only_data
        ):
            return _copy(memo[5])
        states = original(
            self,
            domain,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )
        self.__dict__[_MEMO] = (
            len(self.events),
            newest,
            domain,
            (omit_unset_slots, ignore_rule_only_turns),
            copy.deepcopy(rule_only_data),
            _copy(states),
        )
        return states

    past_states.rasa_original = original  # type: ignore[attr-defined]
    DialogueStateTracker.past_states = past_states  # type: ignore[method-assign]

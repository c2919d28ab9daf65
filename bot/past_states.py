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
for every call). A call with all of these unchanged gets a copy of the kept
states.

The prediction after the bot's action sees the same conversation plus the
action's few events, and Rasa replays it all again. When the kept answer's
events are still the start of the tracker's events and the new ones only add
to what Rasa's replay applies (no restart, new session, rewind or undo, no
form starting or running again: ``applied_events`` treats those specially),
the kept replay goes on over the new events only, taking a state before each
action as Rasa's ``Domain.states_for_tracker_history`` does. Anything else,
and Rasa's variant that hides rule-only turns (which RulePolicy does not use),
is computed by Rasa's own code. The copy is two levels deep because Rasa's featurizer deletes keys
from a state's sub-dicts (``_choose_last_user_input``) and states from the list;
below that, state values are strings and tuples, which nothing changes.
``tests/test_past_states.py`` checks equality with Rasa's own replay.
``bot.speedups`` installs it when the server starts.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

_MEMO = "_kosmo_past_states"
State = Dict[Text, Any]


def _copy(states: List[State]) -> List[State]:
    return [
        {name: dict(sub) if isinstance(sub, dict) else sub for name, sub in state.items()}
        for state in states
    ]


@dataclass
class _Kept:
    length: int
    newest: Any
    domain: Any
    flags: tuple
    rule_only_data: Any
    states: List[State]
    replay: Any  # the replayed tracker after all events (None: Rasa computed the states)
    loop_names: frozenset


def remember_past_states() -> None:
    """Install the memo on ``DialogueStateTracker.past_states`` (idempotent)."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    if hasattr(DialogueStateTracker.past_states, "rasa_original"):
        return
    original = DialogueStateTracker.past_states
    special = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)

    def own_replay_is_rasas(tracker: Any, domain: Any) -> bool:
        return (
            type(domain).states_for_tracker_history is Domain.states_for_tracker_history
            and type(tracker).generate_all_prior_trackers
            is DialogueStateTracker.generate_all_prior_trackers
        )

    def only_appends(new_events: List[Any], loop_names: frozenset) -> bool:
        """Whether ``applied_events`` of the longer list is the old one plus ``new_events``."""
        for event in new_events:
            if isinstance(event, special) and not (
                isinstance(event, ActiveLoop) and not event.name
            ):
                return False
            if isinstance(event, ActionExecuted) and event.action_name in loop_names:
                return False
        return True

    def replay(domain: Any, tracker: Any, events: Any, omit: bool, states: List[State]) -> None:
        # Domain.states_for_tracker_history without rule-only turns: a state before
        # each action (generate_all_prior_trackers); the final state is added by the caller
        for event in events:
            if isinstance(event, ActionExecuted):
                states.append(domain.get_active_state(tracker, omit_unset_slots=omit))
            tracker.update(event)

    def past_states(
        self: DialogueStateTracker,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[Text, Any]] = None,
    ) -> List[State]:
        events = self.events
        length = len(events)
        newest = events[-1] if length else None
        flags = (omit_unset_slots, ignore_rule_only_turns)
        kept: Optional[_Kept] = self.__dict__.get(_MEMO)
        if (
            kept is not None
            and kept.domain is domain
            and kept.flags == flags
            and kept.rule_only_data == rule_only_data
        ):
            if kept.length == length and kept.newest is newest:
                return _copy(kept.states)
            if (
                kept.replay is not None
                and 0 < kept.length < length
                and events[kept.length - 1] is kept.newest
            ):
                new_events = list(itertools.islice(events, kept.length, None))
                if only_appends(new_events, kept.loop_names):
                    states = _copy(kept.states[:-1])
                    tracker = kept.replay
                    replay(domain, tracker, new_events, omit_unset_slots, states)
                    states.append(
                        domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
                    )
                    self.__dict__[_MEMO] = _Kept(
                        length,
                        newest,
                        domain,
                        flags,
                        kept.rule_only_data,
                        _copy(states),
                        tracker,
                        kept.loop_names,
                    )
                    return states
        if ignore_rule_only_turns or not own_replay_is_rasas(self, domain):
            states = original(
                self,
                domain,
                omit_unset_slots=omit_unset_slots,
                ignore_rule_only_turns=ignore_rule_only_turns,
                rule_only_data=rule_only_data,
            )
            tracker = None
        else:
            states = []
            tracker = self.init_copy()
            replay(domain, tracker, self.applied_events(), omit_unset_slots, states)
            states.append(domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots))
        loop_names = frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
        self.__dict__[_MEMO] = _Kept(
            length,
            newest,
            domain,
            flags,
            copy.deepcopy(rule_only_data),
            _copy(states),
            tracker,
            loop_names,
        )
        return states

    past_states.rasa_original = original  # type: ignore[attr-defined]
    DialogueStateTracker.past_states = past_states  # type: ignore[method-assign]

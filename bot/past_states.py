"""A tracker's past states, computed once per tracker version instead of once per question.

To predict the action after a member's message, RulePolicy asks for the
conversation's states twice: once with the message's text, once with its
intent (Rasa 3.6, ``RulePolicy._find_action_from_rules``). Each time Rasa
replays the whole conversation event by event (``DialogueStateTracker.past_states``,
``Domain.states_for_tracker_history``); the two replays see the same events and
give the same states. That was about a third of the state-building cost, about
0.6 ms of CPU per member message in the server.

``remembered_past_states`` keeps its last answer on the tracker, with what
it was computed from: the number of events, the newest
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
``bot.indexed_rule_policy.IndexedRulePolicy`` uses it for its own prediction
states once its model is loaded (no other caller of ``past_states`` is changed).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

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


def _rasa() -> Tuple[Any, ...]:
    """Rasa's classes used here, imported when first needed (Rasa is slow to import)."""
    global _RASA
    if _RASA is None:
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

        special = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)
        _RASA = (Domain, DialogueStateTracker, ActionExecuted, ActiveLoop, special)
    return _RASA


_RASA: Optional[Tuple[Any, ...]] = None


def _own_replay_is_rasas(tracker: Any, domain: Any) -> bool:
    Domain, DialogueStateTracker = _rasa()[:2]
    return (
        type(domain).states_for_tracker_history is Domain.states_for_tracker_history
        and type(tracker).generate_all_prior_trackers is DialogueStateTracker.generate_all_prior_trackers
        and type(tracker).past_states is DialogueStateTracker.past_states
    )


def _only_appends(new_events: List[Any], loop_names: frozenset) -> bool:
    """Whether ``applied_events`` of the longer list is the old one plus ``new_events``."""
    _, _, ActionExecuted, ActiveLoop, special = _rasa()
    for event in new_events:
        if isinstance(event, special) and not (isinstance(event, ActiveLoop) and not event.name):
            return False
        if isinstance(event, ActionExecuted) and event.action_name in loop_names:
            return False
    return True


def _replay(domain: Any, tracker: Any, events: Any, omit: bool, states: List[State]) -> None:
    # Domain.states_for_tracker_history without rule-only turns: a state before
    # each action (generate_all_prior_trackers); the final state is added by the caller
    ActionExecuted = _rasa()[2]
    for event in events:
        if isinstance(event, ActionExecuted):
            states.append(domain.get_active_state(tracker, omit_unset_slots=omit))
        tracker.update(event)


def remembered_past_states(
    tracker: Any,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """``tracker.past_states(domain, ...)``, kept on the tracker and carried on over new events.

    The signature of ``TrackerFeaturizer._create_states``, which
    ``bot.indexed_rule_policy.IndexedRulePolicy`` replaces with this function
    on its own featurizer.
    """
    ActiveLoop = _rasa()[3]
    events = tracker.events
    length = len(events)
    newest = events[-1] if length else None
    flags = (omit_unset_slots, ignore_rule_only_turns)
    kept: Optional[_Kept] = tracker.__dict__.get(_MEMO)
    if (
        kept is not None
        and kept.domain is domain
        and kept.flags == flags
        and kept.rule_only_data == rule_only_data
    ):
        if kept.length == length and kept.newest is newest:
            return _copy(kept.states)
        if kept.replay is not None and 0 < kept.length < length and events[kept.length - 1] is kept.newest:
            new_events = list(itertools.islice(events, kept.length, None))
            if _only_appends(new_events, kept.loop_names):
                states = _copy(kept.states[:-1])
                replayed = kept.replay
                _replay(domain, replayed, new_events, omit_unset_slots, states)
                states.append(domain.get_active_state(replayed, omit_unset_slots=omit_unset_slots))
                tracker.__dict__[_MEMO] = _Kept(
                    length, newest, domain, flags, kept.rule_only_data, _copy(states), replayed, kept.loop_names
                )
                return states
    if ignore_rule_only_turns or not _own_replay_is_rasas(tracker, domain):
        states = tracker.past_states(
            domain,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )
        replayed = None
    else:
        states = []
        replayed = tracker.init_copy()
        _replay(domain, replayed, tracker.applied_events(), omit_unset_slots, states)
        states.append(domain.get_active_state(replayed, omit_unset_slots=omit_unset_slots))
    loop_names = frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
    tracker.__dict__[_MEMO] = _Kept(
        length, newest, domain, flags, copy.deepcopy(rule_only_data), _copy(states), replayed, loop_names
    )
    return states


def _mirrored() -> List[Any]:
    """The Rasa code this module follows (its source is guarded, see ``bot.indexed_rule_policy``)."""
    from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    return [
        TrackerFeaturizer._create_states,
        DialogueStateTracker.past_states,
        DialogueStateTracker.generate_all_prior_trackers,
        DialogueStateTracker.applied_events,
        DialogueStateTracker.init_copy,
        Domain.states_for_tracker_history,
    ]


MIRRORED_SHA256 = "30833f103b3e4bdd99b58062638cea8bc9ba64d6b4a096d1c494ed4f002dc864"

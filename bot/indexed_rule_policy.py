"""Rasa's RulePolicy, with its rules indexed and its prediction states kept, once its model is loaded.

``IndexedRulePolicy`` trains as Rasa's ``RulePolicy`` (the same rules, the
same checks, the same rule-only data). Once a trained model is loaded (the
server, ``rasa test``, ``Agent.load``), it predicts with two shortcuts that
give the same result as Rasa's code:

- the rules that fit the conversation are found with ``bot.rule_matching``:
  indexed by their last state, and the walk back stopped once no rule reaches
  further (Rasa tests all 174 rules at every state: about 330 µs a call,
  16 µs here);
- its prediction states come from ``bot.past_states``: the conversation is
  replayed once per tracker version and carried on over the events an action
  adds, instead of being replayed again for each question (RulePolicy asks by
  text, then by intent, and again after each action).

Both are used only when ``KOSMO_RASA_SPEEDUPS`` is not ``off`` and the Rasa
code they follow is the code they were written for (``bot.speedups.guard``),
checked when the model is loaded; otherwise Rasa's code runs. They are
imported then too, so that training does not import them and changing them
does not retrain the model.

Rasa's recipe validator looks for ``RulePolicy`` by exact class in one check,
so ``rasa train`` warns that it is missing (restart and back intents would not
work); the Makefile filters that one warning, which is wrong here: the policy
is a ``RulePolicy``, and its checks against the domain run in ``train``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Dict, List, Optional, Set, Text

from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class IndexedRulePolicy(RulePolicy):
    """``RulePolicy`` with indexed rule matching and kept prediction states once loaded (see the module)."""

    # set by load(): the module bot.rule_matching, or None (Rasa's own matching)
    _rule_matching: Optional[ModuleType] = None

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "IndexedRulePolicy":
        """Rasa's ``load``, then the shortcuts if they are switched on and written for this Rasa."""
        policy = super().load(config, model_storage, resource, execution_context, **kwargs)
        policy._rule_matching, remembered_past_states = shortcuts()
        if remembered_past_states is not None:
            # this policy's own featurizer builds its states through the memo
            # (TrackerFeaturizer._create_states is a static method: an instance
            # attribute of the same signature takes its place for this object only)
            policy.featurizer._create_states = remembered_past_states  # type: ignore[method-assign]
        return policy

    def _get_possible_keys(self, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
        matching = self._rule_matching
        if matching is not None:
            return matching.indexed_possible_keys(self, lookup, states)
        return super()._get_possible_keys(lookup, states)


def shortcuts() -> tuple[Optional[ModuleType], Any]:
    """(``bot.rule_matching`` or None, ``bot.past_states.remembered_past_states`` or None)."""
    from bot import past_states, rule_matching
    from bot.speedups.guard import shortcut_allowed

    matching = (
        rule_matching
        if shortcut_allowed("RulePolicy: indexed rules", rule_matching._mirrored, rule_matching.MIRRORED_SHA256)
        else None
    )
    states = (
        past_states.remembered_past_states
        if shortcut_allowed("RulePolicy: kept states", past_states._mirrored, past_states.MIRRORED_SHA256)
        else None
    )
    return matching, states

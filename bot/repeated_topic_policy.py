"""A member who asks again what the bot has just answered was not helped by the answer.

「迷惑メールフォルダも見たけど、やっぱり来てないです」 right after the answer
about the missing mail reads, to the NLU, as the same topic again; answering
it a second time with the same text helps nobody. A helpdesk operator hears
"it did not help": apologise, ask what the screen shows now, offer a person.

:class:`RepeatedTopicPolicy` is a dialogue policy (named in ``config.yml``,
Rasa's extension point for deciding the next action): when the member's
message asks the topic of the bot's answer to their previous message, or the
NLU is unsure of it and leans to that topic or to "it did not help", it
predicts ``action_did_not_help`` (``actions/did_not_help.py``), above the
rules (``priority``). It does nothing

- when the bot's answer was an offer (``offers``: 「申請しますか？」): the same
  topic again there means "yes", and the rules start the procedure;
- inside a form, and for anything but the first action after the member's message.

Not trainable: it reads the conversation only, and the topic of a response
from its name (``utter_faq/qr_scan`` answers ``faq/qr_scan``,
``utter_account_locked`` answers ``account_locked``).
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.topics import ANSWER_TOPIC_INTENTS, topic_of_parse

FALLBACK_INTENT = "nlu_fallback"
# how far back to look for the bot's previous answer (events)
LOOKBACK_EVENTS = 60


def best_guess(parse_data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The parse of an unsure message as the NLU's best guess (the ranking's first real intent)."""
    ranked = [r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    if not ranked:
        return None
    return {**parse_data, "intent": ranked[0]}


def previous_answers(tracker: DialogueStateTracker) -> List[str]:
    """The names of the responses the bot gave to the member's previous message."""
    answers: List[str] = []
    seen_latest = False
    # newest first, without copying the conversation (this runs on every member message)
    for event in islice(reversed(tracker.events), LOOKBACK_EVENTS):
        if isinstance(event, UserUttered):
            if seen_latest:
                break
            seen_latest = True
        elif seen_latest and isinstance(event, BotUttered):
            name = (event.metadata or {}).get("utter_action")
            if name:
                answers.append(str(name))
    return answers


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class RepeatedTopicPolicy(Policy):
    """The topic just answered, asked again: predict the "it did not help" action."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 7,  # above RulePolicy (6): the rule would answer the same again
            "action": "action_did_not_help",
            "action_intent": "did_not_help",
            "offers": [],
            # intents that ask a topic; greetings, thanks, yes and no repeat without harm
            "topic_intents": sorted(ANSWER_TOPIC_INTENTS),
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.action = str(config.get("action") or "action_did_not_help")
        self.action_intent = str(config.get("action_intent") or "did_not_help")
        self.offers = frozenset(str(o) for o in config.get("offers") or [])
        self.topic_intents = frozenset(str(i) for i in config.get("topic_intents") or [])

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def repeated(self, tracker: DialogueStateTracker) -> bool:
        """Whether the member's message, right after an answer, says that answer did not help.

        Either it asks the topic the bot answered just before, or the NLU is
        unsure (``nlu_fallback``) and its best guess is that same topic or
        "it did not help" itself: right after an answer, 「アプリ再起動してもまだ
        通りません」 is about that answer, and the reply (an apology with the
        next steps as buttons, and a person) is itself a question.
        """
        if tracker.latest_action_name != ACTION_LISTEN_NAME or tracker.active_loop_name:
            return False
        parse_data = tracker.latest_message.parse_data if tracker.latest_message else {}
        intent = (parse_data.get("intent") or {}).get("name")
        if intent == FALLBACK_INTENT:
            guess = best_guess(parse_data)
            if guess is None:
                return False
            parse_data, intent = guess, guess["intent"]["name"]
            unsure_did_not_help = intent == self.action_intent
        else:
            unsure_did_not_help = False
        if intent not in self.topic_intents and not unsure_did_not_help:
            return False
        answers = previous_answers(tracker)
        if not answers or any(a in self.offers for a in answers):
            return False
        if unsure_did_not_help:
            return any(self.answers_a_topic(a) for a in answers)
        topic = topic_of_parse(parse_data)
        return bool(topic) and f"utter_{topic}" in answers

    def answers_a_topic(self, response: str) -> bool:
        """Whether a response answers a topic (``utter_faq/x``, ``utter_account_locked``), not a greeting."""
        return response.removeprefix("utter_").split("/", 1)[0] in self.topic_intents

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if self.action in domain.action_names_or_texts and self.repeated(tracker):
            probabilities[domain.index_for_action(self.action)] = 1.0
        return self._prediction(probabilities)

"""The ResponseSelector for FAQ answers, run only for messages that may be FAQs.

Rasa runs the ResponseSelector (a second neural model, about as costly as
DIET) on every message, though its answer is used only when the intent is the
retrieval intent ``faq``. This subclass runs it only when the intent ranking
(DIET's averaged with the second opinion's) gives ``faq`` at least
``MIN_TOPIC_SCORE`` of confidence. Below that, nothing reads its
ranking: the clarification buttons (``actions/clarify.py``) weigh each FAQ
topic by the ``faq`` confidence and drop topics under the same threshold, and
the handoff packet and the held-out evaluation read the selection only for
messages whose intent is ``faq``. Training is the ResponseSelector's own.

With ``weigh_intent_by_answer`` (config.yml), the ``faq`` intent's confidence
becomes P(faq) × min(1, P(the selected answer) / ``answer_floor``): the FallbackClassifier after it then
asks back when the models are sure the message is *some* FAQ but not sure
*which* (its threshold was calibrated on the development set). The intent
ranking keeps the unweighed ``faq`` figure, which the clarification buttons
multiply by each answer's.

After :class:`bot.nlu.second_opinion.SecondOpinionClassifier`, the selected
answer and the ranking are those of the average of both models'
(:func:`bot.nlu.second_opinion.combine_answers`): the ranking's figures are
then P(answer | faq), and the clarification buttons still weigh them by the
ranking's ``faq``.

Once its model is loaded it predicts with NumPy, as
``bot.nlu.fast_diet.NumpyDIETClassifier`` does (the same
:class:`bot.nlu.fast_diet.NumpyPrediction`); training is Rasa's.

Rasa's training-time check for a response selector (``DefaultV1RecipeValidator``)
compares exact classes, so ``rasa train`` warns that none is configured; the
Makefile filters that one warning.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import RESPONSE_SELECTOR_PROPERTY_NAME
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data import util
from rasa.shared.nlu.training_data.message import Message

from bot.domain.topics import MIN_TOPIC_SCORE
from bot.nlu.fast_diet import NumpyPrediction
from bot.nlu.second_opinion import FAQ_OPINION, RANKING_LENGTH, combine_answers


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqResponseSelector(NumpyPrediction, ResponseSelector):
    """``ResponseSelector`` that skips messages DIET does not think may be FAQs, predicting with NumPy once loaded."""

    def may_be_faq(self, message: Message) -> bool:
        """Whether the message's intent ranking gives the retrieval intent enough confidence."""
        if not self.retrieval_intent:
            return True
        ranking = message.get(INTENT_RANKING_KEY)
        if ranking is None:  # no intent classifier before us: select for every message
            return True
        for item in ranking:
            if item.get(INTENT_NAME_KEY) == self.retrieval_intent:
                return float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= MIN_TOPIC_SCORE
        intent = message.get(INTENT) or {}
        return intent.get(INTENT_NAME_KEY) == self.retrieval_intent

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **ResponseSelector.get_default_config(),
            "weigh_intent_by_answer": False,
            # P(answer) at and above which the answer counts as sure (no weighing);
            # below it the faq confidence is scaled by P(answer) / answer_floor. 1.0: the plain product
            "answer_floor": 1.0,
        }

    def weigh_intent_by_answer(self, message: Message) -> None:
        """The ``faq`` intent's confidence times the selected answer's."""
        intent = message.get(INTENT) or {}
        if not self.retrieval_intent or intent.get(INTENT_NAME_KEY) != self.retrieval_intent:
            return
        selected = (message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}).get(self.retrieval_intent) or {}
        answer = float((selected.get("response") or {}).get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        floor = float(self.component_config.get("answer_floor") or 1.0)
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) * min(1.0, answer / floor)
        message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: confidence}, add_to_output=True)

    def take_second_opinion(self, message: Message) -> None:
        """The selection and ranking of the average of this selector's and the second opinion's."""
        opinion = message.get(FAQ_OPINION)
        properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}
        prediction = properties.get(self.retrieval_intent)
        if not opinion or not prediction:
            return
        ranked = combine_answers(
            float(opinion["diet_faq"]), prediction.get("ranking") or [], opinion["answers"], float(opinion["weight"])
        )
        # the best answer that has responses (every trained answer has; a model and a
        # domain out of step might not)
        chosen = next(((k, c) for k, c in ranked if self.responses.get(util.intent_response_key_to_template_key(k))), None)
        if chosen is None:
            return
        key, confidence = chosen
        template = util.intent_response_key_to_template_key(key)
        prediction["response"] = {
            **(prediction.get("response") or {}),
            "responses": self.responses[template],
            PREDICTED_CONFIDENCE_KEY: confidence,
            "intent_response_key": key,
            "utter_action": template,
        }
        prediction["ranking"] = [
            {PREDICTED_CONFIDENCE_KEY: c, "intent_response_key": k} for k, c in ranked[:RANKING_LENGTH]
        ]
        message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        wanted = [m for m in messages if self.may_be_faq(m)]
        if wanted:
            super().process(wanted)
            for message in wanted:
                self.take_second_opinion(message)
            if self.component_config.get("weigh_intent_by_answer"):
                for message in wanted:
                    self.weigh_intent_by_answer(message)
        return messages

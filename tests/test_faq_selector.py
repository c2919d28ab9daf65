"""The FAQ selector weighs the faq intent by its answer's confidence, when configured."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_selector import FaqResponseSelector


class Bare(FaqResponseSelector):
    """Only what ``weigh_intent_by_answer`` reads: the config and the retrieval intent."""

    def __init__(self, **config):  # noqa: D107 - no model: the weighing alone is tested
        self.component_config = {**FaqResponseSelector.get_default_config(), **config}
        self.retrieval_intent = "faq"


def message(intent, confidence, answer):
    m = Message(data={"text": "x"})
    m.set("intent", {"name": intent, "confidence": confidence})
    m.set("response_selector", {"faq": {"response": {"intent_response_key": "faq/x", "confidence": answer}}})
    return m


@pytest.mark.parametrize(
    "floor, answer, expected",
    [(1.0, 0.5, 0.45), (0.5, 0.5, 0.9), (0.5, 0.25, 0.45), (0.3, 0.9, 0.9)],
)
def test_the_faq_confidence_is_scaled_below_the_floor(floor, answer, expected):
    m = message("faq", 0.9, answer)
    Bare(answer_floor=floor).weigh_intent_by_answer(m)
    assert m.get("intent")["confidence"] == pytest.approx(expected)


def test_other_intents_are_untouched():
    m = message("account_locked", 0.9, 0.1)
    Bare().weigh_intent_by_answer(m)
    assert m.get("intent")["confidence"] == 0.9

"""The topic just answered, asked again, is "it did not help" (bot/repeated_topic_policy.py)."""

from __future__ import annotations

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.repeated_topic_policy import RepeatedTopicPolicy

DOMAIN = Domain.from_dict(
    {
        "intents": ["faq", "account_locked", "greet", "did_not_help", "nlu_fallback"],
        "actions": ["action_did_not_help"],
        "responses": {"utter_account_locked": [{"text": "x"}], "utter_greet": [{"text": "x"}]},
    }
)


def policy(tmp_path, **config):
    return RepeatedTopicPolicy.create(
        {**RepeatedTopicPolicy.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("repeated"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def user(intent, faq=None):
    parse = {"intent": {"name": intent, "confidence": 0.9}}
    if faq:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": faq, "confidence": 0.9}}}
    return UserUttered("...", parse["intent"], parse_data=parse)


def answered(name):
    return [ActionExecuted(name), BotUttered("...", metadata={"utter_action": name}), ActionExecuted("action_listen")]


def tracker(*events):
    return DialogueStateTracker.from_events("m", [ActionExecuted("action_listen"), *events])


def predicted(p, t):
    probabilities = p.predict_action_probabilities(t, DOMAIN).probabilities
    return max(probabilities) == 1.0 and DOMAIN.action_names_or_texts[probabilities.index(1.0)]


def test_the_same_faq_topic_again_did_not_help(tmp_path):
    t = tracker(user("faq", "faq/qr_scan"), *answered("utter_faq/qr_scan"), user("faq", "faq/qr_scan"))
    assert predicted(policy(tmp_path), t) == "action_did_not_help"


def test_another_topic_is_answered_as_usual(tmp_path):
    t = tracker(user("faq", "faq/qr_scan"), *answered("utter_faq/qr_scan"), user("faq", "faq/portal_url"))
    assert predicted(policy(tmp_path), t) is False


def test_after_an_offer_the_same_topic_is_left_to_the_rules(tmp_path):
    t = tracker(user("account_locked"), *answered("utter_account_locked"), user("account_locked"))
    assert predicted(policy(tmp_path, offers=["utter_account_locked"]), t) is False
    assert predicted(policy(tmp_path), t) == "action_did_not_help"


def test_only_the_first_action_after_the_message_and_never_in_a_form(tmp_path):
    t = tracker(user("faq", "faq/qr_scan"), *answered("utter_faq/qr_scan"), user("faq", "faq/qr_scan"),
                ActionExecuted("action_did_not_help"))
    assert predicted(policy(tmp_path), t) is False
    t = tracker(ActiveLoop("unlock_form"), user("account_locked"), *answered("utter_account_locked"),
                user("account_locked"))
    assert predicted(policy(tmp_path), t) is False


def test_greetings_and_thanks_may_repeat(tmp_path):
    t = tracker(user("greet"), *answered("utter_greet"), user("greet"))
    assert predicted(policy(tmp_path), t) is False


def test_a_first_message_is_never_a_repeat(tmp_path):
    assert predicted(policy(tmp_path), tracker(user("greet"))) is False


def unsure(*ranking):
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.5},
             "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.5},
                                *({"name": n, "confidence": c} for n, c in ranking)]}
    return UserUttered("...", parse["intent"], parse_data=parse)


def test_unsure_right_after_an_answer_leaning_to_did_not_help(tmp_path):
    t = tracker(user("faq", "faq/qr_scan"), *answered("utter_faq/qr_scan"),
                unsure(("did_not_help", 0.45), ("faq", 0.4)))
    assert predicted(policy(tmp_path), t) == "action_did_not_help"


def test_unsure_with_no_answer_before_is_left_to_the_clarification(tmp_path):
    t = tracker(user("greet"), *answered("utter_greet"), unsure(("did_not_help", 0.45), ("faq", 0.4)))
    assert predicted(policy(tmp_path), t) is False
    t = tracker(unsure(("did_not_help", 0.45), ("faq", 0.4)))
    assert predicted(policy(tmp_path), t) is False


def test_unsure_leaning_to_another_topic_is_left_to_the_clarification(tmp_path):
    t = tracker(user("faq", "faq/qr_scan"), *answered("utter_faq/qr_scan"),
                unsure(("account_locked", 0.45), ("did_not_help", 0.4)))
    assert predicted(policy(tmp_path), t) is False

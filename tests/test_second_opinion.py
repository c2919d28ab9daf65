"""The second opinion: a character n-gram regression averaged with DIET (bot/nlu/second_opinion.py)."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.second_opinion import (
    FAQ_OPINION,
    SecondOpinionClassifier,
    SecondOpinionError,
    combine_answers,
    combine_intents,
)


def test_intents_are_averaged_with_faq_answers_summed_into_faq():
    diet = [{"name": "faq", "confidence": 0.9}, {"name": "account_locked", "confidence": 0.1}]
    opinion = {"faq/portal_url": 0.2, "faq/initial_password": 0.1, "account_locked": 0.7}
    ranking = combine_intents(diet, opinion, 0.5, "faq")
    assert [r["name"] for r in ranking] == ["faq", "account_locked"]
    assert ranking[0]["confidence"] == pytest.approx(0.5 * 0.9 + 0.5 * 0.3)
    assert ranking[1]["confidence"] == pytest.approx(0.5 * 0.1 + 0.5 * 0.7)


def test_a_confident_diet_that_the_regression_contradicts_is_no_longer_sure():
    diet = [{"name": "frustrated", "confidence": 1.0}]
    opinion = {"otp_not_received": 0.8, "frustrated": 0.2}
    top = combine_intents(diet, opinion, 0.5, "faq")[0]
    assert top["confidence"] == pytest.approx(0.6)  # was 1.0: the fallback threshold can now see it


def test_weight_one_is_diet_alone_and_zero_the_regression_alone():
    diet = [{"name": "greet", "confidence": 0.8}, {"name": "thank", "confidence": 0.2}]
    opinion = {"greet": 0.1, "thank": 0.9}
    assert combine_intents(diet, opinion, 1.0, "faq")[0]["name"] == "greet"
    assert combine_intents(diet, opinion, 0.0, "faq")[0]["name"] == "thank"


def test_answers_are_p_answer_given_faq_and_times_p_faq_give_the_joint_score():
    selector = [{"intent_response_key": "faq/qr_scan", "confidence": 0.9},
                {"intent_response_key": "faq/qr_cannot_scan", "confidence": 0.1}]
    opinion = {"faq/qr_scan": 0.1, "faq/qr_cannot_scan": 0.5, "faq/logout": 0.0}
    ranked = dict(combine_answers(0.8, selector, opinion, 0.5))
    assert sum(ranked.values()) == pytest.approx(1.0)
    joint_scan, joint_cannot = 0.5 * 0.8 * 0.9 + 0.5 * 0.1, 0.5 * 0.8 * 0.1 + 0.5 * 0.5
    assert ranked["faq/qr_scan"] == pytest.approx(joint_scan / (joint_scan + joint_cannot))
    assert combine_answers(0.0, [], {}, 0.5) == []


def examples() -> TrainingData:
    rows = [
        ("ログインできません、IDかパスワードが違うと出ます", "login_invalid", None),
        ("IDかパスワードが正しくないと言われる", "login_invalid", None),
        ("パスワードが違いますと表示される", "login_invalid", None),
        ("アカウントがロックされました", "account_locked", None),
        ("ロックがかかって入れない", "account_locked", None),
        ("アカウントロックと表示されます", "account_locked", None),
        ("ポータルのURLを教えて", "faq", "portal_url"),
        ("ログイン画面のアドレスはどこ", "faq", "portal_url"),
        ("KOSMO WebのURLが知りたい", "faq", "portal_url"),
        ("初期パスワードは何ですか", "faq", "initial_password"),
        ("最初のパスワードを教えて", "faq", "initial_password"),
        ("初回のパスワードがわからない", "faq", "initial_password"),
    ]
    messages = []
    for text, intent, answer in rows:
        data = {"text": text, "intent": intent}
        if answer:
            data["intent_response_key"] = f"{intent}/{answer}"
        messages.append(Message(data=data))
    return TrainingData(messages)


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def component(storage, **config):
    return SecondOpinionClassifier.create(
        {**SecondOpinionClassifier.get_default_config(), **config},
        storage, Resource("second_opinion"), ExecutionContext(graph_schema=None),
    )


def with_diet(text: str, ranking: list) -> Message:
    message = Message(data={"text": text})
    message.set("intent", dict(ranking[0]), add_to_output=True)
    message.set("intent_ranking", ranking, add_to_output=True)
    return message


def test_trained_and_loaded_it_averages_and_leaves_the_faq_opinion_for_the_selector(storage):
    trained = component(storage)
    trained.train(examples())
    loaded = SecondOpinionClassifier.load(
        SecondOpinionClassifier.get_default_config(), storage, Resource("second_opinion"),
        ExecutionContext(graph_schema=None),
    )
    # DIET sure of the wrong intent; the regression has read the words
    message = with_diet("アカウントがロックされて入れません", [{"name": "login_invalid", "confidence": 1.0}])
    loaded.process([message])
    ranking = message.get("intent_ranking")
    assert message.get("intent")["name"] == ranking[0]["name"]
    assert message.get("intent")["confidence"] < 1.0
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-6)
    opinion = message.get(FAQ_OPINION)
    assert set(opinion["answers"]) == {"faq/portal_url", "faq/initial_password"}
    assert opinion["diet_faq"] == 0.0 and opinion["weight"] == 0.5
    # the FAQ opinion is for the selector only, not the parse result
    assert FAQ_OPINION not in message.as_dict(only_output_properties=True)


def test_the_regression_alone_reads_the_topic(storage):
    trained = component(storage, weight=0.0)
    trained.train(examples())
    message = with_diet("初期パスワードを知りたいです", [{"name": "login_invalid", "confidence": 1.0}])
    trained.process([message])
    assert message.get("intent")["name"] == "faq"
    answers = message.get(FAQ_OPINION)["answers"]
    assert max(answers, key=answers.get) == "faq/initial_password"


def test_a_model_without_its_regression_is_refused(storage):
    # the fallback threshold is calibrated for the average: DIET alone would not ask back
    with pytest.raises(SecondOpinionError, match="retrain"):
        SecondOpinionClassifier.load(
            SecondOpinionClassifier.get_default_config(), storage, Resource("never_trained"),
            ExecutionContext(graph_schema=None),
        )


def test_a_model_file_holding_other_types_is_refused_without_running_them(tmp_path):
    from skops import io as skops_io

    from bot.nlu.second_opinion import load_regression

    class NotOurs:  # a type skops does not trust: loading it could run its code
        pass

    path = tmp_path / "second_opinion.skops"
    skops_io.dump({"model": NotOurs()}, path)
    with pytest.raises(ValueError, match="should not"):
        load_regression(path)
    skops_io.dump({"a": 1}, path)  # trusted types, but not the regression
    with pytest.raises(ValueError, match="not the regression"):
        load_regression(path)


def test_button_payloads_pass_unchanged(storage):
    trained = component(storage)
    trained.train(examples())
    payload = with_diet("/deny", [{"name": "deny", "confidence": 1.0}])
    trained.process([payload])
    assert payload.get("intent") == {"name": "deny", "confidence": 1.0}
    assert payload.get(FAQ_OPINION) is None


def test_long_input_is_cut_before_it_is_featurised(storage):
    from bot.nlu.second_opinion import _featurised_text

    assert len(_featurised_text(Message(data={"text": "ロック" * 5000}), 50)) == 50
    trained = component(storage, max_chars=50)
    trained.train(examples())
    message = with_diet("ロック" * 5000, [{"name": "account_locked", "confidence": 0.9}])
    trained.process([message])
    assert message.get("intent")["name"] == "account_locked"


@pytest.mark.parametrize("weight", [-0.1, 1.5, True, "half"])
def test_a_weight_outside_0_to_1_is_refused_with_a_reason(storage, weight):
    with pytest.raises(ValueError, match="weight"):
        component(storage, weight=weight)

"""Calling the prediction step's concrete function gives Rasa's outputs exactly."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import rasa.utils.train_utils as train_utils
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.models import RasaModel

from bot.nlu.tf_predict import predict_through_concrete_function
from bot.tenants import PROJECT_ROOT
from tests.model_support import featurized, model_components
from tests.speedup_support import installed as speedup

pytestmark = [pytest.mark.model]

ODD_TEXTS = ["ｶｸﾆﾝﾒｰﾙ届かない", "＋", "😀", "あ" * 300, "zzzz qqqq"]


@pytest.fixture(scope="module")
def components() -> list:
    return model_components()


@pytest.fixture(scope="module")
def messages(components) -> list[Message]:
    examples = load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
    return featurized(components, [m.get("text") for m in examples[::7]] + ODD_TEXTS)


@pytest.fixture
def rasa_predict():
    with speedup(RasaModel, "_rasa_predict", predict_through_concrete_function) as before:
        yield before


def same(ours, theirs) -> bool:
    if isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(same(ours[k], theirs[k]) for k in theirs)
    if isinstance(theirs, np.ndarray):
        return (
            isinstance(ours, np.ndarray)
            and ours.dtype == theirs.dtype
            and ours.shape == theirs.shape
            and np.array_equal(ours, theirs)
        )
    return type(ours) is type(theirs) and ours == theirs


def batches(classifier: DIETClassifier, messages: list[Message]):
    for message in messages:
        data = classifier._create_model_data([message], training=False)
        if data.is_empty():
            continue  # no features (e.g. only an emoji): Rasa does not predict either
        generator, _ = train_utils.create_data_generators(
            model_data=data, batch_sizes=1, epochs=1, shuffle=False
        )
        yield next(iter(generator))[0]


def test_outputs_equal_rasas_for_diet_and_the_response_selector(components, messages, rasa_predict):
    classifiers = [c for c in components if isinstance(c, DIETClassifier)]
    assert len(classifiers) == 2  # DIET and the ResponseSelector (a DIET subclass)
    for classifier in classifiers:
        for batch in batches(classifier, messages):
            theirs = rasa_predict(classifier.model, batch)
            ours = classifier.model._rasa_predict(batch)
            assert same(ours, theirs)


def test_classification_of_a_message_is_unchanged(components, messages, rasa_predict):
    classifiers = [c for c in components if isinstance(c, DIETClassifier)]
    ours_predict = RasaModel._rasa_predict
    assert ours_predict is not rasa_predict
    for message in messages[:40]:
        ours, theirs = copy.deepcopy(message), copy.deepcopy(message)
        for classifier in classifiers:
            classifier.process([ours])
        RasaModel._rasa_predict = rasa_predict
        try:
            for classifier in classifiers:
                classifier.process([theirs])
        finally:
            RasaModel._rasa_predict = ours_predict
        assert ours.get("intent") == theirs.get("intent")
        assert ours.get("intent_ranking") == theirs.get("intent_ranking")
        assert ours.get("response_selector") == theirs.get("response_selector")


def outcome(predict, model, batch):
    try:
        return "ok", predict(model, batch)
    except Exception as e:  # noqa: BLE001 - comparing whatever Rasa and TF raise
        return "error", type(e)


def test_inputs_that_do_not_fit_the_signature_get_rasas_outcome(components, messages, rasa_predict):
    classifier = next(c for c in components if isinstance(c, DIETClassifier))
    batch = next(batches(classifier, messages))
    wrong_dtype = tuple(x.astype(np.float64) if x.dtype == np.float32 else x for x in batch)
    for bad in (wrong_dtype, batch[:-1], batch + batch[-1:]):
        theirs = outcome(rasa_predict, classifier.model, bad)
        ours = outcome(type(classifier.model)._rasa_predict, classifier.model, bad)
        assert ours[0] == theirs[0]
        if theirs[0] == "ok":
            assert same(ours[1], theirs[1])
        else:
            assert ours[1] is theirs[1]

"""DIET's and the ResponseSelector's prediction in NumPy agrees with Rasa's TensorFlow prediction.

Every training and held-out example (and a few odd texts) goes through both;
the batches must be identical, the numbers equal within a tolerance (float32
sums in another order: not exact), and every message must get the same
intent, ranking and FAQ answer. The loaded model's classifiers are the
components of config.yml (``NumpyDIETClassifier``, ``FaqResponseSelector``),
which predict with NumPy once loaded; Rasa's own ``_predict`` is what they
do with ``_numpy_predict`` set to None (as with ``KOSMO_RASA_SPEEDUPS=off``).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

import numpy as np
import pytest
import rasa.utils.train_utils as train_utils
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import ENTITY_RECOGNITION, FEATURIZERS
from rasa.utils.tensorflow.models import RasaModel

from bot.domain.societies import PROJECT_ROOT
from bot.nlu import diet_batch_predict, diet_weights
from bot.nlu.diet_batch_predict import predict
from bot.nlu.diet_weights import plan_for
from bot.nlu.faq_selector import FaqResponseSelector
from bot.nlu.fast_diet import NumpyDIETClassifier
from bot.nlu.message_batch import message_batch
from bot.nlu.numpy_predict import predict_message
from tests.model_support import featurized, model_components
from tests.speedup_support import TOLERANCE, same_classification

pytestmark = [pytest.mark.model]

ODD_TEXTS = ["ｶｸﾆﾝﾒｰﾙ届かない", "＋", "😀", "あ" * 300, "zzzz qqqq", "パスワード パスワード パスワード", "ID"]


@pytest.fixture(scope="module")
def components() -> list:
    return model_components()


@pytest.fixture(scope="module")
def classifiers(components) -> list[DIETClassifier]:
    found = [c for c in components if isinstance(c, DIETClassifier)]
    assert len(found) == 2  # DIET and the ResponseSelector (a DIET subclass)
    assert [type(c) for c in found] == [NumpyDIETClassifier, FaqResponseSelector]
    assert all(c._numpy_predict is predict_message for c in found)  # loaded with NumPy on
    return found


@contextlib.contextmanager
def rasas_own(classifiers: list) -> Iterator[None]:
    """The classifiers predict with Rasa's own ``_predict`` (TensorFlow) inside."""
    for classifier in classifiers:
        classifier._numpy_predict = None
    try:
        yield
    finally:
        for classifier in classifiers:
            classifier._numpy_predict = predict_message


@pytest.fixture(scope="module")
def messages(components) -> list[Message]:
    texts = [m.get("text") for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples]
    texts += [m.get("text") for m in load_data(str(PROJECT_ROOT / "tests" / "nlu")).intent_examples]
    return featurized(components, texts + ODD_TEXTS)


@pytest.fixture
def rasas_predict():
    """Rasa's own ``_rasa_predict`` (TensorFlow)."""
    return RasaModel._rasa_predict


def rasas_batches(classifier: DIETClassifier, messages: list[Message], size: int = 1):
    """What Rasa's ``_predict`` feeds the model: ``_create_model_data`` and its batch generator."""
    data = classifier._create_model_data(messages, training=False)
    if data.is_empty():
        return []
    generator, _ = train_utils.create_data_generators(model_data=data, batch_sizes=size, epochs=1, shuffle=False)
    return [batch[0] for batch in generator]


def close(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and ours.keys() == theirs.keys() and all(close(ours[k], theirs[k]) for k in theirs)
    if isinstance(theirs, np.ndarray):
        return (
            isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
            and bool(np.allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE))
        )
    return type(ours) is type(theirs) and ours == theirs


def test_both_models_are_covered(classifiers):
    for classifier in classifiers:
        assert plan_for(classifier.model) is not None, type(classifier).__name__


def test_the_plan_reads_the_weights_in_place(classifiers):
    """The plan's kernels are read-only views of TensorFlow's variables, not second copies."""
    import numpy as np

    for classifier in classifiers:
        plan = plan_for(classifier.model)
        kernels = [layer.kernel for layer in (*plan.sentence, *plan.sequence) if layer is not None]
        variables = [np.asarray(v.value()) for v in classifier.model.variables if "sparse_to_dense" in v.name]
        assert kernels and variables
        for kernel in kernels:
            assert not kernel.flags.writeable
            assert any(np.shares_memory(kernel, values) for values in variables), type(classifier).__name__


def test_the_batch_of_a_message_is_rasas(classifiers, messages):
    for classifier in classifiers:
        plan = plan_for(classifier.model)
        for message in messages:
            theirs = rasas_batches(classifier, [message])
            ours = message_batch(plan, message, classifier.component_config.get(FEATURIZERS))
            if not theirs:  # no features (only an emoji): Rasa predicts nothing, nor do we
                assert ours is None or not message.features_present("text", None)
                continue
            assert ours is not None and len(ours) == len(theirs[0])
            for a, b in zip(ours, theirs[0], strict=True):
                a, b = np.asarray(a), np.asarray(b)
                assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_outputs_match_tensorflow(classifiers, messages, rasas_predict):
    worst = 0.0
    for classifier in classifiers:
        plan = plan_for(classifier.model)
        for message in messages:
            for batch in rasas_batches(classifier, [message]):
                theirs = rasas_predict(classifier.model, batch)
                ours = predict(plan, batch)
                ours["diagnostic_data"] = classifier.model._empty_lists_to_none_in_dict(ours["diagnostic_data"])
                assert close(ours, theirs), message.get("text")
                assert ours["i_scores"].argmax() == theirs["i_scores"].argmax()
                worst = max(worst, float(np.abs(ours["i_scores"] - theirs["i_scores"]).max()))
    assert worst < TOLERANCE


def test_batches_of_several_messages_with_padding_match_tensorflow(classifiers, messages, rasas_predict):
    for classifier in classifiers:
        plan = plan_for(classifier.model)
        batches = rasas_batches(classifier, messages[::9][:64], size=8)
        assert len(batches) == 8
        for batch in batches:
            assert close(predict(plan, batch) | {"diagnostic_data": {}}, rasas_predict(classifier.model, batch) | {"diagnostic_data": {}})
            text_ours = predict(plan, batch)["diagnostic_data"]["text_transformed"]
            text_theirs = rasas_predict(classifier.model, batch)["diagnostic_data"]["text_transformed"]
            assert np.allclose(text_ours, text_theirs, rtol=TOLERANCE, atol=TOLERANCE)


def test_every_message_gets_rasas_intent_ranking_and_answer(classifiers, messages):
    for message in messages:
        ours, theirs = copy.deepcopy(message), copy.deepcopy(message)
        for classifier in classifiers:
            classifier.process([ours])
        with rasas_own(classifiers):
            for classifier in classifiers:
                classifier.process([theirs])
        assert ours.get("intent")["name"] == theirs.get("intent")["name"], message.get("text")
        for key in ("intent", "intent_ranking", "response_selector"):
            assert same_classification(ours.get(key), theirs.get(key)), (message.get("text"), key)


@pytest.mark.parametrize("change", ["transformer", "entities", "not prepared", "other model class"])
def test_what_is_not_covered_gets_no_plan(classifiers, monkeypatch, change):
    model = classifiers[0].model
    assert plan_for(model) is not None
    if change == "transformer":
        monkeypatch.setattr(model._tf_layers[f"sequence_layer.{model.text_name}"], "_has_transformer", True)
    elif change == "entities":
        monkeypatch.setitem(model.config, ENTITY_RECOGNITION, True)
    elif change == "not prepared":
        monkeypatch.setattr(model, "all_labels_embed", None)
    else:  # like the ResponseSelector's DIET2DIET, which has its own batch_predict

        class OwnBatchPredict(type(model)):  # type: ignore[misc]
            def batch_predict(self, batch_in):
                return {}

        monkeypatch.setattr(model, "__class__", OwnBatchPredict)
    assert plan_for(model) is None


def test_a_model_without_a_plan_and_a_message_that_does_not_fit_get_rasas_predict(
    classifiers, messages, monkeypatch
):
    classifier = classifiers[0]
    calls = []
    rasas = DIETClassifier._predict

    def counted(self, message):
        calls.append(message)
        return rasas(self, message)

    monkeypatch.setattr(DIETClassifier, "_predict", counted)
    message = copy.deepcopy(messages[0])
    # covered: NumPy, Rasa's is not called
    assert predict_message(classifier, message) is not None
    classifier._predict(message)
    assert calls == []
    # a message with dense features (not covered): Rasa's, and so TensorFlow's outcome
    # (here its error: the model was trained without them)
    from rasa.shared.nlu.training_data.features import Features

    dense = copy.deepcopy(message)
    dense.add_features(Features(np.ones((1, 4), dtype=np.float32), "sentence", "text", "dense"))
    assert predict_message(classifier, dense) is None
    with pytest.raises(ValueError, match="input_signature"):
        classifier._predict(dense)
    assert calls == [dense]
    # a model without a plan
    monkeypatch.setitem(diet_weights._PLANS, classifier.model, None)
    assert predict_message(classifier, message) is None
    classifier._predict(message)
    assert calls == [dense, message]


LONG_SOURCE = (
    "先週から初めてポータルにログインしようとしているのですが、記号と番号と生年月日を入れても"
    "パスワードが違うと表示されます。ワンタイムパスワードのメールも届きません。"
)


@pytest.fixture(scope="module")
def long_messages(components) -> list[Message]:
    """Long texts: the bench's (repeated sentences) and the training examples run together (varied)."""
    examples = [m.get("text") for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples]
    texts = [(LONG_SOURCE * 20)[:2000], "。".join(examples)[:2000], "。".join(reversed(examples))[:5000]]
    return featurized(components, texts)


def test_without_diagnostics_the_scores_are_the_full_predictions(classifiers, messages, long_messages, monkeypatch):
    """Only the sentence position is computed, and its scores are those of every position's computation."""
    rows_seen: list[int] = []
    positions_seen: list[int] = []
    apply, to_dense = diet_batch_predict.apply_dense, diet_batch_predict.sparse_to_dense

    def counting_apply(layer, x):
        rows_seen.append(int(np.prod(x.shape[:-1])))
        return apply(layer, x)

    def counting_to_dense(layer, indices, values, shape):
        positions_seen.append(int(shape[1]))
        return to_dense(layer, indices, values, shape)

    for classifier in classifiers:
        plan = plan_for(classifier.model)
        assert plan.sequence and plan.sentence  # the shortcut's case: our configuration
        for message in messages + long_messages:
            batch = message_batch(plan, message, classifier.component_config.get(FEATURIZERS))
            if batch is None:
                continue
            full = predict(plan, batch)
            monkeypatch.setattr(diet_batch_predict, "apply_dense", counting_apply)
            monkeypatch.setattr(diet_batch_predict, "sparse_to_dense", counting_to_dense)
            rows_seen.clear()
            positions_seen.clear()
            short = predict(plan, batch, diagnostics=False)
            monkeypatch.setattr(diet_batch_predict, "apply_dense", apply)
            monkeypatch.setattr(diet_batch_predict, "sparse_to_dense", to_dense)
            # the sentence features alone, one vector through every layer, whatever the number of tokens
            assert positions_seen == [1] * len(plan.sentence), (message.get("text")[:20], positions_seen)
            assert rows_seen and set(rows_seen) == {1}, (message.get("text")[:20], rows_seen)
            assert short["diagnostic_data"] == {}
            assert short["i_scores"].dtype == full["i_scores"].dtype and short["i_scores"].shape == full["i_scores"].shape
            # float32 products of one row and of many round differently in the last bits (seen: 4.5e-7)
            assert np.allclose(short["i_scores"], full["i_scores"], rtol=1e-6, atol=1e-6), message.get("text")[:20]


def test_a_batch_the_shortcut_does_not_fit_goes_the_full_way(classifiers, messages):
    classifier = classifiers[1]  # the ResponseSelector: hidden layers
    plan = plan_for(classifier.model)
    batch = list(message_batch(plan, messages[0], classifier.component_config.get(FEATURIZERS)))
    index = 0
    for entry in plan.inputs:
        if entry.sub_key == "sequence_lengths":
            break
        index += 3 if entry.is_sparse else 1
    # a sequence length beyond the sequence features: the full path refuses it, and so must the shortcut
    batch[index] = batch[index] + 5
    assert predict(plan, tuple(batch)) is None
    assert predict(plan, tuple(batch), diagnostics=False) is None


@pytest.mark.parametrize("diagnostics", [False, True])
def test_process_computes_the_diagnostics_only_when_the_graph_run_asks(
    classifiers, messages, long_messages, diagnostics, monkeypatch
):
    """Same intent, ranking, confidences and FAQ answer with and without; every position only when asked."""
    converted: list[int] = []
    to_dense = diet_batch_predict.sparse_to_dense

    def counting_to_dense(layer, indices, values, shape):
        converted.append(int(shape[1]))
        return to_dense(layer, indices, values, shape)

    for message in messages[::7] + long_messages:
        ours, full = copy.deepcopy(message), copy.deepcopy(message)
        for classifier in classifiers:
            context = classifier._execution_context
            try:
                context.should_add_diagnostic_data = diagnostics
                monkeypatch.setattr(diet_batch_predict, "sparse_to_dense", counting_to_dense)
                converted.clear()
                classifier.process([ours])
                monkeypatch.setattr(diet_batch_predict, "sparse_to_dense", to_dense)
                if converted:  # the classifier ran (the FAQ selector skips non-FAQ messages)
                    # every feature (sequence and sentence), or the sentence features alone
                    plan = plan_for(classifier.model)
                    expected = len(plan.sentence) + (len(plan.sequence) if diagnostics else 0)
                    assert len(converted) == expected, (message.get("text")[:20], converted)
                context.should_add_diagnostic_data = True  # the full computation, as before
                classifier.process([full])
            finally:
                context.should_add_diagnostic_data = False
        assert ours.get("intent")["name"] == full.get("intent")["name"], message.get("text")[:20]
        for key in ("intent", "intent_ranking", "response_selector"):
            assert same_classification(ours.get(key), full.get(key)), (message.get("text")[:20], key)
        added = ours.get("diagnostic_data") or {}
        if diagnostics:
            # as many as the full computation gives (none for a message without tokens: 「？？？」)
            assert set(added) == set(full.get("diagnostic_data") or {}), message.get("text")
            assert all(d["text_transformed"].shape[1] > 1 for d in added.values()), message.get("text")
        else:
            assert not added

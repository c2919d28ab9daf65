"""A long message costs the NLU in proportion to its length, and the NumPy prediction stays Rasa's.

Before, the NumPy prediction built a dense (positions x entries) matrix: a
20,000-character message took seconds and gigabytes, 100,000 characters ended
in ``MemoryError``. Now the sparse features go straight to the kernel rows
(``bot.nlu.numpy_layers.sparse_to_dense``).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.utils.tensorflow.constants import FEATURIZERS
from rasa.utils.tensorflow.models import RasaModel

from bot.nlu.diet_batch_predict import predict
from bot.nlu.diet_weights import plan_for
from bot.nlu.japanese_tokenizer import JapaneseTokenizer
from bot.nlu.message_batch import message_batch
from tests.model_support import featurized, model_components

pytestmark = [pytest.mark.model]

TOLERANCE = 1e-5
SOURCE = (
    "先週から初めてポータルにログインしようとしているのですが、記号と番号と生年月日を入れても"
    "パスワードが違うと表示されます。ワンタイムパスワードのメールも届きません。迷惑メールの"
    "フォルダも確認しました。アカウントがロックされたのかもしれません。ユーザーIDも忘れてしまい、"
    "ＱＲコードも読み取れず、Authenticatorの＋ボタンも出てこないので困っています。"
)


def varied(chars: int) -> str:
    return (SOURCE * (chars // len(SOURCE) + 1))[:chars]


@pytest.fixture(scope="module")
def components() -> list:
    return model_components()


@pytest.fixture(scope="module")
def classifiers(components) -> list[DIETClassifier]:
    return [c for c in components if isinstance(c, DIETClassifier)]


@pytest.fixture(scope="module")
def unbounded(components) -> list:
    """The model's components with a tokenizer that reads every character (to test the classifiers)."""
    out = []
    for c in components:
        if isinstance(c, JapaneseTokenizer):
            c = JapaneseTokenizer({**c._config, "max_chars": 1_000_000})
        out.append(c)
    return out


def batch_of(classifier: DIETClassifier, message) -> tuple:
    plan = plan_for(classifier.model)
    batch = message_batch(plan, message, classifier.component_config.get(FEATURIZERS))
    assert batch is not None
    return plan, batch


def test_a_20000_character_message_takes_bounded_memory_and_time(classifiers, unbounded):
    [message] = featurized(unbounded, [varied(20_000)])
    tokens = len(message.get("text_tokens"))
    assert tokens > 5_000  # every character was read
    for classifier in classifiers:
        plan, batch = batch_of(classifier, message)
        tracemalloc.start()
        try:
            start = time.perf_counter()
            outputs = predict(plan, batch)
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert outputs is not None
        # linear: the (positions x units) activations are about tokens * 256 * 4 bytes a layer;
        # the dense (positions x entries) matrix was tokens * entries * 4 bytes (gigabytes here)
        assert peak < 200 * 1024 * 1024, f"{type(classifier).__name__}: {peak / 2**20:.0f} MiB"
        assert elapsed < 3.0, f"{type(classifier).__name__}: {elapsed:.2f} s"  # before: 3.7 s and 10 s


def test_time_grows_linearly_with_length(classifiers, unbounded):
    classifier = classifiers[0]
    seconds = {}
    for chars in (5_000, 40_000):
        [message] = featurized(unbounded, [varied(chars)])
        plan, batch = batch_of(classifier, message)
        predict(plan, batch)  # warm
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            predict(plan, batch)
            runs.append(time.perf_counter() - start)
        seconds[chars] = min(runs)
    # 8 times the text; quadratic would be 64 times the time
    assert seconds[40_000] < 20 * seconds[5_000] + 0.05, seconds


@pytest.mark.parametrize("chars", [300, 2_000, 20_000])
def test_long_messages_get_tensorflows_numbers(classifiers, unbounded, chars):
    [message] = featurized(unbounded, [varied(chars)])
    for classifier in classifiers:
        plan, batch = batch_of(classifier, message)
        ours = predict(plan, batch)
        theirs = RasaModel._rasa_predict(classifier.model, batch)  # Rasa's (TensorFlow)
        assert ours["i_scores"].shape == theirs["i_scores"].shape
        assert np.allclose(ours["i_scores"], theirs["i_scores"], rtol=TOLERANCE, atol=TOLERANCE)
        assert ours["i_scores"].argmax() == theirs["i_scores"].argmax()
        # a long text's counts make activations in the hundreds; float32 sums in
        # another order differ in the last bits of those, so relative to the largest
        transformed = theirs["diagnostic_data"]["text_transformed"]
        scale = max(1.0, float(np.abs(transformed).max()))
        assert np.allclose(
            ours["diagnostic_data"]["text_transformed"], transformed,
            rtol=TOLERANCE, atol=TOLERANCE * scale,
        )


def test_the_model_reads_at_most_the_tokenizers_bound(components):
    [long] = featurized(components, [varied(60_000)])
    [bounded] = featurized(components, [varied(10_000)])
    assert [t.text for t in long.get("text_tokens")] == [t.text for t in bounded.get("text_tokens")]

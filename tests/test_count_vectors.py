"""Counting directly gives the features sklearn and Rasa give, on the trained model's vectorizers."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from sklearn.feature_extraction.text import CountVectorizer

from bot.nlu.count_vectors import count_as_coo, count_vectors_directly
from bot.tenants import PROJECT_ROOT
from tests.model_support import model_path
from tests.speedup_support import assert_same_state
from tests.speedup_support import installed as speedup

ODD_TEXTS = [
    "ｶｸﾆﾝﾒｰﾙ届かない",
    "＋ボタンがない!!",
    "ID: abc-123_x@example.jp",
    "😀😀😀",
    "あ" * 300,
    "初期パスワード 初期パスワード 初期パスワード",
    "zzzz qqqq",  # nothing in the vocabulary
]


@pytest.fixture(scope="module")
def pipeline() -> tuple[Tokenizer, list[CountVectorsFeaturizer]]:
    agent = Agent.load(str(model_path()))
    components = [
        node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
    ]
    tokenizer = next(c for c in components if isinstance(c, Tokenizer))
    featurizers = [c for c in components if isinstance(c, CountVectorsFeaturizer)]
    assert len(featurizers) == 2
    return tokenizer, featurizers


@pytest.fixture(scope="module")
def texts() -> list[str]:
    examples = load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
    return [m.get("text") for m in examples] + ODD_TEXTS


@pytest.fixture
def installed():
    with speedup(CountVectorsFeaturizer, "_create_features", count_vectors_directly) as before:
        yield before


def assert_same(ours, theirs) -> None:
    if theirs is None:
        assert ours is None
        return
    assert type(ours) is type(theirs)
    # shape, data, row and col (dtype and entries), and every other attribute scipy's constructor sets
    assert_same_state(ours, theirs)


def test_features_equal_rasas_for_every_training_text(pipeline, texts, installed):
    tokenizer, featurizers = pipeline
    rasa_create_features = installed
    for text in texts:
        message = Message(data={"text": text})
        tokenizer.process([message])
        for featurizer in featurizers:
            tokens = featurizer._get_processed_message_tokens_by_attribute(message, "text")
            ours = featurizer._create_features("text", [tokens])
            theirs = rasa_create_features(featurizer, "text", [tokens])
            for our_list, their_list in zip(ours, theirs, strict=True):
                assert_same(our_list[0], their_list[0])


def test_count_as_coo_is_sklearns_transform(pipeline, texts):
    _, featurizers = pipeline
    for featurizer in featurizers:
        vectorizer = featurizer.vectorizers["text"]
        for documents in (texts[:50], texts[-len(ODD_TEXTS) :], [texts[0]]):
            expected = vectorizer.transform(documents)
            expected.sort_indices()
            assert_same(count_as_coo(vectorizer, documents), expected.tocoo())


def test_binary_and_other_dtypes_follow_the_vectorizer():
    documents = ["a b a c", "c c d", "x"]
    words = {"token_pattern": r"(?u)\b\w+\b"}
    for params in (
        {**words, "binary": True},
        {**words, "dtype": np.float32},
        {"analyzer": "char_wb", "ngram_range": (1, 3)},
    ):
        vectorizer = CountVectorizer(**params).fit(documents)
        expected = vectorizer.transform(documents + ["a z"])
        expected.sort_indices()
        assert_same(count_as_coo(vectorizer, documents + ["a z"]), expected.tocoo())


def test_an_empty_message_has_no_features(pipeline, installed):
    _, featurizers = pipeline
    assert featurizers[0]._create_features("text", [[]]) == ([None], [None])

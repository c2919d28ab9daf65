"""Counting directly gives the features sklearn and Rasa give, on the trained model's vectorizers."""

from __future__ import annotations

import re

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

from bot.domain.societies import PROJECT_ROOT
from bot.nlu import count_vectors
from bot.nlu.count_vectors import (
    count_as_coo,
    count_tokens,
    replace_numbers,
    sentence_is_sum_of_rows,
)
from bot.nlu.direct_count_vectors import DirectCountVectorsFeaturizer
from tests.model_support import model_path
from tests.speedup_support import assert_same_state

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
    # the configured component, loaded with its shortcut on (the model was loaded with it on)
    assert all(type(f) is DirectCountVectorsFeaturizer and f._direct is count_vectors for f in featurizers)
    return tokenizer, featurizers


@pytest.fixture(scope="module")
def texts() -> list[str]:
    examples = load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
    return [m.get("text") for m in examples] + ODD_TEXTS


@pytest.fixture
def installed():
    """Rasa's own ``_create_features`` (the loaded featurizers count directly)."""
    return CountVectorsFeaturizer._create_features


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


LONG_SOURCE = (
    "先週から初めてポータルにログインしようとしているのですが、記号と番号と生年月日を入れても"
    "パスワードが違うと表示されます。ワンタイムパスワードのメールも届きません。"
)
# tokens where joining with spaces could change what is counted, were it done carelessly
TRICKY_TOKENS = [
    ["a", "b", "a", "a"],
    ["ab", "", "ab", "abc"],
    ["a b", "c\td", "e\u3000f", "g\u00a0h", "x\x1cy", "p\nq"],
    [" lead", "trail ", "  ", "\t"],
    ["ΑΣ", "Σ", "σς", "ΟΔΟΣ"],
    ["İ", "ǅ", "ß", "Ａ１"],
    ["初期", "パスワード", "初期", "+", "ID", "id"],
    ["12", "a1", "1a", "٣", "1 2"],
    ["x"],
]


def vectorizers_to_check(pipeline) -> list[CountVectorizer]:
    _, featurizers = pipeline
    documents = [" ".join(tokens) for tokens in TRICKY_TOKENS] + [
        "a b ab abc x 12 初期 パスワード σ"
    ]
    words = {"token_pattern": r"(?u)\b\w+\b"}
    configured = [
        {"analyzer": "char_wb", "ngram_range": (1, 3)},
        {"analyzer": "char_wb", "ngram_range": (2, 4), "lowercase": False},
        {"analyzer": "char_wb", "ngram_range": (1, 3), "binary": True},
        {"analyzer": "char_wb", "ngram_range": (1, 3), "strip_accents": "unicode"},
        {"analyzer": "char", "ngram_range": (1, 3)},
        words,
        {},  # sklearn's default pattern
        {**words, "ngram_range": (1, 2)},
        {"token_pattern": r"\S+(?: \S+)?"},
        {**words, "stop_words": ["a"]},
    ]
    return [f.vectorizers["text"] for f in featurizers] + [
        CountVectorizer(**c).fit(documents) for c in configured
    ]


def test_long_messages_features_equal_rasas(pipeline, installed):
    tokenizer, featurizers = pipeline
    examples = [  # Japanese ones: English words are longer, 2,000 characters of them fewer tokens
        m.get("text")
        for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
        if not m.get("text").isascii()
    ]
    for text in [(LONG_SOURCE * 30)[:2000], "。".join(examples)[:2000], "1 2 3 " * 300]:
        message = Message(data={"text": text})
        tokenizer.process([message])
        for featurizer in featurizers:
            tokens = featurizer._get_processed_message_tokens_by_attribute(message, "text")
            assert len(tokens) > 500
            ours = featurizer._create_features("text", [tokens])
            theirs = installed(featurizer, "text", [tokens])
            for our_list, their_list in zip(ours, theirs, strict=True):
                assert_same(our_list[0], their_list[0])


def test_count_tokens_is_sklearns_transform_of_the_tokens_and_of_the_joined_text(pipeline):
    for vectorizer in vectorizers_to_check(pipeline):
        for tokens in TRICKY_TOKENS:
            sequence, sentence = count_tokens(vectorizer, tokens, sentence=True)
            expected = vectorizer.transform(tokens)
            expected.sort_indices()
            assert_same(sequence, expected.tocoo())
            expected = vectorizer.transform([" ".join(tokens)])
            expected.sort_indices()
            assert_same(sentence, expected.tocoo())
            assert count_tokens(vectorizer, tokens, sentence=False)[1] is None


def test_the_sentence_is_added_up_only_where_that_is_the_joined_texts_count(pipeline):
    added_up = set()
    for vectorizer in vectorizers_to_check(pipeline):
        params = vectorizer.get_params()
        holds = sentence_is_sum_of_rows(vectorizer, TRICKY_TOKENS[0])
        key = (
            params["analyzer"],
            params["ngram_range"],
            params["token_pattern"],
            bool(params["strip_accents"]),
        )
        if holds:
            added_up.add(key)
        if (
            params["analyzer"] == "char"
            or params["ngram_range"] == (1, 2)
            or params["strip_accents"]
        ):
            assert not holds, key
        if params["token_pattern"] == r"\S+(?: \S+)?":  # a pattern that reaches across a space
            assert not holds, key
            joined = vectorizer.transform([" ".join(["a", "b"])]).toarray()
            summed = vectorizer.transform(["a", "b"]).toarray().sum(axis=0)
            assert (joined != summed).any()  # adding up the rows would have been wrong
    # the trained model's two vectorizers (char_wb 1-3 and words) take the short way
    assert ("char_wb", (1, 3), None, False) in added_up
    assert ("word", (1, 1), r"(?u)\b\w+\b", False) in added_up
    # a lower case that is not the tokens' lower cases side by side: the joined text is analysed
    mixed = CountVectorizer(analyzer="char_wb").fit(["a"])
    assert sentence_is_sum_of_rows(mixed, ["ab", "cd"])
    assert not sentence_is_sum_of_rows(mixed, ["ab", 3])  # type: ignore[list-item]


def test_each_distinct_token_is_analysed_once_and_the_joined_text_not_at_all(pipeline, monkeypatch):
    _, featurizers = pipeline
    for featurizer in featurizers:
        vectorizer = featurizer.vectorizers["text"]
        analyse = vectorizer.build_analyzer()
        seen: list[str] = []

        def counting(document, analyse=analyse, seen=seen):
            seen.append(document)
            return analyse(document)

        monkeypatch.setitem(count_vectors._ANALYZERS, vectorizer, counting)
        tokens = ["初期", "パスワード", "を", "初期", "パスワード", "を", "教え", "て"]
        count_tokens(vectorizer, tokens, sentence=True)
        assert sorted(seen) == sorted(set(tokens))


@pytest.mark.parametrize(
    "tokens",
    [["abc", "12", "a1", "1a", "12a 34", "٣", "-5-", "1.5"], [], ["x"], ["1\n2", "3"], ["1", 2]],
)
def test_replace_numbers_is_rasas_token_by_token(tokens):
    replaced = replace_numbers(tokens)
    if any(not isinstance(t, str) or "\n" in t for t in tokens):
        assert replaced is None  # Rasa's own loop
    else:
        assert replaced == [re.sub(r"\b[0-9]+\b", "__NUMBER__", t) for t in tokens]


def test_processed_tokens_equal_rasas(pipeline, texts):
    tokenizer, featurizers = pipeline
    rasas = CountVectorsFeaturizer._process_tokens
    for text in [*texts, (LONG_SOURCE * 30)[:2000], "コード 123456 と 0120-12-3456"]:
        message = Message(data={"text": text})
        tokenizer.process([message])
        for featurizer in featurizers:
            tokens = featurizer._get_message_tokens_by_attribute(message, "text")
            assert count_vectors.process_tokens(featurizer, tokens, "text") is not None
            assert featurizer._process_tokens(tokens, "text") == rasas(featurizer, tokens, "text")
            assert featurizer._process_tokens(["1", "a"], "intent") == rasas(featurizer, ["1", "a"], "intent")


# --- with the shortcut off (KOSMO_RASA_SPEEDUPS=off, or a Rasa it was not written for)


def test_a_featurizer_without_the_shortcut_runs_rasas_code(pipeline, monkeypatch):
    _, featurizers = pipeline
    featurizer = featurizers[0]
    monkeypatch.setattr(featurizer, "_direct", None)
    calls = []

    def rasas(self, *args):
        calls.append(args)
        return ["rasa"]

    monkeypatch.setattr(CountVectorsFeaturizer, "_process_tokens", rasas)
    assert featurizer._process_tokens(["a1", "12"], "text") == ["rasa"]
    assert calls == [(["a1", "12"], "text")]

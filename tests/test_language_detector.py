"""The language detector switches only when a message leaves no doubt (bot/nlu/language_detector.py)."""

from __future__ import annotations

import time

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language_detector import (
    MAX_CHARS,
    LanguageDetectorComponent,
    LanguageJudge,
    is_romaji,
)


@pytest.fixture(scope="module")
def judge() -> LanguageJudge:
    return LanguageJudge()


@pytest.mark.parametrize(
    "text",
    [
        "Hello, I cannot log in. What is my initial password?",
        "My account is locked",
        "I forgot my user ID",
        "The one-time password email never arrived",
        "Where is the login page?",
        "Hi there, how are you?",
        "I want to talk to a person",
        "ＩＴ ＳＡＹＳ ＭＹ ＣＯＤＥ ＩＳ ＷＲＯＮＧ",  # full-width letters
        "My user ID is kose.hanako and I forgot my password",  # an ID inside an English sentence
    ],
)
def test_english_sentences_are_english(judge, text):
    assert judge.decide(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "初期パスワードは何ですか",
        "ワンタイムパスワードが届かない",
        "ﾛｯｸ中です",  # half-width katakana
        "こんにちは",
        "ログインできない, my password is wrong",  # mixed: Japanese wins
        "Hello, 初期パスワードを教えてください",
        "I forgot my ID 忘れた",
    ],
)
def test_any_kana_or_kanji_is_japanese(judge, text):
    assert judge.decide(text) == "ja"


@pytest.mark.parametrize(
    "text",
    [
        "pasuwaado wasureta",
        "roguin dekinai",
        "wantaimu pasuwaado ga todokanai",
        "roguin dekinai no desu ga",
        "password wo wasureta",
        "my password wo wasureta",
        "aidi wo wasuremashita",
        "akaunto ga rokku sareta",
        "shokipasuwaado wa nan desu ka",
    ],
)
def test_romaji_is_never_english(judge, text):
    assert judge.decide(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "kose.hanako",
        "taro@example.com",
        "123456",
        "123 456",
        "UL-7F3K9Q",
        "https://www.kosekenpo.portal.kosmo-web.jp/",
        "1990/1/1",
        "OK",
        "yes",
        "Yes please",
        "Thank you",
        "no",
        "kosmo web url",
    ],
)
def test_short_or_structured_messages_leave_the_slot(judge, text):
    assert judge.decide(text) is None


@pytest.mark.parametrize("text", ["", "   ", "/affirm", '/choose_topic{"topic": "faq/portal_url"}', None, 42])
def test_empty_payloads_and_non_text_decide_nothing(judge, text):
    assert judge.decide(text) is None


def test_words_that_read_as_morae_are_told_apart():
    assert is_romaji("wasureta") and is_romaji("pasuwaado") and is_romaji("roguin")
    assert not is_romaji("forgot") and not is_romaji("password") and not is_romaji("hello")


def test_very_long_messages_are_read_only_at_their_start(judge):
    english = "I cannot log in because my password is wrong. " * 200
    started = time.perf_counter()
    assert judge.decide(english) == "en"
    assert judge.decide(english + "パスワード") == "en"  # Japanese after MAX_CHARS is not read
    assert judge.decide("パスワード" + english) == "ja"
    assert judge.decide("a" * 100_000) is None
    assert time.perf_counter() - started < 1.0
    assert len(english) > MAX_CHARS


def message(text: str, normalized: str | None = None) -> Message:
    data = {TEXT: text}
    if normalized is not None:
        data["normalized_text"] = normalized
    return Message(data=data)


def languages(msg: Message) -> list[str]:
    return [e["value"] for e in msg.get(ENTITIES, []) if e["entity"] == "language"]


def test_component_sets_the_entity_only_when_sure():
    component = LanguageDetectorComponent()
    msgs = [
        message("Hello, I cannot log in. What is my initial password?"),
        message("初期パスワードは？"),
        message("kose.hanako"),
        message("pasuwaado wasureta"),
    ]
    component.process(msgs)
    assert [languages(m) for m in msgs] == [["en"], ["ja"], [], []]


def test_component_reads_the_normalised_text_first():
    component = LanguageDetectorComponent()
    # a normaliser turned the romaji key terms into katakana
    msg = message("wantaimu pasuwaado ga todokanai", normalized="ワンタイムパスワード ga todokanai")
    component.process([msg])
    assert languages(msg) == ["ja"]


def test_component_keeps_other_entities_and_replaces_its_own():
    component = LanguageDetectorComponent()
    msg = message("My account is locked, what can I do?")
    msg.set(ENTITIES, [{"entity": "society", "value": "ono"}, {"entity": "language", "value": "ja"}])
    component.process([msg])
    assert [(e["entity"], e["value"]) for e in msg.get(ENTITIES)] == [("society", "ono"), ("language", "en")]


def test_the_detector_is_built_on_first_use_not_before():
    judge = LanguageJudge()
    assert judge._detector is None  # noqa: SLF001
    judge.decide("ok")  # too short: lingua is not asked
    assert judge._detector is None  # noqa: SLF001
    judge.decide("I forgot my password again")
    assert judge._detector is not None  # noqa: SLF001


@pytest.mark.parametrize("text", ["a" * 600, "ka" * 300, "na" * 300 + "x", "a@" * 300, "1a" * 300])
def test_pathological_text_costs_little(judge, text):
    started = time.perf_counter()
    for _ in range(10):
        judge.decide(text)
    assert (time.perf_counter() - started) / 10 < 0.005


def test_a_failing_romaji_match_does_not_backtrack():
    started = time.perf_counter()
    assert not is_romaji("na" * 20 + "x")
    assert time.perf_counter() - started < 0.01

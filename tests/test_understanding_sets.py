"""The understanding sets (tests/understanding/) are well formed, apart, and never trained on."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.understanding import (
    CATEGORIES,
    FLOW_ACTIONS,
    RESPONSE_OUTCOMES,
    SETS,
    Item,
    SetError,
    load_items,
    parse_items,
    turn_of,
    verdict,
)
from bot.domain.topics import load_topic_labels
from tests.conftest import PROJECT_ROOT
from tests.near_duplicates import near, nlu_texts

CONVERSATION_OUTCOMES = {
    "ask", "did_not_help", "handoff_offer", "out_of_scope", "english_scope", "redirect", "refuse",
    "never_share_password", "greet", "thank", "goodbye", "bot_challenge", "stop", "deny",
}


@pytest.fixture(scope="module")
def training_texts() -> set[str]:
    return nlu_texts(PROJECT_ROOT / "data" / "nlu")


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_is_well_formed_and_covers_every_category(name):
    items = load_items(SETS[name])
    counts = Counter(i.category for i in items)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= (20 if name == "eval" else 12), counts
    assert {i.society for i in items} == {"kose", "ono"}
    known = set(load_topic_labels()) | set(FLOW_ACTIONS.values()) | set(RESPONSE_OUTCOMES.values()) | CONVERSATION_OUTCOMES
    unknown = {o for i in items for o in (*i.expect, *i.both)} - known
    assert not unknown, sorted(unknown)


def test_evaluation_set_is_large_enough():
    assert len(load_items(SETS["eval"])) >= 200


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_message_is_training_data(name, training_texts):
    trained = [i.text for i in load_items(SETS[name]) if near(i.text) in training_texts]
    # the evaluation set's messages are not printed: it only measures
    assert not trained, trained if name != "eval" else f"{len(trained)} evaluation messages"


def test_the_two_sets_share_no_message():
    dev = {near(i.text) for i in load_items(SETS["dev"])}
    evaluation = {near(i.text) for i in load_items(SETS["eval"])}
    shared = len(dev & evaluation)
    assert shared == 0, f"{shared} development messages are evaluation messages"


def test_malformed_sets_are_refused_with_a_reason():
    with pytest.raises(SetError, match="items"):
        parse_items({})
    with pytest.raises(SetError, match="category"):
        parse_items({"items": [{"text": "x", "society": "kose", "category": "nope", "expect": "ask"}]})
    with pytest.raises(SetError, match="exactly one"):
        parse_items({"items": [{"text": "x", "society": "kose", "category": "vague"}]})
    with pytest.raises(SetError, match="society"):
        parse_items({"items": [{"text": "x", "society": "zzz", "category": "vague", "expect": "ask"}]})


def bot(name, text="..."):
    return {"event": "bot", "text": text, "metadata": {"utter_action": name}}


def test_what_was_said_instead_counts():
    event = {"event": "bot", "text": "I can help with", "metadata": {"utter_action": "utter_out_of_scope",
                                                                     "answered_with": "utter_english_scope"}}
    assert turn_of([{"event": "user"}, event])[0] == ["english_scope"]


def test_outcomes_of_a_turn_are_read_from_the_tracker():
    events = [
        {"event": "user", "text": "前の質問"}, bot("utter_greet"),
        {"event": "user", "text": "ロックされた"},
        {"event": "action", "name": "unlock_form"}, bot("utter_ask_unlock_user_id", "ユーザーIDを"),
        bot("utter_faq/portal_url", "アドレスは"),
    ]
    outcomes, reply = turn_of(events)
    assert outcomes == ["unlock_flow", "faq/portal_url"]
    assert reply == "ユーザーIDを\nアドレスは"


def test_verdicts():
    item = Item("x", "kose", "vague", expect=("faq/portal_url",))
    assert verdict(item, ["faq/portal_url"], "") == "right"
    assert verdict(item, ["ask"], "") == "asked"
    assert verdict(item, ["faq/logout"], "") == "wrong"
    assert verdict(item, [], "") == "wrong"
    both = Item("x", "kose", "two_questions", both=("a", "b"))
    assert verdict(both, ["a", "c", "b"], "") == "right"
    assert verdict(both, ["b", "a"], "") == "wrong"
    english = Item("x", "ono", "english", expect=("greet",), lang="en")
    assert verdict(english, ["greet"], "Hello!") == "right"
    assert verdict(english, ["greet"], "こんにちは") == "wrong"
    # the Japanese label of a screen button, quoted in an English answer, is still English
    assert verdict(english, ["greet"], "Press 「ユーザーIDを忘れた方はこちら」 (forgot your user ID) on the login screen.") == "right"
    checked = Item("x", "kose", "typos_kana_romaji", expect=("a",), must_not_contain=("15桁",))
    assert verdict(checked, ["a"], "全部で15桁です") == "wrong"

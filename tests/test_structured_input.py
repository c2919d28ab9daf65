"""Messages whose form says what they are get their intent by rule (bot.nlu.structured_input)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain.normalize import looks_like_password
from bot.nlu.structured_input import StructuredInputClassifier, decide, ticket_span


@pytest.mark.parametrize(
    ("text", "intent", "ticket"),
    [
        # passwords, inside a sentence or alone: never stored, the member is warned
        ("パスワードは Ichiro-Kose2024 です", "share_password", None),
        ("Hanako-Kose2024", "share_password", None),
        ("pw: hanako2024", "share_password", None),
        # bare values a form asks for
        ("kose.ichiro", "inform", None),
        ("ＫＯＳＥ．ＩＣＨＩＲＯ", "inform", None),
        ("sakura.ono@example.com", "inform", None),
        ("昭和53年2月14日", "inform", None),
        ("H2.1.1", "inform", None),
        ("19900101", "inform", None),
        ("123456", "inform", None),
        ("１２３ ４５６", "inform", None),
        # a bare ticket number asks for its status; inside a sentence it is an entity only
        ("UL-LEVDFV", "ask_ticket_status", "UL-LEVDFV"),
        ("ul-9mx3pt", "ask_ticket_status", "UL-9MX3PT"),
        ("ＵＬ－７Ｆ３Ｋ９Ｑ。", "ask_ticket_status", "UL-7F3K9Q"),
        ("UL-7F3K9Q の状況は？", "ask_ticket_status", "UL-7F3K9Q"),
        ("受付番号はUL-3PV9XAです", "ask_ticket_status", "UL-3PV9XA"),
        ("ul-weqvmh の状況を教えてください", "ask_ticket_status", "UL-WEQVMH"),
        # words stay with DIET
        ("password", None, None),
        ("help me", None, None),
        ("アカウントがロックされました", None, None),
        ("1990/13/45", None, None),
        ("12345", None, None),
        ("UL-7F3K9", "inform", None),  # too short for a ticket: a value, not a password
        ("https://www.kosekenpo.portal.kosmo-web.jp/", None, None),
    ],
)
def test_decide(text: str, intent: str | None, ticket: str | None) -> None:
    assert decide(text) == (intent, ticket)


@pytest.mark.parametrize("guessed", ["faq", "nlu_fallback", "account_locked", None])
def test_a_ticket_in_a_sentence_asks_its_status_whatever_diet_guessed(guessed) -> None:
    # random ticket letters once made DIET answer with the portal address
    assert decide("ul-weqvmh の状況を教えてください", guessed) == ("ask_ticket_status", "UL-WEQVMH")


@pytest.mark.parametrize("guessed", ["request_human", "stop", "deny", "thank", "goodbye"])
def test_a_ticket_quoted_with_a_request_keeps_the_request(guessed) -> None:
    assert decide("UL-7F3K9Q の件で担当者と話したい", guessed) == (None, "UL-7F3K9Q")


def test_ticket_span_points_at_the_number() -> None:
    text = "受付番号 UL-7F3K9Q の状況"
    start, end = ticket_span(text, "UL-7F3K9Q")
    assert text[start:end] == "UL-7F3K9Q"


def message(text: str, intent: str = "faq", confidence: float = 0.9) -> Message:
    m = Message(data={TEXT: text})
    m.set(INTENT, {"name": intent, "confidence": confidence})
    m.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}])
    m.set(ENTITIES, [{"entity": "society", "value": "kose"}])
    return m


def test_process_overrides_a_wrong_guess_and_keeps_other_entities() -> None:
    [m] = StructuredInputClassifier().process([message("UL-LEVDFV", "faq", 0.97)])
    assert m.get(INTENT) == {"name": "ask_ticket_status", "confidence": 1.0}
    assert m.get(INTENT_RANKING_KEY)[0]["name"] == "ask_ticket_status"
    assert {e["entity"]: e["value"] for e in m.get(ENTITIES)} == {
        "society": "kose",
        "ticket_id": "UL-LEVDFV",
    }


def test_process_leaves_sentences_and_payloads_to_diet() -> None:
    sentence, payload = StructuredInputClassifier().process(
        [message("ロックされました", "account_locked"), message('/choose_topic{"topic": "x"}')]
    )
    assert sentence.get(INTENT)["name"] == "account_locked"
    assert payload.get(INTENT)["name"] == "faq"
    assert [e["entity"] for e in sentence.get(ENTITIES)] == ["society"]


def test_password_overrides_the_fallback() -> None:
    [m] = StructuredInputClassifier().process(
        [message("パスワードは Ichiro-Kose2024 です", "nlu_fallback", 0.5)]
    )
    assert m.get(INTENT)["name"] == "share_password"


@pytest.mark.parametrize(
    "text",
    [
        "It keeps saying the ID or password is incorrect",
        "Password forgotten",
        "What are the password requirements?",
        "Do I need Microsoft Authenticator?",
        "The one-time password doesn't work",
        "What about Android?",
    ],
)
def test_english_questions_about_passwords_are_not_passwords(text):
    assert not looks_like_password(text)

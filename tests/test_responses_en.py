"""English texts (data/responses_en.yml) and the NLG's choice between English and Japanese (bot/nlg.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.domain.language import (
    ENGLISH_SCOPE_RESPONSE,
    EnglishResponsesError,
    load_english_responses,
    parse_english_responses,
)
from bot.domain.societies import load_registry
from bot.domain.topics import load_topic_labels
from bot.nlg import SocietyNaturalLanguageGenerator
from bot.nlu.language_detector import has_japanese
from tests.conftest import FICTIONAL_KEY, PROJECT_ROOT

VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SOCIETIES = ["kose", "ono", FICTIONAL_KEY]
# values an action hands to its response (utter_message(response=..., ticket_id=...))
ACTION_VALUES = {"ticket_id", "seconds"}
# what a member writing English must be able to get in English (issue 14)
MAIN_TOPICS = [
    "utter_faq/initial_password",
    "utter_otp_rejected",
    "utter_otp_not_received",
    "utter_account_locked",
    "utter_forgot_user_id",
    "utter_forgot_password",
    "utter_faq/portal_url",
    "utter_handoff_offer",
    "utter_greet",
    "utter_thank",
    "utter_goodbye",
    "utter_clarify",
]
# the offers whose "yes" starts a flow: their flows' questions, re-asks and results
FLOWS = [
    "utter_ask_unlock_user_id",
    "utter_ask_unlock_birth_date",
    "utter_unlock_ticket_opened",
    "utter_ask_reminder_email",
    "utter_user_id_reminder_sent",
    "utter_ask_otp_user_id",
    "utter_ask_totp_code",
    "utter_otp_resent",
    "utter_totp_match",
    "utter_invalid_user_id",
    "utter_invalid_birth_date",
    "utter_invalid_email",
    "utter_handoff_queued",
    "utter_handoff_declined",
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_ROOT / "config.yml"),
        str(PROJECT_ROOT / "domain.yml"),
        [str(PROJECT_ROOT / "data")],
    )
    return importer.get_domain()


@pytest.fixture(scope="module")
def english() -> dict[str, list[dict[str, Any]]]:
    return load_english_responses()


@pytest.fixture(scope="module")
def nlg(domain, registry_with_fictional) -> SocietyNaturalLanguageGenerator:
    return SocietyNaturalLanguageGenerator(domain=domain, registry=registry_with_fictional)


def tracker(domain: Domain, society: str, language: str | None) -> DialogueStateTracker:
    t = DialogueStateTracker.from_events("t", [], slots=domain.slots)
    t.slots["society"].value = society
    t.slots["language"].value = language
    return t


# --- the data ---------------------------------------------------------------


def test_every_english_response_exists_in_the_domain(domain, english):
    assert not sorted(set(english) - set(domain.responses))


def test_the_main_topics_and_their_flows_have_english_texts(english):
    assert not [name for name in MAIN_TOPICS + FLOWS if name not in english]


@pytest.mark.parametrize("society", SOCIETIES)
def test_every_english_variable_exists_for_every_society(english, registry_with_fictional, society):
    values = registry_with_fictional.resolve(society).template_variables()
    missing = {
        (name, var)
        for name, variations in english.items()
        for v in variations
        for var in VARIABLE.findall(v["text"])
        if var not in values and var not in ACTION_VALUES
    }
    assert not missing, sorted(missing)


def test_english_texts_use_no_japanese_only_fact(english):
    """A fact whose value is Japanese for a real society must be used in its *_en form."""
    japanese_valued = {
        key
        for society in load_registry()
        for key, value in society.template_variables().items()
        if isinstance(value, str) and has_japanese(value) and not key.endswith("_en")
    }
    used = {
        (name, var)
        for name, variations in english.items()
        for v in variations
        for var in VARIABLE.findall(v["text"])
        if var in japanese_valued
    }
    assert not used, sorted(used)


def test_english_conditions_name_facts_or_slots(english, domain, registry_with_fictional):
    known = set(domain.slots_by_name if hasattr(domain, "slots_by_name") else [])
    known |= {s.name for s in domain.slots}
    known |= set(registry_with_fictional.default.template_variables())
    bad = {
        (name, c.get("name"))
        for name, variations in english.items()
        for v in variations
        for c in v.get("condition") or []
        if c.get("name") not in known
    }
    assert not bad, sorted(bad)


def test_every_offer_has_yes_and_no_buttons(english):
    """An offer ("Shall I ...?") carries its Yes and No buttons, as the style guide asks."""
    offer = re.compile(r"(Shall I|Would you still like)[^?]*\?")
    without = [
        name
        for name, variations in english.items()
        for v in variations
        if offer.search(v["text"]) and len(v.get("buttons") or []) != 2
    ]
    assert not without, without
    offers = [n for n, vs in english.items() if any(offer.search(v["text"]) for v in vs)]
    assert len(offers) >= 7, offers


def test_english_topic_labels_are_topics_answered_in_english(english):
    labels = load_topic_labels(language="en")
    japanese = load_topic_labels()
    assert labels and set(labels) <= set(japanese)
    for key in labels:
        response = f"utter_{key}"
        assert response in english or key == "request_human", key


def test_the_english_file_needs_its_fallback_and_texts():
    with pytest.raises(EnglishResponsesError):
        parse_english_responses({"responses_en": {"utter_greet": [{"text": "Hi"}]}}, "test")
    with pytest.raises(EnglishResponsesError):
        parse_english_responses({"responses_en": {ENGLISH_SCOPE_RESPONSE: [{"buttons": []}]}}, "test")
    with pytest.raises(EnglishResponsesError):
        parse_english_responses(["not", "a", "mapping"], "test")


def test_the_english_file_is_plain_yaml_of_responses():
    data = yaml.safe_load((PROJECT_ROOT / "data" / "responses_en.yml").read_text(encoding="utf-8"))
    # not `responses`: Rasa would read that as training data and overwrite the Japanese texts
    assert set(data) == {"version", "responses_en"}


def test_the_domain_keeps_the_japanese_texts(domain, english):
    for name in english:
        for variation in domain.responses.get(name, []):
            assert has_japanese(variation["text"]), (name, variation["text"])


# --- the NLG's choice ---------------------------------------------------------


@pytest.mark.parametrize(
    "society, facts",
    [
        ("kose", ["301234519901101", "November 1, 1990", "User ID and Password Notice"]),
        ("ono", ["10123420010101", "January 1, 2001", "My Page"]),
    ],
)
async def test_english_conversation_gets_the_english_text(nlg, domain, society, facts):
    message = await nlg.generate("utter_faq/initial_password", tracker(domain, society, "en"), "rest")
    text = message["text"]
    assert "The password for your first login" in text, text
    for fact in facts:
        assert fact in text, text


@pytest.mark.parametrize(
    "name, society, expected",
    [
        ("utter_otp_not_received", "kose", "no-reply@kosmo-web.jp"),
        ("utter_otp_not_received", "ono", "Microsoft Authenticator"),
        ("utter_account_locked", "ono", "Ono Pharmaceutical Health Insurance Society (小野薬品健康保険組合)"),
        ("utter_faq/portal_url", "ono", "https://www.onokenpo.portal.kosmo-web.jp/"),
    ],
)
async def test_english_texts_follow_the_society(nlg, domain, name, society, expected):
    message = await nlg.generate(name, tracker(domain, society, "en"), "rest")
    assert expected in message["text"], message["text"]


async def test_an_offer_in_english_carries_english_buttons(nlg, domain):
    message = await nlg.generate("utter_account_locked", tracker(domain, "kose", "en"), "rest")
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    assert message["buttons"][0]["title"].startswith("Yes")


@pytest.mark.parametrize("name", ["utter_faq/qr_scan", "utter_out_of_scope", "utter_login_invalid"])
async def test_no_english_text_gives_the_english_scope(nlg, domain, name):
    message = await nlg.generate(name, tracker(domain, "ono", "en"), "rest")
    text = message["text"]
    assert "Sorry, I cannot answer that in English." in text, text
    assert "Ono Pharmaceutical Health Insurance Society (小野薬品健康保険組合)" in text
    assert "Shall I connect you to a person?" in text
    assert [b["payload"] for b in message["buttons"]] == ["/request_human", "/deny"]
    assert not has_japanese(text.replace("小野薬品健康保険組合", ""))


async def test_no_applicable_english_variation_gives_the_english_scope(domain, registry_with_fictional):
    english = {
        ENGLISH_SCOPE_RESPONSE: [{"text": "scope {contact_en}"}],
        "utter_greet": [{"text": "only for totp", "condition": [
            {"type": "slot", "name": "otp_method", "value": "totp"}]}],
    }
    nlg = SocietyNaturalLanguageGenerator(
        domain=domain, registry=registry_with_fictional, english_responses=english
    )
    message = await nlg.generate("utter_greet", tracker(domain, "kose", "en"), "rest")
    assert message["text"] == "scope KOSE Health Insurance Society (コーセー健康保険組合)"


@pytest.mark.parametrize("language", [None, "ja"])
@pytest.mark.parametrize("name", ["utter_faq/portal_url", "utter_greet", "utter_faq/qr_scan"])
async def test_japanese_conversations_are_unchanged(nlg, domain, language, name):
    plain = SocietyNaturalLanguageGenerator(
        domain=domain, registry=nlg.registry, english_responses={ENGLISH_SCOPE_RESPONSE: [{"text": "x"}]}
    )
    t = tracker(domain, "ono", language)
    ours = await nlg.generate(name, t, "rest")
    theirs = await plain.generate(name, t, "rest")
    assert ours == theirs
    assert has_japanese(ours["text"])


def test_english_facts_fall_back_to_the_japanese_ones(registry_with_fictional):
    fictional = registry_with_fictional.resolve(FICTIONAL_KEY).template_variables()
    assert fictional["society_name_en"] == fictional["society_name"]  # no name_en: the Japanese name
    assert fictional["contact_en"] == fictional["contact"]
    kose = load_registry().resolve("kose").template_variables()
    assert kose["society_name_en"] == "KOSE Health Insurance Society"
    assert kose["staffed_hours_en"] == "weekdays 9:00-17:00 (Japan time)"
    assert kose["pw_example_birth_date_en"] == "November 1, 1990"

"""Every response, rendered for every society, says that society's facts.

Loads the domain the way `rasa train` does (domain.yml plus the responses kept
beside the training data) and renders each response through the generator the
Rasa server uses, for kose, ono and a fictional society that exists only in a
test societies file: adding a society is a data change.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.nlg import SocietyNaturalLanguageGenerator
from tests.conftest import FICTIONAL_EXAMPLE_PASSWORD, FICTIONAL_KEY, PROJECT_ROOT

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# What an email-OTP society's member must never be told, and vice versa.
# (A member may be told "no app is needed here"; the app and its steps are never named.)
AUTHENTICATOR_WORDS = ("Authenticator", "秘密鍵", "スキャンできませんか")
EMAIL_OTP_WORDS = ("メール認証", "メールで届くワンタイムパスワード", "ワンタイムパスワードのお知らせ")


@pytest.fixture(scope="module")
def domain() -> Domain:
    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_ROOT / "config.yml"),
        str(PROJECT_ROOT / "domain.yml"),
        [str(PROJECT_ROOT / "data")],
    )
    return importer.get_domain()


@pytest.fixture(scope="module")
def nlg(domain, registry_with_fictional) -> SocietyNaturalLanguageGenerator:
    return SocietyNaturalLanguageGenerator(domain=domain, registry=registry_with_fictional)


def render(nlg: SocietyNaturalLanguageGenerator, domain: Domain, name: str, society: str) -> str:
    tracker = DialogueStateTracker.from_events("t", [], slots=domain.slots)
    tracker.slots["society"].value = society
    # values an action hands to its response (actions/otp.py: utter_message(response=..., seconds=...))
    values = {"seconds": 12, **nlg.values_for(tracker.current_slot_values())}
    texts = []
    # every variation that can apply to this society, not only a random one
    for variation in nlg.responses[name]:
        if nlg.responses and _applies(variation, values):
            filled: dict[str, Any] = nlg._fill_response(dict(variation), values)  # noqa: SLF001
            texts.append(filled.get("text") or "")
    return "\n".join(texts)


def _applies(variation: dict, values: dict) -> bool:
    for c in variation.get("condition") or []:
        if str(values.get(c["name"])).casefold() != str(c["value"]).casefold():
            return False
    return True


def test_there_are_responses(domain):
    assert len(domain.responses) >= 10


@pytest.mark.parametrize("society", ["kose", "ono", FICTIONAL_KEY])
def test_every_response_renders_for_every_society(nlg, domain, society):
    problems = []
    for name in sorted(domain.responses):
        text = render(nlg, domain, name, society)
        if not text.strip():
            problems.append(f"{name}: no variation applies")
        elif PLACEHOLDER.search(text):
            problems.append(f"{name}: unfilled {PLACEHOLDER.findall(text)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("society", ["kose", FICTIONAL_KEY])
def test_email_societies_never_hear_of_the_authenticator(nlg, domain, society):
    leaks = [
        f"{name}: {word}"
        for name in domain.responses
        for word in AUTHENTICATOR_WORDS
        if word in render(nlg, domain, name, society)
    ]
    assert not leaks, leaks


def test_authenticator_society_never_hears_of_email_otp(nlg, domain):
    leaks = [
        f"{name}: {word}"
        for name in domain.responses
        for word in EMAIL_OTP_WORDS
        if word in render(nlg, domain, name, "ono")
    ]
    assert not leaks, leaks


def test_initial_password_answer_uses_each_society_example(nlg, domain):
    name = "utter_faq/initial_password"
    assert name in domain.responses
    assert "301234519901101" in render(nlg, domain, name, "kose")
    assert "10123420010101" in render(nlg, domain, name, "ono")
    assert FICTIONAL_EXAMPLE_PASSWORD in render(nlg, domain, name, FICTIONAL_KEY)


def test_portal_url_answer_uses_each_society_address(nlg, domain):
    name = "utter_faq/portal_url"
    assert "www.kosekenpo.portal.kosmo-web.jp" in render(nlg, domain, name, "kose")
    assert "www.onokenpo.portal.kosmo-web.jp" in render(nlg, domain, name, "ono")
    assert "www.hoshizora.portal.kosmo-web.jp" in render(nlg, domain, name, FICTIONAL_KEY)

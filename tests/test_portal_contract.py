"""The portal contract is written once (bot/domain/portal_contract.py) and both sides keep to it:
the bot's forms and the reference portal accept exactly the same user IDs for each
society, ticket numbers, dates and error codes are the contract's, and the OpenAPI
document says the same."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.domain.portal_contract as contract
from bot.domain.normalize import parse_birth_date as bot_birth_date
from bot.domain.normalize import parse_ticket_id as bot_ticket_id
from bot.domain.normalize import parse_user_id as bot_user_id
from bot.domain.societies import PROJECT_ROOT, SocietyRegistry
from dev.portal.security import new_ticket_id
from dev.portal.validation import ValidationError
from dev.portal.validation import parse_birth_date as portal_birth_date
from dev.portal.validation import parse_society_user_id as portal_user_id

TODAY = dt.date(2025, 4, 1)
OPENAPI = PROJECT_ROOT / "dev" / "portal" / "openapi.json"


def test_the_contract_imports_only_the_standard_library() -> None:
    tree = ast.parse((PROJECT_ROOT / "bot" / "domain" / "portal_contract.py").read_text(encoding="utf-8"))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported <= {"__future__", "datetime", "re", "string", "typing"}, imported


def test_user_id_rule_is_the_manuals() -> None:
    # ono's manual: 8文字～13文字, 半角英数字 and - _ . @; kose's states none: the same portal
    assert (contract.USER_ID_MIN_LENGTH, contract.USER_ID_MAX_LENGTH) == (8, 13)
    assert contract.USER_ID_CHARS == frozenset(string.ascii_lowercase + string.digits + "-_.@")
    assert contract.user_id_problem("k0s181bu4") is None  # kose's manual's example
    assert contract.user_id_problem("kose12") == contract.USER_ID_LENGTH
    assert contract.user_id_problem("kenpo.taro.abcd") == contract.USER_ID_LENGTH
    assert contract.user_id_problem("kenpo+taro") == contract.USER_ID_CHARACTERS
    assert contract.user_id_problem("1012345619800101", digit_lengths=(15, 16)) is None


def test_every_society_keeps_within_what_the_bot_recognises(registry: SocietyRegistry) -> None:
    for society in registry:
        assert society.user_id_min_length >= contract.USER_ID_MIN_LENGTH, society.key
        assert society.user_id_max_length <= contract.USER_ID_MAX_LENGTH, society.key
        assert all(
            contract.USER_ID_MIN_LENGTH <= n <= contract.DIGITS_USER_ID_MAX_LENGTH
            for n in society.user_id_digit_lengths
        ), society.key
    assert registry.get("ono").user_id_digit_lengths == (15, 16)
    assert registry.get("kose").user_id_digit_lengths == ()


def _portal_accepts(text: str, society) -> str | None:
    try:
        return portal_user_id(text, society)
    except ValidationError:
        return None


# ASCII a member might type where an ID goes: the ID characters, capitals and a few others
ID_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.@+!#", max_size=18)


@pytest.mark.parametrize("key", ["kose", "ono"])
@settings(max_examples=300, deadline=None)
@given(text=ID_TEXT | st.text(alphabet=string.digits, min_size=12, max_size=18))
def test_the_bot_and_the_portal_take_the_same_user_ids(registry, key, text) -> None:
    society = registry.get(key)
    expected = _portal_accepts(text, society)
    assert bot_user_id(text, society) == expected
    if expected is not None:  # what a society takes, the bot recognises before it knows which
        assert bot_user_id(text) == expected


@pytest.mark.parametrize(
    "key, text, taken",
    [
        ("kose", "kose.hanako", True),
        ("kose", "KOSE.HANAKO", True),
        ("kose", "ab12345", False),  # 7
        ("kose", "abcdefghij1234", False),  # 14
        ("kose", "1012345619800101", False),  # kose has no voluntary-continuation IDs
        ("ono", "1012345619800101", True),
        ("ono", "101234519800101", True),  # 15
        ("ono", "10123456198001011", False),  # 17
    ],
)
def test_examples_of_each_societys_rule(registry, key, text, taken) -> None:
    society = registry.get(key)
    assert (bot_user_id(text, society) is not None) is taken
    assert (_portal_accepts(text, society) is not None) is taken


def test_ticket_numbers_the_portal_makes_are_the_ones_the_bot_reads() -> None:
    for _ in range(200):
        ticket = new_ticket_id()
        assert contract.TICKET_ID_RE.fullmatch(ticket)
        assert bot_ticket_id(ticket.lower()) == ticket
    assert set(contract.TICKET_ID_ALPHABET).isdisjoint("01OI")
    assert len(set(contract.TICKET_ID_ALPHABET)) == 32


@pytest.mark.parametrize("dash", list(contract.HYPHENS))
def test_both_sides_read_every_hyphen_look_alike_in_a_date(dash: str) -> None:
    text = f"1990{dash}11{dash}03"
    assert bot_birth_date(text, today=TODAY) == dt.date(1990, 11, 3)
    assert portal_birth_date(text, TODAY) == dt.date(1990, 11, 3)


def test_the_earliest_birth_date_is_the_same_on_both_sides() -> None:
    first, before = contract.EARLIEST_BIRTH_DATE, contract.EARLIEST_BIRTH_DATE - dt.timedelta(1)
    assert bot_birth_date(first.isoformat(), today=TODAY) == first
    assert portal_birth_date(first.isoformat(), TODAY) == first
    assert bot_birth_date(before.isoformat(), today=TODAY) is None
    with pytest.raises(ValidationError):
        portal_birth_date(before.isoformat(), TODAY)


def test_the_openapi_document_says_what_the_contract_says() -> None:
    text = OPENAPI.read_text(encoding="utf-8")
    patterns = set(re.findall(r'"pattern": "(\^UL-[^"]*)"', text))
    assert patterns == {contract.TICKET_ID_PATTERN}
    codes = set(re.findall(r'"const": "([a-z_]+)"', text))
    assert {contract.ERROR_RATE_LIMITED, contract.ERROR_OTP_METHOD_MISMATCH} <= codes
    doc = json.loads(text)
    assert doc["paths"]  # still a readable document
    assert (
        f"{contract.USER_ID_MIN_LENGTH}–{contract.USER_ID_MAX_LENGTH} half-width" in text
    )


@pytest.mark.parametrize(
    "literal",
    [
        contract.TICKET_ID_ALPHABET,
        "[2-9A-HJ-NP-Z]",  # the alphabet as a character class
        "dt.date(1900, 1, 1)",
        "{6,16}",  # the bot's old user-ID rule
    ],
)
def test_contract_values_are_not_copied_into_the_code(literal: str) -> None:
    sources = [
        p
        for top in ("bot", "actions", "dev")
        for p in (PROJECT_ROOT / top).rglob("*.py")
        if p.name != "portal_contract.py"
    ]
    copies = [str(p.relative_to(PROJECT_ROOT)) for p in sources if literal in p.read_text("utf-8")]
    assert copies == []


def test_the_dev_tokens_stay_in_dev() -> None:
    from dev.portal.settings import DEV_ADMIN_TOKEN, DEV_SERVICE_TOKEN

    shipped = [p for top in ("bot", "actions") for p in (PROJECT_ROOT / top).rglob("*.py")]
    for token in (DEV_SERVICE_TOKEN, DEV_ADMIN_TOKEN):
        assert [str(p) for p in shipped if token in p.read_text("utf-8")] == [], token

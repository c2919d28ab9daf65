"""Property tests (hypothesis) for the request validators."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.portal_contract import USER_ID_CHARS
from bot.domain.societies import load_registry
from dev.portal.security import new_ticket_id
from dev.portal.validation import (
    ValidationError,
    fold_width,
    parse_birth_date,
    parse_email,
    parse_new_password,
    parse_otp_code,
    parse_ticket_id,
    parse_user_id,
)

TODAY = dt.date(2025, 4, 1)
ID_ALPHABET = string.ascii_letters + string.digits + "-_.@"


def to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_fold_width_undoes_full_width(text: str) -> None:
    assert fold_width(to_full_width(text)) == text


@given(st.text())
def test_fold_width_leaves_no_full_width_ascii(text: str) -> None:
    folded = fold_width(text)
    assert len(folded) == len(text)
    assert not any(0xFF01 <= ord(c) <= 0xFF5E for c in folded)


# ----------------------------------------------------------------- user IDs


@given(st.text(alphabet=ID_ALPHABET, min_size=8, max_size=13), st.booleans())
def test_valid_user_ids_are_accepted_lower_cased(user_id: str, full_width: bool) -> None:
    typed = to_full_width(user_id) if full_width else user_id
    assert parse_user_id(f"  {typed} ") == user_id.lower()


@given(st.text(max_size=40))
@example("kose.hanako")
@example("ａｂｃｄｅｆｇｈ")
def test_user_id_parser_accepts_only_the_rules(text: str) -> None:
    try:
        result = parse_user_id(text)
    except ValidationError as e:
        assert e.field == "user_id"
        return
    assert 8 <= len(result) <= 13
    assert set(result) <= USER_ID_CHARS
    assert result == result.lower()


@given(st.text(alphabet=ID_ALPHABET, max_size=7) | st.text(alphabet=ID_ALPHABET, min_size=14, max_size=30))
def test_user_ids_of_wrong_length_are_refused(user_id: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_user_id(user_id)
    assert e.value.code in ("length", "required")


@given(st.text(alphabet=ID_ALPHABET, min_size=4, max_size=6), st.sampled_from(" !#$%&*+/=?^~あア漢\u3000\t"),
       st.text(alphabet=ID_ALPHABET, min_size=4, max_size=6))
def test_user_ids_with_other_characters_are_refused(left: str, bad: str, right: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_user_id(left + bad + right)
    assert e.value.field == "user_id"


# ----------------------------------------------------------------- emails

LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=20)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(LOCAL, min_size=1, max_size=3), st.lists(LABEL, min_size=1, max_size=3),
       st.sampled_from(["com", "jp", "ne", "co", "xn--wgv71a"]))
def test_valid_emails_round_trip_lower_cased(parts: list[str], labels: list[str], tld: str) -> None:
    address = ".".join(parts) + "@" + ".".join([*labels, tld])
    if len(".".join(parts)) > 64:
        return
    assert parse_email(address) == address.lower()
    assert parse_email(to_full_width(address)) == address.lower()


@given(st.text(max_size=80))
@example("a@b")
@example("a..b@example.com")
def test_email_parser_output_is_always_well_formed(text: str) -> None:
    try:
        result = parse_email(text)
    except ValidationError as e:
        assert e.field == "email"
        return
    local, _, domain = result.partition("@")
    assert local and "." in domain and ".." not in result
    assert not local.startswith(".") and not local.endswith(".")
    assert len(result) <= 254 and result == result.lower()


# ----------------------------------------------------------------- birth dates


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]),
       st.booleans())
def test_birth_dates_in_every_accepted_form(date: dt.date, fmt: str, full_width: bool) -> None:
    text = date.strftime(fmt)
    if full_width:
        text = to_full_width(text)
    assert parse_birth_date(text, TODAY) == date


@given(st.dates(min_value=TODAY + dt.timedelta(days=1)) | st.dates(max_value=dt.date(1899, 12, 31)))
def test_birth_dates_out_of_range(date: dt.date) -> None:
    with pytest.raises(ValidationError) as e:
        parse_birth_date(f"{date.year:04d}-{date.month:02d}-{date.day:02d}", TODAY)
    assert e.value.field == "birth_date"


@given(st.text(max_size=20))
def test_birth_date_parser_never_crashes(text: str) -> None:
    try:
        result = parse_birth_date(text, TODAY)
    except ValidationError as e:
        assert e.field == "birth_date"
        return
    assert dt.date(1900, 1, 1) <= result <= TODAY


# ----------------------------------------------------------------- OTP codes


@given(st.integers(min_value=0, max_value=999_999), st.booleans(), st.booleans())
def test_otp_codes(number: int, full_width: bool, spaced: bool) -> None:
    code = f"{number:06d}"
    typed = to_full_width(code) if full_width else code
    if spaced:
        typed = typed[:3] + (" " if number % 2 else "\u3000") + typed[3:]
    assert parse_otp_code(typed) == code


@given(st.text(max_size=12))
def test_otp_parser_returns_six_ascii_digits_or_refuses(text: str) -> None:
    try:
        result = parse_otp_code(text)
    except ValidationError as e:
        assert e.field == "code"
        return
    assert len(result) == 6 and all(c in string.digits for c in result)


# ----------------------------------------------------------------- tickets and passwords


@settings(max_examples=50)
@given(st.just(None))
def test_generated_ticket_ids_parse(_: None) -> None:
    tid = new_ticket_id()
    assert parse_ticket_id(tid.lower()) == tid


REGISTRY = load_registry()


@given(st.text(min_size=1, max_size=80), st.sampled_from(sorted(REGISTRY.societies)))
def test_new_password_follows_the_society_rules(text: str, key: str) -> None:
    society = REGISTRY.societies[key]
    allowed = set(string.ascii_letters + string.digits + society.password_allowed_symbols + "\\")
    try:
        result = parse_new_password(text, society)
    except ValidationError as e:
        assert e.field == "password"
        assert not (society.password_min_length <= len(text) <= society.password_max_length and set(text) <= allowed)
        return
    assert result == text and set(text) <= allowed

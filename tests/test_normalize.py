"""What members type becomes what the portal expects (bot.domain.normalize)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.normalize import (
    compact,
    fold,
    looks_like_password,
    parse_birth_date,
    parse_email,
    parse_otp_code,
    parse_ticket_id,
    parse_user_id,
)

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("１２３４５６", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        ("１２３ー４５６", "123456"),
        (" 654321 ", "654321"),
        ("12345", None),
        ("1234567", None),
        ("abcdef", None),
        ("", None),
    ],
)
def test_otp_code(text, expected):
    assert parse_otp_code(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kose.hanako", "kose.hanako"),
        ("ＫＯＳＥ．ＨＡＮＡＫＯ", "kose.hanako"),
        (" Ono.Sakura ", "ono.sakura"),
        ("ono.jiro01", "ono.jiro01"),
        ("１０１２３４５６１９８００１０１", "1012345619800101"),
        ("kose hanako", "kosehanako"),
        ("ab", None),
        ("ユーザーです", None),
        ("a" * 17, None),
    ],
)
def test_user_id(text, expected):
    assert parse_user_id(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hanako.kose@example.com", "hanako.kose@example.com"),
        ("ｈａｎａｋｏ．ｋｏｓｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "hanako.kose@example.com"),
        ("Hanako@Example.COM", "Hanako@example.com"),
        ("hanako @ example.com", "hanako@example.com"),
        ("hanako@example", None),
        ("hanako..kose@example.com", None),
        ("はなこ@example.com", None),
        ("no address", None),
    ],
)
def test_email(text, expected):
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("UL-7F3K9Q", "UL-7F3K9Q"),
        ("ul-7f3k9q", "UL-7F3K9Q"),
        ("ＵＬ－７Ｆ３Ｋ９Ｑ", "UL-7F3K9Q"),
        ("UL7F3K9Q", "UL-7F3K9Q"),
        ("UL-7F3K90", None),  # 0 is not in the alphabet
        ("7F3K9Q", None),
    ],
)
def test_ticket_id(text, expected):
    assert parse_ticket_id(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("19900101", dt.date(1990, 1, 1)),
        ("１９９００１０１", dt.date(1990, 1, 1)),
        ("1990/1/1", dt.date(1990, 1, 1)),
        ("1990-01-01", dt.date(1990, 1, 1)),
        ("1990.1.1", dt.date(1990, 1, 1)),
        ("1990年1月1日", dt.date(1990, 1, 1)),
        ("１９９０年１月１日", dt.date(1990, 1, 1)),
        ("1990 年 1 月 1 日", dt.date(1990, 1, 1)),
        ("平成2年1月1日", dt.date(1990, 1, 1)),
        ("H2.1.1", dt.date(1990, 1, 1)),
        ("h2/1/1", dt.date(1990, 1, 1)),
        ("Ｈ２．１．１", dt.date(1990, 1, 1)),
        ("昭和60年4月12日", dt.date(1985, 4, 12)),
        ("S60.4.12", dt.date(1985, 4, 12)),
        ("昭和64年1月7日", dt.date(1989, 1, 7)),
        ("平成元年1月8日", dt.date(1989, 1, 8)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("R2.2.29", dt.date(2020, 2, 29)),
        ("昭和64年1月8日", None),  # Heisei had begun
        ("平成31年5月1日", None),  # Reiwa had begun
        ("令和元年4月30日", None),  # still Heisei
        ("平成0年1月1日", None),
        ("1990/2/30", None),
        ("19901301", None),
        ("2030/1/1", None),  # in the future
        ("1850/1/1", None),
        ("1990", None),
        ("誕生日", None),
    ],
)
def test_birth_date(text, expected):
    assert parse_birth_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hanako-Kose2024", True),
        ("パスワードは Sakura-Ono2024 です", True),
        ("パスワードはabcdefgh", True),
        ("pw: secret99", True),
        ("Ｈａｎａｋｏ－Ｋｏｓｅ２０２４", True),
        ("kose.hanako", False),
        ("hanako.kose@example.com", False),
        ("https://www.kosekenpo.portal.kosmo-web.jp/", False),
        ("123456", False),
        ("1990/1/1", False),
        ("パスワードを忘れました", False),
        ("パスワードが通りません", False),
        ("UL-7F3K9Q", False),
        ("ワンタイムパスワードが届かない", False),
    ],
)
def test_looks_like_password(text, expected):
    assert looks_like_password(text) is expected


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
def test_every_western_form_of_a_date_parses_back(date):
    forms = [
        date.strftime("%Y%m%d"),
        f"{date.year}/{date.month}/{date.day}",
        f"{date.year}年{date.month}月{date.day}日",
        fold(date.isoformat()).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]
    for form in forms:
        assert parse_birth_date(form, today=TODAY) == date, form


@given(st.dates(min_value=dt.date(1926, 12, 25), max_value=TODAY))
def test_every_date_since_showa_parses_back_from_its_era_form(date):
    from bot.domain.normalize import ERAS

    era, start = max(((n, s) for n, s in ERAS.items() if s <= date), key=lambda p: p[1])
    year = date.year - start.year + 1
    assert parse_birth_date(f"{era}{year}年{date.month}月{date.day}日", today=TODAY) == date
    first = "元" if year == 1 else str(year)
    assert parse_birth_date(f"{era}{first}年{date.month}月{date.day}日", today=TODAY) == date


@given(st.text(max_size=40))
def test_parsers_never_raise(text):
    parse_birth_date(text, today=TODAY)
    parse_otp_code(text)
    parse_user_id(text)
    parse_email(text)
    parse_ticket_id(text)
    looks_like_password(text)
    assert " " not in compact(text)

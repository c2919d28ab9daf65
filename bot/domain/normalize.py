"""Turn what members type into the values the portal expects, or say why not.

Members type on phones with Japanese keyboards: full-width digits and letters
(１９９０, ＵＬ－７Ｆ３Ｋ９Ｑ), long-vowel marks and dashes for hyphens, spaces
inside codes, birth dates in the Western or Japanese-era calendar (平成2年1月1日,
H2.1.1, 昭和60年4月12日, 令和元年...). Every parser here is a pure function:
it returns the normalised value or ``None`` when the text is not of that form,
so a validation action can re-ask with an explanation of the expected form.

:func:`looks_like_password` is a heuristic for "the member typed a password":
the tracker store masks such texts (``bot.tracker_store``) and the bot tells
the member never to share a password in chat.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import TYPE_CHECKING, Optional

from bot.domain.portal_contract import (
    DIGITS_USER_ID_MAX_LENGTH,
    EARLIEST_BIRTH_DATE,
    HYPHEN_TABLE,
    OTP_CODE_RE,
    TICKET_ID_RE,
    USER_ID_MIN_LENGTH,
    user_id_problem,
)

if TYPE_CHECKING:
    from bot.domain.societies import Society

_SPACES_RE = re.compile(r"\s+")
# Where the society is not known (the NLU, masking): a chosen ID of the portal's
# rule, or digits only up to the longest voluntary-continuation ID. A form checks
# the member's own society's rule (``parse_user_id(text, society)``).
_ANY_SOCIETY_DIGIT_LENGTHS = range(USER_ID_MIN_LENGTH, DIGITS_USER_ID_MAX_LENGTH + 1)
_EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")

# Japanese eras: (names, first day). Year 1 of an era is written 元年 too.
ERAS: dict[str, dt.date] = {
    "明治": dt.date(1868, 1, 25),
    "大正": dt.date(1912, 7, 30),
    "昭和": dt.date(1926, 12, 25),
    "平成": dt.date(1989, 1, 8),
    "令和": dt.date(2019, 5, 1),
}
_ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}
_ERA_ORDER = list(ERAS)


def fold(text: str) -> str:
    """Full-width letters/digits/symbols to half-width (NFKC), hyphen look-alikes to "-", trimmed."""
    return unicodedata.normalize("NFKC", text).translate(HYPHEN_TABLE).strip()


def compact(text: str) -> str:
    """:func:`fold`, then without any spaces."""
    return _SPACES_RE.sub("", fold(text))


def digits_only(text: str) -> str:
    """:func:`compact` without hyphens: "１２３ ４５６" and "123-456" become "123456"."""
    return compact(text).replace("-", "")


# what members wrap a value in when they answer with it: 「ユーザーIDは kose.hanako です」
_VALUE_LABEL_RE = re.compile(
    r"^(?:(?:私の|わたしの)?(?:ユーザー?ID|ID|メールアドレス|メアド|アドレス|生年月日|コード|受付番号)"
    r"\s{0,4}(?:は|:)?\s{0,4})",  # matched after NFKC: ＩＤ is ID, ： is :
    re.IGNORECASE,
)
_VALUE_TAIL_RE = re.compile(
    r"\s{0,4}(?:です|でした|だよ|だと思います|になります|でお願いします|でおねがいします|です。?お願いします)?[。.!！]?$"
)


def bare_value_text(text: str) -> str:
    """The value in a message that is one value with a label or a polite ending around it.

    「ユーザーIDは kose.hanako です」 -> "kose.hanako"; anything else comes back
    folded and stripped. Bounded: callers pass one member message.
    """
    value = unicodedata.normalize("NFKC", text[:200]).strip()
    value = _VALUE_LABEL_RE.sub("", value, count=1)
    return fold(_VALUE_TAIL_RE.sub("", value, count=1))


def parse_otp_code(text: str) -> Optional[str]:
    """A 6-digit authenticator/email code, or None."""
    code = digits_only(text)
    return code if OTP_CODE_RE.match(code) else None


def parse_user_id(text: str, society: Optional["Society"] = None) -> Optional[str]:
    """A user ID as the portal compares it (lower case, a-z 0-9 . _ @ -), or None.

    With ``society``, exactly the portal's rule for that society (``data/societies.yml``:
    8-13 characters, or a voluntary-continuation ID of digits); without, an ID of
    any society (``bot.domain.portal_contract``).
    """
    value = compact(text).lower()
    if society is None:
        problem = user_id_problem(value, digit_lengths=_ANY_SOCIETY_DIGIT_LENGTHS)
    else:
        problem = user_id_problem(
            value,
            min_length=society.user_id_min_length,
            max_length=society.user_id_max_length,
            digit_lengths=society.user_id_digit_lengths,
        )
    return None if problem else value


def parse_email(text: str) -> Optional[str]:
    """An e-mail address (domain lower-cased), or None."""
    value = compact(text)
    local, sep, domain = value.rpartition("@")
    if not sep or not local or len(value) > 254:
        return None
    value = f"{local}@{domain.lower()}"
    if ".." in value or not _EMAIL_RE.match(value):
        return None
    return value


def parse_ticket_id(text: str) -> Optional[str]:
    """An unlock ticket number like UL-7F3K9Q (any width/case, hyphen optional), or None."""
    value = compact(text).upper().replace("-", "")
    if value.startswith("UL"):
        value = "UL-" + value[2:]
    return value if TICKET_ID_RE.match(value) else None


# a ticket number standing on its own inside a message (after fold(), upper case)
TICKET_IN_TEXT_RE = re.compile(r"(?<![0-9A-Z])UL-?[0-9A-Z]{6}(?![0-9A-Z])")


def find_ticket_id(text: str) -> Optional[str]:
    """The first valid ticket number inside a message (「UL-7F3K9Q の状況は？」), or None."""
    for found in TICKET_IN_TEXT_RE.findall(compact(text).upper()):
        ticket_id = parse_ticket_id(found)
        if ticket_id:
            return ticket_id
    return None


_WESTERN_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_ERA_RE = re.compile(
    r"^(明治|大正|昭和|平成|令和|[MTSHR])\.?(\d{1,2}|元)[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"
)


def _date_or_none(year: int, month: int, day: int) -> Optional[dt.date]:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_birth_date(text: str, today: Optional[dt.date] = None) -> Optional[dt.date]:
    """A birth date from 19900101, 1990/1/1, 1990-01-01, 1990年1月1日, 平成2年1月1日, H2.1.1, 令和元年5月1日.

    None when the text is not a date, the day does not exist, the era year is
    outside the era (平成32年, 昭和1年1月1日), or the date is in the future or
    before 1900. ``today`` is for tests.
    """
    today = today or dt.date.today()
    value = compact(text).upper()
    date: Optional[dt.date] = None
    if m := _COMPACT_RE.match(value) or _WESTERN_RE.match(value):
        date = _date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif m := _ERA_RE.match(value):
        era = _ERA_LETTERS.get(m.group(1), m.group(1))
        era_year = 1 if m.group(2) == "元" else int(m.group(2))
        if era_year < 1:
            return None
        start = ERAS[era]
        date = _date_or_none(start.year + era_year - 1, int(m.group(3)), int(m.group(4)))
        following = _ERA_ORDER.index(era) + 1
        end = ERAS[_ERA_ORDER[following]] if following < len(_ERA_ORDER) else None
        if date is None or date < start or (end is not None and date >= end):
            return None
    if date is None or date < EARLIEST_BIRTH_DATE or date > today:
        return None
    return date


# ------------------------------------------------------------------ passwords

_TOKEN_RE = re.compile(r"[\x21-\x7e]{8,64}")
_TICKET_LIKE_RE = re.compile(r"UL-?[0-9A-Z]{4,8}")
_QUOTES = ".,、。\"'`()[]<>「」『』"
# A password word, then a few joining characters (particles, colons, quotes,
# "is"), then one ASCII token: パスワードは Sakura-Ono2024、私のパスワード ichiro2024、
# PW：abc123、password is abc123、暗証番号 1234. Every quantifier is bounded,
# so a search costs a constant per position (no backtracking blow-up).
_PASSWORD_PHRASE_RE = re.compile(
    r"(?P<word>パスワード|ぱすわーど|パスワ-ド|暗証番号|暗証|パス(?!ポート)"
    r"|(?<![a-z0-9_])(?:pass\s?word|passwd|passcode|pass|pwd|pw|pin)(?![a-z0-9_]))"
    r"(?P<join>(?:\s|[はをがにものも:=「『\"'(\[、,→]|is|was){0,6})"
    r"(?P<token>[\x21-\x7e]{4,64})",
    re.IGNORECASE,
)
# "one-time password" is the code, not the password (the code is masked as digits)
_ONE_TIME_RE = re.compile(r"(?:ワンタイム|one[\s-]?time\s?|使い捨て)$", re.IGNORECASE)
_STRICT_JOIN_RE = re.compile(r"\s{0,8}[は:=]\s{0,8}")
# words that follow "パスワード" in questions and are not a password
_NOT_PASSWORDS = frozenset(
    {"authenticator", "microsoft", "password", "passcode", "kosmoweb", "reset", "change"}
    | {  # English questions about a password ("the password is incorrect", "doesn't work")
        "forgotten", "incorrect", "invalid", "expired", "rejected", "accepted", "required",
        "requirements", "working", "changed", "wrong", "rules", "length", "anymore",
        "recognized", "recognised", "different", "cannot",
    }  # contractions ("doesn't", "can't") are words by _CONTRACTION_RE
)
# a word ending a question ("Authenticator?", "Android?"): prose, not a password
# (for mixed_token's other callers; password_spans strips sentence punctuation first)
_QUESTION_WORD_RE = re.compile(r"(?<![A-Za-z])[A-Za-z][a-z]{1,63}\?")
# sentence punctuation after a word is not part of a token ("Authenticator?")
_SENTENCE_END = "?!？！"
# an English word with a contraction ("doesn't", "isn't"): a word, not a password
_CONTRACTION_RE = re.compile(r"[A-Za-z]{1,32}'[A-Za-z]{1,2}")


def mixed_token(token: str) -> bool:
    """An 8-64 character token mixing three of lower, upper, digits, symbols; not an address, URL or ticket."""
    classes = sum(
        (
            any(c.islower() for c in token),
            any(c.isupper() for c in token),
            any(c.isdigit() for c in token),
            any(not c.isalnum() for c in token),
        )
    )
    return (
        classes >= 3
        and not _QUESTION_WORD_RE.fullmatch(token)
        and not parse_email(token)
        and not _TICKET_LIKE_RE.fullmatch(token.upper())  # a mistyped ticket number
        and not token.lower().startswith(("http://", "https://"))
    )


def _phrase_token_counts(match: re.Match[str], folded: str, *, digits: bool) -> bool:
    """Whether the token after a password word is taken for a password (``digits``: also PINs)."""
    token = match.group("token").strip(_QUOTES).rstrip(_SENTENCE_END).strip(_QUOTES)
    if _CONTRACTION_RE.fullmatch(token):
        return False
    if len(token) < 4 or parse_email(token) or token.lower().startswith(("http://", "https://")):
        return False
    if token.lower() in _NOT_PASSWORDS:  # sentence punctuation is stripped above
        return False
    if _TICKET_LIKE_RE.fullmatch(token.upper()):  # パスワードの件で UL-7F3K9Q
        return False
    has_digit = any(c.isdigit() for c in token)
    has_letter = any(c.isalpha() for c in token)
    if has_digit and not has_letter:  # 1234, 123456: a PIN or a code
        return digits
    one_time = bool(_ONE_TIME_RE.search(folded[max(0, match.start() - 12) : match.start()]))
    if one_time and not digits:
        return False
    if _STRICT_JOIN_RE.fullmatch(match.group("join") or "") and len(token) >= 6:
        return True  # パスワードは abcdefgh, pw: secret99 (the old rule)
    if len(token) < 6:
        return digits and has_digit  # masking: a short password (abc12) too
    if has_digit or any(not c.isalnum() for c in token):
        return True  # ichiro2024, abc-defg
    return len(token) >= 8


def password_spans(text: str, *, digits: bool = False, mixed: bool = True) -> list[tuple[int, int]]:
    """Where passwords stand in ``unicodedata.normalize("NFKC", text)``, as (start, end).

    A mixed token anywhere (:func:`mixed_token`), or the token after a password
    word (any phrasing, see ``_PASSWORD_PHRASE_RE``): a token with letters and a
    digit or symbol, or 8+ letters, or after "パスワードは"/"pw:" any 6+ characters.
    After "ワンタイムパスワード" a token is the code, not a password. With
    ``digits`` (masking), a run of digits after a password word (暗証番号 1234) and a
    short token of letters and digits (abc12) count too. Without ``mixed``, only
    tokens after a password word (the caller judges bare tokens itself).
    """
    folded = unicodedata.normalize("NFKC", text)  # not fold(): keep the ー of パスワード
    spans = [
        m.span()
        for m in (_TOKEN_RE.finditer(folded) if mixed else ())
        # quoted words are not passwords, nor is a question mark a symbol of one
        if mixed_token(m.group(0).strip(_QUOTES).rstrip(_SENTENCE_END).strip(_QUOTES))
    ]
    spans += [
        m.span("token")
        for m in _PASSWORD_PHRASE_RE.finditer(folded)
        if _phrase_token_counts(m, folded, digits=digits)
    ]
    return sorted(spans)


def looks_like_password(text: str) -> bool:
    """Whether ``text`` seems to contain a password.

    Either a token of 8-64 printable ASCII characters mixing at least three of
    lower case, upper case, digits and symbols (Hanako-Kose2024), or a
    password word followed by a token (「パスワードは abcdefgh」, 「私のパスワード
    ichiro2024 が通りません」, "pw: secret99", "password is abc123"; see
    :func:`password_spans`). E-mail addresses, URLs, plain user IDs
    (kose.hanako), codes and dates are not passwords.
    """
    return bool(password_spans(text))

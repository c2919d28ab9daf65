"""What a member types that must not be kept as typed: birth dates, codes, passwords, 記号・番号, phones.

One place decides what is sensitive in a member's text, for everything that
keeps or shows it: the tracker store (``bot.tracker_store``), the handoff
packet (``bot.handoff.packet``), the handoff messages (``bot.handoff.store``)
and the logs of both servers (``bot.masking_logs.install_log_masking``). No Rasa
import: the action server and the console use it without loading Rasa. Masking
Rasa's serialised events by what each message answered is ``bot.domain.masking_events``.

Members do not type in form fields. They write 「生年月日は 1978 02 14 です」,
「誕生日は2月14日、1978年生まれです」, 「私のパスワード ichiro2024 が通りません」,
「コードは 123 456 でした」, 「記号は31、番号は11223」, 090-1234-5678. The
patterns below are matched on the NFKC form of the text (full-width digits
and letters become ASCII) and find:

- digit groups: runs of digits joined by single separators (space, hyphen or
  a look-alike, ``/``, ``.``, ``・``, brackets) with six or more digits in all:
  OTP codes (123456, 123 456, 123-456), compact and numeric dates (19780214,
  1978 02 14, 1978/2/14), phone numbers (090-1234-5678, 0120-123-456,
  +81 90 1234 5678), insurance numbers, voluntary-continuation IDs;
- dates with 年月日: month and day (2月14日, 二月十四日), a full date in any era
  (昭和53年2月14日, S53.2.14, H2 1 1), any era year (平成2年); with a month and
  a day in any order (14日2月1978年) or a birth word in the message (生年月日,
  誕生, 生まれ) every year, month and day part (1978年生まれ), and with a
  birth word a date of two or three digit groups (78/2/14, 2/14);
- passwords: a mixed token, or the token after a password word in any
  phrasing (:func:`bot.domain.normalize.password_spans`), and digits after one
  (暗証番号 1234);
- 記号・番号: the digits after 記号 or 番号 (記号は31、番号は11223), not a count
  (「番号は6桁」).

Not sensitive: ordinary questions (「初期パスワードを教えて」, 「6桁のコード」,
「15桁」, 「2回目のログイン」, 「2024年から」), ticket numbers, e-mail addresses,
user IDs of letters.

Every pattern has bounded quantifiers or starts only at the first character of
a run (a look-behind), so a search costs a constant per position:
``tests/test_regex_cost.py`` runs them on 100,000-character inputs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Optional

from bot.domain.normalize import (
    _PASSWORD_PHRASE_RE,  # what password_spans looks for; the log pre-check searches it
    mixed_token,
    parse_birth_date,
    parse_user_id,
    password_spans,
)
from bot.domain.portal_contract import USER_ID_MIN_LENGTH

MASK = "****"

# Slots whose value is always written as MASK.
SENSITIVE_SLOTS = frozenset({"unlock_birth_date", "totp_code"})
# Slots holding the user ID the next turns send to the portal: a voluntary-
# continuation member's ID is 15-16 digits (記号+番号+生年月日, data/societies.yml),
# which would otherwise read as a code; it is kept as the member's identity.
# member_user_id: the user ID kept for the conversation (actions/forms_common.py)
USER_ID_SLOTS = frozenset({"otp_user_id", "unlock_user_id", "member_user_id"})

_HYPHENS = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u2500\u02d7"
# one separator between digit groups: a hyphen/slash/dot/bracket with up to two
# spaces around it, or one to three spaces
_SEP = rf"(?:[ \t]{{0,2}}[{_HYPHENS}/.・()][ \t]{{0,2}}|[ \t]{{1,3}})"
_NUM = "[0-9〇一二三四五六七八九十]"
_ERA = "(?:明治|大正|昭和|平成|令和|めいじ|たいしょう|しょうわ|へいせい|れいわ)"

# Each pattern names what it finds; DIGIT_GROUPS needs a digit count, the
# CONTEXT_* ones a birth word or a month and a day in the message.
DIGIT_GROUPS_RE = re.compile(rf"(?<![0-9])[0-9]+(?:{_SEP}[0-9]+){{0,5}}(?![0-9])")
MONTH_DAY_RE = re.compile(rf"{_NUM}{{1,3}}\s{{0,2}}月\s{{0,2}}{_NUM}{{1,3}}\s{{0,2}}日")
ERA_DATE_RE = re.compile(
    rf"{_ERA}\s{{0,2}}(?:{_NUM}{{1,3}}|元)\s{{0,2}}(?:年|[{_HYPHENS}/.])"
    rf"(?:\s{{0,2}}{_NUM}{{1,3}}\s{{0,2}}(?:月|[{_HYPHENS}/.])"
    rf"(?:\s{{0,2}}{_NUM}{{1,3}}(?:\s{{0,2}}日)?)?)?"
)
ERA_LETTER_DATE_RE = re.compile(
    rf"(?<![A-Za-z])[MTSHRmtshr]\.?[ \t]{{0,2}}[0-9]{{1,2}}{_SEP}[0-9]{{1,2}}{_SEP}[0-9]{{1,2}}(?![0-9])"
)
# year, month and day (the day is what makes it a date, not 「2024年4月から」)
WESTERN_DATE_RE = re.compile(
    rf"(?<![0-9])[0-9]{{2,4}}\s{{0,2}}年\s{{0,2}}{_NUM}{{1,3}}\s{{0,2}}月\s{{0,2}}{_NUM}{{1,3}}"
)
SYMBOL_NUMBER_RE = re.compile(
    rf"(?:記号|番号)(?:\s|[はがをもの:=、,・/と]|記号|番号){{0,4}}"
    rf"(?P<value>[0-9]+(?:{_SEP}[0-9]+){{0,3}})(?![0-9])"
    r"(?!\s{0,2}(?:桁|文字|回|個|つ|番目|時|分|秒|%|日|月|年|歳|才))"
)
BIRTH_WORD_RE = re.compile(r"生年月日|誕生|生まれ|うまれ|たんじょう|生年|birth", re.IGNORECASE)
CONTEXT_YEAR_RE = re.compile(rf"(?:{_ERA}\s{{0,2}})?(?:{_NUM}{{2,4}}|元)\s{{0,2}}年")
CONTEXT_PART_RE = re.compile(rf"{_NUM}{{1,3}}\s{{0,2}}[月日]")
MONTH_PART_RE = re.compile(rf"{_NUM}{{1,3}}\s{{0,2}}月")
DAY_PART_RE = re.compile(rf"{_NUM}{{1,3}}\s{{0,2}}日")
_GROUP_BREAK_RE = re.compile("[^0-9]")  # a digit group of more than one run (78/2/14)

# Every pattern used on member text here, for the cost test.
PATTERNS: tuple[re.Pattern[str], ...] = (
    DIGIT_GROUPS_RE,
    MONTH_DAY_RE,
    ERA_DATE_RE,
    ERA_LETTER_DATE_RE,
    WESTERN_DATE_RE,
    SYMBOL_NUMBER_RE,
    BIRTH_WORD_RE,
    CONTEXT_YEAR_RE,
    CONTEXT_PART_RE,
    MONTH_PART_RE,
    DAY_PART_RE,
    _GROUP_BREAK_RE,
)

MIN_CODE_DIGITS = 6


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def sensitive_spans(folded: str, *, log: bool = False) -> list[tuple[int, int]]:
    """Where sensitive values stand in ``folded`` (already NFKC), merged and sorted.

    ``log``: the text is a log message, where paths, addresses, identifiers and
    code stand beside what members typed (:func:`mask_log_text`).
    """
    spans: list[tuple[int, int]] = []
    birth_context = BIRTH_WORD_RE.search(folded) is not None
    for m in DIGIT_GROUPS_RE.finditer(folded):
        start, end = m.span()
        if end - start < 2:
            continue  # one digit: neither a code nor a date
        if log and _technical_digits(folded, start, end):
            continue
        value = m.group(0)
        if _digits(value) >= MIN_CODE_DIGITS or (birth_context and _GROUP_BREAK_RE.search(value)):
            spans.append((start, end))
    for pattern in (MONTH_DAY_RE, ERA_DATE_RE, ERA_LETTER_DATE_RE, WESTERN_DATE_RE):
        spans += [m.span() for m in pattern.finditer(folded)]
    spans += [m.span("value") for m in SYMBOL_NUMBER_RE.finditer(folded)]
    if birth_context or (MONTH_PART_RE.search(folded) and DAY_PART_RE.search(folded)):
        # a birth word, or a month and a day in any order (14日2月1978年): every part
        spans += [m.span() for m in CONTEXT_YEAR_RE.finditer(folded)]
        spans += [m.span() for m in CONTEXT_PART_RE.finditer(folded)]
    spans += password_spans(folded, digits=True, mixed=not log)
    if log:
        spans += _log_password_words(folded)
    return _merged(spans)


# In a log message: a digit group inside a word, path or address (e2e-3f0a12345678,
# /tmp/pytest-114, 127.0.0.1:5005) is not something a member typed on its own.
_TECHNICAL_NEIGHBOUR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/\\")
IPV4_RE = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9.])")
# a whitespace-separated word of a log message
LOG_WORD_RE = re.compile(r"[\x21-\x7e]+")
# characters of code, paths, URLs and key/value pairs, which no typed password is judged by
_CODE_CHARACTERS = frozenset(":/\\()[]{}<>=,;'\"`|")
_EDGES = ".,'\"`()[]{}<>「」『』"


# a (dotted) Python name: run_JapaneseTokenizer0, rasa.shared.core.events.SessionStarted
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,15}")
DECIMAL_RE = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}")  # 0.9999998 (a confidence), 3.10
# structlog writes JSON with non-ASCII characters escaped (\u751f\u5e74...)
UNICODE_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")


# What :func:`sensitive_spans` needs to find anything in a log message (``log=True``),
# read off its patterns, so that a message with none of it is let through after
# three searches instead of all of them (:func:`log_text_may_be_sensitive`):
# - a digit or a kanji numeral or 元: every date, code, phone and 記号・番号
#   pattern has one (``_NUM``, ``[0-9]``, ``元``), and so does a digit group;
# - a password word with a token after it (``password_spans(..., mixed=False)``
#   finds nothing where its ``_PASSWORD_PHRASE_RE`` does not match);
# - a word of printable ASCII that a log masks as a password on its own
#   (:func:`_log_password_words`): without a digit, :func:`mixed_token` needs a
#   lower-case and an upper-case letter and a symbol, and a word with a symbol of
#   ``_CODE_CHARACTERS`` (left after stripping ``_EDGES``) is not judged, so the
#   symbol is one of the rest. This finds every such word, and more (any length).
LOG_TRIGGER_CHARACTER_RE = re.compile("[0-9〇一二三四五六七八九十元]")
_WORD_SYMBOLS = "".join(  # !#$%&*+-.?@^_~
    c for c in map(chr, range(0x21, 0x7F)) if not c.isalnum() and c not in _CODE_CHARACTERS
)
LOG_MIXED_WORD_RE = re.compile(
    r"(?<![\x21-\x7e])"  # at the start of a word only: linear
    r"(?=[\x21-\x7e]*?[a-z])(?=[\x21-\x7e]*?[A-Z])"
    rf"(?=[\x21-\x7e]*?[{re.escape(_WORD_SYMBOLS)}])[\x21-\x7e]{{8}}"
)


def log_text_may_be_sensitive(folded: str) -> bool:
    """False when ``sensitive_spans(folded, log=True)`` surely finds nothing (see above).

    Three searches, none of them on most of the servers' own lines (no digit, no
    password word, no word mixing cases and symbols); True is only "look closer".
    """
    return bool(
        LOG_TRIGGER_CHARACTER_RE.search(folded)
        or _PASSWORD_PHRASE_RE.search(folded)
        or LOG_MIXED_WORD_RE.search(folded)
    )


def _technical_digits(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before in _TECHNICAL_NEIGHBOUR or after in _TECHNICAL_NEIGHBOUR:
        return True
    if after == ":" and text[end + 1 : end + 2].isdigit():  # host:port
        return True
    if DECIMAL_RE.fullmatch(text, start, end):
        return True
    return IPV4_RE.fullmatch(text, start, end) is not None


def _log_password_words(text: str) -> list[tuple[int, int]]:
    """Words of a log message that look like a password on their own (Hanako-Kose2024).

    Not a name of code (``run_JapaneseTokenizer0``, ``URL.create``) nor a word
    with characters of code, paths or key/value pairs.
    """
    spans = []
    for m in LOG_WORD_RE.finditer(text):
        word = m.group(0).strip(_EDGES)
        if (
            8 <= len(word) <= 64
            and not _CODE_CHARACTERS.intersection(word)
            and not IDENTIFIER_RE.fullmatch(word)
            and mixed_token(word)
        ):
            offset = m.group(0).find(word)
            spans.append((m.start() + offset, m.start() + offset + len(word)))
    return spans


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def sensitive_text(text: str) -> bool:
    """Whether a member's message must not be kept as typed."""
    return bool(sensitive_spans(unicodedata.normalize("NFKC", text)))


def mask_text(text: str) -> str:
    """``text`` with each sensitive value replaced by ``****``; unchanged when there is none.

    A changed text is returned in its NFKC form (full-width digits and letters
    as ASCII), the form the values were found in.
    """
    return _masked(text, log=False)


def _unescaped(m: re.Match[str]) -> str:
    char = chr(int(m.group(1), 16))
    keep = ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF or char in '"\\'
    return m.group(0) if keep else char  # control characters, surrogates and quotes stay escaped


def mask_log_text(text: str) -> str:
    """:func:`mask_text` for a log message, which also holds paths, addresses, ids and code.

    What members type is masked as in :func:`mask_text`; digit groups inside
    words, paths, addresses and decimals (a conversation id, 127.0.0.1:5005,
    0.9999) and names or words with characters of code or paths
    (``run_JapaneseTokenizer0``, ``DeprecationWarning:``) are left alone, so
    that the log stays readable. Escaped characters (``\\u751f``, as structlog
    writes them) are judged as, and shown as, the characters.
    """
    return _masked(text, log=True)


def _prepared(text: str, *, log: bool) -> tuple[str, str]:
    """(the text as judged and shown, its NFKC form)."""
    if log and "\\u" in text:
        text = UNICODE_ESCAPE_RE.sub(_unescaped, text)  # judge (and show) the characters
    if unicodedata.is_normalized("NFKC", text):  # a quick check, no copy: most log lines
        return text, text
    return text, unicodedata.normalize("NFKC", text)


def _masked(text: str, *, log: bool) -> str:
    text, folded = _prepared(text, log=log)
    if log and not log_text_may_be_sensitive(folded):
        return text
    spans = sensitive_spans(folded, log=log)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [folded[last:start], MASK]
        last = end
    parts.append(folded[last:])
    return "".join(parts)


# Chosen user IDs have 8-13 characters, voluntary-continuation IDs 15-16 digits
# (bot/domain/portal_contract.py, data/societies.yml): fewer digits alone are a code, not an ID.
MIN_DIGITS_USER_ID = USER_ID_MIN_LENGTH


def is_user_id(text: str) -> bool:
    """Whether ``text`` is a user ID as the forms take it, and not a password, code or birth date.

    Digits alone are an ID from eight on (a voluntary-continuation ID has 15 or
    16), unless they are a birth date (19780214).
    """
    value = parse_user_id(text)
    if value is None or password_spans(text):
        return False
    if value.isdigit():
        return len(value) >= MIN_DIGITS_USER_ID and parse_birth_date(value) is None
    return True


def mask_slot_value(name: Optional[str], value: Any) -> Any:
    """A slot's value as it may be kept: the sensitive slots and sensitive texts as ``****``.

    A user-ID slot keeps a user ID (a voluntary-continuation member's 16 digits
    included: the portal needs them in the next turn); it holds the raw message
    until its form validates it, so anything else in it is masked like a message.
    """
    if value is None:
        return None
    if name in SENSITIVE_SLOTS:
        return MASK
    if not isinstance(value, str):
        return value
    if name in USER_ID_SLOTS and is_user_id(value):
        return value
    return MASK if sensitive_text(value) else value


def mask_member_text(text: str, requested: Optional[str]) -> str:
    """A member's message as it is kept, given the slot the bot was asking for (``requested``).

    An answer to a sensitive slot is ``****`` whatever it says; an answer to a
    user-ID slot that is a user ID is kept (it is what the slot holds); any
    other message with a sensitive value is ``****``.
    """
    if requested in SENSITIVE_SLOTS:
        return MASK
    if requested in USER_ID_SLOTS and is_user_id(text):
        return text
    return MASK if sensitive_text(text) else text

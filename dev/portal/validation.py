"""Request validation: every value a caller sends is normalised and checked here.

Each parser takes the raw JSON value and returns a clean Python value or raises
:class:`ValidationError` naming the field, which the app turns into a 422 JSON
error. Members type on Japanese keyboards, so full-width ASCII (``１２３``,
``ＡＢＣ``, ``＠``) is folded to half-width before any rule is applied.

The rules the bot relies on too (user IDs, codes, ticket numbers, hyphens, the
earliest birth date) come from ``bot.domain.portal_contract``; the bot checks the same.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any, Collection, Iterable, Mapping

from bot.domain.portal_contract import (
    EARLIEST_BIRTH_DATE,
    HYPHEN_TABLE,
    OTP_CODE_DIGITS,
    OTP_CODE_RE,
    SOCIETY_FIELD,
    TICKET_ID_RE,
    UNKNOWN_SOCIETY,
    USER_ID_CHARACTERS,
    USER_ID_MAX_LENGTH,
    USER_ID_MIN_LENGTH,
    user_id_problem,
)
from bot.domain.societies import Society, SocietyRegistry

# Longest raw string we even look at; anything longer is refused before work.
MAX_RAW_LENGTH = 320
_EMAIL_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_EMAIL_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DATE_DASHED_RE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_DATE_COMPACT_RE = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")


class ValidationError(ValueError):
    """A request value was missing or malformed; ``field`` names it for the caller."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


def fold_width(text: str) -> str:
    """Full-width ASCII (U+FF01–U+FF5E) to half-width and the ideographic space to a space.

    Deliberately narrower than NFKC: only the characters a Japanese IME produces
    for keys that have a half-width twin are folded, nothing else changes.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif code == 0x3000:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _string(value: Any, field: str, *, max_length: int = MAX_RAW_LENGTH) -> str:
    if value is None:
        raise ValidationError(field, "is required", "required")
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string", "type")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters", "too_long")
    return fold_width(value).strip()


def require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError("body", "must be a JSON object", "type")
    return body


def reject_unknown_fields(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in body:
        if key not in allowed:
            raise ValidationError(str(key)[:64], "is not a field of this request", "unknown_field")


def parse_society(value: Any, registry: SocietyRegistry, field: str = SOCIETY_FIELD) -> Society:
    key = _string(value, field, max_length=64).lower()
    if not key:
        raise ValidationError(field, "is required", "required")
    society = registry.get(key)
    if society is None:
        raise ValidationError(field, "is not a known society", UNKNOWN_SOCIETY)
    return society


def parse_user_id(
    value: Any,
    field: str = "user_id",
    *,
    min_length: int = USER_ID_MIN_LENGTH,
    max_length: int = USER_ID_MAX_LENGTH,
    digit_lengths: Collection[int] = (),
) -> str:
    """A user ID by the contract's rule (``bot.domain.portal_contract.user_id_problem``): half-width
    letters, digits and ``- _ . @``; stored and compared lower-case."""
    text = _string(value, field).lower()
    if not text:
        raise ValidationError(field, "is required", "required")
    problem = user_id_problem(
        text, min_length=min_length, max_length=max_length, digit_lengths=digit_lengths
    )
    if problem == USER_ID_CHARACTERS:
        raise ValidationError(field, "may contain only letters, digits and - _ . @", problem)
    if problem:
        raise ValidationError(field, f"must be {min_length} to {max_length} characters", problem)
    return text


def parse_society_user_id(
    value: Any, society: Society, field: str = "user_id", *, new: bool = False
) -> str:
    """A user ID of the society.

    An existing ID may also be a voluntary-continuation member's ID (digits only,
    longer than the chosen-ID limit, where the society has them); a ``new`` ID
    the member chooses must follow the chosen-ID rule.
    """
    return parse_user_id(
        value,
        field,
        min_length=society.user_id_min_length,
        max_length=society.user_id_max_length,
        digit_lengths=() if new else society.user_id_digit_lengths,
    )


def parse_email(value: Any, field: str = "email") -> str:
    """A mail address in the dot-atom form mail servers accept; returned lower-case."""
    text = _string(value, field)
    if not text:
        raise ValidationError(field, "is required", "required")
    if len(text) > 254:
        raise ValidationError(field, "must be at most 254 characters", "too_long")
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError(field, "is not a mail address", "format")
    if len(local) > 64 or not _EMAIL_LOCAL_RE.match(local):
        raise ValidationError(field, "is not a mail address", "format")
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL_RE.match(label) for label in labels):
        raise ValidationError(field, "is not a mail address", "format")
    tld = labels[-1]
    if not (tld.isalpha() and len(tld) >= 2) and not tld.startswith("xn--"):
        raise ValidationError(field, "is not a mail address", "format")
    return f"{local.lower()}@{domain}"


def parse_birth_date(value: Any, today: dt.date, field: str = "birth_date") -> dt.date:
    """A birth date as ``YYYY-MM-DD`` (or the eight digits ``YYYYMMDD``), not in the future."""
    text = _string(value, field, max_length=32).translate(HYPHEN_TABLE).replace("/", "-")
    m = _DATE_DASHED_RE.match(text) or _DATE_COMPACT_RE.match(text)
    if not m:
        raise ValidationError(field, "must be a date YYYY-MM-DD", "format")
    try:
        date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as e:
        raise ValidationError(field, "is not a calendar date", "format") from e
    if date < EARLIEST_BIRTH_DATE or date > today:
        raise ValidationError(field, "is out of range", "range")
    return date


def parse_otp_code(value: Any, field: str = "code") -> str:
    """Six digits; spaces a member types between groups (``123 456``) are dropped."""
    text = "".join(_string(value, field, max_length=32).split())
    if not OTP_CODE_RE.match(text):
        raise ValidationError(field, f"must be {OTP_CODE_DIGITS} digits", "format")
    return text


def parse_ticket_id(value: Any, field: str = "ticket_id") -> str:
    text = _string(value, field, max_length=32).upper()
    if not TICKET_ID_RE.match(text):
        raise ValidationError(field, "is not a ticket id like UL-7F3K9Q", "format")
    return text


def password_alphabet(society: Society) -> frozenset[str]:
    """Letters, digits and the society's symbols; ``\\`` counts as ``¥`` (same JIS key)."""
    symbols = set(society.password_allowed_symbols)
    if "¥" in symbols:
        symbols.add("\\")
    return frozenset(string.ascii_letters + string.digits) | frozenset(symbols)


def parse_new_password(value: Any, society: Society, field: str = "password") -> str:
    """A new password under the society's length and character rules (not width-folded)."""
    if value is None:
        raise ValidationError(field, "is required", "required")
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string", "type")
    if len(value) > MAX_RAW_LENGTH:
        raise ValidationError(field, "is too long", "too_long")
    if len(value) < society.password_min_length or len(value) > society.password_max_length:
        raise ValidationError(
            field,
            f"must be {society.password_min_length} to {society.password_max_length} characters",
            "length",
        )
    allowed = password_alphabet(society)
    if any(ch not in allowed for ch in value):
        raise ValidationError(field, "contains a character that is not allowed", "characters")
    return value


def parse_password_attempt(value: Any, field: str = "password") -> str:
    """A password typed at login: only type and size are checked, never its rules."""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "is required", "required")
    if len(value) > MAX_RAW_LENGTH:
        raise ValidationError(field, "is too long", "too_long")
    return value


def parse_token(value: Any, field: str) -> str:
    text = _string(value, field, max_length=128)
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", text):
        raise ValidationError(field, "is not a valid token", "format")
    return text


def parse_bool_true(value: Any, field: str) -> None:
    if value is not True:
        raise ValidationError(field, "must be true", "required")

"""The societies (健康保険組合) the bot serves and the facts it may say about each of them.

Every society-specific fact lives in ``data/societies.yml``; code never names a
society. The registry is loaded once by whoever needs it (the NLU component,
the response generator, the action server, the portal) and handed around.

``template_variables`` flattens a society into the ``{variables}`` that
responses in ``domain.yml`` may use, so that adding a society is a data change.

A conversation's society is the key in the slot :data:`SOCIETY_SLOT`. The channels
carry it in every message's metadata under :data:`METADATA_KEY`, ``"tenant"``: the
one place the older word is kept, because it is on the wire (clients, portal pages
and LINE's channel all send it) and changing it would break them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

import yaml

from bot.domain.helpdesk_hours import Helpdesk
from bot.domain.portal_contract import DIGITS_USER_ID_MAX_LENGTH
from bot.settings import DEFAULT_SOCIETIES_FILE as DEFAULT_SOCIETIES_FILE
from bot.settings import PROJECT_ROOT as PROJECT_ROOT
from bot.settings import DataFiles

logger = logging.getLogger(__name__)


# The slot holding the conversation's society key, and the NLU entity that fills it
# (bot.nlu.society_resolver; domain.yml).
SOCIETY_SLOT = "society"
# The society's name on the wire: channel metadata {"tenant": "ono"} (REST, the
# widget, LINE) and the widget's page config (window.kosmoChat = {tenant: ...}).
# Stable for the clients and pages that send it; everything inside says "society".
METADATA_KEY = "tenant"

OTP_EMAIL = "email"
OTP_TOTP = "totp"
OTP_METHODS = (OTP_EMAIL, OTP_TOTP)


class SocietyConfigError(ValueError):
    """The societies file is missing, malformed, or lacks a required fact."""


@dataclass(frozen=True)
class InitialPassword:
    # the rule as the society's manual states it (「健康保険の記号+番号+生年月日(西暦8桁)」)
    rule: str
    # the same rule in English, for English conversations (falls back to ``rule``)
    rule_en: str
    # digits only where the manual states them as a rule; None where it only
    # gives an example (members' numbers differ in length)
    symbol_digits: Optional[int]
    number_digits: Optional[int]
    example_symbol: str
    example_number: str
    example_birth_date: dt.date

    @property
    def example(self) -> str:
        """The example password: symbol + number + birth date (yyyymmdd)."""
        return (
            self.example_symbol + self.example_number + self.example_birth_date.strftime("%Y%m%d")
        )

    @property
    def total_digits(self) -> Optional[int]:
        """The password's length where the manual fixes it, else None."""
        if self.symbol_digits is None or self.number_digits is None:
            return None
        return self.symbol_digits + self.number_digits + 8


@dataclass(frozen=True)
class VoluntaryContinuation:
    symbol_digits: int
    number_digits: str
    # Their user ID is digits only (symbol + number + birth date), longer than
    # the 8-13 characters a member may choose, so it is accepted by length
    # (bot.domain.portal_contract.user_id_problem's digit_lengths).
    user_id_lengths: tuple[int, ...]


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# not strftime("%B"): that follows the process locale
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def parse_helpdesk(data: Any, where: str) -> Helpdesk | None:
    if data is None:
        return None
    hours = _require(data, "staffed_hours", where)
    days_raw = _require(hours, "days", f"{where}.staffed_hours")
    try:
        days = frozenset(_DAY_NAMES.index(str(d).lower()[:3]) for d in days_raw)
    except ValueError as e:
        raise SocietyConfigError(f"{where}.staffed_hours.days: use {_DAY_NAMES}") from e

    def minutes(value: Any, key: str) -> int:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value))
        total = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
        if not m or int(m.group(2)) > 59 or not 0 <= total <= 24 * 60:
            raise SocietyConfigError(f"{where}.staffed_hours.{key}: expected HH:MM, got {value!r}")
        return total

    start = minutes(_require(hours, "start", f"{where}.staffed_hours"), "start")
    end = minutes(_require(hours, "end", f"{where}.staffed_hours"), "end")
    if start >= end or start == 24 * 60:
        raise SocietyConfigError(f"{where}.staffed_hours: start must be before end")
    timezone = str(data.get("timezone") or "Asia/Tokyo")
    try:
        ZoneInfo(timezone)
    except Exception as e:  # ZoneInfoNotFoundError, ValueError
        raise SocietyConfigError(f"{where}.timezone: unknown time zone {timezone!r}") from e
    max_wait = data.get("max_wait_minutes", 10)
    try:
        max_wait = float(max_wait)
    except (TypeError, ValueError) as e:
        raise SocietyConfigError(f"{where}.max_wait_minutes: expected a number") from e
    closed = frozenset(_date(d, f"{where}.closed_dates") for d in (data.get("closed_dates") or []))
    return Helpdesk(
        closed_dates=closed,
        days=days,
        start=dt.time(start // 60, start % 60),
        end_minutes=end,
        timezone=timezone,
        max_wait_minutes=max_wait,
    )


@dataclass(frozen=True)
class EnglishNames:
    """The society's names in English conversations (``*_en`` keys in ``data/societies.yml``).

    Each falls back to the Japanese fact when the society gives no English one:
    a name in Japanese is still right, a made-up translation would not be.
    """

    name: str
    short_name: str
    contact: str
    first_time_notice: str
    symbol_number_source: str
    app_help_desk: str


def parse_english_names(data: Mapping[str, Any], japanese: Mapping[str, str]) -> EnglishNames:
    """The ``<fact>_en`` values of a society's mapping, each defaulting to ``japanese[<fact>]``."""
    return EnglishNames(
        **{
            fact: str(data.get(f"{fact}_en") or japanese.get(fact) or "")
            for fact in EnglishNames.__dataclass_fields__
        }
    )


@dataclass(frozen=True)
class Society:
    key: str
    name: str
    short_name: str
    portal_url: str
    otp_method: str
    authenticator_app: str | None
    mail_sender: str
    mail_domain: str
    first_login_minutes: int
    user_id_min_length: int
    user_id_max_length: int
    user_id_allowed: str
    user_id_source_first_time: str
    user_id_source_returning: str
    initial_password: InitialPassword
    symbol_number_source: str
    voluntary_continuation: VoluntaryContinuation | None
    password_min_length: int
    password_max_length: int
    password_allowed_symbols: str
    email_link_valid_minutes: int
    contact: str
    app_help_desk: str | None
    first_time_notice: str | None
    helpdesk: Helpdesk | None = None  # None: no agents at any hour (handoff still queues)
    english: EnglishNames | None = None  # None: the Japanese facts (see template_variables)
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def uses_authenticator(self) -> bool:
        return self.otp_method == OTP_TOTP

    @property
    def user_id_digit_lengths(self) -> tuple[int, ...]:
        """Lengths of the society's digits-only user IDs (voluntary continuation), if any."""
        vc = self.voluntary_continuation
        return vc.user_id_lengths if vc else ()

    def template_variables(self) -> dict[str, Any]:
        """The facts responses may interpolate, plus flags responses may test.

        Flags (``otp_method``, ``has_voluntary_continuation_id``,
        ``has_app_help_desk``, ``has_first_time_notice``) are used as response
        ``condition`` values.
        """
        pw = self.initial_password
        birth = pw.example_birth_date
        vc = self.voluntary_continuation
        return {
            "society": self.key,
            "otp_method": self.otp_method,
            "society_name": self.name,
            "society_short_name": self.short_name,
            "portal_url": self.portal_url,
            "authenticator_app": self.authenticator_app or "",
            "mail_sender": self.mail_sender,
            "mail_domain": self.mail_domain,
            "first_login_minutes": self.first_login_minutes,
            "user_id_min_length": self.user_id_min_length,
            "user_id_max_length": self.user_id_max_length,
            "user_id_allowed": self.user_id_allowed,
            "user_id_source_first_time": self.user_id_source_first_time,
            "user_id_source_returning": self.user_id_source_returning,
            "pw_rule": pw.rule,
            "pw_digits_stated": pw.total_digits is not None,
            "pw_symbol_digits": pw.symbol_digits if pw.symbol_digits is not None else "",
            "pw_number_digits": pw.number_digits if pw.number_digits is not None else "",
            "pw_total_digits": pw.total_digits if pw.total_digits is not None else "",
            "pw_example_symbol": pw.example_symbol,
            "pw_example_number": pw.example_number,
            "pw_example_birth_date": f"{birth.year}年{birth.month}月{birth.day}日",
            "pw_example_birth8": birth.strftime("%Y%m%d"),
            "pw_example": pw.example,
            "symbol_number_source": self.symbol_number_source,
            "has_voluntary_continuation_id": vc is not None,
            "vc_symbol_digits": vc.symbol_digits if vc else "",
            "vc_number_digits": vc.number_digits if vc else "",
            "password_min_length": self.password_min_length,
            "password_max_length": self.password_max_length,
            "password_allowed_symbols": self.password_allowed_symbols,
            "email_link_valid_minutes": self.email_link_valid_minutes,
            "contact": self.contact,
            "has_app_help_desk": self.app_help_desk is not None,
            "app_help_desk": self.app_help_desk or "",
            "has_first_time_notice": self.first_time_notice is not None,
            "first_time_notice": self.first_time_notice or "",
            "has_staffed_hours": self.helpdesk is not None and bool(self.helpdesk.days),
            "staffed_hours": self.helpdesk.describe() if self.helpdesk else "",
            **self.english_variables(),
        }

    def english_variables(self) -> dict[str, Any]:
        """The facts English texts (``data/responses_en.yml``) use in place of Japanese ones: ``*_en``."""
        en = self.english or parse_english_names({}, self._japanese_names())
        birth = self.initial_password.example_birth_date
        return {
            "society_name_en": en.name,
            "society_short_name_en": en.short_name,
            "contact_en": en.contact,
            "first_time_notice_en": en.first_time_notice,
            "symbol_number_source_en": en.symbol_number_source,
            "app_help_desk_en": en.app_help_desk,
            "pw_rule_en": self.initial_password.rule_en,
            "pw_example_birth_date_en": f"{_MONTHS_EN[birth.month - 1]} {birth.day}, {birth.year}",
            "staffed_hours_en": self.helpdesk.describe_en() if self.helpdesk else "",
        }

    def _japanese_names(self) -> dict[str, str]:
        return {
            "name": self.name,
            "short_name": self.short_name,
            "contact": self.contact,
            "first_time_notice": self.first_time_notice or "",
            "symbol_number_source": self.symbol_number_source,
            "app_help_desk": self.app_help_desk or "",
        }


@dataclass(frozen=True)
class SocietyRegistry:
    societies: Mapping[str, Society]
    default_key: str

    @property
    def default(self) -> Society:
        return self.societies[self.default_key]

    def get(self, key: str | None) -> Society | None:
        """The society named ``key`` (case-insensitive, trimmed), or None."""
        if not isinstance(key, str):
            return None
        return self.societies.get(key.strip().lower())

    def resolve(self, key: str | None) -> Society:
        """The society named ``key``, or the default when it is missing or unknown."""
        society = self.get(key)
        if society is None:
            if key:
                logger.warning("Unknown society %r; using default %r", key, self.default_key)
            return self.default
        return society

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.societies.values())


def _require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(data, Mapping) or key not in data or data[key] is None:
        raise SocietyConfigError(f"{where}: missing required key '{key}'")
    return data[key]


def _optional_int(value: Any, where: str) -> Optional[int]:
    return None if value is None else _int(value, where)


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise SocietyConfigError(f"{where}: expected a whole number, got {value!r}") from e


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as e:
        raise SocietyConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from e


def parse_society(key: str, data: Mapping[str, Any]) -> Society:
    """Build a Society from its YAML mapping, naming the missing key on error."""
    w = f"societies.{key}"
    otp_method = _require(data, "otp_method", w)
    if otp_method not in OTP_METHODS:
        raise SocietyConfigError(f"{w}.otp_method: must be one of {OTP_METHODS}, got {otp_method!r}")
    app = data.get("authenticator_app")
    if otp_method == OTP_TOTP and not app:
        raise SocietyConfigError(f"{w}.authenticator_app: required when otp_method is totp")
    uid = _require(data, "user_id", w)
    ipw = _require(data, "initial_password", w)
    ex = _require(ipw, "example", f"{w}.initial_password")
    pw = _require(data, "password", w)
    vc_raw = data.get("voluntary_continuation")
    vc = None
    if vc_raw is not None:
        vc = VoluntaryContinuation(
            symbol_digits=_int(_require(vc_raw, "symbol_digits", f"{w}.voluntary_continuation"), w),
            number_digits=str(_require(vc_raw, "number_digits", f"{w}.voluntary_continuation")),
            user_id_lengths=tuple(
                _int(n, f"{w}.voluntary_continuation.user_id_lengths")
                for n in _require(vc_raw, "user_id_lengths", f"{w}.voluntary_continuation")
            ),
        )
        if any(n > DIGITS_USER_ID_MAX_LENGTH for n in vc.user_id_lengths):
            raise SocietyConfigError(
                f"{w}.voluntary_continuation.user_id_lengths: at most {DIGITS_USER_ID_MAX_LENGTH} "
                "(bot/domain/portal_contract.py: the longest user ID the bot recognises)"
            )
    society = Society(
        key=key,
        name=str(_require(data, "name", w)),
        short_name=str(data.get("short_name") or data["name"]),
        portal_url=str(_require(data, "portal_url", w)),
        otp_method=otp_method,
        authenticator_app=app,
        mail_sender=str(_require(data, "mail_sender", w)),
        mail_domain=str(_require(data, "mail_domain", w)),
        first_login_minutes=_int(_require(data, "first_login_minutes", w), w),
        user_id_min_length=_int(_require(uid, "min_length", f"{w}.user_id"), w),
        user_id_max_length=_int(_require(uid, "max_length", f"{w}.user_id"), w),
        user_id_allowed=str(_require(uid, "allowed", f"{w}.user_id")),
        user_id_source_first_time=str(_require(uid, "source_first_time", f"{w}.user_id")),
        user_id_source_returning=str(_require(uid, "source_returning", f"{w}.user_id")),
        initial_password=InitialPassword(
            rule=str(_require(ipw, "rule", f"{w}.initial_password")),
            rule_en=str(ipw.get("rule_en") or ipw["rule"]),
            symbol_digits=_optional_int(ipw.get("symbol_digits"), w),
            number_digits=_optional_int(ipw.get("number_digits"), w),
            example_symbol=str(_require(ex, "symbol", f"{w}.initial_password.example")),
            example_number=str(_require(ex, "number", f"{w}.initial_password.example")),
            example_birth_date=_date(
                _require(ex, "birth_date", f"{w}.initial_password.example"), w
            ),
        ),
        symbol_number_source=str(_require(data, "symbol_number_source", w)),
        voluntary_continuation=vc,
        password_min_length=_int(_require(pw, "min_length", f"{w}.password"), w),
        password_max_length=_int(_require(pw, "max_length", f"{w}.password"), w),
        password_allowed_symbols=str(_require(pw, "allowed_symbols", f"{w}.password")),
        email_link_valid_minutes=_int(_require(data, "email_link_valid_minutes", w), w),
        contact=str(_require(data, "contact", w)),
        app_help_desk=data.get("app_help_desk"),
        first_time_notice=data.get("first_time_notice"),
        helpdesk=parse_helpdesk(data.get("helpdesk"), f"{w}.helpdesk"),
        raw=dict(data),
    )
    english = parse_english_names(data, society._japanese_names())
    return dataclasses.replace(society, english=english)


def parse_registry(data: Mapping[str, Any], default_override: str | None = None) -> SocietyRegistry:
    """Build the registry from the parsed societies file."""
    raw_societies = _require(data, "societies", "societies file")
    if not isinstance(raw_societies, Mapping) or not raw_societies:
        raise SocietyConfigError("societies file: 'societies' must map society keys to facts")
    societies = {}
    for key, value in raw_societies.items():
        norm = str(key).strip().lower()
        if norm in societies:
            raise SocietyConfigError(f"societies.{key}: defined twice")
        societies[norm] = parse_society(norm, value or {})
    default_key = (default_override or data.get("default_society") or "").strip().lower()
    if not default_key:
        raise SocietyConfigError("societies file: missing required key 'default_society'")
    if default_key not in societies:
        raise SocietyConfigError(f"default society {default_key!r} is not one of {sorted(societies)}")
    return SocietyRegistry(societies=societies, default_key=default_key)


def load_registry(
    path: str | os.PathLike[str] | None = None,
    default_override: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SocietyRegistry:
    """Load the societies file.

    ``path`` falls back to ``$KOSMO_SOCIETIES_FILE`` and then ``data/societies.yml``;
    the default society falls back to ``$KOSMO_DEFAULT_SOCIETY`` and then the file.
    """
    files = DataFiles.from_env(environ)
    file = Path(path or files.societies_file)
    if not file.is_absolute() and not file.exists():
        file = PROJECT_ROOT / file
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise SocietyConfigError(f"societies file not found: {file}") from e
    except yaml.YAMLError as e:
        raise SocietyConfigError(f"societies file {file} is not valid YAML: {e}") from e
    if not isinstance(data, Mapping):
        raise SocietyConfigError(f"societies file {file}: expected a mapping at the top")
    return parse_registry(data, default_override or files.default_society)

"""The societies (健康保険組合) the bot serves and the facts it may say about each of them.

Every society-specific fact lives in ``data/societies.yml``; code never names a
society. The registry is loaded once by whoever needs it (the NLU component,
the response generator, the action server, the portal) and handed around.

This module reads and checks the file (``load_registry``) into a
:class:`SocietyRegistry`; one society's facts, and the ``{variables}`` responses
make of them (``Society.template_variables``), are ``bot.domain.society_facts``.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

import yaml

from bot.domain.helpdesk_hours import Helpdesk
from bot.domain.portal_contract import DIGITS_USER_ID_MAX_LENGTH
from bot.domain.society_facts import OTP_EMAIL as OTP_EMAIL
from bot.domain.society_facts import OTP_METHODS as OTP_METHODS
from bot.domain.society_facts import OTP_TOTP as OTP_TOTP
from bot.domain.society_facts import InitialPassword, VoluntaryContinuation, parse_english_names
from bot.domain.society_facts import Society as Society
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


class SocietyConfigError(ValueError):
    """The societies file is missing, malformed, or lacks a required fact."""


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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

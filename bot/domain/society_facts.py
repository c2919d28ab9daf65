"""One society's facts (``Society``) and the ``{variables}`` responses make of them.

``Society.template_variables`` flattens a society into the ``{variables}`` that
responses in ``domain.yml`` may use (and ``english_variables`` the ``*_en`` ones of
``data/responses_en.yml``), so that adding a society is a data change. The values are
read and checked from ``data/societies.yml`` by ``bot.domain.societies``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from bot.domain.helpdesk_hours import Helpdesk

OTP_EMAIL = "email"
OTP_TOTP = "totp"
OTP_METHODS = (OTP_EMAIL, OTP_TOTP)


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


# not strftime("%B"): that follows the process locale
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
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

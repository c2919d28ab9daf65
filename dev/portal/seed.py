"""Demo members of both societies, for development, tests and demos.

``python -m dev.portal seed`` creates the missing ones and leaves existing
ones alone (safe on every ``make run``); ``seed --reset`` puts them back in
their initial state. These are made-up people with example.com addresses; the
passwords and the TOTP seed are published in docs/portal.md on purpose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.domain.societies import SocietyRegistry
from dev.portal.models import Account, EmailToken, LoginSession
from dev.portal.security import hash_password
from dev.portal.services import find_account, initial_password


@dataclass(frozen=True)
class DemoMember:
    society: str
    user_id: str
    display_name: str
    symbol: str
    number: str
    birth_date: dt.date
    email: str | None
    password: str | None  # None: still on the initial password, first login pending
    totp_secret: str | None = None
    totp_confirmed: bool = False
    locked: bool = False
    note: str = ""

    @property
    def login_password(self) -> str:
        return self.password or initial_password(self.symbol, self.number, self.birth_date)


DEMO_MEMBERS: tuple[DemoMember, ...] = (
    DemoMember("kose", "kenpo.taro", "ケンポ タロウ", "30", "24680", dt.date(1985, 4, 12), None, None,
               note="first login pending"),
    DemoMember("kose", "kose.hanako", "コーセー ハナコ", "30", "13579", dt.date(1990, 11, 3),
               "hanako.kose@example.com", "Hanako-Kose2024", note="active, email OTP"),
    DemoMember("kose", "kose.ichiro", "コーセー イチロウ", "31", "11223", dt.date(1978, 2, 14),
               "ichiro.kose@example.com", "Ichiro-Kose2024", locked=True, note="active, locked"),
    DemoMember("ono", "ono.jiro01", "オノ ジロウ", "10", "2468", dt.date(1992, 7, 20), None, None,
               note="first login pending"),
    DemoMember("ono", "ono.sakura", "オノ サクラ", "10", "5678", dt.date(1988, 3, 30),
               "sakura.ono@example.com", "Sakura-Ono2024",
               totp_secret="KOSMOONOSAKURADEMO234567KOSMOABC", totp_confirmed=True,
               note="active, authenticator bound"),
    DemoMember("ono", "1012345619800101", "オノ ニンケイ", "101", "23456", dt.date(1980, 1, 1),
               "ninkei.ono@example.com", "Ninkei-Ono2024", totp_secret="KOSMOONONINKEIDEMO234567KOSMOXY",
               totp_confirmed=True, note="voluntary continuation member (ID = symbol + number + birth date)"),
    DemoMember("ono", "ono.kenta", "オノ ケンタ", "11", "3141", dt.date(1995, 9, 9),
               "kenta.ono@example.com", "Kenta-Ono2024", note="active, authenticator not yet bound"),
)


def _apply(account: Account, member: DemoMember, otp_method: str, iterations: int, now: dt.datetime) -> None:
    active = member.password is not None
    account.insurance_symbol = member.symbol
    account.insurance_number = member.number
    account.birth_date = member.birth_date
    account.display_name = member.display_name
    account.email = member.email
    account.email_verified = member.email is not None and active
    account.otp_method = otp_method
    account.totp_secret = member.totp_secret
    account.totp_confirmed = member.totp_confirmed
    account.totp_last_step = None
    account.email_otp_digest = None
    account.email_otp_expires_at = None
    account.password_hash = hash_password(member.login_password, iterations)
    account.first_login_done = active
    account.terms_accepted_at = now if active else None
    account.password_changed_at = now if active else None
    account.failed_count = 0
    account.last_failure_at = None
    account.locked = member.locked
    account.locked_at = now if member.locked else None
    account.locked_until = None
    account.updated_at = now


def seed(
    session: Session,
    registry: SocietyRegistry,
    now: dt.datetime,
    *,
    iterations: int,
    reset: bool = False,
    members: tuple[DemoMember, ...] = DEMO_MEMBERS,
) -> list[tuple[DemoMember, str]]:
    """Create (or with ``reset`` restore) the demo members of the societies in the registry."""
    report: list[tuple[DemoMember, str]] = []
    for member in members:
        society = registry.get(member.society)
        if society is None:
            report.append((member, "skipped (society not in societies file)"))
            continue
        account = find_account(session, member.society, member.user_id)
        if account is not None and not reset:
            report.append((member, "exists"))
            continue
        if account is None:
            account = Account(society=member.society, user_id=member.user_id, created_at=now)
            _apply(account, member, society.otp_method, iterations, now)
            session.add(account)
            report.append((member, "created"))
        else:
            session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))
            session.execute(delete(EmailToken).where(EmailToken.account_id == account.id))
            _apply(account, member, society.otp_method, iterations, now)
            report.append((member, "reset"))
    return report

"""Account rules of the portal, as plain functions over one database session.

The app validates a request, then runs one of these functions in a worker
thread inside one transaction (:meth:`dev.portal.db.Database.run`). They
never send mail themselves: they return the messages to send, which the app
sends after the transaction committed, in the background, so a caller cannot
tell from the answer time whether an account exists.

Lockout follows Keycloak's brute-force detection: every failed login (wrong
password, wrong birth date, wrong one-time password) counts; the counter
restarts when the last failure is older than the failure reset time; every
``max_failures``-th failure locks the account. A locked account gets the same
answer for a right password as for a wrong one. Unlock tickets, which lift a
lock, are in :mod:`dev.portal.tickets`.

What the portal's services share is here: the context every function gets
(:class:`Ctx`), finding an account, its lockout, and TOTP codes. The member's
login, step by step, is :mod:`dev.portal.login_steps`; what the helpdesk API
does, :mod:`dev.portal.helpdesk_services`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage

import pyotp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.portal_contract import ERROR_VALIDATION, SOCIETY_FIELD
from bot.domain.societies import Society, SocietyRegistry
from dev.portal.errors import ApiError
from dev.portal.models import Account
from dev.portal.security import constant_time_equals, hash_password
from dev.portal.settings import PortalSettings

TOTP_INTERVAL = 30
TOTP_DIGITS = 6

# Verified against when the user ID is unknown, so the answer takes as long.
_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash(iterations: int) -> str:
    if iterations not in _DUMMY_HASHES:
        _DUMMY_HASHES[iterations] = hash_password(secrets.token_hex(16), iterations)
    return _DUMMY_HASHES[iterations]


@dataclass
class Ctx:
    """What every service function needs: settings, the societies and the current time."""

    settings: PortalSettings
    registry: SocietyRegistry
    now: dt.datetime
    mails: list[EmailMessage] = field(default_factory=list)

    def society(self, key: str) -> Society:
        society = self.registry.get(key)
        if society is None:  # accounts of a society removed from societies.yml
            raise ApiError(422, ERROR_VALIDATION, "is not a known society", SOCIETY_FIELD)
        return society


def initial_password(symbol: str, number: str, birth_date: dt.date) -> str:
    """Symbol + number + birth date (yyyymmdd), the password until the first login."""
    return f"{symbol}{number}{birth_date:%Y%m%d}"


def totp_for(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def totp_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // TOTP_INTERVAL


def totp_matching_offset(secret: str, code: str, now: dt.datetime, window: int) -> int | None:
    """The step offset (−window..+window) whose code equals ``code``, nearest first."""
    totp = totp_for(secret)
    base = totp_step(now)
    for offset in sorted(range(-window, window + 1), key=lambda k: (abs(k), k)):
        if constant_time_equals(totp.generate_otp(base + offset), code):
            return offset
    return None


def provisioning_uri(society: Society, account: Account) -> str:
    assert account.totp_secret
    return totp_for(account.totp_secret).provisioning_uri(
        name=account.user_id, issuer_name=f"KOSMO Web {society.short_name}"
    )


# --------------------------------------------------------------------------- accounts


def find_account(session: Session, society: str, user_id: str, *, lock: bool = False) -> Account | None:
    query = select(Account).where(Account.society == society, Account.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def record_failure(ctx: Ctx, account: Account) -> None:
    """Count a failed login and lock the account on every ``max_failures``-th failure."""
    policy = ctx.settings.lockout
    now = ctx.now
    if account.last_failure_at is not None and (
        now - account.last_failure_at
    ).total_seconds() > policy.failure_reset_seconds:
        account.failed_count = 0
    account.failed_count = (account.failed_count or 0) + 1
    account.last_failure_at = now
    account.updated_at = now
    if account.failed_count % policy.max_failures == 0:
        account.locked = True
        account.locked_at = now
        if policy.permanent:
            account.locked_until = None
        else:
            wait = min(
                policy.max_wait_seconds,
                policy.wait_increment_seconds * (account.failed_count // policy.max_failures),
            )
            account.locked_until = now + dt.timedelta(seconds=wait)


def record_success(ctx: Ctx, account: Account) -> None:
    account.failed_count = 0
    account.last_failure_at = None
    account.updated_at = ctx.now


def unlock(account: Account, now: dt.datetime) -> None:
    account.locked = False
    account.locked_at = None
    account.locked_until = None
    account.failed_count = 0
    account.last_failure_at = None
    account.updated_at = now


def _usable(ctx: Ctx, account: Account) -> bool:
    """Not locked; a temporary lock that ran out is lifted here (the count stays)."""
    if account.locked and not account.is_locked(ctx.now):
        account.locked = False
        account.locked_at = None
        account.locked_until = None
    return not account.locked


def count_accounts(session: Session) -> int:
    return int(session.execute(select(func.count(Account.id))).scalar_one())

"""What the helpdesk API does for the bot: resend an OTP, remind a user ID, diagnose a TOTP code.

Plain functions over one database session, like :mod:`dev.portal.services`. Each
returns an outcome for the audit log ("sent", "unknown_account", ...) that the
caller never shows: the API's answer is the same whether or not the account
exists. Unlock tickets are :mod:`dev.portal.tickets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from dev.portal import mail
from dev.portal.login_steps import _issue_email_otp
from dev.portal.models import Account
from dev.portal.services import TOTP_INTERVAL, Ctx, _usable, find_account, totp_matching_offset


def helpdesk_resend_otp(session: Session, ctx: Ctx, society: str, user_id: str) -> str:
    account = find_account(session, society, user_id, lock=True)
    if account is None:
        return "unknown_account"
    if not account.first_login_done or not account.email or not account.email_verified:
        return "no_verified_email"
    if not _usable(ctx, account):
        return "locked"
    _issue_email_otp(ctx, account)
    return "sent"


def helpdesk_user_id_reminder(session: Session, ctx: Ctx, society: str, email: str) -> str:
    user_ids = list(
        session.execute(
            select(Account.user_id)
            .where(Account.society == society, Account.email == email, Account.email_verified.is_(True))
            .order_by(Account.user_id)
        ).scalars()
    )
    if not user_ids:
        return "unknown_email"
    t = ctx.society(society)
    ctx.mails.append(mail.user_id_reminder_message(t, ctx.settings.mail_sender, email, user_ids))
    return "sent"


@dataclass(frozen=True)
class Diagnosis:
    result: str  # match | nearby | no_match
    step_offset: int | None
    offset_seconds: int | None

    def json(self) -> dict[str, Any]:
        return {"result": self.result, "step_offset": self.step_offset, "offset_seconds": self.offset_seconds}


NO_MATCH = Diagnosis("no_match", None, None)


def diagnose_totp(session: Session, ctx: Ctx, society: str, user_id: str, code: str) -> tuple[Diagnosis, str]:
    """Where in time the member's code belongs; never logs in and never spends the code."""
    account = find_account(session, society, user_id)
    window = ctx.settings.totp_diagnose_window
    if account is None or not account.totp_secret or not account.totp_confirmed:
        # Same work as for a real account, then the same answer as a wrong code.
        totp_matching_offset(pyotp.random_base32(), code, ctx.now, window)
        return NO_MATCH, "unknown_account" if account is None else "totp_not_set_up"
    offset = totp_matching_offset(account.totp_secret, code, ctx.now, window)
    if offset is None:
        return NO_MATCH, "no_match"
    if offset == 0:
        return Diagnosis("match", 0, 0), "match"
    return Diagnosis("nearby", offset, offset * TOTP_INTERVAL), "nearby"

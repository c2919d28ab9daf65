"""The member's login, step by step: password, first-login steps, one-time password, reset.

Plain functions over one database session, like :mod:`dev.portal.services`
(whose account rules and lockout they use); each returns a :class:`StepResult`
(the session and its next step) or raises an ``ApiError``. A login session is
a token the member holds (only its digest is stored), kept alive by every use;
e-mail links (verification, password reset) are single-use tokens too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.domain.portal_contract import ERROR_OTP_METHOD_MISMATCH, ERROR_VALIDATION
from bot.domain.societies import OTP_EMAIL, OTP_TOTP
from dev.portal import mail, models
from dev.portal.errors import (
    ApiError,
    invalid_code,
    invalid_credentials,
    session_invalid,
    wrong_step,
)
from dev.portal.models import Account, EmailToken, LoginSession
from dev.portal.security import (
    constant_time_equals,
    digest,
    hash_password,
    new_email_otp,
    new_token,
    verify_password,
)
from dev.portal.services import (
    Ctx,
    _dummy_hash,
    _usable,
    find_account,
    initial_password,
    provisioning_uri,
    record_failure,
    record_success,
    totp_matching_offset,
    totp_step,
)

PURPOSE_VERIFY_EMAIL = "verify_email"
PURPOSE_RESET_PASSWORD = "reset_password"


@dataclass(frozen=True)
class StepResult:
    session: str | None
    next_step: str
    details: dict[str, Any] = field(default_factory=dict)


def _new_login_session(session: Session, ctx: Ctx, account: Account, step: str) -> str:
    token = new_token()
    session.add(
        LoginSession(
            token_digest=digest(token),
            account_id=account.id,
            step=step,
            created_at=ctx.now,
            expires_at=ctx.now + dt.timedelta(seconds=ctx.settings.session_valid_seconds),
        )
    )
    return token


def _load_login_session(session: Session, ctx: Ctx, token: str) -> LoginSession:
    row = session.execute(
        select(LoginSession).where(LoginSession.token_digest == digest(token)).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.expires_at <= ctx.now:
        raise session_invalid()
    return row


def _first_login_step_after(account: Account, done: str | None) -> str:
    """The next first-login step, skipping steps the account already completed."""
    order = list(models.FIRST_LOGIN_STEPS)
    start = 0 if done is None else order.index(done) + 1
    for step in order[start:]:
        if step == models.STEP_TERMS and account.terms_accepted_at is not None:
            continue
        if step == models.STEP_USER_ID and account.password_changed_at is not None:
            continue
        if step == models.STEP_PASSWORD and account.password_changed_at is not None:
            continue
        if step == models.STEP_EMAIL and account.email and account.email_verified:
            continue
        if step == models.STEP_EMAIL_VERIFICATION and account.email_verified:
            continue
        return step
    return models.STEP_DONE


def _step_details(ctx: Ctx, account: Account, step: str) -> dict[str, Any]:
    society = ctx.society(account.society)
    if step == models.STEP_TOTP_SETUP:
        return {"otp_method": OTP_TOTP, "secret": account.totp_secret,
                "provisioning_uri": provisioning_uri(society, account)}
    if step == models.STEP_OTP:
        return {"otp_method": account.otp_method}
    if step == models.STEP_EMAIL_VERIFICATION:
        return {"link_valid_minutes": society.email_link_valid_minutes}
    if step == models.STEP_DONE:
        return {"user_id": account.user_id}
    return {}


def _issue_email_otp(ctx: Ctx, account: Account) -> None:
    """A fresh code replaces the previous one, which stops working at once."""
    if not account.email or not account.email_verified:
        return
    code = new_email_otp()
    account.email_otp_digest = digest(f"{account.id}:{code}")
    account.email_otp_expires_at = ctx.now + dt.timedelta(seconds=ctx.settings.email_otp_valid_seconds)
    account.updated_at = ctx.now
    minutes = max(1, ctx.settings.email_otp_valid_seconds // 60)
    ctx.mails.append(
        mail.email_otp_message(ctx.society(account.society), ctx.settings.mail_sender, account.email, code, minutes)
    )


def _after_password_step(ctx: Ctx, account: Account) -> str:
    """Where a correct password leads."""
    if not account.first_login_done:
        return models.STEP_BIRTH_DATE
    if account.otp_method == OTP_EMAIL:
        _issue_email_otp(ctx, account)
        return models.STEP_OTP
    if not account.totp_confirmed:
        if not account.totp_secret:
            account.totp_secret = pyotp.random_base32()
        return models.STEP_TOTP_SETUP
    return models.STEP_OTP


def login(session: Session, ctx: Ctx, society: str, user_id: str, password: str) -> StepResult:
    account = find_account(session, society, user_id, lock=True)
    if account is None:
        verify_password(password, _dummy_hash(ctx.settings.password_hash_iterations))
        raise invalid_credentials()
    correct = verify_password(password, account.password_hash)
    if not _usable(ctx, account):
        raise invalid_credentials()  # same answer as a wrong password; no count while locked
    if not correct:
        record_failure(ctx, account)
        raise invalid_credentials()
    step = _after_password_step(ctx, account)
    token = _new_login_session(session, ctx, account, step)
    return StepResult(token, step, _step_details(ctx, account, step))


def session_account(session: Session, ctx: Ctx, token: str, *steps: str) -> tuple[LoginSession, Account]:
    row = _load_login_session(session, ctx, token)
    account = session.execute(
        select(Account).where(Account.id == row.account_id).with_for_update()
    ).scalar_one()
    if not _usable(ctx, account):
        # Locked while in the middle of logging in: the session is over.
        session.delete(row)
        raise session_invalid()
    if steps and row.step not in steps:
        raise wrong_step(row.step)
    # Idle timeout: every use of the session keeps it alive for another period.
    row.expires_at = ctx.now + dt.timedelta(seconds=ctx.settings.session_valid_seconds)
    return row, account


def _advance(ctx: Ctx, row: LoginSession, account: Account, step: str, token: str) -> StepResult:
    row.step = step
    row.expires_at = ctx.now + dt.timedelta(seconds=ctx.settings.session_valid_seconds)
    if step == models.STEP_DONE:
        record_success(ctx, account)
    return StepResult(token, step, _step_details(ctx, account, step))


def first_login_birth_date(session: Session, ctx: Ctx, token: str, birth_date: dt.date) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_BIRTH_DATE)
    if birth_date != account.birth_date:
        record_failure(ctx, account)
        if account.locked:
            session.delete(row)
        raise ApiError(422, "birth_date_mismatch", "does not match our records", "birth_date")
    return _advance(ctx, row, account, _first_login_step_after(account, models.STEP_BIRTH_DATE), token)


def first_login_terms(session: Session, ctx: Ctx, token: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_TERMS)
    account.terms_accepted_at = ctx.now
    account.updated_at = ctx.now
    return _advance(ctx, row, account, _first_login_step_after(account, models.STEP_TERMS), token)


def first_login_user_id(session: Session, ctx: Ctx, token: str, new_user_id: str | None) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_USER_ID)
    if new_user_id and new_user_id != account.user_id:
        taken = find_account(session, account.society, new_user_id)
        if taken is not None:
            raise ApiError(409, "user_id_taken", "is already used by another member", "user_id")
        account.user_id = new_user_id
        account.updated_at = ctx.now
    return _advance(ctx, row, account, _first_login_step_after(account, models.STEP_USER_ID), token)


def first_login_password(session: Session, ctx: Ctx, token: str, password: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_PASSWORD)
    initial = initial_password(account.insurance_symbol, account.insurance_number, account.birth_date)
    if password == initial:
        raise ApiError(422, ERROR_VALIDATION, "must differ from the initial password", "password")
    account.password_hash = hash_password(password, ctx.settings.password_hash_iterations)
    account.password_changed_at = ctx.now
    account.updated_at = ctx.now
    return _advance(ctx, row, account, _first_login_step_after(account, models.STEP_PASSWORD), token)


def _issue_email_token(session: Session, ctx: Ctx, account: Account, purpose: str, email: str) -> str:
    """A new single-use link token; earlier unused ones of the same purpose stop working."""
    session.execute(
        update(EmailToken)
        .where(EmailToken.account_id == account.id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=ctx.now)
    )
    society = ctx.society(account.society)
    token = new_token()
    session.add(
        EmailToken(
            token_digest=digest(token),
            purpose=purpose,
            account_id=account.id,
            email=email,
            created_at=ctx.now,
            expires_at=ctx.now + dt.timedelta(minutes=society.email_link_valid_minutes),
        )
    )
    return token


def _send_verification(session: Session, ctx: Ctx, account: Account) -> None:
    assert account.email
    society = ctx.society(account.society)
    token = _issue_email_token(session, ctx, account, PURPOSE_VERIFY_EMAIL, account.email)
    link = f"{ctx.settings.public_url}/member/verify-email?token={token}"
    ctx.mails.append(
        mail.verify_email_message(society, ctx.settings.mail_sender, account.email, link, society.email_link_valid_minutes)
    )


def first_login_email(session: Session, ctx: Ctx, token: str, email: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_EMAIL, models.STEP_EMAIL_VERIFICATION)
    if account.email != email:
        account.email = email
        account.email_verified = False
    account.updated_at = ctx.now
    _send_verification(session, ctx, account)
    return _advance(ctx, row, account, models.STEP_EMAIL_VERIFICATION, token)


def first_login_email_check(session: Session, ctx: Ctx, token: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_EMAIL_VERIFICATION)
    if not account.email_verified:
        raise ApiError(409, "email_not_verified", "the link in the mail has not been opened yet", "email")
    account.first_login_done = True
    return _advance(ctx, row, account, models.STEP_DONE, token)


def verify_email(session: Session, ctx: Ctx, token: str) -> bool:
    row = session.execute(
        select(EmailToken).where(
            EmailToken.token_digest == digest(token), EmailToken.purpose == PURPOSE_VERIFY_EMAIL
        ).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= ctx.now:
        return False
    account = session.get(Account, row.account_id)
    row.used_at = ctx.now
    if account is None or account.email != row.email:
        return False
    account.email_verified = True
    account.updated_at = ctx.now
    return True


def verify_otp(session: Session, ctx: Ctx, token: str, code: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_OTP, models.STEP_TOTP_SETUP)
    ok = False
    if account.otp_method == OTP_EMAIL:
        if (
            account.email_otp_digest
            and account.email_otp_expires_at
            and ctx.now < account.email_otp_expires_at
            and constant_time_equals(account.email_otp_digest, digest(f"{account.id}:{code}"))
        ):
            ok = True
            account.email_otp_digest = None  # single use
            account.email_otp_expires_at = None
    elif account.totp_secret:
        offset = totp_matching_offset(account.totp_secret, code, ctx.now, ctx.settings.totp_login_window)
        if offset is not None:
            step = totp_step(ctx.now) + offset
            if account.totp_last_step is None or step > account.totp_last_step:
                ok = True
                account.totp_last_step = step  # this code, and older ones, are spent
                account.totp_confirmed = True
    if not ok:
        record_failure(ctx, account)
        if account.locked:
            session.delete(row)
        raise invalid_code()
    return _advance(ctx, row, account, models.STEP_DONE, token)


def member_resend_otp(session: Session, ctx: Ctx, token: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_OTP)
    if account.otp_method != OTP_EMAIL:
        raise ApiError(409, ERROR_OTP_METHOD_MISMATCH, "this society uses an authenticator app", "session",
                       extra={"otp_method": account.otp_method})
    _issue_email_otp(ctx, account)
    return StepResult(token, row.step, _step_details(ctx, account, row.step))


def member_resend_verification(session: Session, ctx: Ctx, token: str) -> StepResult:
    row, account = session_account(session, ctx, token, models.STEP_EMAIL_VERIFICATION)
    _send_verification(session, ctx, account)
    return StepResult(token, row.step, _step_details(ctx, account, row.step))


def session_status(session: Session, ctx: Ctx, token: str) -> StepResult:
    row, account = session_account(session, ctx, token)
    return StepResult(token, row.step, _step_details(ctx, account, row.step))


def logout(session: Session, ctx: Ctx, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_digest == digest(token)))


def forgot_password(session: Session, ctx: Ctx, society: str, user_id: str) -> str:
    """Mails a reset link when the member has a verified address; works while locked."""
    account = find_account(session, society, user_id)
    if account is None:
        return "unknown_account"
    if not account.email or not account.email_verified:
        return "no_verified_email"
    t = ctx.society(society)
    token = _issue_email_token(session, ctx, account, PURPOSE_RESET_PASSWORD, account.email)
    link = f"{ctx.settings.public_url}/member/reset-password?token={token}"
    ctx.mails.append(
        mail.reset_password_message(t, ctx.settings.mail_sender, account.email, link, t.email_link_valid_minutes)
    )
    return "sent"


def reset_password(session: Session, ctx: Ctx, token: str, password_for: Any) -> None:
    """Sets a new password from a reset link. A lock stays: only staff lift it.

    ``password_for(society)`` validates the new password under the society's rules.
    """
    row = session.execute(
        select(EmailToken).where(
            EmailToken.token_digest == digest(token), EmailToken.purpose == PURPOSE_RESET_PASSWORD
        ).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= ctx.now:
        raise ApiError(401, "link_invalid", "the link is unknown, used or expired", "token")
    account = session.get(Account, row.account_id)
    if account is None:
        raise ApiError(401, "link_invalid", "the link is unknown, used or expired", "token")
    password = password_for(ctx.society(account.society))
    row.used_at = ctx.now
    account.password_hash = hash_password(password, ctx.settings.password_hash_iterations)
    account.password_changed_at = ctx.now
    account.updated_at = ctx.now
    session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))

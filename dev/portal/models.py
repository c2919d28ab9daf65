"""Tables of the reference portal (SQLAlchemy declarative, 2.0-style queries).

SQLAlchemy is pinned to 1.4 by Rasa 3.6, so columns are ``Column`` objects;
all queries use ``select()`` / ``Session.execute`` and engines run with
``future=True``, which is the 2.0 API. Secrets are never stored in clear:
passwords as PBKDF2 hashes, session tokens, email OTPs and link tokens as
SHA-256 digests. The TOTP seed must be stored as is (the portal computes codes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

from dev.portal.db import UTCDateTime

Base: Any = declarative_base()

# First-login steps, in the order a member goes through them.
STEP_BIRTH_DATE = "birth_date"
STEP_TERMS = "terms"
STEP_USER_ID = "user_id"
STEP_PASSWORD = "password"
STEP_EMAIL = "email"
STEP_EMAIL_VERIFICATION = "email_verification"
FIRST_LOGIN_STEPS = (
    STEP_BIRTH_DATE,
    STEP_TERMS,
    STEP_USER_ID,
    STEP_PASSWORD,
    STEP_EMAIL,
    STEP_EMAIL_VERIFICATION,
)
# After the password: one-time password steps, then logged in.
STEP_OTP = "otp"
STEP_TOTP_SETUP = "totp_setup"
STEP_DONE = "done"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("society", "user_id", name="uq_accounts_society_user_id"),)

    id = Column(Integer, primary_key=True)
    society = Column(String(32), nullable=False)
    user_id = Column(String(64), nullable=False)  # lower-case
    insurance_symbol = Column(String(8), nullable=False)
    insurance_number = Column(String(8), nullable=False)
    birth_date = Column(Date, nullable=False)
    display_name = Column(String(64), nullable=True)
    email = Column(String(254), nullable=True, index=True)  # lower-case
    email_verified = Column(Boolean, nullable=False, default=False)
    otp_method = Column(String(8), nullable=False)  # "email" | "totp", from the society
    totp_secret = Column(String(64), nullable=True)
    totp_confirmed = Column(Boolean, nullable=False, default=False)
    totp_last_step = Column(Integer, nullable=True)  # highest step accepted: codes are single-use
    email_otp_digest = Column(String(64), nullable=True)
    email_otp_expires_at = Column(UTCDateTime, nullable=True)
    password_hash = Column(String(256), nullable=False)
    first_login_done = Column(Boolean, nullable=False, default=False)
    terms_accepted_at = Column(UTCDateTime, nullable=True)
    password_changed_at = Column(UTCDateTime, nullable=True)
    failed_count = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(UTCDateTime, nullable=True)
    locked = Column(Boolean, nullable=False, default=False)
    locked_at = Column(UTCDateTime, nullable=True)
    locked_until = Column(UTCDateTime, nullable=True)  # None with locked=True: until staff unlock
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    def is_locked(self, now: dt.datetime) -> bool:
        if not self.locked:
            return False
        return self.locked_until is None or now < self.locked_until


class LoginSession(Base):
    """One member's way through login: which step is next, until when it is valid."""

    __tablename__ = "login_sessions"

    id = Column(Integer, primary_key=True)
    token_digest = Column(String(64), nullable=False, unique=True)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    step = Column(String(32), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    account = relationship(Account)


class EmailToken(Base):
    """A single-use link sent by mail: email verification or password reset."""

    __tablename__ = "email_tokens"

    id = Column(Integer, primary_key=True)
    token_digest = Column(String(64), nullable=False, unique=True)
    purpose = Column(String(16), nullable=False)  # "verify_email" | "reset_password"
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    email = Column(String(254), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime, nullable=True)
    account = relationship(Account)


OPEN_TICKET_WHERE = text("status = 'open'")


class UnlockTicket(Base):
    """A member's request to unlock; ``account_id`` is None when the identity did not match.

    At most one ticket is open per society and user ID asked about (a partial
    unique index, which SQLite and PostgreSQL both enforce); ``opened_by`` is
    a digest of the signed member id that opened it, the only one told its status.
    """

    __tablename__ = "unlock_tickets"
    __table_args__ = (
        Index("ix_unlock_tickets_society_status", "society", "status"),
        Index(
            "uq_unlock_tickets_one_open", "society", "claimed_user_id", unique=True,
            sqlite_where=OPEN_TICKET_WHERE, postgresql_where=OPEN_TICKET_WHERE,
        ),
    )

    id = Column(String(16), primary_key=True)  # "UL-7F3K9Q"
    society = Column(String(32), nullable=False)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    claimed_user_id = Column(String(64), nullable=False)
    identity_verified = Column(Boolean, nullable=False)
    status = Column(String(8), nullable=False, default="open")  # open | closed
    resolution = Column(String(16), nullable=True)  # unlocked | rejected
    created_at = Column(UTCDateTime, nullable=False)
    closed_at = Column(UTCDateTime, nullable=True)
    closed_by = Column(String(64), nullable=True)
    opened_by = Column(String(64), nullable=True)  # digest of the member id; None: no member named
    account = relationship(Account)


class RateBucket(Base):
    """GCRA state for one rate-limit key: the theoretical arrival time, in epoch seconds."""

    __tablename__ = "rate_buckets"

    key = Column(String(96), primary_key=True)
    tat = Column(Float, nullable=False)


class AuditEvent(Base):
    """One helpdesk or admin API call; never a code, token, password or birth date."""

    __tablename__ = "audit_events"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    endpoint = Column(String(64), nullable=False)
    society = Column(String(32), nullable=True)
    client = Column(String(64), nullable=True)
    conversation = Column(String(16), nullable=True)  # digest prefix of the member id, not the id
    subject = Column(String(128), nullable=True)  # user ID or masked email
    status = Column(Integer, nullable=False)
    outcome = Column(String(48), nullable=False)

"""Unlock tickets: opening one per user ID, telling its status to its opener, closing it.

Like :mod:`dev.portal.services`, plain functions over one database session,
run by the app (or the CLI) inside one transaction; mail is returned, never sent here.

- One ticket is open per society and user ID asked about (known or not,
  matching or not), so the answer never depends on the birth date; the
  partial unique index ``uq_unlock_tickets_one_open`` (migration 0002) holds
  it under concurrent requests too.
- The member that opened a ticket is kept as a digest of the signed member id
  (``opened_by``); only that member is told the ticket's status. A request
  whose birth date matches a ticket that did not match takes the ticket over:
  it becomes the one member told its status, and whoever opened it with a
  wrong birth date is no longer told anything (not even when it is unlocked).
- The owner is mailed at their verified address when a ticket opens and when
  staff close it.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.portal_contract import SOCIETY_FIELD
from bot.domain.societies import SocietyRegistry
from dev.portal import mail
from dev.portal.errors import ApiError
from dev.portal.models import Account, UnlockTicket
from dev.portal.security import constant_time_equals, digest, new_ticket_id
from dev.portal.services import Ctx, find_account, unlock


def member_tag(member_id: str | None) -> str | None:
    """What a ticket keeps of the member that opened it: a digest of the signed member id."""
    return digest(member_id) if member_id else None


def ticket_json(ticket: UnlockTicket) -> dict[str, Any]:
    """What the helpdesk API shows of a ticket; never whether the identity matched."""
    return {
        "ticket_id": ticket.id,
        SOCIETY_FIELD: ticket.society,
        "status": ticket.status,
        "resolution": ticket.resolution,
        "created_at": ticket.created_at.isoformat(),
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
    }


def admin_ticket_json(session: Session, ticket: UnlockTicket) -> dict[str, Any]:
    account = session.get(Account, ticket.account_id) if ticket.account_id else None
    return {
        **ticket_json(ticket),
        "claimed_user_id": ticket.claimed_user_id,
        "identity_verified": ticket.identity_verified,
        "account_user_id": account.user_id if account else None,
        "account_locked": bool(account and account.locked),
        "closed_by": ticket.closed_by,
    }


def _open_ticket_of(session: Session, society: str, user_id: str) -> UnlockTicket | None:
    return session.execute(
        select(UnlockTicket)
        .where(
            UnlockTicket.society == society,
            UnlockTicket.claimed_user_id == user_id,
            UnlockTicket.status == "open",
        )
        .with_for_update()
    ).scalar_one_or_none()


def _mail_address(account: Account | None) -> str | None:
    if account is None or not account.email or not account.email_verified:
        return None
    return account.email


def open_unlock_ticket(
    session: Session,
    ctx: Ctx,
    society: str,
    user_id: str,
    birth_date: dt.date,
    opened_by: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Opens a ticket whether or not the identity matches; staff see which it was.

    A second request for the user ID gets the open ticket back with
    ``already_open``, and the ticket keeps the member that opened it
    (``opened_by``, :func:`member_tag`), who alone is told its status. One
    whose birth date matches a ticket that did not match marks it verified and
    takes it over: ``opened_by`` becomes that member (None when the request
    named none), since a wrong birth date proved nothing and its sender must
    not learn when the owner's account is unlocked. Once verified, a ticket
    stays with the member that verified it (or opened it verified).
    """
    account = find_account(session, society, user_id)
    verified = account is not None and account.birth_date == birth_date
    existing = _open_ticket_of(session, society, user_id)
    if existing is None:
        ticket = _new_ticket(session, ctx, society, user_id, account if verified else None, opened_by)
        try:
            with session.begin_nested():
                session.add(ticket)
                session.flush()
        except IntegrityError:
            # Another request opened one between our look and our insert (PostgreSQL).
            existing = _open_ticket_of(session, society, user_id)
            if existing is None:
                raise ApiError(503, "unavailable", "please try again") from None
        else:
            address = _mail_address(account)
            if address:
                t = ctx.society(society)
                ctx.mails.append(mail.unlock_ticket_opened_message(t, ctx.settings.mail_sender, address, ticket.id))
            outcome = "verified" if verified else ("birth_date_mismatch" if account else "unknown_account")
            return {**ticket_json(ticket), "already_open": False}, outcome
    if verified and account is not None and not existing.identity_verified:
        existing.identity_verified = True
        existing.account_id = account.id
        existing.opened_by = opened_by
        return {**ticket_json(existing), "already_open": True}, "already_open:now_verified"
    return {**ticket_json(existing), "already_open": True}, "already_open"


def _new_ticket(
    session: Session, ctx: Ctx, society: str, user_id: str, account: Account | None, opened_by: str | None
) -> UnlockTicket:
    for _ in range(8):
        ticket_id = new_ticket_id()
        if session.get(UnlockTicket, ticket_id) is None:
            break
    else:  # pragma: no cover - 8 collisions in a space of 10^9
        raise ApiError(503, "unavailable", "please try again")
    return UnlockTicket(
        id=ticket_id,
        society=society,
        account_id=account.id if account else None,
        claimed_user_id=user_id,
        identity_verified=account is not None,
        status="open",
        created_at=ctx.now,
        opened_by=opened_by,
    )


def get_ticket(session: Session, society: str | None, ticket_id: str) -> UnlockTicket | None:
    ticket = session.get(UnlockTicket, ticket_id)
    if ticket is None or (society is not None and ticket.society != society):
        return None
    return ticket


def told_to(ticket: UnlockTicket | None, member: str | None) -> bool:
    """Whether ``member`` (a signed member id) holds ``ticket``; only they are told its status.

    The holder opened it, or took it over by verifying it (:func:`open_unlock_ticket`).

    Compared in constant time whatever was found, so another member's ticket
    takes as long to refuse as a number that does not exist.
    """
    tag = member_tag(member) or ""
    opener = (ticket.opened_by if ticket is not None else None) or ""
    same = constant_time_equals(opener.ljust(64, "-"), tag.ljust(64, "-"))
    return ticket is not None and bool(tag) and same


def list_tickets(session: Session, society: str | None = None, status: str | None = None) -> list[UnlockTicket]:
    query = select(UnlockTicket).order_by(UnlockTicket.created_at, UnlockTicket.id)
    if society:
        query = query.where(UnlockTicket.society == society)
    if status:
        query = query.where(UnlockTicket.status == status)
    return list(session.execute(query).scalars())


class TicketError(Exception):
    """A ticket cannot be resolved as asked; the message is for staff."""


def resolve_ticket(session: Session, now: dt.datetime, ticket_id: str, by: str) -> UnlockTicket:
    """Unlocks the account of a verified ticket and closes it."""
    ticket = _open_ticket(session, ticket_id)
    if not ticket.identity_verified or ticket.account_id is None:
        raise TicketError(
            f"ticket {ticket_id}: user ID and birth date did not match an account; reject it instead"
        )
    account = session.get(Account, ticket.account_id, with_for_update=True)
    if account is None:
        raise TicketError(f"ticket {ticket_id}: the account no longer exists; reject it instead")
    unlock(account, now)
    return _close(ticket, "unlocked", now, by)


def reject_ticket(session: Session, now: dt.datetime, ticket_id: str, by: str) -> UnlockTicket:
    """Closes a ticket without unlocking anything."""
    return _close(_open_ticket(session, ticket_id), "rejected", now, by)


def _open_ticket(session: Session, ticket_id: str) -> UnlockTicket:
    """The open ticket ``ticket_id``, locked for update, or TicketError."""
    ticket = session.get(UnlockTicket, ticket_id, with_for_update=True)
    if ticket is None:
        raise TicketError(f"no ticket {ticket_id}")
    if ticket.status != "open":
        raise TicketError(f"ticket {ticket_id} is already closed ({ticket.resolution})")
    return ticket


def _close(ticket: UnlockTicket, resolution: str, now: dt.datetime, by: str) -> UnlockTicket:
    ticket.status = "closed"
    ticket.resolution = resolution
    ticket.closed_at = now
    ticket.closed_by = by[:64]
    return ticket


def closed_ticket_mail(
    session: Session, registry: SocietyRegistry, sender: str | None, ticket: UnlockTicket
) -> EmailMessage | None:
    """The mail telling the owner how their ticket ended, or None (no such account, no verified address).

    The owner is the verified account, else the account of the user ID asked
    about: a member whose birth date did not match still hears that nothing
    was unlocked, at the address they registered (never at one typed in chat).
    """
    account = session.get(Account, ticket.account_id) if ticket.account_id else None
    if account is None:
        account = find_account(session, ticket.society, ticket.claimed_user_id)
    address = _mail_address(account)
    society = registry.get(ticket.society)
    if address is None or society is None:
        return None
    return mail.unlock_ticket_closed_message(society, sender, address, ticket.id, ticket.resolution == "unlocked")

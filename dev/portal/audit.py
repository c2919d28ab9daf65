"""The audit trail of helpdesk and admin API calls.

One row per call in ``audit_events`` and one JSON line on the
``kosmo.portal.audit`` logger. What is recorded: when, which endpoint, the
society, the caller's address, a digest prefix of the member id (the signed
``X-Kosmo-Member`` header, stored in the ``conversation`` column; the log line
also has one of the origin, ``X-Kosmo-Origin``), the
subject (user ID, or a masked email), the HTTP status and an outcome word
for staff ("sent", "unknown_account", ...). What is never recorded: codes,
tokens, passwords, birth dates, full email addresses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dev.portal.models import AuditEvent
from dev.portal.security import digest

logger = logging.getLogger("kosmo.portal.audit")


def mask_email(address: str) -> str:
    """``hanako.kenpo@example.com`` → ``h***@example.com``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def member_tag(member: str | None) -> str | None:
    return digest(member)[:12] if member else None


@dataclass
class AuditRecord:
    endpoint: str
    society: str | None = None
    client: str | None = None
    member: str | None = None
    origin: str | None = None
    subject: str | None = None
    status: int = 0
    outcome: str = ""


def write(session: Session, record: AuditRecord, now: dt.datetime) -> None:
    session.add(
        AuditEvent(
            at=now,
            endpoint=record.endpoint,
            society=record.society,
            client=(record.client or "")[:64] or None,
            conversation=member_tag(record.member),
            subject=(record.subject or "")[:128] or None,
            status=record.status,
            outcome=record.outcome[:48] or "-",
        )
    )
    logger.info(
        json.dumps(
            {
                "at": now.isoformat(),
                "endpoint": record.endpoint,
                "society": record.society,
                "client": record.client,
                "member": member_tag(record.member),
                "origin": member_tag(record.origin),
                "subject": record.subject,
                "status": record.status,
                "outcome": record.outcome,
            },
            ensure_ascii=False,
        )
    )


def recent(session: Session, limit: int = 50) -> list[AuditEvent]:
    return list(
        session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).scalars()
    )

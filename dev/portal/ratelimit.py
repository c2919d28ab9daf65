"""Rate limits kept in the database, so every portal process shares them.

Each key (endpoint + scope + value) follows the generic cell rate algorithm:
one stored number, the *theoretical arrival time*. A rule of N requests per
T seconds lets a burst of N through, then one every T/N seconds, and tells a
refused caller exactly how long to wait (the ``Retry-After`` header).
Keys for user IDs and emails are digests, so the table never holds an
address somebody merely typed, and unknown accounts are limited exactly like
known ones.

A key's row is created (``INSERT ... ON CONFLICT DO NOTHING``) before it is
locked, so two first requests for one key at the same moment on PostgreSQL
queue on the row instead of both inserting it (on SQLite transactions are
serialised anyway).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dev.portal.models import RateBucket
from dev.portal.security import digest
from dev.portal.settings import RateRule


@dataclass(frozen=True)
class RateCheck:
    endpoint: str
    scope: str
    value: str


class RateLimited(Exception):
    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(f"rate limited ({scope}); retry after {retry_after}s")
        self.retry_after = retry_after
        self.scope = scope


def bucket_key(check: RateCheck) -> str:
    return f"{check.endpoint}:{check.scope}:{digest(check.value)[:40]}"


def consume(
    session: Session,
    checks: list[RateCheck],
    rules: Mapping[tuple[str, str], RateRule],
    now: dt.datetime,
) -> None:
    """Count one request against every check, or raise RateLimited without counting any.

    All checks are evaluated first so a refused request does not use up the
    budget of the scopes that still had room.
    """
    t = now.timestamp()
    updates: list[tuple[RateBucket | None, str, float]] = []
    worst = 0.0
    worst_scope = ""
    for check in checks:
        rule = rules.get((check.endpoint, check.scope))
        if rule is None:
            continue
        key = bucket_key(check)
        interval = rule.period / rule.limit
        _ensure_row(session, key, t)
        bucket = session.execute(
            select(RateBucket).where(RateBucket.key == key).with_for_update()
        ).scalar_one_or_none()
        tat = max(bucket.tat if bucket else t, t)
        new_tat = tat + interval
        allow_at = new_tat - rule.period
        if t < allow_at:
            if allow_at - t > worst:
                worst, worst_scope = allow_at - t, check.scope
            continue
        updates.append((bucket, key, new_tat))
    if worst > 0:
        raise RateLimited(max(1, math.ceil(worst)), worst_scope)
    for bucket, key, new_tat in updates:
        if bucket is None:
            session.add(RateBucket(key=key, tat=new_tat))
        else:
            bucket.tat = new_tat


def _ensure_row(session: Session, key: str, t: float) -> None:
    """A row for ``key`` (a fresh one behaves like none: ``tat`` = now), so it can be locked."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is not None:
        session.execute(insert(RateBucket).values(key=key, tat=t).on_conflict_do_nothing(index_elements=["key"]))


def prune(session: Session, now: dt.datetime) -> int:
    """Drop buckets whose state has fully drained (they behave like absent rows)."""
    result = session.execute(delete(RateBucket).where(RateBucket.tat < now.timestamp()))
    return int(result.rowcount or 0)

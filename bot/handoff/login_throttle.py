"""Failed console logins: slow guessers down without letting strangers lock agents out.

A single counter per login name (the console's first design) let anyone lock a
real agent out: five wrong passwords for ``sato``, from anywhere, and Sato could
not log in for 15 minutes. The counters here are kept per *client* (the address
the login came from, see :class:`ClientAddresses`) first:

``client``  every failure from one client, whatever login it tried: 10 within
            15 minutes and that client is refused for 15 minutes, for every login;
``pair``    failures for one login from one client: 5 within 15 minutes and that
            login is refused from that client for 15 minutes (other clients, the
            real agent's among them, are not affected);
``login``   failures for one login from all clients together: 20 within 15
            minutes (a guesser with many addresses) and for 15 minutes the login
            is *guarded*: only clients it logged in from in the last 30 days may
            try it (still under the two limits above); others are refused.

A refused attempt is answered without checking the password and counts nowhere,
so a throttled client adds nothing to any login's counters. Attempts are counted
*before* the password is checked (:meth:`LoginThrottle.begin`) and a success takes
its own count back (:meth:`LoginThrottle.succeeded`), so many requests sent at
once get no more guesses than requests sent one by one. Unknown login names are
counted and refused exactly like real ones, so the answers say nothing about
which logins exist.

What this gives against a guesser with many addresses: at most 20 wrong
passwords per login per 15 minutes (then 15 minutes of guard), whatever the
number of addresses; an IPv6 client is its /64 network, the block one subscriber
gets. What it costs the real agent: nothing from their usual client; from a new
address, only while their login is guarded. Clients behind one NAT share their
counters; behind a reverse proxy every client is the proxy unless
``KOSMO_CLIENT_IP_HEADER`` names the header the proxy sets
(:class:`bot.client_address.ClientAddresses`).

The counters live in the handoff database (``handoff_login_counters``), so every
process serving the console shares them; each counting transaction deletes the
rows whose ``expires_at`` has passed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, TypeVar, Union

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.handoff.models import login_counters_table
from bot.handoff.store_agents import normalise_login
from bot.handoff.store_core import WRITE_OPTION, utc_now

T = TypeVar("T")

SCOPE_CLIENT = "client"
SCOPE_PAIR = "pair"
SCOPE_LOGIN = "login"

# why an attempt was refused (Refusal.reason)
REFUSED_CLIENT = "client"  # this client failed too often
REFUSED_LOGIN = "login"  # this login failed too often from this client
REFUSED_GUARD = "guard"  # this login is guarded and this client is not one it used


# -- the counters ------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleLimits:
    """How many failures within ``window`` start a block of ``block`` (see the module)."""

    client_failures: int = 10
    pair_failures: int = 5
    login_failures: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)
    block: dt.timedelta = dt.timedelta(minutes=15)
    known_client_for: dt.timedelta = dt.timedelta(days=30)

    def __post_init__(self) -> None:
        if min(self.client_failures, self.pair_failures, self.login_failures) < 1:
            raise ValueError("failure limits must be at least 1")

    def limit(self, scope: str) -> int:
        return {
            SCOPE_CLIENT: self.client_failures,
            SCOPE_PAIR: self.pair_failures,
            SCOPE_LOGIN: self.login_failures,
        }[scope]


@dataclass(frozen=True)
class Attempt:
    """An attempt let through and counted; ``started`` are the blocks its count began."""

    login: str
    client: str
    at: dt.datetime
    started: Mapping[str, dt.datetime]


@dataclass(frozen=True)
class Refusal:
    """An attempt that is not let through: ``reason`` (``REFUSED_*``) until ``until``."""

    reason: str
    until: dt.datetime

    def seconds_left(self, now: dt.datetime) -> int:
        return max(1, math.ceil((self.until - now).total_seconds()))

    def message(self, now: dt.datetime) -> str:
        """What the login page says (the same for logins that exist and those that do not)."""
        minutes = f"約{max(1, math.ceil(self.seconds_left(now) / 60))}分"
        if self.reason == REFUSED_CLIENT:
            return (
                "この接続元からのログインの失敗が続いたため、しばらくログインできません。"
                f"{minutes}後にもう一度お試しください。"
            )
        if self.reason == REFUSED_GUARD:
            return (
                "このIDへのログインの失敗が多くの接続元から続いているため、"
                "いつもと違う接続元からはしばらくログインできません。"
                "いつもお使いの端末・ネットワークからログインするか、"
                f"{minutes}後にもう一度お試しください。"
            )
        return (
            "ログインに続けて失敗したため、このIDはこの接続元からしばらくログインできません。"
            f"{minutes}後にもう一度お試しください。"
        )


def _pair(login: str, client: str) -> str:
    return f"{login}|{client}"  # a client key never contains "|"


class LoginThrottle:
    """The three counters in the handoff database; ``clock`` returns aware UTC now."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], dt.datetime] = utc_now,
        limits: ThrottleLimits = ThrottleLimits(),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.limits = limits

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware times")
        return now.astimezone(dt.timezone.utc)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """One write transaction; again if a row it meant to insert appeared meanwhile
        (PostgreSQL locks no row that does not exist yet: two first failures of one
        client at once both insert; the loser counts on the winner's row)."""
        for attempt in range(3):
            try:
                with self.engine.connect() as conn:
                    conn = conn.execution_options(**{WRITE_OPTION: True})
                    with conn.begin():
                        return fn(conn)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _row(conn: Connection, scope: str, subject: str) -> Optional[Row]:
        t = login_counters_table
        return conn.execute(
            select(t).where(and_(t.c.scope == scope, t.c.subject == subject)).with_for_update()
        ).first()

    def _expires(
        self,
        window_start: Optional[dt.datetime],
        blocked_until: Optional[dt.datetime],
        last_success: Optional[dt.datetime],
        now: dt.datetime,
    ) -> dt.datetime:
        ends = [now]
        if window_start is not None:
            ends.append(window_start + self.limits.window)
        if blocked_until is not None:
            ends.append(blocked_until)
        if last_success is not None:
            ends.append(last_success + self.limits.known_client_for)
        return max(ends)

    def _count(
        self, conn: Connection, scope: str, subject: str, row: Optional[Row], now: dt.datetime
    ) -> Optional[dt.datetime]:
        """One more failure in the counter; the end of the block it starts, if it starts one.

        A block that is on already (a guarded login, tried from a client it knows) stays
        as it is; one that is over, or a window that has passed, starts a new count.
        """
        t = login_counters_table
        limit = self.limits.limit(scope)
        failures, start, last_success, blocked_until = 0, now, None, None
        if row is not None:
            last_success = row.last_success
            if row.blocked_until is not None and row.blocked_until > now:
                blocked_until = row.blocked_until
            block_over = row.blocked_until is not None and row.blocked_until <= now
            window_over = row.window_start is None or now - row.window_start >= self.limits.window
            if not (block_over or window_over):
                failures, start = row.failures, row.window_start
        failures += 1
        started = None
        if blocked_until is None and failures >= limit:
            blocked_until = started = now + self.limits.block
        values = {
            "failures": failures,
            "window_start": start,
            "blocked_until": blocked_until,
            "expires_at": self._expires(start, blocked_until, last_success, now),
        }
        if row is None:
            conn.execute(insert(t).values(scope=scope, subject=subject, **values))
        else:
            conn.execute(
                update(t).where(and_(t.c.scope == scope, t.c.subject == subject)).values(**values)
            )
        return started

    def _known(self, pair_row: Optional[Row], now: dt.datetime) -> bool:
        last = pair_row.last_success if pair_row is not None else None
        return last is not None and now - last < self.limits.known_client_for

    def begin(self, login: str, client: str) -> Union[Attempt, Refusal]:
        """Before checking a password: a :class:`Refusal`, or the :class:`Attempt`,
        counted as a failure already (hand it to :meth:`succeeded` if the password was right)."""
        login = normalise_login(login)
        now = self._now()
        t = login_counters_table

        def work(conn: Connection) -> Union[Attempt, Refusal]:
            conn.execute(delete(t).where(t.c.expires_at <= now))
            rows = {
                SCOPE_CLIENT: (client, self._row(conn, SCOPE_CLIENT, client)),
                SCOPE_PAIR: (
                    _pair(login, client),
                    self._row(conn, SCOPE_PAIR, _pair(login, client)),
                ),
                SCOPE_LOGIN: (login, self._row(conn, SCOPE_LOGIN, login)),
            }

            def blocked(scope: str) -> Optional[dt.datetime]:
                row = rows[scope][1]
                until = row.blocked_until if row is not None else None
                return until if until is not None and until > now else None

            for scope, reason in ((SCOPE_CLIENT, REFUSED_CLIENT), (SCOPE_PAIR, REFUSED_LOGIN)):
                until = blocked(scope)
                if until is not None:
                    return Refusal(reason, until)
            guarded = blocked(SCOPE_LOGIN)
            if guarded is not None and not self._known(rows[SCOPE_PAIR][1], now):
                return Refusal(REFUSED_GUARD, guarded)
            started = {}
            for scope, (subject, row) in rows.items():
                until = self._count(conn, scope, subject, row, now)
                if until is not None:
                    started[scope] = until
            return Attempt(login, client, now, started)

        return self._write(work)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: take back what :meth:`begin` counted (and a block that
        count began), clear the client's failures for the login and remember that the
        login was used from this client."""
        login, client = attempt.login, attempt.client
        now = self._now()
        t = login_counters_table

        def work(conn: Connection) -> None:
            for scope, subject in ((SCOPE_CLIENT, client), (SCOPE_LOGIN, login)):
                row = self._row(conn, scope, subject)
                if row is None or row.window_start is None or row.window_start > attempt.at:
                    continue  # counted in a window that is gone already
                failures = max(0, row.failures - 1)
                blocked_until = row.blocked_until
                if (
                    blocked_until is not None
                    and blocked_until == attempt.started.get(scope)
                    and failures < self.limits.limit(scope)
                ):
                    blocked_until = None
                conn.execute(
                    update(t)
                    .where(and_(t.c.scope == scope, t.c.subject == subject))
                    .values(
                        failures=failures,
                        blocked_until=blocked_until,
                        expires_at=self._expires(row.window_start, blocked_until, None, now),
                    )
                )
            subject = _pair(login, client)
            values = {
                "failures": 0,
                "window_start": None,
                "blocked_until": None,
                "last_success": now,
                "expires_at": self._expires(None, None, now, now),
            }
            if self._row(conn, SCOPE_PAIR, subject) is None:
                conn.execute(insert(t).values(scope=SCOPE_PAIR, subject=subject, **values))
            else:
                conn.execute(
                    update(t)
                    .where(and_(t.c.scope == SCOPE_PAIR, t.c.subject == subject))
                    .values(**values)
                )

        self._write(work)

    def rows(self) -> int:
        """How many counter rows there are (for tests and the curious operator)."""
        with self.engine.connect() as conn:
            with conn.begin():
                return int(
                    conn.execute(
                        select(func.count()).select_from(login_counters_table)
                    ).scalar_one()
                )

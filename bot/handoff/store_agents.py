"""Helpdesk agents and their console sessions: logins, scrypt passwords, session tokens.

:class:`AgentAccounts` is the part of :class:`bot.handoff.store.HandoffStore` that
creates, lists, authenticates and deactivates agents and starts and ends their
console sessions. A password is stored only as a scrypt hash, a session token
only as its SHA-256 hash; :func:`normalise_login` is the one form of a login,
for the store and for the failed-login counters (``bot.handoff.login_throttle``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from typing import Optional

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from bot.handoff.models import Agent, agents_table, sessions_table
from bot.handoff.passwords import ScryptParams, hash_password, verify_password
from bot.handoff.store_core import StoreCore
from bot.handoff.store_errors import (
    AgentExists,
    AgentNotFound,
    InvalidValue,
    UnknownSociety,
    WeakPassword,
)

MIN_PASSWORD_LENGTH = 12
DEFAULT_SESSION_LIFETIME = dt.timedelta(hours=8)
_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


MAX_LOGIN_LENGTH = 64  # agents.login; _LOGIN_RE allows no longer one


def normalise_login(login: str) -> str:
    """A login as agents are created and looked up, and as failed logins are counted
    (``bot.handoff.login_throttle``): trimmed, lower case, ``""`` for a non-string.

    A login longer than any agent's is cut to one character more (65), so it still
    names no agent (and is refused at creation) while its counter keys stay bounded.
    """
    return (login.strip().lower() if isinstance(login, str) else "")[: MAX_LOGIN_LENGTH + 1]


def _agent(row: Row) -> Agent:
    m = row._mapping
    return Agent(
        id=m["id"],
        society=m["society"],
        login=m["login"],
        display_name=m["display_name"],
        active=bool(m["active"]),
        created_at=m["created_at"],
    )


class AgentAccounts(StoreCore):
    """Agents and console sessions (attributes set by ``HandoffStore.__init__``)."""

    known_societies: Optional[frozenset[str]]
    password_params: ScryptParams
    session_lifetime: dt.timedelta
    _dummy_hash: Optional[str]
    _dummy_lock: threading.Lock

    # -- agents -----------------------------------------------------------------

    def _check_password(self, password: str) -> None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")

    def create_agent(self, society: str, login: str, password: str, display_name: str) -> Agent:
        """A new active agent; the password is stored only as a scrypt hash."""
        if self.known_societies is not None and society not in self.known_societies:
            raise UnknownSociety(society)
        login = normalise_login(login)
        if not _LOGIN_RE.match(login):
            raise InvalidValue("login: 2-64 of a-z 0-9 . _ -, starting with a letter or digit")
        display_name = (display_name or "").strip()
        if not 1 <= len(display_name) <= 100:
            raise InvalidValue("display name: 1-100 characters")
        self._check_password(password)
        password_hash = hash_password(password, self.password_params)

        def work(conn: Connection) -> Agent:
            if conn.execute(select(agents_table.c.id).where(agents_table.c.login == login)).first():
                raise AgentExists(login)
            result = conn.execute(
                insert(agents_table).values(
                    society=society,
                    login=login,
                    display_name=display_name,
                    password_hash=password_hash,
                    active=True,
                    created_at=self._now(),
                )
            )
            row = conn.execute(
                select(agents_table).where(agents_table.c.id == result.inserted_primary_key[0])
            ).one()
            return _agent(row)

        try:
            return self._write(work)
        except IntegrityError as e:
            raise AgentExists(login) from e

    def agents(self, society: Optional[str] = None) -> list[Agent]:
        def work(conn: Connection) -> list[Agent]:
            query = select(agents_table).order_by(agents_table.c.society, agents_table.c.login)
            if society is not None:
                query = query.where(agents_table.c.society == society)
            return [_agent(r) for r in conn.execute(query)]

        return self._read(work)

    def agent_by_login(self, login: str) -> Optional[Agent]:
        login = normalise_login(login)
        row = self._read(
            lambda conn: conn.execute(
                select(agents_table).where(agents_table.c.login == login)
            ).first()
        )
        return _agent(row) if row is not None else None

    def _dummy(self) -> str:
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_urlsafe(16), self.password_params)
            return self._dummy_hash

    def authenticate(self, login: str, password: str) -> Optional[Agent]:
        """The active agent with this login and password, else None.

        Unknown and inactive logins spend the same hashing time as a real check,
        so timing does not tell which logins exist.
        """
        login = normalise_login(login)
        row = self._read(
            lambda conn: conn.execute(
                select(agents_table).where(agents_table.c.login == login)
            ).first()
        )
        stored = row._mapping["password_hash"] if row is not None else self._dummy()
        ok = verify_password(password if isinstance(password, str) else "", stored)
        if row is None or not ok or not row._mapping["active"]:
            return None
        return _agent(row)

    def set_password(self, login: str, password: str) -> None:
        """A new password; the agent's console sessions end."""
        self._check_password(password)
        password_hash = hash_password(password, self.password_params)
        login = normalise_login(login)

        def work(conn: Connection) -> None:
            agent_id = conn.execute(
                select(agents_table.c.id).where(agents_table.c.login == login)
            ).scalar_one_or_none()
            if agent_id is None:
                raise AgentNotFound(login)
            conn.execute(
                update(agents_table)
                .where(agents_table.c.id == agent_id)
                .values(password_hash=password_hash)
            )
            conn.execute(delete(sessions_table).where(sessions_table.c.agent_id == agent_id))

        self._write(work)

    def deactivate(self, login: str) -> Agent:
        """The agent can no longer log in; open console sessions end now."""
        login = normalise_login(login)

        def work(conn: Connection) -> Agent:
            agent_id = conn.execute(
                select(agents_table.c.id).where(agents_table.c.login == login)
            ).scalar_one_or_none()
            if agent_id is None:
                raise AgentNotFound(login)
            conn.execute(
                update(agents_table).where(agents_table.c.id == agent_id).values(active=False)
            )
            conn.execute(delete(sessions_table).where(sessions_table.c.agent_id == agent_id))
            return _agent(
                conn.execute(select(agents_table).where(agents_table.c.id == agent_id)).one()
            )

        return self._write(work)

    # -- sessions ---------------------------------------------------------------

    def start_session(self, agent: Agent) -> tuple[str, str]:
        """A new console session: (cookie token, CSRF token). Only the token's hash is stored."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._now()

        def work(conn: Connection) -> None:
            conn.execute(delete(sessions_table).where(sessions_table.c.expires_at <= now))
            conn.execute(
                insert(sessions_table).values(
                    token_hash=_token_hash(token),
                    agent_id=agent.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + self.session_lifetime,
                )
            )

        self._write(work)
        return token, csrf

    def session(self, token: str) -> Optional[tuple[Agent, str]]:
        """(agent, CSRF token) of a live session; None when unknown, expired or the agent is inactive."""
        if not token or not isinstance(token, str) or len(token) > 200:
            return None
        now = self._now()

        def work(conn: Connection) -> Optional[tuple[Agent, str]]:
            row = conn.execute(
                select(agents_table, sessions_table.c.csrf_token)
                .select_from(
                    sessions_table.join(
                        agents_table, agents_table.c.id == sessions_table.c.agent_id
                    )
                )
                .where(
                    and_(
                        sessions_table.c.token_hash == _token_hash(token),
                        sessions_table.c.expires_at > now,
                        agents_table.c.active.is_(True),
                    )
                )
            ).first()
            if row is None:
                return None
            return _agent(row), row._mapping["csrf_token"]

        return self._read(work)

    def end_session(self, token: str) -> None:
        if not token:
            return
        self._write(
            lambda conn: conn.execute(
                delete(sessions_table).where(sessions_table.c.token_hash == _token_hash(token))
            )
        )

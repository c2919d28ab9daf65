"""The handoff store: conversations handed to people, their messages, agents and sessions.

One :class:`HandoffStore` per process, built from a URL (``from_env`` reads
``KOSMO_HANDOFF_DB_URL``) and handed to whoever needs it. The Rasa server (the
console, the gate that keeps the bot silent) and the action server (opening a
handoff) share the database, so every method is one short transaction and
SQLite runs in WAL mode with a busy timeout; writes start with
``BEGIN IMMEDIATE`` so read-check-write steps (take, open) never lose updates.

Methods are synchronous; from async code call them through :meth:`HandoffStore.run`
(``await store.run(store.take, handoff_id, agent)``), which runs them in a worker
thread so neither SQLite nor scrypt blocks the event loop.

Errors (all :class:`HandoffError`)::

    HandoffError
    ├── HandoffNotFound     no such handoff, or one of another society
    ├── HandoffClosed       the handoff has ended (returned, closed, left)
    ├── NotAssigned         an agent acts on a handoff another agent holds (or nobody)
    ├── AgentExists         the login is taken
    ├── AgentNotFound       no agent with that login
    ├── UnknownSociety      not one of the known societies
    ├── InvalidValue        a malformed login, name, channel, author, ...
    └── WeakPassword        shorter than 12 characters
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import (
    Any,
    Callable,
    Collection,
    Mapping,
    Optional,
    ParamSpec,
    TypeVar,
    Union,
)

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from bot import sql
from bot.handoff.models import (
    AUTHORS,
    CHANNELS,
    OPEN_STATUSES,
    STATUS_ACTIVE,
    STATUS_CLOSED,
    STATUS_LEFT,
    STATUS_QUEUED,
    STATUS_RETURNED,
    Agent,
    Handoff,
    Message,
    agents_table,
    handoffs_table,
    messages_table,
    metadata,
    sessions_table,
)
from bot.handoff.passwords import DEFAULT_PARAMS, ScryptParams, hash_password, verify_password
from bot.masking import mask_text

P = ParamSpec("P")
T = TypeVar("T")

DB_URL_ENV = "KOSMO_HANDOFF_DB_URL"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "handoff.db"

MIN_PASSWORD_LENGTH = 12
DEFAULT_SESSION_LIFETIME = dt.timedelta(hours=8)
_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class HandoffError(Exception):
    """Base of everything the store refuses."""


class HandoffNotFound(HandoffError):
    """No such handoff (or it belongs to another society than the agent's)."""


class HandoffClosed(HandoffError):
    """The handoff has ended; nobody can take it or write to it any more."""


class NotAssigned(HandoffError):
    """The agent does not hold this handoff (take it first)."""


class AgentExists(HandoffError):
    """An agent with this login exists already."""


class AgentNotFound(HandoffError):
    """No agent with this login."""


class UnknownSociety(HandoffError):
    """The society is not one of those the store was told about."""


class InvalidValue(HandoffError):
    """A value of the wrong form (login, display name, channel, author, text)."""


class WeakPassword(HandoffError):
    """The password is too short."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def default_db_url() -> str:
    return f"sqlite:///{DEFAULT_DB_PATH}"


# connections that write begin with BEGIN IMMEDIATE (bot.sql.make_engine)
WRITE_OPTION = "handoff_write"


def make_engine(url: str) -> Engine:
    """A 2.0-style engine; SQLite gets WAL, a 15 s busy timeout and ``BEGIN IMMEDIATE`` for writes."""
    return sql.make_engine(url, write_option=WRITE_OPTION)


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


def _packet(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_h = handoffs_table.c
_assigned = agents_table.alias("assigned_agent")
_HANDOFF_SELECT = select(
    handoffs_table, _assigned.c.display_name.label("assigned_agent_name")
).select_from(handoffs_table.outerjoin(_assigned, _assigned.c.id == _h.assigned_agent_id))
_author_agent = agents_table.alias("author_agent")
_MESSAGE_SELECT = select(
    messages_table, _author_agent.c.display_name.label("agent_name")
).select_from(
    messages_table.outerjoin(_author_agent, _author_agent.c.id == messages_table.c.agent_id)
)


def _handoff(row: Row) -> Handoff:
    m = row._mapping
    return Handoff(
        id=m["id"],
        conversation_id=m["conversation_id"],
        society=m["society"],
        channel=m["channel"],
        status=m["status"],
        reason=m["reason"],
        packet=_packet(m["packet"]),
        created_at=m["created_at"],
        assigned_agent_id=m["assigned_agent_id"],
        assigned_agent_name=m["assigned_agent_name"],
        assigned_at=m["assigned_at"],
        ended_at=m["ended_at"],
        solved=m["solved"],
        wait_notified_at=m["wait_notified_at"],
    )


def _message(row: Row) -> Message:
    m = row._mapping
    return Message(
        id=m["id"],
        handoff_id=m["handoff_id"],
        author=m["author"],
        text=m["text"],
        created_at=m["created_at"],
        agent_id=m["agent_id"],
        agent_name=m["agent_name"],
    )


class HandoffStore:
    """Handoffs, their messages, agents and console sessions in one SQL database.

    ``clock`` returns aware UTC now (tests move it); ``known_societies``, when
    given, is what ``create_agent`` and ``open`` accept; ``password_params`` are
    the scrypt costs of new hashes.
    """

    def __init__(
        self,
        engine_or_url: Union[Engine, str],
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        known_societies: Optional[Collection[str]] = None,
        password_params: ScryptParams = DEFAULT_PARAMS,
        session_lifetime: dt.timedelta = DEFAULT_SESSION_LIFETIME,
    ) -> None:
        self.engine = (
            make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        )
        self.clock = clock
        self.known_societies = frozenset(known_societies) if known_societies is not None else None
        self.password_params = password_params
        self.session_lifetime = session_lifetime
        self._dummy_hash: Optional[str] = None
        self._dummy_lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **kwargs: Any) -> "HandoffStore":
        """The store at ``$KOSMO_HANDOFF_DB_URL`` (default ``var/handoff.db`` in the project)."""
        env = os.environ if environ is None else environ
        return cls(env.get(DB_URL_ENV) or default_db_url(), **kwargs)

    def create_schema(self) -> None:
        """Create the tables that are missing (safe to call at every start)."""
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one of the store's methods (or any blocking call) in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- plumbing ---------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware times")
        return now.astimezone(dt.timezone.utc)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            with conn.begin():
                return fn(conn)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                return fn(conn)

    @staticmethod
    def _load(conn: Connection, handoff_id: str) -> Optional[Handoff]:
        row = conn.execute(_HANDOFF_SELECT.where(_h.id == handoff_id)).first()
        return _handoff(row) if row is not None else None

    @staticmethod
    def _lock(conn: Connection, handoff_id: str, society: Optional[str] = None) -> Handoff:
        """The handoff, row-locked on PostgreSQL; other societies' ones do not exist."""
        row = conn.execute(
            select(_h.id, _h.society).where(_h.id == handoff_id).with_for_update()
        ).first()
        if row is None or (society is not None and row.society != society):
            raise HandoffNotFound(handoff_id)
        loaded = HandoffStore._load(conn, handoff_id)
        assert loaded is not None
        return loaded

    def _add(
        self,
        conn: Connection,
        handoff_id: str,
        author: str,
        text: str,
        agent_id: Optional[int] = None,
    ) -> int:
        result = conn.execute(
            insert(messages_table).values(
                handoff_id=handoff_id,
                author=author,
                agent_id=agent_id,
                text=text,
                created_at=self._now(),
            )
        )
        return int(result.inserted_primary_key[0])

    # -- handoffs ---------------------------------------------------------------

    def open(
        self,
        conversation_id: str,
        society: str,
        channel: str,
        reason: str,
        packet: Mapping[str, Any],
    ) -> Handoff:
        """Queue the conversation for people; the open one it already has comes back unchanged."""
        if not conversation_id or not isinstance(conversation_id, str):
            raise InvalidValue("conversation_id is required")
        if channel not in CHANNELS:
            raise InvalidValue(f"unknown channel {channel!r}")
        if not reason or not isinstance(reason, str) or len(reason) > 64:
            raise InvalidValue("reason must be a short code")
        if self.known_societies is not None and society not in self.known_societies:
            raise UnknownSociety(society)
        packet_json = json.dumps(dict(packet), ensure_ascii=False, default=str)

        def work(conn: Connection) -> Handoff:
            existing = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES)
                )
            ).first()
            if existing is not None:
                return _handoff(existing)
            handoff_id = secrets.token_urlsafe(12)
            conn.execute(
                insert(handoffs_table).values(
                    id=handoff_id,
                    conversation_id=conversation_id,
                    society=society,
                    channel=channel,
                    status=STATUS_QUEUED,
                    reason=reason,
                    packet=packet_json,
                    created_at=self._now(),
                )
            )
            self._add(conn, handoff_id, "system", "担当者への引き継ぎを受け付けました")
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        try:
            return self._write(work)
        except IntegrityError:
            # Another process opened one in between (PostgreSQL); that one is the answer.
            current = self.current(conversation_id)
            if current is None:
                raise
            return current

    def current(self, conversation_id: str) -> Optional[Handoff]:
        """The conversation's queued or active handoff, if any (the bot stays silent while there is one)."""

        def work(conn: Connection) -> Optional[Handoff]:
            row = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES)
                )
            ).first()
            return _handoff(row) if row is not None else None

        return self._read(work)

    def get(self, handoff_id: str) -> Optional[Handoff]:
        return self._read(lambda conn: self._load(conn, handoff_id))

    def queue(self, society: str) -> list[Handoff]:
        """The society's queued and active handoffs, the longest-waiting first."""

        def work(conn: Connection) -> list[Handoff]:
            rows = conn.execute(
                _HANDOFF_SELECT.where(_h.society == society, _h.status.in_(OPEN_STATUSES)).order_by(
                    _h.created_at, _h.id
                )
            )
            return [_handoff(r) for r in rows]

        return self._read(work)

    def take(self, handoff_id: str, agent: Agent) -> Handoff:
        """``agent`` answers from now on: queued → active, or taken over from a colleague."""

        def work(conn: Connection) -> Handoff:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status == STATUS_ACTIVE and handoff.assigned_agent_id == agent.id:
                return handoff
            conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(status=STATUS_ACTIVE, assigned_agent_id=agent.id, assigned_at=self._now())
            )
            verb = "対応を始めました" if handoff.status == STATUS_QUEUED else "対応を引き継ぎました"
            self._add(conn, handoff_id, "system", f"{agent.display_name}さんが{verb}", agent.id)
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        return self._write(work)

    def add_message(
        self, handoff_id: str, author: str, text: str, agent_id: Optional[int] = None
    ) -> Message:
        """Append a line. Members and agents write only while the handoff is open.

        A member's line is kept with its birth dates, codes, passwords, 記号・番号
        and phone numbers as ``****`` (:func:`bot.masking.mask_text`), as the
        tracker store keeps the conversation before the handoff.
        """
        if author not in AUTHORS:
            raise InvalidValue(f"unknown author {author!r}")
        if not isinstance(text, str):
            raise InvalidValue("text must be a string")
        if author == "member":
            text = mask_text(text)

        def work(conn: Connection) -> Message:
            handoff = self._lock(conn, handoff_id)
            if author in ("member", "agent") and not handoff.is_open:
                raise HandoffClosed(handoff_id)
            message_id = self._add(conn, handoff_id, author, text, agent_id)
            row = conn.execute(_MESSAGE_SELECT.where(messages_table.c.id == message_id)).one()
            return _message(row)

        return self._write(work)

    def reply(self, handoff_id: str, agent: Agent, text: str) -> Message:
        """An agent's message, only from the agent who holds the active handoff."""

        def work(conn: Connection) -> Message:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status != STATUS_ACTIVE or handoff.assigned_agent_id != agent.id:
                raise NotAssigned(handoff_id)
            message_id = self._add(conn, handoff_id, "agent", text, agent.id)
            row = conn.execute(_MESSAGE_SELECT.where(messages_table.c.id == message_id)).one()
            return _message(row)

        return self._write(work)

    def messages(self, handoff_id: str, after_id: int = 0, limit: int = 500) -> list[Message]:
        """Lines with an id above ``after_id``, oldest first (poll with the last id you saw)."""

        def work(conn: Connection) -> list[Message]:
            rows = conn.execute(
                _MESSAGE_SELECT.where(
                    messages_table.c.handoff_id == handoff_id, messages_table.c.id > after_id
                )
                .order_by(messages_table.c.id)
                .limit(limit)
            )
            return [_message(r) for r in rows]

        return self._read(work)

    def _end(self, handoff_id: str, agent: Agent, status: str, note: str) -> Handoff:
        def work(conn: Connection) -> Handoff:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status == STATUS_ACTIVE and handoff.assigned_agent_id != agent.id:
                raise NotAssigned(handoff_id)
            conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(status=status, ended_at=self._now())
            )
            self._add(conn, handoff_id, "system", f"{agent.display_name}さんが{note}", agent.id)
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        return self._write(work)

    def hand_back(self, handoff_id: str, agent: Agent) -> Handoff:
        """The bot answers again (→ 'returned'). Active ones only by their agent; queued ones by anyone of the society."""
        return self._end(handoff_id, agent, STATUS_RETURNED, "ボットに戻しました")

    def close(self, handoff_id: str, agent: Agent) -> Handoff:
        """The matter is done (→ 'closed'); same rule as :meth:`hand_back`."""
        return self._end(handoff_id, agent, STATUS_CLOSED, "対応を終了しました")

    def leave(self, conversation_id: str) -> Optional[Handoff]:
        """The member left (stopped waiting): the open handoff becomes 'left'; None if there was none."""

        def work(conn: Connection) -> Optional[Handoff]:
            row = conn.execute(
                select(_h.id)
                .where(_h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES))
                .with_for_update()
            ).first()
            if row is None:
                return None
            conn.execute(
                update(handoffs_table)
                .where(_h.id == row.id)
                .values(status=STATUS_LEFT, ended_at=self._now())
            )
            self._add(conn, row.id, "system", "会員が待機をやめました")
            return self._load(conn, row.id)

        return self._write(work)

    def record_solved(
        self,
        solved: bool,
        *,
        conversation_id: Optional[str] = None,
        handoff_id: Optional[str] = None,
    ) -> Optional[Handoff]:
        """The member's answer to "was it solved?" on the most recent closed handoff.

        Give exactly one of ``conversation_id`` and ``handoff_id``; None when
        there is no closed handoff to record it on.
        """
        if (conversation_id is None) == (handoff_id is None):
            raise InvalidValue("give exactly one of conversation_id and handoff_id")

        def work(conn: Connection) -> Optional[Handoff]:
            query = select(_h.id).where(_h.status == STATUS_CLOSED)
            if handoff_id is not None:
                query = query.where(_h.id == handoff_id)
            else:
                query = query.where(_h.conversation_id == conversation_id)
            row = conn.execute(
                query.order_by(_h.ended_at.desc(), _h.created_at.desc()).limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(update(handoffs_table).where(_h.id == row.id).values(solved=bool(solved)))
            return self._load(conn, row.id)

        return self._write(work)

    def overdue(self, max_wait: dt.timedelta) -> list[Handoff]:
        """Queued handoffs older than ``max_wait`` whose member has not yet been told to wait."""
        cutoff = self._now() - max_wait

        def work(conn: Connection) -> list[Handoff]:
            rows = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.status == STATUS_QUEUED,
                    _h.created_at <= cutoff,
                    _h.wait_notified_at.is_(None),
                ).order_by(_h.created_at, _h.id)
            )
            return [_handoff(r) for r in rows]

        return self._read(work)

    def mark_wait_notified(self, handoff_id: str) -> None:
        def work(conn: Connection) -> None:
            result = conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(wait_notified_at=self._now())
            )
            if result.rowcount == 0:
                raise HandoffNotFound(handoff_id)

        self._write(work)

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

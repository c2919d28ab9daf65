"""Tables of the human handoff, and the plain values the store hands out.

The tables are SQLAlchemy Core (one ``MetaData``, created with ``create_all``):
the store writes them in short transactions from two processes (the Rasa
server and the action server), and callers never hold ORM rows across an
``await``. What callers get instead are frozen dataclasses (:class:`Handoff`,
:class:`Message`, :class:`Agent`).

Times are stored as naive UTC and come back timezone-aware UTC, so SQLite and
PostgreSQL behave the same. At most one handoff per conversation is open
(queued or active); a partial unique index keeps it so even when two processes
open one at the same moment.

The ``packet`` is what the bot knew when it handed over, as JSON. Keys the
console shows (all optional): ``topic`` (str), ``progress`` (str or list: how
far the member got in the first login), ``errors`` (list of error messages the
member mentioned), ``bot_tried`` (list: what the bot already tried),
``tickets`` (list of ticket numbers), ``transcript`` (list of
``{"author": "member"|"bot", "text": str, "at": ISO time}``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import DateTime, TypeDecorator

CHANNELS = ("widget", "line", "rest")
# each handoff channel's Rasa input channel (bot/channels/*: the widget's is Rasa's "socketio")
RASA_INPUT_CHANNEL = {"widget": "socketio", "line": "line", "rest": "rest"}
HANDOFF_CHANNEL_OF = {rasa: ours for ours, rasa in RASA_INPUT_CHANNEL.items()}
STATUS_QUEUED = "queued"
STATUS_ACTIVE = "active"
STATUS_RETURNED = "returned"
STATUS_CLOSED = "closed"
STATUS_LEFT = "left"
STATUSES = (STATUS_QUEUED, STATUS_ACTIVE, STATUS_RETURNED, STATUS_CLOSED, STATUS_LEFT)
OPEN_STATUSES = (STATUS_QUEUED, STATUS_ACTIVE)
AUTHORS = ("member", "agent", "bot", "system")


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(
        self, value: Optional[dt.datetime], dialect: Any
    ) -> Optional[dt.datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(
        self, value: Optional[dt.datetime], dialect: Any
    ) -> Optional[dt.datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


metadata = MetaData()

agents_table = Table(
    "handoff_agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("society", String(64), nullable=False, index=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions_table = Table(
    "handoff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex of the cookie token
    Column("agent_id", Integer, ForeignKey("handoff_agents.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# Console login attempts (bot.handoff.login_throttle): one counter per client address
# ("client"), per login name, known or not ("login"), and per login name and client
# ("pair": also when the agent last logged in from there). Rows go once ``expires_at``
# has passed. (Databases from before keep an unused ``handoff_login_throttle`` table.)
login_counters_table = Table(
    "handoff_login_counters",
    metadata,
    Column("scope", String(8), primary_key=True),
    Column("subject", String(160), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_start", UTCDateTime, nullable=True),
    Column("blocked_until", UTCDateTime, nullable=True),
    Column("last_success", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

handoffs_table = Table(
    "handoffs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("society", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("packet", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("assigned_agent_id", Integer, ForeignKey("handoff_agents.id"), nullable=True),
    Column("assigned_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("solved", Boolean, nullable=True),
    Column("wait_notified_at", UTCDateTime, nullable=True),
    Index("ix_handoffs_society_status", "society", "status", "created_at"),
)
_OPEN = handoffs_table.c.status.in_(OPEN_STATUSES)
Index(
    "ux_handoffs_one_open_per_conversation",
    handoffs_table.c.conversation_id,
    unique=True,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)

messages_table = Table(
    "handoff_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", String(32), ForeignKey("handoffs.id"), nullable=False),
    Column("author", String(16), nullable=False),
    Column("agent_id", Integer, ForeignKey("handoff_agents.id"), nullable=True),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_handoff_messages_handoff_id", "handoff_id", "id"),
)


@dataclass(frozen=True)
class Agent:
    """A helpdesk person of one society (never carries the password hash)."""

    id: int
    society: str
    login: str
    display_name: str
    active: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class Handoff:
    """One hand-over of a conversation from the bot to people of the society."""

    id: str
    conversation_id: str
    society: str
    channel: str
    status: str
    reason: str
    packet: Mapping[str, Any] = field(compare=False)
    created_at: dt.datetime
    assigned_agent_id: Optional[int] = None
    assigned_agent_name: Optional[str] = None
    assigned_at: Optional[dt.datetime] = None
    ended_at: Optional[dt.datetime] = None
    solved: Optional[bool] = None
    wait_notified_at: Optional[dt.datetime] = None

    @property
    def is_open(self) -> bool:
        """Queued or active: people, not the bot, answer this conversation."""
        return self.status in OPEN_STATUSES

    @property
    def topic(self) -> str:
        """The member's latest topic, as its label (``bot.handoff.packet``: ``{"key", "label"}``)."""
        value = self.packet.get("topic")
        if isinstance(value, Mapping):
            value = value.get("label") or value.get("key")
        return value if isinstance(value, str) else ""

    def waiting_seconds(self, now: dt.datetime) -> int:
        """How long the member waited for a person: until taken, or until now while queued."""
        until = now
        if self.status != STATUS_QUEUED:
            until = self.assigned_at or self.ended_at or now
        return max(0, int((until - self.created_at).total_seconds()))


@dataclass(frozen=True)
class Message:
    """One line of the live handoff conversation; ``id`` grows, so it is a polling cursor."""

    id: int
    handoff_id: str
    author: str
    text: str
    created_at: dt.datetime
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None

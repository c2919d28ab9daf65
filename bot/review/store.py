"""The review database: one row per member message the bot could not handle well.

Rows are written by the Rasa server's event broker (``bot.review.broker``) and
read by ``python -m bot.review``. The table is SQLAlchemy Core, created with
``create_all`` when the first row is written (as the handoff store and the LINE
event memory create theirs): an append-only log with no migrations to run yet.
A SQLite file (``var/review.db`` by default) is made 0600 like the other
databases (:func:`bot.sql.ensure_sqlite_dir`).

What a row holds (never more than the tracker store keeps): when, the society,
the channel, what happened (``kind``), the action that decided it and the
bot's actions of that turn, the NLU's intent and confidence (and its best real
guess when the intent is ``nlu_fallback``), and the member's text masked
exactly as the tracker store masks it (``****`` for a message with a birth
date, code or password in it). No conversation id: the rows are for training
examples, not for finding a member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.engine import Engine

from bot import sql
from bot.handoff.models import UTCDateTime
from bot.settings import ReviewSettings

KINDS = ("clarification", "fallback", "did_not_help", "handoff", "out_of_scope")

# column sizes; values are cut to them before they are written (rows never fail on length)
MAX_TEXT = 2000  # the channels refuse longer messages (KOSMO_MAX_MESSAGE_CHARS)
MAX_SOCIETY = 64
MAX_CHANNEL = 32
MAX_NAME = 128  # an intent or action name
MAX_ACTIONS = 512  # the turn's actions, space-separated

metadata = MetaData()

review_table = Table(
    "review_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),  # when the member sent the message
    Column("society", String(MAX_SOCIETY), nullable=True),
    Column("channel", String(MAX_CHANNEL), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("action", String(MAX_NAME), nullable=False),  # the action that made it this kind
    Column("bot_actions", String(MAX_ACTIONS), nullable=False),  # all of the turn's actions
    Column("intent", String(MAX_NAME), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("guess", String(MAX_NAME), nullable=True),  # best intent other than nlu_fallback
    Column("guess_confidence", Float, nullable=True),
    Column("text", Text, nullable=False),  # masked as the tracker store masks it
    Index("ix_review_messages_at", "at"),
)


@dataclass(frozen=True)
class ReviewRow:
    """One recorded message, as the broker writes it and the report reads it."""

    at: dt.datetime
    society: Optional[str]
    channel: Optional[str]
    kind: str
    action: str
    bot_actions: str
    intent: Optional[str]
    confidence: Optional[float]
    guess: Optional[str]
    guess_confidence: Optional[float]
    text: str

    def as_values(self) -> dict[str, Any]:
        """The row's column values, each cut to its column's size."""
        return {
            "at": self.at,
            "society": _cut(self.society, MAX_SOCIETY),
            "channel": _cut(self.channel, MAX_CHANNEL),
            "kind": self.kind,
            "action": _cut(self.action, MAX_NAME) or "",
            "bot_actions": _cut(self.bot_actions, MAX_ACTIONS) or "",
            "intent": _cut(self.intent, MAX_NAME),
            "confidence": self.confidence,
            "guess": _cut(self.guess, MAX_NAME),
            "guess_confidence": self.guess_confidence,
            "text": _cut(self.text, MAX_TEXT) or "",
        }


def _cut(value: Optional[str], size: int) -> Optional[str]:
    return value[:size] if isinstance(value, str) else None


def review_db_url(
    explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> str:
    """The URL to use: explicit, then ``$KOSMO_REVIEW_DB_URL``, then ``var/review.db``."""
    return explicit or ReviewSettings.from_env(environ).db_url


class ReviewDatabaseMissing(RuntimeError):
    """There is no review database (yet) where the URL points."""


class ReviewStore:
    """Writes and reads review rows. Blocking: the broker calls it from its writer thread.

    The engine is made on first use (never at import or construction), so a
    broker whose database is down still starts, and the Rasa server with it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Optional[Engine] = None
        self._schema_ready = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = sql.make_engine(self.url)
        return self._engine

    def create_schema(self) -> None:
        """Create the table if missing (safe at every start, and from several processes)."""
        metadata.create_all(self.engine)
        self._schema_ready = True

    def add(self, rows: Sequence[ReviewRow]) -> None:
        """Insert ``rows`` in one transaction."""
        if not rows:
            return
        if not self._schema_ready:
            self.create_schema()
        with self.engine.begin() as conn:
            conn.execute(insert(review_table), [row.as_values() for row in rows])

    def rows(
        self,
        *,
        society: Optional[str] = None,
        kind: Optional[str] = None,
        since: Optional[dt.datetime] = None,
        max_rows: int = 100_000,
    ) -> list[ReviewRow]:
        """The newest ``max_rows`` rows matching the filters, newest first.

        Raises :class:`ReviewDatabaseMissing` for a SQLite file that does not
        exist (it is not created here) or a database without the table.
        """
        path = sql.sqlite_file(self.url)
        if path is not None and not path.is_file():
            raise ReviewDatabaseMissing(f"no review database at {path}")
        t = review_table.c
        query = select(review_table).order_by(t.at.desc(), t.id.desc()).limit(max(0, max_rows))
        if society is not None:
            query = query.where(t.society == society)
        if kind is not None:
            query = query.where(t.kind == kind)
        if since is not None:
            query = query.where(t.at >= since)
        with self.engine.connect() as conn:
            if not self.engine.dialect.has_table(conn, review_table.name):
                raise ReviewDatabaseMissing(
                    f"the database at {_shown(self.url)} has no review table"
                )
            result = conn.execute(query)
            return [_row(m) for m in result.mappings()]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _row(m: Mapping[str, Any]) -> ReviewRow:
    return ReviewRow(
        at=m["at"],
        society=m["society"],
        channel=m["channel"],
        kind=m["kind"],
        action=m["action"],
        bot_actions=m["bot_actions"],
        intent=m["intent"],
        confidence=m["confidence"],
        guess=m["guess"],
        guess_confidence=m["guess_confidence"],
        text=(m["text"] or "")[:MAX_TEXT],
    )


def _shown(url: str) -> str:
    """A URL as it may be printed (no password)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: say so without echoing it
        return "(the configured URL)"

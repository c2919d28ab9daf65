"""Which LINE webhook events were already accepted, so a redelivered or replayed one is handled once.

LINE delivers at least once: a webhook it thinks failed is sent again (with
``deliveryContext.isRedelivery: true`` and the same ``webhookEventId``), and a
captured signed body stays valid forever. Every event therefore gets a key
(:func:`event_key`) and is handled only by whoever first *inserts* that key.

The keys live in a table of the handoff database (``$KOSMO_HANDOFF_DB_URL``, the
database the LINE channel already needs for the handoff gate, which the Rasa server
and the action server share through :mod:`bot.sql`'s engines). So the memory
survives a restart, and several Rasa processes behind one webhook URL agree: an
``INSERT`` that does nothing when the key exists (``ON CONFLICT DO NOTHING``, or a
savepoint and the unique key on other databases) decides, never read-then-write.
Rows older than the retention (a day by default) are deleted now and then, so the
table stays bounded by one day of events.

When the database cannot be reached within ``timeout`` seconds (LINE gives up on a
webhook after 2 s), or its path fails in any other way (a missing driver, say),
events are judged by the process's own memory alone (:class:`SeenEvents`) and an
error is logged: a member is still answered, and a redelivery reaching the same
process is still dropped. The memory marks an event only when the call that
judges it returns (so the event will be handled), never before the database answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, List, Mapping, Optional, Sequence

from sqlalchemy import Column, Float, Index, MetaData, String, Table, delete, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import sql
from bot.settings import HandoffSettings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

RETENTION_S = 24 * 3600.0
PURGE_EVERY_S = 600.0
DB_TIMEOUT_S = 1.5
MEMORY_MAX = 100_000
MAX_EVENT_ID = 128  # ULIDs are 26 characters; anything longer is hashed like the rest

metadata = MetaData()

seen_events_table = Table(
    "line_webhook_events",
    metadata,
    Column("event_key", String(64), primary_key=True),  # sha256 hex, see event_key()
    Column("society", String(64), nullable=False),
    Column("seen_at", Float, nullable=False),  # Unix time the first copy arrived
    Index("ix_line_webhook_events_seen_at", "seen_at"),
)

# fields that differ between deliveries of one event and so must not be part of its key
_VOLATILE = ("deliveryContext", "replyToken", "webhookEventId")


def event_key(society: str, event: Mapping[str, Any]) -> str:
    """The key one event has in every delivery of it.

    Its ``webhookEventId`` when it has one (LINE's own unique id); otherwise a digest
    of everything else in the event (type, source, timestamp, message id and text,
    postback data, ...) except what changes between deliveries. Namespaced by
    society, a fixed 64 characters.
    """
    event_id = event.get("webhookEventId")
    if isinstance(event_id, str) and 0 < len(event_id) <= MAX_EVENT_ID:
        material = "id\n" + event_id
    else:
        stable = {k: v for k, v in event.items() if k not in _VOLATILE}
        material = "event\n" + json.dumps(
            stable, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        )
    return hashlib.sha256(f"{society}\n{material}".encode()).hexdigest()


class SeenEvents:
    """Keys seen by this process, bounded by age and count (the fallback of :class:`EventLedger`)."""

    def __init__(
        self, clock: Clock = time.time, ttl: float = RETENTION_S, max_size: int = MEMORY_MAX
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max_size = max_size
        self._seen: "OrderedDict[str, float]" = OrderedDict()

    def first_time(self, key: Any) -> bool:
        """True the first time ``key`` is offered (always True for no key)."""
        if not isinstance(key, str) or not key:
            return True
        now = self._clock()
        while self._seen and (
            len(self._seen) >= self._max_size or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def default_db_url(environ: Optional[Mapping[str, str]] = None) -> str:
    """The handoff database (``KOSMO_HANDOFF_DB_URL``, bot.handoff.store)."""
    return HandoffSettings.from_env(environ).db_url


class EventLedger:
    """The accepted events' keys in a database table (see the module docstring).

    ``engine_or_url``: an engine or a SQLAlchemy URL (default ``$KOSMO_HANDOFF_DB_URL``);
    the engine is made on first use, never at import or construction.
    """

    def __init__(
        self,
        engine_or_url: "Engine | str | None" = None,
        clock: Clock = time.time,
        retention: float = RETENTION_S,
        purge_every: float = PURGE_EVERY_S,
        timeout: float = DB_TIMEOUT_S,
        memory: Optional[SeenEvents] = None,
    ) -> None:
        self._engine_or_url = engine_or_url
        self._engine: Optional[Engine] = (
            engine_or_url if isinstance(engine_or_url, Engine) else None
        )
        self.clock = clock
        self.retention = retention
        self.purge_every = purge_every
        self.timeout = timeout
        self.memory = memory or SeenEvents(clock, ttl=retention)
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._last_purge = float("-inf")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self._engine_or_url if isinstance(self._engine_or_url, str) else None
            self._engine = sql.make_engine(url or default_db_url())
        return self._engine

    # --- synchronous: run in a worker thread -------------------------------------

    def create_schema(self) -> None:
        """Create the table if missing and drop expired rows (safe at every start)."""
        with self._schema_lock:
            try:
                metadata.create_all(self.engine)
            except SQLAlchemyError:
                # another process created it between the check and the CREATE
                metadata.create_all(self.engine)
            self._schema_ready = True
        self.purge(self.clock())

    def purge(self, now: float) -> int:
        """Delete the keys older than the retention; the number deleted."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(seen_events_table).where(seen_events_table.c.seen_at < now - self.retention)
            )
        self._last_purge = now
        return int(result.rowcount or 0)

    def remember(
        self, society: str, keys: Sequence[str], now: Optional[float] = None
    ) -> List[bool]:
        """Insert each key unless present: True for the keys this call inserted.

        One transaction; a key given twice is True only the first time.
        """
        if not self._schema_ready:
            self.create_schema()
        now = self.clock() if now is None else now
        if now - self._last_purge >= self.purge_every:
            self.purge(now)
        with self.engine.begin() as conn:
            return [_insert_if_absent(conn, key, society, now) for key in keys]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    # --- asynchronous: what the webhook calls ------------------------------------

    async def start(self) -> None:
        await asyncio.wait_for(asyncio.to_thread(self.create_schema), timeout=30)

    async def first_time(self, society: str, keys: Sequence[str]) -> List[bool]:
        """For each key, whether this is its first delivery (database, else this process).

        Whatever the database path raises (unreachable, too slow, or anything else,
        such as a missing driver), the keys are judged by this process's memory and
        the failure is logged: the webhook still answers 200 and the events are
        handled. The memory marks keys only on the way out of this call, so an
        event whose call did not return (cancelled) is not taken for seen when LINE
        delivers it again.
        """
        try:
            in_db = await asyncio.wait_for(
                asyncio.to_thread(self.remember, society, list(keys)), timeout=self.timeout
            )
        except Exception as e:  # noqa: BLE001 - any failure: the process's memory decides
            expected = isinstance(e, (SQLAlchemyError, OSError, asyncio.TimeoutError))
            logger.error(
                "LINE %s: redelivery memory unavailable (%r); judging %d event(s) by this "
                "process's memory only",
                society,
                e,
                len(keys),
                exc_info=not expected,
            )
            return [self.memory.first_time(key) for key in keys]
        in_memory = [self.memory.first_time(key) for key in keys]
        return [a and b for a, b in zip(in_memory, in_db, strict=True)]


def _insert_if_absent(conn: Connection, key: str, society: str, now: float) -> bool:
    values = {"event_key": key, "society": society[:64], "seen_at": now}
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite_insert if dialect == "sqlite" else postgresql_insert
        stmt = (
            make(seen_events_table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[seen_events_table.c.event_key])
        )
        return conn.execute(stmt).rowcount == 1
    try:
        with conn.begin_nested():
            conn.execute(insert(seen_events_table).values(**values))
        return True
    except IntegrityError:
        return False

"""The SQL tracker store, configured by one SQLAlchemy URL.

Rasa's own ``SQLTrackerStore`` takes the URL in pieces (dialect, host, db, ...).
Operators think in URLs (``postgresql://user:pw@host/db``), and the password in
it is a secret, so the URL comes from ``$KOSMO_TRACKER_DB_URL`` (or ``db_url``
in ``endpoints.yml`` for tests); without either, conversations are kept in the
SQLite file ``var/tracker.db`` so that a restart of the Rasa server loses none.

It also masks what it writes (birth dates, OTP codes, passwords, insurance
symbols/numbers and phone numbers become ``****``, see ``bot.domain.masking``); see
the section below. It installs nothing into Rasa: the server's patches (the
action server's timeout, the event class lookup that its loading uses) are
``bot.speedups``', installed by ``bot.serve``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, func, insert, select, true
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import sessionmaker

# the masking lives in bot.domain.masking and bot.domain.masking_events (no Rasa there)
from bot.domain.masking_events import mask_events_from
from bot.settings import RasaServerSettings
from bot.sql import make_engine


def tracker_db_url(explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The URL to use: explicit, then ``$KOSMO_TRACKER_DB_URL``, then the SQLite default."""
    return explicit or RasaServerSettings.from_env(environ).tracker_db_url


# ---------------------------------------------------------------- masking
#
# What reaches the database never holds a birth date, an OTP code, a password,
# an insurance symbol/number or a phone number as typed (bot.domain.masking decides
# what is sensitive). Actions see the real values only during the turn they
# arrive in: Rasa loads the tracker from this store at the start of each
# message, so a form calls the portal in the same turn as its last
# (sensitive) slot is filled, and from the next turn on the slot reads "****".
#
# Masked: the values of SENSITIVE_SLOTS and any other slot value that looks
# sensitive (a from_text slot holds the raw message until validation); every
# user text sent while the bot was asking for a sensitive slot (valid or not);
# every user text with a sensitive value in it (bot.domain.masking.sensitive_text).
# Kept: a user ID in a user-ID slot and the message that gave it, even a
# voluntary-continuation member's 16 digits, since the next turns send it to
# the portal. Bot texts are ours and never repeat such values.
# The event masking (``mask_event_dicts``) is in bot.domain.masking_events, so that the
# action server (the handoff packet) masks the same way without Rasa.

# ---------------------------------------------------------------- the store


@dataclass
class _StoredSession:
    """What the database holds for a conversation's latest session, as of one row id."""

    last_id: Optional[int]  # the newest row id of the conversation when it was kept
    events: list[Event]  # as stored (masked), oldest first
    requested: Optional[str]  # the slot a form was asking for after them (for masking)


def latest_session(events: Sequence[Event]) -> list[Event]:
    """The events Rasa's SQL store loads as the current session.

    Rasa keeps the events whose timestamp is at least that of the latest
    ``SessionStarted`` (all of them when there is none); the same rule here keeps
    the cache and the database in agreement.
    """
    starts = [e.timestamp for e in events if isinstance(e, SessionStarted)]
    if not starts:
        return list(events)
    start = max(starts)
    return [e for e in events if e.timestamp >= start]


# Slots renamed since conversations were stored: the old name's events are read as the new
# name's, so a conversation kept from before the rename keeps its society (during a handoff,
# when the NLU does not run, nothing else would set it again).
RENAMED_SLOTS = {"tenant": "society"}


def upgraded(event: dict[str, Any]) -> dict[str, Any]:
    """A stored event as this version names it (``RENAMED_SLOTS``)."""
    if event.get("event") == "slot" and event.get("name") in RENAMED_SLOTS:
        return {**event, "name": RENAMED_SLOTS[event["name"]]}
    return event


class UrlSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` built from a single SQLAlchemy URL; writes sensitive values as ``****``.

    Rasa loads the whole current session from the database at every message,
    decodes it from JSON and masks and counts it again at every save. Here the
    latest sessions are also kept in memory (``$KOSMO_TRACKER_CACHE_SIZE``
    conversations, least recently used first out; 0 turns it off), as the
    events that were stored. The database stays the record: before using a
    kept session the store checks that the conversation's newest row id in the
    database is still the one it saw, so a write by anything else (another
    server process, a restore) makes it load from the database again.
    """

    engine: Engine  # Rasa's attribute, replaced for SQLite below

    def __init__(
        self,
        domain: Optional[Domain] = None,
        db_url: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        host: Optional[Text] = None,  # Rasa passes endpoints.yml's `url` here; unused
        cache_size: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        url = make_url(tracker_db_url(db_url))
        database = url.database or ""
        if url.drivername.startswith("sqlite") and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            domain=domain,
            dialect=url.drivername,
            host=url.host,
            port=url.port,
            db=database,
            username=url.username,
            password=url.password,
            query=dict(url.query),
            event_broker=event_broker,
            **kwargs,
        )
        if url.drivername.startswith("sqlite"):
            # Rasa's own SQLite engine opens a connection per transaction and waits
            # for the disk at every commit; one per turn adds up (bot.sql).
            self.engine.dispose()
            self.engine = make_engine(url.render_as_string(hide_password=False))
            self.sessionmaker = sessionmaker(bind=self.engine)
        self.cache_size = (
            cache_size if cache_size is not None else RasaServerSettings.from_env().tracker_cache_size
        )
        # built once: they run at every retrieve and save (Core, on the session's
        # connection: the ORM adds nothing for rows that are only counted or read)
        sender = bindparam("sender_id")
        events = self.SQLEvent.__table__
        session_start = (
            select(func.max(events.c.timestamp).label("session_start"))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .subquery()
        )
        in_latest_session = (events.c.sender_id == sender) & (
            (events.c.timestamp >= session_start.c.session_start)
            | session_start.c.session_start.is_(None)
        )
        # the same rows as Rasa's _event_query(..., fetch_events_from_all_sessions=False)
        self._session_rows_query = (
            select(events.c.id, events.c.data)
            .select_from(events)
            .join(session_start, true())
            .where(in_latest_session)
            .order_by(events.c.id)
        )
        self._session_count_query = (
            select(func.count())
            .select_from(events)
            .join(session_start, true())
            .where(in_latest_session)
        )
        self._newest_id_query = select(func.max(events.c.id)).where(events.c.sender_id == sender)
        self._insert = insert(events)
        self._sessions: OrderedDict[str, _StoredSession] = OrderedDict()

    # -- the in-memory copy

    def _newest_id(self, conn: Connection, sender_id: Text) -> Optional[int]:
        return conn.execute(self._newest_id_query, {"sender_id": sender_id}).scalar()

    def _kept(self, conn: Connection, sender_id: Text) -> Optional[_StoredSession]:
        """The kept session of ``sender_id`` if the database has nothing newer."""
        kept = self._sessions.get(sender_id)
        if kept is None:
            return None
        if self._newest_id(conn, sender_id) != kept.last_id:
            del self._sessions[sender_id]
            return None
        self._sessions.move_to_end(sender_id)
        return kept

    def _keep(self, sender_id: Text, kept: _StoredSession) -> None:
        if self.cache_size <= 0:
            return
        self._sessions[sender_id] = kept
        self._sessions.move_to_end(sender_id)
        while len(self._sessions) > self.cache_size:
            self._sessions.popitem(last=False)

    # -- Rasa's interface

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session, from memory when the database has nothing newer."""
        if self.domain is None:
            return await super().retrieve(sender_id)
        with self.session_scope() as session:
            conn = session.connection()
            kept = self._kept(conn, sender_id)
            if kept is None:
                rows = conn.execute(self._session_rows_query, {"sender_id": sender_id}).all()
                if not rows:
                    return None
                dicts = [upgraded(json.loads(data)) for _, data in rows]
                kept = _StoredSession(
                    last_id=rows[-1][0],
                    events=[Event.from_parameters(d) for d in dicts],
                    requested=mask_events_from(dicts, None)[1],
                )
                self._keep(sender_id, kept)
        return DialogueStateTracker.from_events(sender_id, kept.events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the tracker's new events (masked), then hand them to the event broker.

        Rasa's ``save`` streams to the broker through ``stream_events``, which
        loads the conversation again to find which events are new (0.3-0.6 ms a
        turn here, growing with the session). The count of stored events known
        below says the same, so the new events are published from it, after
        the commit (a slow broker never holds the database's write lock).
        """
        sender_id = tracker.sender_id
        events = list(tracker.events)
        with self.session_scope() as session:
            conn = session.connection()
            kept = self._kept(conn, sender_id)
            if kept is not None and len(kept.events) <= len(events):
                stored = len(kept.events)
                new_dicts, requested = mask_events_from(
                    (e.as_dict() for e in events[stored:]), kept.requested
                )
            else:
                kept = None
                stored = conn.execute(self._session_count_query, {"sender_id": sender_id}).scalar()
                if stored >= len(events):
                    return
                # requested_slot must be known at each new event, so mask from the start
                all_dicts, requested = mask_events_from((e.as_dict() for e in events), None)
                new_dicts = all_dicts[stored:]
            if not new_dicts:
                return
            # one multi-row INSERT (Core), not one ORM object and statement per event
            conn.execute(
                self._insert,
                [
                    {
                        "sender_id": sender_id,
                        "type_name": data.get("event"),
                        "timestamp": data.get("timestamp"),
                        "intent_name": (data.get("parse_data") or {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                    for data in new_dicts
                ],
            )
            last_id = self._newest_id(conn, sender_id)
            session.commit()
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, events[stored:], sender_id)
        if kept is not None:
            session_events = kept.events + [Event.from_parameters(d) for d in new_dicts]
        elif stored == 0:
            # a new conversation: everything stored is what was just written
            session_events = [Event.from_parameters(d) for d in new_dicts]
        else:
            # the stored prefix came from elsewhere; the next retrieve loads it
            self._sessions.pop(sender_id, None)
            return
        self._keep(
            sender_id,
            _StoredSession(
                last_id=last_id, events=latest_session(session_events), requested=requested
            ),
        )

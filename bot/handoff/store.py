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

The store is one class made of parts: ``bot.handoff.store_core`` (engine, clock,
transactions), ``store_handoffs`` (the queue and its messages) and ``store_agents``
(agents and console sessions). What it refuses is ``bot.handoff.store_errors``
(all :class:`~bot.handoff.store_errors.HandoffError`).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Callable, Collection, Mapping, Optional, Union

from sqlalchemy.engine import Engine

from bot.handoff.passwords import DEFAULT_PARAMS, ScryptParams
from bot.handoff.store_agents import DEFAULT_SESSION_LIFETIME, AgentAccounts
from bot.handoff.store_core import make_engine, utc_now
from bot.handoff.store_handoffs import HandoffQueue
from bot.settings import HandoffSettings


class HandoffStore(HandoffQueue, AgentAccounts):
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
        return cls(HandoffSettings.from_env(environ).db_url, **kwargs)

"""What every part of the handoff store stands on: the engine and one transaction.

:class:`StoreCore` is the base of :class:`bot.handoff.store.HandoffStore` (its parts
``store_handoffs`` and ``store_agents`` build on it): the clock, and a read or
a write as one short transaction (writes begin with ``BEGIN IMMEDIATE`` on
SQLite, see :func:`make_engine`); :meth:`StoreCore.run` calls a blocking method
from async code in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Callable, ParamSpec, TypeVar

from sqlalchemy.engine import Connection, Engine

from bot import sql
from bot.handoff.models import metadata

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# connections that write begin with BEGIN IMMEDIATE (bot.sql.make_engine)
WRITE_OPTION = "handoff_write"


def make_engine(url: str) -> Engine:
    """A 2.0-style engine; SQLite gets WAL, a 15 s busy timeout and ``BEGIN IMMEDIATE`` for writes."""
    return sql.make_engine(url, write_option=WRITE_OPTION)


class StoreCore:
    """The engine, the clock and transactions (attributes set by ``HandoffStore.__init__``)."""

    engine: Engine
    clock: Callable[[], dt.datetime]

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

"""Database access: the engine, a unit-of-work runner, and schema migrations.

Handlers never touch a session directly: they hand a plain function to
:meth:`Database.run`, which runs it in a worker thread inside one transaction,
so the event loop never blocks on SQLite or PostgreSQL. On SQLite every
transaction starts with ``BEGIN IMMEDIATE`` so counters (failed logins, rate
limits) are updated without lost writes; on PostgreSQL rows are locked with
``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator

from bot import sql
from bot.sql import ensure_sqlite_dir

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def make_engine(url: str) -> Engine:
    """An engine in SQLAlchemy 2.0 style; SQLite gets WAL, a busy timeout and IMMEDIATE transactions."""
    return sql.make_engine(url)


class Database:
    """Runs units of work; one instance per app, handed in by the app factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> "Database":
        return cls(make_engine(url))

    def run_sync(
        self, fn: Callable[[Session], T], keep_on: tuple[type[BaseException], ...] = ()
    ) -> T:
        """Run ``fn`` in one transaction; commit also when it raises one of ``keep_on``.

        ``keep_on`` is for answers that are not failures: a wrong password is
        refused with an exception, and the failure it counted must be kept.
        """
        session = self._sessions()
        try:
            try:
                result = fn(session)
            except keep_on:
                session.commit()
                raise
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return result
        finally:
            session.close()

    async def run(
        self, fn: Callable[[Session], T], keep_on: tuple[type[BaseException], ...] = ()
    ) -> T:
        return await asyncio.to_thread(self.run_sync, fn, keep_on)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    """An Alembic config pointing at our migrations folder; no alembic.ini needed."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations to ``url`` (creating a SQLite file and its folder if needed)."""
    from alembic import command

    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()

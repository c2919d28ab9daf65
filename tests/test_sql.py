"""The SQLite set-up every database of ours shares (bot.sql)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from bot.sql import make_engine


def test_a_sqlite_file_gets_wal_without_waiting_for_the_disk_and_pooled_connections(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'x.db'}")
    try:
        assert isinstance(engine.pool, QueuePool)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with engine.connect() as first:
            raw = first.connection.dbapi_connection
        with engine.connect() as second:
            assert second.connection.dbapi_connection is raw  # reused, not reopened
    finally:
        engine.dispose()


def test_an_in_memory_database_keeps_sqlalchemys_own_pool(tmp_path):
    engine = make_engine("sqlite://")
    try:
        assert not isinstance(engine.pool, QueuePool)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()

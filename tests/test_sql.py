"""The SQLite set-up every database of ours shares (bot.sql)."""

from __future__ import annotations

import os
import stat

from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from bot.sql import make_engine, sqlite_file


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


def test_a_new_sqlite_file_and_its_folder_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'x.db'}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "var").iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert modes["x.db"] == 0o600
    assert modes.get("x.db-wal", 0o600) == 0o600 and modes.get("x.db-shm", 0o600) == 0o600
    assert "x.db-wal" in modes  # WAL is on: its file follows the database file's mode


def test_other_urls_name_no_file():
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://u@h/db") is None
    assert str(sqlite_file("sqlite:////srv/kosmo/x.db?timeout=5")) == "/srv/kosmo/x.db"

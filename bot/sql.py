"""SQLAlchemy engines for the databases this project owns (the portal's, the handoff queue's).

One URL configures each (SQLite file by default, PostgreSQL or any SQLAlchemy
URL otherwise); engines are 2.0-style (``future=True``). SQLite is used by more
than one process at a time here (the Rasa server and the action server share
the handoff database), so it gets WAL, foreign keys, a 15 s busy timeout and
explicit transactions: ``BEGIN IMMEDIATE`` takes the write lock up front, so
two writers wait for each other instead of failing half-way with "database is
locked".

SQLite commits are also cheap, because every Rasa turn writes one: WAL with
``synchronous=NORMAL`` does not wait for the disk at each commit (a commit
survives the process crashing or being killed; only a power cut or an OS crash
can lose the last ones), and connections are kept in a pool instead of being
opened (and set up) for every transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.pool import QueuePool


def sqlite_file(db_url: str) -> Optional[Path]:
    """The file of a file SQLite database URL (``sqlite:///path``); None for others."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or ":memory:" in db_url:
        return None
    path = db_url[len(prefix) :].split("?", 1)[0]
    return Path(path).expanduser() if path else None


def ensure_sqlite_dir(db_url: str) -> None:
    """Create the folder (0700) and the file (0600) of a file SQLite database (``var/`` by default).

    The databases hold conversations, members' data and agents' password hashes:
    a new one is readable by its owner only, whatever the process's umask. SQLite
    gives its ``-wal`` and ``-shm`` files the database file's permissions.
    """
    path = sqlite_file(db_url)
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def make_engine(url: str, *, write_option: Optional[str] = None) -> Engine:
    """An engine for ``url``.

    SQLite transactions begin with ``BEGIN IMMEDIATE``; with ``write_option``,
    only those of connections whose execution options set it (the others are
    plain ``BEGIN``: readers do not queue behind writers).
    """
    if not url.startswith("sqlite"):
        return create_engine(url, future=True, pool_pre_ping=True)
    ensure_sqlite_dir(url)
    in_memory = ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:")
    engine = create_engine(
        url,
        future=True,
        connect_args={"check_same_thread": False, "timeout": 15},
        # SQLAlchemy 1.4 opens a new connection per transaction for SQLite files
        **({} if in_memory else {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10}),
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun by the listener below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = write_option is None or conn.get_execution_options().get(write_option, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine

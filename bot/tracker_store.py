"""The SQL tracker store, configured by one SQLAlchemy URL.

Rasa's own ``SQLTrackerStore`` takes the URL in pieces (dialect, host, db, ...).
Operators think in URLs (``postgresql://user:pw@host/db``), and the password in
it is a secret, so the URL comes from ``$KOSMO_TRACKER_DB_URL`` (or ``db_url``
in ``endpoints.yml`` for tests); without either, conversations are kept in the
SQLite file ``var/tracker.db`` so that a restart of the Rasa server loses none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from bot.tenants import PROJECT_ROOT

TRACKER_DB_URL_ENV = "KOSMO_TRACKER_DB_URL"
DEFAULT_SQLITE_FILE = PROJECT_ROOT / "var" / "tracker.db"


def tracker_db_url(explicit: Optional[str] = None, environ: Optional[dict] = None) -> str:
    """The URL to use: explicit, then the environment, then the SQLite default."""
    env = os.environ if environ is None else environ
    return explicit or env.get(TRACKER_DB_URL_ENV) or f"sqlite:///{DEFAULT_SQLITE_FILE}"


class UrlSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` built from a single SQLAlchemy URL."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        db_url: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        host: Optional[Text] = None,  # Rasa passes endpoints.yml's `url` here; unused
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

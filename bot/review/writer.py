"""Review rows written off the event loop, by one thread behind a bounded queue.

The event broker is called on the Rasa server's event loop for every event of
every conversation, so it never waits for a database: it hands a finished row
to :meth:`RowWriter.put`, which only appends it to a queue. A thread (started
with the Rasa server, or by the first row) creates the table, then takes what is
queued, up to ``batch`` rows at a time, and writes them in one transaction. When the database is down, slow or locked, rows are dropped
(a full queue refuses new ones; a failed write loses its batch) with a warning
at most once a minute: the review log is worth less than a member's turn.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Optional

from bot.review.store import ReviewRow, ReviewStore

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1000
DEFAULT_BATCH = 100
WARN_EVERY_S = 60.0


class RowWriter:
    """A bounded queue of rows and the one thread that writes them to ``store``."""

    def __init__(
        self,
        store: ReviewStore,
        *,
        capacity: int = DEFAULT_CAPACITY,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.batch = max(1, batch)
        self.clock = clock
        self._queue: queue.Queue[Optional[ReviewRow]] = queue.Queue(maxsize=max(1, capacity))
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._lock = threading.Lock()  # the counters below, shared with the thread
        self.written = 0
        self.dropped = 0
        self._unreported = 0
        self._last_warning = float("-inf")

    def start(self) -> None:
        """Start the thread; its first work is creating the table (so the list exists, empty)."""
        if not self._closed:
            self._start()

    def put(self, row: ReviewRow) -> bool:
        """Queue ``row`` for writing; False (and the row dropped) when the queue is full or closed."""
        if self._closed:
            return False
        self._start()
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._drop(1, "the queue is full (the review database is slow or down)")
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then stop. Blocking."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            thread.join(timeout)
        self.store.dispose()

    # -- the thread

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="review-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            self.store.create_schema()
        except Exception as error:  # retried at the first write
            self._warn(f"the review database cannot be prepared ({type(error).__name__})")
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            rows = [first]
            while len(rows) < self.batch:
                try:
                    row = self._queue.get_nowait()
                except queue.Empty:
                    break
                if row is None:
                    stop = True
                    break
                rows.append(row)
            self._write(rows)

    def _write(self, rows: list[ReviewRow]) -> None:
        try:
            self.store.add(rows)
        except Exception as error:  # any failure of the database path: drop, never raise
            self._drop(len(rows), f"writing failed ({type(error).__name__})")
        else:
            with self._lock:
                self.written += len(rows)

    def _drop(self, count: int, why: str) -> None:
        """Count dropped rows; warn at most once a minute (never with a member's text)."""
        with self._lock:
            self.dropped += count
            self._unreported += count
            now = self.clock()
            if now - self._last_warning < WARN_EVERY_S:
                return
            self._last_warning = now
            unreported, self._unreported = self._unreported, 0
        self._warn(f"{unreported} message(s) not recorded: {why}")

    @staticmethod
    def _warn(what: str) -> None:
        logger.warning("Review log: %s; conversations are not affected.", what)

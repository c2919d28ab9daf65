"""Clocks the portal asks for the time, so tests can move time instead of sleeping.

Everything time-dependent (OTP windows, link expiry, lockouts, rate limits)
reads ``clock.now()``; nothing in the portal calls ``datetime.now`` directly.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    """The wall clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FakeClock:
    """A clock that only moves when told to; safe to share with the server thread."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2025, 4, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(dt.timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            return self._now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware time")
        with self._lock:
            self._now = when.astimezone(dt.timezone.utc)

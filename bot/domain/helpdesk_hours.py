"""When a society's helpdesk agents answer (:class:`Helpdesk`), and how long a queued member may wait.

Read from the ``helpdesk:`` of a society in ``data/societies.yml``
(``bot.domain.societies.parse_helpdesk``); the handoff actions ask :meth:`Helpdesk.is_staffed`
before they offer a person, the responses show :meth:`Helpdesk.describe`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_DAY_LABELS = "月火水木金土日"
_DAY_LABELS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Helpdesk:
    """When the society's helpdesk agents answer, and how long a queued member may wait.

    Operator settings, not manual facts. ``days`` are weekday numbers (Monday 0);
    ``end`` may be 24:00; no days means nobody at any hour. ``closed_dates`` are
    the society's days off on weekdays (public holidays, year-end): the operator
    lists them, as the calendar is theirs.
    """

    days: frozenset[int]
    start: dt.time
    end_minutes: int  # minutes after midnight, up to 24 * 60
    timezone: str
    max_wait_minutes: float
    closed_dates: frozenset[dt.date] = frozenset()

    def is_staffed(self, at: dt.datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        minutes = local.hour * 60 + local.minute
        start = self.start.hour * 60 + self.start.minute
        return (
            local.weekday() in self.days
            and local.date() not in self.closed_dates
            and start <= minutes < self.end_minutes
        )

    def describe(self) -> str:
        """「平日 9:00〜17:00」, 「毎日 0:00〜24:00」, 「月・水 10:00〜15:00」 ("" with no days)."""
        if not self.days:
            return ""
        if self.days == frozenset(range(5)):
            days = "平日"
        elif self.days == frozenset(range(7)):
            days = "毎日"
        else:
            days = "・".join(_DAY_LABELS[d] for d in sorted(self.days))
        end = f"{self.end_minutes // 60}:{self.end_minutes % 60:02d}"
        return f"{days} {self.start.hour}:{self.start.minute:02d}〜{end}"

    def describe_en(self) -> str:
        """"weekdays 9:00-17:00 (Japan time)", "Mon, Wed 10:00-15:00 (Japan time)" ("" with no days)."""
        if not self.days:
            return ""
        if self.days == frozenset(range(5)):
            days = "weekdays"
        elif self.days == frozenset(range(7)):
            days = "every day"
        else:
            days = ", ".join(_DAY_LABELS_EN[d] for d in sorted(self.days))
        end = f"{self.end_minutes // 60}:{self.end_minutes % 60:02d}"
        zone = "Japan time" if self.timezone == "Asia/Tokyo" else self.timezone
        return f"{days} {self.start.hour}:{self.start.minute:02d}-{end} ({zone})"

"""What a LINE webhook request may be before its events are handled: its size, its count, its age.

LINE's webhook bodies are small (a few events of a few kilobytes), so anything
larger is refused with 413 before a byte of it is read, signed or not: the route
streams, the declared ``Content-Length`` is checked first, and a body without one
(chunked) is read only up to the limit. Sanic is told the same limit, so after a
refusal it closes the connection instead of draining the rest.

A body's events beyond :attr:`WebhookLimits.max_events` are skipped (logged): LINE
sends a few per body, and each event can start a conversation. An event older than
:attr:`WebhookLimits.max_event_age` is not answered as if it were new (see
``LineInput._stale`` for what the member gets instead).

Settings (environment, read when the channel is built; ``bot.settings``):

====================================  =========  ==============================================
``KOSMO_LINE_MAX_BODY_BYTES``         1048576    larger webhook bodies get 413, unread
``KOSMO_LINE_MAX_EVENTS_PER_BODY``    20         events after these in one body are skipped
``KOSMO_LINE_MAX_EVENT_AGE_SECONDS``  600        older events are not answered as new
====================================  =========  ==============================================
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from sanic.exceptions import PayloadTooLarge
from sanic.request import Request

from bot.settings import (
    DEFAULT_LINE_MAX_BODY_BYTES,
    DEFAULT_LINE_MAX_EVENT_AGE_S,
    DEFAULT_LINE_MAX_EVENTS,
    ChannelSettings,
)

DEFAULT_MAX_BODY_BYTES = DEFAULT_LINE_MAX_BODY_BYTES
DEFAULT_MAX_EVENTS = DEFAULT_LINE_MAX_EVENTS
DEFAULT_MAX_EVENT_AGE_S = DEFAULT_LINE_MAX_EVENT_AGE_S
# LINE gives up on a webhook after 2 s; a body that takes longer to arrive is not LINE's
BODY_READ_TIMEOUT_S = 5.0

JST = dt.timezone(dt.timedelta(hours=9), "JST")


@dataclass(frozen=True)
class WebhookLimits:
    """Bounds on one webhook request (see the module docstring)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_events: int = DEFAULT_MAX_EVENTS
    max_event_age: float = DEFAULT_MAX_EVENT_AGE_S
    read_timeout: float = BODY_READ_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "WebhookLimits":
        return cls.from_settings(ChannelSettings.from_env(environ))

    @classmethod
    def from_settings(cls, settings: ChannelSettings) -> "WebhookLimits":
        return cls(
            max_body_bytes=settings.line_max_body_bytes,
            max_events=settings.line_max_events,
            max_event_age=settings.line_max_event_age,
        )


class BodyRefused(Exception):
    """The request's body is not read: too large, malformed length, or too slow."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The body of a streaming request, read only if it fits in ``limit`` bytes.

    Raises :class:`BodyRefused` (413 too large, 400 bad ``Content-Length``, 408 too
    slow). Call :func:`stop_reading` after a refusal.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BodyRefused(400, "malformed Content-Length") from None
        if size > limit:
            raise BodyRefused(413, f"body of {size} bytes exceeds {limit}")
    stream = request.stream
    if stream is None:  # a server that read the body already (not Sanic's HTTP/1.1 server)
        if len(request.body) > limit:
            raise BodyRefused(413, f"body exceeds {limit} bytes")
        return bytes(request.body)
    # Sanic's own check: a chunked body is refused as soon as it passes the limit
    stream.request_max_size = limit
    chunks: List[bytes] = []

    async def collect() -> None:
        total = 0
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge("body exceeds the limit")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), timeout)
    except PayloadTooLarge:
        raise BodyRefused(413, f"body exceeds {limit} bytes") from None
    except asyncio.TimeoutError:
        raise BodyRefused(408, f"body not received within {timeout:g} s") from None
    return b"".join(chunks)


def stop_reading(request: Request) -> None:
    """Tell Sanic to read nothing more of this request's body: it closes the connection."""
    if request.stream is not None and request.stream.request_body:
        request.stream.request_max_size = -1


def event_age(event: Mapping[str, Any], now: float) -> Optional[float]:
    """Seconds since the event happened (its ``timestamp``, ms), None without a usable one."""
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return None
    if not math.isfinite(timestamp):
        return None
    return now - timestamp / 1000.0


def stale_note(timestamp_ms: Any) -> str:
    """What a member whose message arrived too late to be answered is told (by push)."""
    when = ""
    if isinstance(timestamp_ms, (int, float)) and not isinstance(timestamp_ms, bool):
        try:
            at = dt.datetime.fromtimestamp(timestamp_ms / 1000.0, JST)
            when = f"{at.month}月{at.day}日 {at.hour}時{at.minute:02d}分に"
        except (OverflowError, OSError, ValueError):
            when = ""
    return (
        f"申し訳ありません。{when}お送りいただいたメッセージは、システムの都合で"
        "お届けが遅れたため、お答えできませんでした。"
        "お手数ですが、ご質問をもう一度お送りください。"
    )

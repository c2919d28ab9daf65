"""A local SMTP server for development: it accepts every message and keeps it.

``serve --dev`` starts one (default 127.0.0.1:8025) and the portal shows what
arrived at ``GET /dev/outbox``. Tests use it the same way, so mail goes
through real SMTP end to end. Nothing is relayed anywhere.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import itertools
import threading
from collections import deque
from typing import Any

from aiosmtpd.controller import Controller


class DevOutbox:
    """The last ``capacity`` messages the dev SMTP server received (thread-safe)."""

    def __init__(self, capacity: int = 500) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> dict[str, Any]:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
        body = body_part.get_content() if body_part is not None else ""
        with self._lock:
            item = {
                "id": next(self._ids),
                "received_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "mail_from": mail_from,
                "rcpt_tos": list(rcpt_tos),
                "from": str(msg.get("From", "")),
                "to": str(msg.get("To", "")),
                "subject": str(msg.get("Subject", "")),
                "body": body,
            }
            self._items.append(item)
        return item

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._items)
        if to:
            wanted = to.lower()
            items = [m for m in items if wanted in (r.lower() for r in m["rcpt_tos"])]
        return items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _Handler:
    def __init__(self, outbox: DevOutbox) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.outbox.add(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class DevSmtpServer:
    """aiosmtpd in its own thread; ``start()`` returns once it accepts connections."""

    def __init__(self, outbox: DevOutbox, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.outbox = outbox
        self.host = host
        self.port = port
        self._controller = Controller(_Handler(outbox), hostname=host, port=port)
        self._running = False

    def start(self) -> None:
        self._controller.start()
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

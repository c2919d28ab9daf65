"""LINE's Messaging API on loopback, for tests: checks tokens and limits, records every call.

Runs an aiohttp server in a thread of its own, so both synchronous tests (talking to a
real stack) and asynchronous ones can use it. It answers like LINE does:

- a missing or unknown bearer token -> 401;
- a reply token in ``invalid_reply_tokens`` -> 400 ``{"message": "Invalid reply token"}``;
- a message list or quick reply over LINE's limits -> 400 (so a test sees the violation);
- otherwise 200 ``{}`` (``/v2/bot/chat/loading/start``: 202).

Also builds webhook bodies shaped like LINE's documented examples.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

from aiohttp import web

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ITEMS = 13
MAX_LABEL = 20
MAX_DATA = 300


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request the bot made to LINE."""

    path: str
    status: int
    token: Optional[str]
    body: Dict[str, Any]
    headers: Dict[str, str] = field(default_factory=dict)

    @property
    def texts(self) -> List[str]:
        return [m.get("text", "") for m in self.body.get("messages", [])]


def limit_problems(messages: Any) -> List[str]:
    """What LINE would reject in a message list (empty when it is fine)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [f"messages must be a list of 1..{MAX_MESSAGES}"]
    problems = []
    for m in messages:
        if m.get("type") == "text" and not 1 <= utf16_len(m.get("text", "")) <= MAX_TEXT:
            problems.append("text length")
        items = (m.get("quickReply") or {}).get("items")
        if items is None:
            continue
        if not 1 <= len(items) <= MAX_ITEMS:
            problems.append("quick reply item count")
        for item in items:
            action = item.get("action") or {}
            if (
                item.get("type") != "action"
                or not 1 <= utf16_len(action.get("label", "")) <= MAX_LABEL
            ):
                problems.append(f"quick reply label {action.get('label')!r}")
            if (
                action.get("type") == "postback"
                and not 1 <= utf16_len(action.get("data", "")) <= MAX_DATA
            ):
                problems.append("postback data length")
    return problems


class FakeLine:
    """See the module docstring. ``tokens`` maps accepted access tokens to a name."""

    def __init__(self, tokens: Optional[Mapping[str, str]] = None) -> None:
        self.tokens: Dict[str, str] = dict(tokens or {})
        self.invalid_reply_tokens: set[str] = set()
        self.calls: List[Call] = []
        self._cond = threading.Condition()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- server
    def start(self) -> "FakeLine":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/v2/bot/message/reply", self._reply)
            app.router.add_post("/v2/bot/message/push", self._push)
            app.router.add_post("/v2/bot/chat/loading/start", self._loading)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-line", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LINE server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # --- recording
    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def calls_matching(self, predicate: Callable[[Call], bool]) -> List[Call]:
        with self._cond:
            return [c for c in self.calls if predicate(c)]

    def wait_for(
        self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 60.0
    ) -> List[Call]:
        """The calls matching ``predicate`` once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if predicate(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} matching LINE call(s) within {timeout}s, got {found!r}"
                    )
                self._cond.wait(left)

    # --- endpoints
    async def _read(self, request: web.Request) -> tuple[Optional[str], Dict[str, Any]]:
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = {}
        return token, body

    def _answer(
        self,
        request: web.Request,
        token: Optional[str],
        body: Dict[str, Any],
        status: int,
        payload: Dict[str, Any],
    ) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-line")}
        self._record(Call(request.path, status, token, body, headers))
        return web.json_response(payload, status=status)

    def _auth_failed(self, token: Optional[str]) -> bool:
        return token is None or token not in self.tokens

    async def _reply(self, request: web.Request) -> web.Response:
        token, body = await self._read(request)
        if self._auth_failed(token):
            return self._answer(request, token, body, 401, {"message": "Authentication failed"})
        if body.get("replyToken") in self.invalid_reply_tokens:
            return self._answer(request, token, body, 400, {"message": "Invalid reply token"})
        problems = limit_problems(body.get("messages"))
        if problems:
            return self._answer(request, token, body, 400, {"message": "; ".join(problems)})
        return self._answer(request, token, body, 200, {})

    async def _push(self, request: web.Request) -> web.Response:
        token, body = await self._read(request)
        if self._auth_failed(token):
            return self._answer(request, token, body, 401, {"message": "Authentication failed"})
        problems = limit_problems(body.get("messages"))
        if not body.get("to"):
            problems.append("to is required")
        if problems:
            return self._answer(request, token, body, 400, {"message": "; ".join(problems)})
        return self._answer(request, token, body, 200, {})

    async def _loading(self, request: web.Request) -> web.Response:
        token, body = await self._read(request)
        if self._auth_failed(token):
            return self._answer(request, token, body, 401, {"message": "Authentication failed"})
        seconds = body.get("loadingSeconds", 20)
        if not body.get("chatId") or seconds not in range(5, 61, 5):
            return self._answer(request, token, body, 400, {"message": "invalid loading request"})
        return self._answer(request, token, body, 202, {})


# --- webhook bodies, shaped like the examples in LINE's Messaging API reference


def user_id() -> str:
    return "U" + secrets.token_hex(16)


def event_id() -> str:
    return "01" + "".join(secrets.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(24))


def reply_token() -> str:
    return secrets.token_hex(16)


def _event(
    kind: str,
    user: str,
    *,
    with_reply_token: bool = True,
    token: Optional[str] = None,
    webhook_event_id: Optional[str] = None,
    timestamp_ms: Optional[int] = None,
    redelivery: bool = False,
) -> Dict[str, Any]:
    event: Dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": webhook_event_id or event_id(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if with_reply_token:
        event["replyToken"] = token or reply_token()
    return event


def text_event(user: str, text: str, **kw: Any) -> Dict[str, Any]:
    event = _event("message", user, **kw)
    event["message"] = {
        "id": str(secrets.randbelow(10**18)),
        "type": "text",
        "quoteToken": secrets.token_urlsafe(24),
        "text": text,
    }
    return event


def sticker_event(user: str, **kw: Any) -> Dict[str, Any]:
    event = _event("message", user, **kw)
    event["message"] = {
        "type": "sticker",
        "id": str(secrets.randbelow(10**18)),
        "quoteToken": secrets.token_urlsafe(24),
        "stickerId": "52002734",
        "packageId": "11537",
        "stickerResourceType": "STATIC",
        "keywords": ["Anticipation", "Happy"],
    }
    return event


def postback_event(user: str, data: str, **kw: Any) -> Dict[str, Any]:
    event = _event("postback", user, **kw)
    event["postback"] = {"data": data}
    return event


def follow_event(user: str, **kw: Any) -> Dict[str, Any]:
    event = _event("follow", user, **kw)
    event["follow"] = {"isUnblocked": False}
    return event


def unfollow_event(user: str, **kw: Any) -> Dict[str, Any]:
    return _event("unfollow", user, with_reply_token=False, **kw)


def webhook_body(*events: Dict[str, Any]) -> bytes:
    body = {"destination": "U" + "0" * 32, "events": list(events)}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")

"""LINE's Messaging API as the bot uses it: reply, push (retried once), loading animation.

One :class:`LineApi` per society's channel access token; the HTTP session is handed
in (the channel makes it inside the server's event loop) and every call has a
timeout. A refusal is a :class:`LineApiError` with LINE's status and message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, Callable, Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class LineApiError(Exception):
    """LINE answered a call with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"LINE API {status}: {body[:300]}")
        self.status = status
        self.body = body

    @property
    def invalid_reply_token(self) -> bool:
        return self.status == 400 and "invalid reply token" in self.body.lower()


class LineApi:
    """The three Messaging API calls the bot makes, with one channel's access token."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        session: Callable[[], aiohttp.ClientSession],
        timeout: Optional[aiohttp.ClientTimeout] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._access_token = access_token
        self._session = session
        self._timeout = timeout or aiohttp.ClientTimeout(total=10, connect=5)

    async def reply(self, reply_token: str, messages: List[Dict[str, Any]]) -> None:
        await self._post("/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})

    async def push(self, to: str, messages: List[Dict[str, Any]]) -> None:
        """Push, retried once on a server error or lost connection.

        The retry key makes LINE deliver at most once (a repeat gets 409).
        """
        headers = {"X-Line-Retry-Key": str(uuid.uuid4())}
        payload = {"to": to, "messages": messages}
        try:
            await self._post("/v2/bot/message/push", payload, headers)
        except LineApiError as e:
            if e.status < 500:
                raise
            logger.warning("LINE push failed (%s); retrying once", e.status)
            await self._retry_push(payload, headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.warning("LINE push failed (%r); retrying once", e)
            await self._retry_push(payload, headers)

    async def _retry_push(self, payload: Dict[str, Any], headers: Dict[str, str]) -> None:
        await asyncio.sleep(0.5)
        try:
            await self._post("/v2/bot/message/push", payload, headers)
        except LineApiError as e:
            if e.status != 409:  # 409: the first attempt did arrive
                raise

    async def show_loading(self, chat_id: str, seconds: int) -> None:
        seconds = min(60, max(5, 5 * round(seconds / 5)))
        await self._post(
            "/v2/bot/chat/loading/start", {"chatId": chat_id, "loadingSeconds": seconds}
        )

    async def _post(
        self, path: str, payload: Dict[str, Any], headers: Optional[Dict[str, str]] = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        all_headers = {
            "Authorization": f"Bearer {self._access_token}",
            "Content-Type": "application/json; charset=utf-8",
            **(headers or {}),
        }
        async with self._session().post(
            self.base_url + path, data=body, headers=all_headers, timeout=self._timeout
        ) as resp:
            if not 200 <= resp.status < 300:
                raise LineApiError(resp.status, await resp.text())

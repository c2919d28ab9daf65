"""The widget records each message's origin: its socket's client address, never the client's word.

A real Sanic server on loopback with the widget channel and a stand-in for Rasa,
driven by socket.io clients. Fresh sessions from one address share one origin (so the
portal's per-origin limits hold however many sessions a script opens); behind a trusted
proxy the address it forwards counts (an IPv6 client as its /64); an ``origin`` the
client puts in its metadata is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.input_bounds import InputBounds
from bot.channels.origin import KIND_WIDGET, Origins
from bot.channels.widget import SessionIds, WidgetInput
from bot.client_address import ClientAddresses
from bot.domain.messages import ORIGIN_RE
from tests.channels.test_widget_channel import WidgetClient
from tests.served_app import (
    sanic_test_mode,  # noqa: F401 (autouse fixture)
    served,
)

SECRET = "a-widget-session-secret-for-tests-0123"
OF = Origins(KIND_WIDGET, SECRET).of


class Recorder:
    """A stand-in for Rasa: notes each message and answers it."""

    def __init__(self) -> None:
        self.seen: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "答えです"})


class HeaderClient(WidgetClient):
    """A widget client whose requests carry ``headers`` (what a proxy in front would add)."""

    def __init__(self, url: str, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(url)
        self.headers = headers or {}

    async def __aenter__(self) -> "HeaderClient":
        await self.sio.connect(self.url, headers=self.headers, transports=["polling"])
        return self


@contextlib.asynccontextmanager
async def serving(addresses: ClientAddresses, recorder: Recorder) -> AsyncIterator[str]:
    channel = WidgetInput(SessionIds(SECRET), bounds=InputBounds(), client_addresses=addresses)
    app = Sanic(f"widget_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(recorder), url_prefix="/webhooks/socketio")
    async with served(app) as base_url:
        yield f"{base_url}"


async def one_message(url: str, headers: Optional[Dict[str, str]] = None, **metadata: Any) -> str:
    """Open a fresh session, send one message; its session id."""
    async with HeaderClient(url, headers) as client:
        session_id, _ = await client.session()
        await client.say("こんにちは", session_id, tenant="kose", **metadata)
        await client.wait("turn_end")
    return session_id


async def test_fresh_sessions_from_one_address_share_one_origin_and_a_sent_one_is_dropped():
    recorder = Recorder()
    async with serving(ClientAddresses(), recorder) as url:
        sessions = [
            await one_message(url, origin="widget:" + "0" * 32),
            await one_message(url, origin={"nested": True}),
            await one_message(url, headers={"X-Forwarded-For": "203.0.113.9"}),  # no proxy trusted
        ]
    assert len(set(sessions)) == 3  # three sender ids ...
    assert [m.sender_id for m in recorder.seen] == sessions
    # ... one origin, the channel's digest of the socket's address (loopback here)
    assert [m.metadata for m in recorder.seen] == [{"tenant": "kose", "origin": OF("127.0.0.1")}] * 3
    assert ORIGIN_RE.fullmatch(OF("127.0.0.1")) and "127.0.0.1" not in OF("127.0.0.1")


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_origin():
    recorder = Recorder()
    async with serving(ClientAddresses(header="x-forwarded-for"), recorder) as url:
        for forwarded in ("198.51.100.1, 203.0.113.7", "203.0.113.7", "203.0.113.8",
                          "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"):
            await one_message(url, headers={"X-Forwarded-For": forwarded})
    assert [m.metadata["origin"] for m in recorder.seen] == [
        OF("203.0.113.7"), OF("203.0.113.7"), OF("203.0.113.8"),
        OF("2001:db8:1:2::/64"), OF("2001:db8:1:2::/64"), OF("2001:db8:1:3::/64"),
    ]


async def test_a_too_long_message_and_the_echo_still_work_with_origins():
    """The echo to other tabs and the "too long" answer are unchanged by the origin."""
    recorder = Recorder()
    async with serving(ClientAddresses(), recorder) as url:
        async with HeaderClient(url) as tab1, HeaderClient(url) as tab2:
            session_id, _ = await tab1.session()
            await tab2.session(session_id)
            await tab1.say("こんにちは", session_id, tenant="kose")
            await tab1.wait("turn_end")
            await asyncio.wait_for(tab2.wait("user_echo"), 10)
    assert tab2.received("user_echo") == [{"text": "こんにちは"}]
    assert recorder.seen[0].metadata["origin"] == OF("127.0.0.1")

"""The widget's socket.io channel on the real Rasa server, driven by a socket.io client.

Sessions are issued by the server; a socket writes only into the session it was
confirmed for; every tab of a session sees the conversation; a resumed session gets
its transcript. (The Python client uses long-polling: its websocket transport needs a
newer aiohttp than Rasa 3.6 allows. The browser test covers websockets.)
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, List, Optional, Tuple

import pytest
import socketio

from bot.channels.line_output import conversation_id

pytestmark = [pytest.mark.e2e, pytest.mark.model]

ONO_PORTAL = "https://www.onokenpo.portal.kosmo-web.jp/"
SESSION_ID = re.compile(r"[0-9a-f]{64}")
RASA_METADATA = {"model_id", "assistant_id"}


class WidgetClient:
    """A socket.io client that records what the server emits to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: List[Tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._changed.set()

    async def __aenter__(self) -> "WidgetClient":
        await self.sio.connect(self.url, transports=["polling"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        # A polite disconnect waits for the pending long-poll (up to the server's 25 s
        # ping interval); tell the server we leave, then stop the client's loops.
        eio = self.sio.eio
        loops = [t for t in (eio.read_loop_task, eio.write_loop_task) if t is not None]
        await eio.disconnect(abort=True)
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if eio.http is not None and not eio.http.closed:
            await eio.http.close()

    def received(self, event: str) -> List[Any]:
        return [data for name, data in self.events if name == event]

    async def wait(self, event: str, count: int = 1, timeout: float = 60.0) -> List[Any]:
        async def until() -> List[Any]:
            while len(self.received(event)) < count:
                self._changed.clear()
                await self._changed.wait()
            return self.received(event)

        return await asyncio.wait_for(until(), timeout)

    async def session(self, requested: Any = None) -> Tuple[str, List[dict]]:
        before = len(self.received("session_history"))
        await self.sio.emit("session_request", {"session_id": requested})
        history = (await self.wait("session_history", before + 1))[-1]["messages"]
        return self.received("session_confirm")[-1], history

    async def say(self, text: str, session_id: Optional[str], **metadata: str) -> None:
        await self.sio.emit(
            "user_uttered", {"message": text, "session_id": session_id, "metadata": metadata}
        )

    def bot_texts(self) -> str:
        return "\n".join(m.get("text", "") for m in self.received("bot_uttered"))


@pytest.fixture
def url(channel_stack) -> str:
    return channel_stack.rasa_url


def user_events(rest, sender: str) -> list[dict]:
    status, tracker = rest.tracker(sender)
    assert status == 200
    return [e for e in tracker.get("events", []) if e.get("event") == "user"]


async def test_the_server_issues_unguessable_session_ids(url):
    async with WidgetClient(url) as a, WidgetClient(url) as b:
        id_a, history = await a.session()
        id_b, _ = await b.session()
    assert SESSION_ID.fullmatch(id_a) and SESSION_ID.fullmatch(id_b)
    assert id_a != id_b
    assert history == []


@pytest.mark.parametrize(
    "requested",
    [
        "0" * 64,
        "member-1",
        conversation_id("kose", "U" + "a" * 32),  # a LINE member's conversation
        12345,
        "TAMPERED",  # a real id with its signature half changed (filled in below)
    ],
)
async def test_made_up_or_tampered_session_ids_are_replaced(url, requested):
    async with WidgetClient(url) as client:
        if requested == "TAMPERED":
            real, _ = await client.session()
            requested = real[:32] + ("0" if real[32] != "0" else "1") + real[33:]
        issued, history = await client.session(requested)
    assert issued != requested and SESSION_ID.fullmatch(issued)
    assert history == []


async def test_a_message_is_answered_for_the_society_in_every_tab_of_the_session(url):
    async with WidgetClient(url) as tab1, WidgetClient(url) as tab2:
        session_id, _ = await tab1.session()
        resumed, _ = await tab2.session(session_id)
        assert resumed == session_id

        await tab1.say("ポータルのURLは？", session_id, tenant="ono")

        for tab in (tab1, tab2):
            await tab.wait("turn_end")
            assert ONO_PORTAL in tab.bot_texts()
        assert tab2.received("user_echo") == [{"text": "ポータルのURLは？"}]
        assert tab1.received("user_echo") == []  # the sender shows its own message


async def test_a_resumed_session_gets_its_transcript(url):
    async with WidgetClient(url) as client:
        session_id, _ = await client.session()
        await client.say("/greet", session_id, tenant="ono")  # the widget's hidden opening
        await client.wait("turn_end")
        await client.say("ポータルのURLは？", session_id, tenant="ono")
        await client.wait("turn_end", 2)

    async with WidgetClient(url) as reloaded:
        resumed, history = await reloaded.session(session_id)

    assert resumed == session_id
    assert [m["sender"] for m in history] == ["bot", "user", "bot"]
    assert "小野薬品健康保険組合" in history[0]["text"]  # the greeting names the society
    assert history[1]["text"] == "ポータルのURLは？"
    assert ONO_PORTAL in history[2]["text"]


async def test_a_button_press_shows_its_title_in_the_transcript(url):
    async with WidgetClient(url) as client:
        session_id, _ = await client.session()
        await client.say("/greet", session_id, tenant="kose", display_text="あいさつ")
        await client.wait("turn_end")
        _, history = await client.session(session_id)
    assert history[0] == {"sender": "user", "text": "あいさつ"}
    assert "コーセー健康保険組合" in history[1]["text"]


async def test_nobody_can_write_into_another_members_session(url, channel_rest):
    async with WidgetClient(url) as member, WidgetClient(url) as intruder:
        victim, _ = await member.session()
        own, _ = await intruder.session()

        await intruder.say("のっとり", victim, tenant="kose")  # someone else's id
        async with WidgetClient(url) as unconfirmed:  # no session_request at all
            await unconfirmed.say("のっとり", victim, tenant="kose")
            await asyncio.sleep(2)

        assert member.received("user_echo") == [] and member.received("bot_uttered") == []
    assert user_events(channel_rest, victim) == []
    assert user_events(channel_rest, own) == []


async def test_only_the_metadata_the_bot_uses_is_kept(url, channel_rest):
    async with WidgetClient(url) as client:
        session_id, _ = await client.session()
        await client.say("ポータルのURLは？", session_id, tenant="ono", tracking="x" * 5000)
        await client.wait("turn_end")
    (event,) = user_events(channel_rest, session_id)
    # Rasa adds its own model_id and assistant_id; nothing else from the client is kept,
    # and the channel adds the origin (tests/channels/test_origin_on_the_stack.py)
    kept = {k: v for k, v in event["metadata"].items() if k not in RASA_METADATA}
    assert kept.pop("origin").startswith("widget:")
    assert kept == {"tenant": "ono"}
    assert ONO_PORTAL in client.bot_texts()

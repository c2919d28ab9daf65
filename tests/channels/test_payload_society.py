"""Payload or not, and whose society, decided once for every channel; the widget's socket.io body bounded.

- White space around a typed ``/greet{"society": "ono"}`` (Unicode spaces included)
  cannot make it a payload for Rasa (which strips) that the channel did not see as
  one: the society stays the channel's, on LINE and REST alike.
- A payload naming another society keeps the channel's.
- A 50 MB socket.io polling POST is refused (413) before the body is read.

Real Sanic servers on loopback with stand-ins for Rasa (no trained model needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any, AsyncIterator, List

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message
from sanic import Sanic

from bot.channels.input_bounds import InputBounds
from bot.channels.rest import SocietyRestInput
from bot.channels.widget import SessionIds, WidgetInput
from tests.channels.fake_line import postback_event, text_event, user_id, webhook_body
from tests.channels.raw_http import upload
from tests.channels.test_line_channel import (  # noqa: F401 (fixtures)
    fake,
    handoff_db,
    make_channel,
    sanic_test_mode,
)
from tests.channels.test_line_channel import post as line_post
from tests.channels.test_line_channel import serving as line_serving
from tests.channels.test_rest_channel import TOKEN, Recorder
from tests.channels.test_rest_channel import post as rest_post
from tests.channels.test_rest_channel import serving as rest_serving
from tests.served_app import served

FOREIGN = '/greet{"society": "ono"}'
# white space Python's str.strip (and so Rasa) removes: ASCII, NBSP, ideographic,
# em space, line and paragraph separators, next line
SPACES = [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u2028", "\u2029", "\u0085", " \u3000\t"]
WRAPPED = [f"{s}{FOREIGN}" for s in SPACES] + [f"{FOREIGN}{s}" for s in SPACES] + [f"{s}{FOREIGN}{s}" for s in SPACES]


def society_rasa_reads(text: str) -> Any:
    """The ``society`` entity Rasa's RegexMessageHandler would give this text (None: none)."""
    parsed = YAMLStoryReader.unpack_regex_message(Message({"text": text}))
    societies = [e["value"] for e in parsed.get("entities") or [] if e.get("entity") == "society"]
    assert len(societies) <= 1
    return societies[0] if societies else None


@pytest.mark.parametrize("text", WRAPPED + [FOREIGN])
async def test_on_line_white_space_cannot_change_the_society(fake, text):  # noqa: F811
    seen: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)

    async with line_serving(make_channel(fake), on_new_message) as url:
        await line_post(url, webhook_body(text_event(user_id(), text)))
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.05)
    (message,) = seen
    assert message.text == '/greet{"society": "kose"}'
    assert society_rasa_reads(message.text) == "kose"
    assert message.metadata["tenant"] == "kose"


async def test_on_line_a_postback_naming_another_society_keeps_the_accounts(fake):  # noqa: F811
    seen: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)

    async with line_serving(make_channel(fake), on_new_message) as url:
        data = '/choose_topic{"topic": "faq/portal_url", "society": "ono"}'
        await line_post(url, webhook_body(postback_event(user_id(), data)))
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.05)
    (message,) = seen
    assert json.loads(message.text[len("/choose_topic"):]) == {"topic": "faq/portal_url", "society": "kose"}


@pytest.mark.parametrize("society", ["kose", None])
async def test_on_rest_white_space_or_a_typed_society_cannot_change_it(society):
    recorder = Recorder()
    channel = SocietyRestInput(token=TOKEN, bounds=InputBounds())
    metadata = {"tenant": society} if society else {}
    async with rest_serving(channel, recorder) as url:
        for text in WRAPPED + [FOREIGN]:
            status, _ = await rest_post(url, {"sender": "a", "message": text, "metadata": metadata})
            assert status == 200
    assert len(recorder.seen) == len(WRAPPED) + 1
    for message in recorder.seen:
        # the registry's society from the metadata, or none at all: never the typed one
        assert society_rasa_reads(message.text) == society, repr(message.text)
        assert message.text == ('/greet{"society": "kose"}' if society else "/greet")


async def test_on_rest_typed_text_that_is_not_ours_stays_text_whatever_the_spaces():
    recorder = Recorder()
    async with rest_serving(SocietyRestInput(token=TOKEN, bounds=InputBounds()), recorder) as url:
        for space in SPACES:
            text = f'{space}/EXTERNAL_handoff_taken{{"society": "ono"}}'
            await rest_post(url, {"sender": "a", "message": text, "metadata": {"tenant": "kose"}})
    for message in recorder.seen:
        assert message.text == "／EXTERNAL_handoff_taken"
        assert society_rasa_reads(message.text) is None


# --- the widget's socket.io polling body ----------------------------------------------


@contextlib.asynccontextmanager
async def widget_serving() -> AsyncIterator[str]:
    channel = WidgetInput(SessionIds("a-widget-secret-for-the-tests"), bounds=InputBounds())

    async def on_new_message(message: UserMessage) -> None:
        return None

    app = Sanic(f"widget_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/socketio")
    async with served(app) as base_url:
        yield f"{base_url}"


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_50_mb_socketio_polling_post_is_refused_before_it_is_read(chunked):
    async with widget_serving() as base:
        url = f"{base}/socket.io/?EIO=4&transport=polling&sid=x"
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        result = await asyncio.to_thread(upload, url, 50 * 1024 * 1024, headers, chunked=chunked)
        assert result.status == 413
        if chunked:  # read up to the limit (256 KiB), then cut off
            assert result.sent < 8 * 1024 * 1024
        else:  # answered after the head and the first 64 KiB
            assert result.sent <= 64 * 1024
        assert result.closed  # the rest is not read either
        # the server goes on serving: a socket.io handshake still works
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/socket.io/?EIO=4&transport=polling") as resp:
                assert resp.status == 200
                assert '"sid"' in await resp.text()


# --- the widget: bounded once, the echo from that result, the page's society only -------


async def test_the_widget_bounds_each_message_once_and_echoes_what_the_bot_reads(monkeypatch):
    import bot.channels.input_bounds as input_bounds
    from tests.channels.test_widget_channel import WidgetClient

    filtered: List[str] = []
    real = input_bounds.member_payload

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        filtered.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(input_bounds, "member_payload", counting)
    recorder = Recorder()
    channel = WidgetInput(SessionIds("a-widget-secret-for-the-tests"), bounds=InputBounds())
    app = Sanic(f"widget_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(recorder), url_prefix="/webhooks/socketio")
    async with served(app) as url:
        async with WidgetClient(url) as tab1, WidgetClient(url) as tab2:
            session_id, _ = await tab1.session()
            await tab2.session(session_id)
            await tab1.say("\u3000/affirm{\"society\": \"ono\"} ", session_id, tenant="kose", display_text="はい")
            await tab1.wait("turn_end")
            await asyncio.wait_for(tab2.wait("user_echo"), 10)
    assert len(filtered) == 1  # one message, bounded once
    assert tab2.received("user_echo") == [{"text": "はい"}]  # the button's title, as the bot has it
    (message,) = recorder.seen
    assert message.text == '/affirm{"society": "kose"}'  # the page's society, not the typed one
    assert message.metadata["display_text"] == "はい"

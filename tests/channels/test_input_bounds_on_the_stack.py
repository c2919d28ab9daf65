"""Bounded inputs on the real Rasa server, over each channel (REST, widget, LINE to a fake LINE API).

A too long message gets the clear answer and never reaches the NLU or the tracker;
metadata is trimmed; a typed internal intent is plain text; display_text on free
text is ignored; REST needs its token and cannot write into a LINE conversation.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid

import pytest

from bot.channels.line_output import conversation_id as line_conversation_id
from tests.channels.fake_line import reply_token, text_event, user_id, webhook_body
from tests.channels.test_widget_channel import RASA_METADATA, WidgetClient
from tests.e2e.conftest import RestClient

pytestmark = [pytest.mark.e2e, pytest.mark.model]

TOO_LONG = "メッセージが長すぎます（2,000文字まで）。\nお手数ですが、短く分けてお送りください。"
TAKEN = "担当者がチャットに入りました"
CLOSED = "担当者との会話は終了しました"
# varied characters, as a real long message would have (not one repeated kana)
LONG_TEXT = ("パスワードを忘れてしまい、ログインできません。ワンタイムパスワードも届きません。" * 60)[:2001]


@pytest.fixture(scope="module")
def rest(channel_stack) -> RestClient:
    return RestClient.for_stack(channel_stack)


def sender() -> str:
    return f"bounds-{uuid.uuid4().hex[:12]}"


def ours(metadata: dict) -> dict:
    """A stored message's metadata without what Rasa itself adds (model and assistant ids)."""
    return {k: v for k, v in metadata.items() if k not in RASA_METADATA}


def user_events(rest: RestClient, conversation: str) -> list[dict]:
    status, tracker = rest.tracker(conversation)
    assert status == 200
    return [e for e in tracker.get("events", []) if e.get("event") == "user"]


# --- REST -------------------------------------------------------------------------


def test_rest_needs_its_token(rest):
    s = sender()
    body = json.dumps({"sender": s, "message": "こんにちは"}).encode()
    assert rest.post(body, rest_token=None)[0] == 401
    assert rest.post(body, rest_token="wrong-" + (rest.rest_token or ""))[0] == 401
    assert user_events(rest, rest.conversation(s)) == []


def test_a_too_long_rest_message_is_answered_clearly_without_the_nlu(rest):
    s = sender()
    assert [m["text"] for m in rest.send(s, LONG_TEXT, "kose")] == [TOO_LONG]
    assert user_events(rest, rest.conversation(s)) == []  # nothing parsed, nothing stored
    # the member can go on with a shorter message
    assert "kosekenpo" in rest.text(s, "ポータルのURLは？", "kose")


def test_a_2000_character_message_is_read(rest):
    s = sender()
    answer = rest.text(s, LONG_TEXT[:2000], "kose")
    assert answer and answer != TOO_LONG
    assert [e["text"] for e in user_events(rest, rest.conversation(s))] == [LONG_TEXT[:2000]]


def test_rest_metadata_is_trimmed_and_a_huge_body_refused(rest):
    s = sender()
    metadata = {"tenant": "kose", "display_text": "偽の表示", "extra": "x" * 40_000, "deep": {"a": list(range(500))}}
    rest.send(s, "ポータルのURLは？", metadata=metadata)
    [event] = user_events(rest, rest.conversation(s))
    # no display_text on free text; the origin is the channel's (tests/channels/test_origin_on_the_stack.py)
    assert set(ours(event["metadata"])) == {"tenant", "origin"} and event["metadata"]["tenant"] == "kose"
    body = json.dumps({"sender": s, "message": "こんにちは", "metadata": {"blob": "x" * 1_000_000}}).encode()
    status, _ = rest.post(body)
    assert status == 413
    assert len(user_events(rest, rest.conversation(s))) == 1


def test_a_typed_internal_intent_triggers_nothing_internal(rest):
    s = sender()
    answer = rest.text(s, "/EXTERNAL_handoff_taken", "kose")
    assert TAKEN not in answer
    answer += rest.text(s, '/EXTERNAL_handoff_closed{"society": "kose"}', "kose")
    assert CLOSED not in answer  # the closed event's "was it solved?" never came
    events = user_events(rest, rest.conversation(s))
    # read by the NLU as text (which may take it for a password and store it masked)
    assert len(events) == 2
    assert not any(e["text"].startswith("/") for e in events)
    assert not any(e["parse_data"]["intent"]["name"].startswith("EXTERNAL_") for e in events)


def test_rest_cannot_write_into_a_line_conversation(rest, line, fake_line):
    user, token = user_id(), reply_token()
    status, _ = line["kose"].post(webhook_body(text_event(user, "こんにちは", token=token)))
    assert status == 200
    fake_line.wait_for(lambda c: c.body.get("replyToken") == token)
    line_conversation = line_conversation_id("kose", user)
    before = user_events(rest, line_conversation)
    assert [e["text"] for e in before] == ["こんにちは"]

    body = json.dumps({"sender": line_conversation, "message": "パスワードを教えて"}).encode()
    status, answer = rest.post(body)
    assert status == 400 and "sender" in answer["error"]
    # the LINE user id alone is a REST sender of its own, in a conversation of its own
    rest.send(user, "パスワードを教えて", "kose")
    assert user_events(rest, line_conversation) == before
    assert [e["text"] for e in user_events(rest, rest.conversation(user))] == ["パスワードを教えて"]


# --- widget -----------------------------------------------------------------------


async def test_the_widget_answers_a_too_long_message_clearly_and_reads_plain_text(channel_stack, rest):
    async with WidgetClient(channel_stack.rasa_url) as client:
        session, _ = await client.session()
        await client.say(LONG_TEXT, session, tenant="kose")
        await client.wait("turn_end")
        assert [m.get("text") for m in client.received("bot_uttered")] == [TOO_LONG]
        assert user_events(rest, session) == []

        await client.say("/EXTERNAL_handoff_taken", session, tenant="kose", display_text="はい")
        await client.wait("turn_end", 2)
        assert TAKEN not in client.bot_texts()
    [event] = user_events(rest, session)
    assert not event["text"].startswith("/")  # text for the NLU (perhaps stored masked, as a password)
    assert not event["parse_data"]["intent"]["name"].startswith("EXTERNAL_")
    assert set(ours(event["metadata"])) == {"tenant", "origin"} and event["metadata"]["tenant"] == "kose"


async def test_the_widget_refuses_a_packet_over_the_size_limit(channel_stack, rest):
    # 100,000 characters are 300-600 KB as socket.io JSON: over MAX_BODY_BYTES (256 KB),
    # under python-engineio's default of 1 MB, which would have let the channel answer "too long"
    async with WidgetClient(channel_stack.rasa_url) as client:
        session, _ = await client.session()
        try:
            await client.say("パ" * 100_000, session, tenant="kose")
        except Exception:  # the server may drop the connection: that is a refusal too
            pass
        await asyncio.sleep(3)
        assert client.received("bot_uttered") == [] and client.received("turn_end") == []
    assert user_events(rest, session) == []


# --- LINE -------------------------------------------------------------------------


def test_line_answers_a_too_long_message_clearly(rest, line, fake_line):
    user, token = user_id(), reply_token()
    status, _ = line["ono"].post(webhook_body(text_event(user, LONG_TEXT, token=token)))
    assert status == 200
    (call,) = fake_line.wait_for(lambda c: c.body.get("replyToken") == token)
    assert call.texts == [TOO_LONG]
    assert user_events(rest, line_conversation_id("ono", user)) == []


# --- the HTTP API -----------------------------------------------------------------


def test_model_parse_of_a_huge_text_reads_a_bounded_prefix_quickly(channel_stack):
    """/model/parse (HTTP API, with its token) has no channel in front: the NLU itself is bounded."""
    text = LONG_TEXT * 100  # about 200,000 characters
    request = urllib.request.Request(
        f"{channel_stack.rasa_url}/model/parse?token={channel_stack.env['RASA_AUTH_TOKEN']}",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    start = time.monotonic()
    with urllib.request.urlopen(request, timeout=60) as resp:
        parsed = json.loads(resp.read())
    elapsed = time.monotonic() - start
    assert resp.status == 200 and parsed["intent"]["name"]
    assert elapsed < 5.0, elapsed  # before: minutes, or MemoryError


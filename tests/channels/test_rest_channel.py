"""The REST channel's webhook in a real Sanic server on loopback, with a stand-in for Rasa.

Token, body size before reading, sender namespace, bounded message and metadata, and
the origin the channel records (the caller's address, never what the body says).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Sanic

from bot.channels.input_bounds import MAX_BODY_BYTES, InputBounds
from bot.channels.origin import KIND_REST, Origins
from bot.channels.rest import SocietyRestInput, conversation_id
from bot.client_address import ClientAddresses
from tests.served_app import (
    sanic_test_mode,  # noqa: F401 (autouse fixture)
    served,
)

TOKEN = "a-rest-token-for-the-tests-0123456789"
# the origin the channel records for a caller on loopback (a keyed digest of 127.0.0.1)
LOOPBACK_ORIGIN = Origins(KIND_REST, TOKEN).of("127.0.0.1")


class Recorder:
    """A stand-in for Rasa: notes each message and answers it."""

    def __init__(self) -> None:
        self.seen: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "答えです"})


@contextlib.asynccontextmanager
async def serving(channel: SocietyRestInput, on_new_message: Recorder) -> AsyncIterator[str]:
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    async with served(app) as base_url:
        yield f"{base_url}/webhooks/rest/webhook"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def url(recorder: Recorder) -> AsyncIterator[str]:
    channel = SocietyRestInput(token=TOKEN, bounds=InputBounds(max_message_chars=2000))
    async with serving(channel, recorder) as u:
        yield u


async def post(url: str, body: Any, token: Optional[str] = TOKEN, raw: Optional[bytes] = None,
               headers: Optional[Dict[str, str]] = None) -> tuple[int, Any]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=data, headers=all_headers) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text.startswith(("[", "{")) else text


async def test_a_message_reaches_the_bot_in_the_senders_own_rest_conversation(url, recorder):
    status, answer = await post(url, {"sender": "alice-1", "message": "こんにちは", "input_channel": "line"})
    assert status == 200
    assert answer == [{"recipient_id": "alice-1", "text": "答えです"}]
    [message] = recorder.seen
    assert message.sender_id == "rest:alice-1" == conversation_id("alice-1")
    assert message.input_channel == "rest"  # the body does not choose another channel


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x", TOKEN[:-1]])
async def test_without_the_token_nothing_is_read(url, recorder, token):
    status, answer = await post(url, {"sender": "a", "message": "こんにちは"}, token=token)
    assert status == 401 and recorder.seen == []


async def test_the_token_must_be_a_bearer_token(url, recorder):
    status, _ = await post(url, {"sender": "a", "message": "x"}, token=None, headers={"Authorization": f"Basic {TOKEN}"})
    assert status == 401 and recorder.seen == []


@pytest.mark.parametrize(
    "sender",
    ["line:kose:U0123456789abcdef0123456789abcdef", "rest:alice", "a" * 65, "", "名前", "a b", "../x", 42, None],
)
async def test_a_sender_outside_the_safe_charset_is_refused(url, recorder, sender):
    status, answer = await post(url, {"sender": sender, "message": "こんにちは"})
    assert status == 400 and "sender" in answer["error"]
    assert recorder.seen == []


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"sender": "a", "message": 5}', b'{"sender": "a"}', b"\xff\xfe{}", b"[" * 100_000],
)
async def test_a_malformed_body_gets_400(url, recorder, raw):
    status, _ = await post(url, None, raw=raw)
    assert status == 400 and recorder.seen == []


async def test_a_body_over_the_limit_is_refused_before_it_is_read(url, recorder):
    metadata = {"tenant": "kose", "blob": "x" * MAX_BODY_BYTES}
    status, answer = await post(url, {"sender": "a", "message": "こんにちは", "metadata": metadata})
    assert status == 413 and str(MAX_BODY_BYTES) in answer["error"]
    assert recorder.seen == []


async def test_after_a_refused_body_the_connection_is_closed_and_the_next_request_works(url, recorder):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    big = {"sender": "a", "message": "x" * (2 * MAX_BODY_BYTES)}
    async with aiohttp.ClientSession() as http:  # one keep-alive connection pool
        async with http.post(url, json=big, headers=headers) as resp:
            assert resp.status == 413
            assert resp.headers.get("Connection", "").lower() == "close"
        async with http.post(url, json={"sender": "a", "message": "こんにちは"}, headers=headers) as resp:
            assert resp.status == 200
    assert [m.text for m in recorder.seen] == ["こんにちは"]


async def test_a_chunked_body_over_the_limit_is_refused_too(url, recorder):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sender": "a", "message": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024
            await asyncio.sleep(0)
        yield b'"}'

    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=chunks(), headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 413
    assert recorder.seen == []


async def test_a_too_long_message_gets_the_clear_answer_without_the_bot(url, recorder):
    status, answer = await post(url, {"sender": "a", "message": "長" * 2001, "metadata": {"tenant": "kose"}})
    assert status == 200
    assert answer == [{
        "recipient_id": "a",
        "text": "メッセージが長すぎます（2,000文字まで）。\nお手数ですが、短く分けてお送りください。",
    }]
    assert recorder.seen == []


async def test_metadata_is_trimmed_to_the_keys_the_bot_uses(url, recorder):
    metadata = {"tenant": "kose", "display_text": "偽の表示", "extra": "x" * 30_000, "deep": {"a": list(range(100))}}
    status, _ = await post(url, {"sender": "a", "message": "こんにちは", "metadata": metadata})
    assert status == 200
    # display_text on free text: dropped; the origin is the channel's own
    assert recorder.seen[0].metadata == {"tenant": "kose", "origin": LOOPBACK_ORIGIN}


async def test_a_typed_internal_intent_is_plain_text_and_a_button_payload_keeps_its_society(url, recorder):
    await post(url, {"sender": "a", "message": "/EXTERNAL_handoff_taken", "metadata": {"tenant": "kose"}})
    await post(url, {"sender": "a", "message": "/affirm", "metadata": {"tenant": "ono", "display_text": "はい"}})
    texts = [m.text for m in recorder.seen]
    assert texts == ["／EXTERNAL_handoff_taken", '/affirm{"society": "ono"}']
    assert recorder.seen[1].metadata == {"tenant": "ono", "display_text": "はい", "origin": LOOPBACK_ORIGIN}


async def test_without_a_configured_token_the_webhook_is_open_but_still_namespaced(recorder):
    async with serving(SocietyRestInput(bounds=InputBounds(), allow_unauthenticated=True), recorder) as u:
        status, _ = await post(u, {"sender": "bob", "message": "こんにちは"}, token=None)
    assert status == 200 and recorder.seen[0].sender_id == "rest:bob"


@pytest.mark.parametrize("token", ["change-me", "", "short"])
def test_a_placeholder_or_short_token_refuses_to_start(token):
    with pytest.raises(RasaException, match="KOSMO_REST_TOKEN"):
        SocietyRestInput.from_credentials({"token": token})
    assert SocietyRestInput.from_credentials({"token": TOKEN}).token == TOKEN
    # no token line: refuses to start, unless an open channel is asked for explicitly
    for missing in (None, {}, {"allow_unauthenticated": False}):
        with pytest.raises(RasaException, match="no token configured"):
            SocietyRestInput.from_credentials(missing)
    with pytest.raises(RasaException, match="true or false"):
        SocietyRestInput.from_credentials({"allow_unauthenticated": "yes"})
    open_channel = SocietyRestInput.from_credentials({"allow_unauthenticated": True})
    assert open_channel.token is None and open_channel.allow_unauthenticated


async def test_the_origin_is_the_callers_address_whatever_the_body_says(url, recorder):
    forged = "rest:" + "0" * 32
    for sender, metadata in (("a", {"tenant": "kose", "origin": forged}), ("b", {"origin": {"x": 1}}),
                             ("c", None)):
        status, _ = await post(url, {"sender": sender, "message": "こんにちは", "metadata": metadata})
        assert status == 200
    origins = [m.metadata.get("origin") for m in recorder.seen]
    # every sender id of one caller has the caller's one origin, never the one it sent
    assert origins == [LOOPBACK_ORIGIN] * 3
    assert "127.0.0.1" not in LOOPBACK_ORIGIN and LOOPBACK_ORIGIN != forged


async def test_behind_a_trusted_proxy_the_origin_is_the_address_it_forwards(recorder):
    channel = SocietyRestInput(token=TOKEN, bounds=InputBounds(),
                              client_addresses=ClientAddresses(header="x-forwarded-for"))
    async with serving(channel, recorder) as u:
        for forwarded in ("10.0.0.1, 203.0.113.7", "203.0.113.7", "203.0.113.8",
                          "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"):
            status, _ = await post(u, {"sender": "s", "message": "こんにちは"},
                                   headers={"X-Forwarded-For": forwarded})
            assert status == 200
    origins = [m.metadata["origin"] for m in recorder.seen]
    of = channel.origins.of
    assert origins == [of("203.0.113.7"), of("203.0.113.7"), of("203.0.113.8"),
                       of("2001:db8:1:2::/64"), of("2001:db8:1:2::/64"), of("2001:db8:1:3::/64")]
    assert len(set(origins)) == 4


async def test_without_a_trusted_proxy_a_forwarded_header_changes_no_origin(url, recorder):
    for n in range(3):
        await post(url, {"sender": f"s{n}", "message": "こんにちは"},
                   headers={"X-Forwarded-For": f"203.0.113.{n}"})
    assert [m.metadata["origin"] for m in recorder.seen] == [LOOPBACK_ORIGIN] * 3


async def test_a_client_seen_as_a_proxy_address_without_the_header_setting_is_warned_about_once(
    url, recorder, caplog
):
    """Behind a proxy without KOSMO_CLIENT_IP_HEADER every member would share one origin."""
    with caplog.at_level("WARNING", logger="bot.channels.origin"):
        for n in range(2):
            await post(url, {"sender": f"s{n}", "message": "こんにちは"})
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.channels.origin"]
    assert len(warnings) == 1 and "KOSMO_CLIENT_IP_HEADER" in warnings[0]

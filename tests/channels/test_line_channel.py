"""The LINE channel on its own: its webhook served by Sanic on loopback, LINE faked.

The Rasa agent is replaced by a small ``on_new_message`` that answers the way a bot
turn would (slowly, at length, with many buttons, or failing), to show what the
channel does with such turns; the real agent is in ``test_line_webhook.py``. No
trained model is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Sanic

from bot.channels import with_society_entity
from bot.channels.line import SORRY_TRY_LATER, LineInput
from bot.channels.line_accounts import LineAccount, accounts_from_credentials
from bot.channels.line_dedup import SeenEvents
from bot.channels.line_messages import (
    CHOOSE_PROMPT,
    clip,
    plan_calls,
    quick_reply_items,
    split_text,
    utf16_len,
)
from bot.channels.line_output import ReplyToken, conversation_id, parse_conversation_id
from bot.channels.origin import KIND_LINE, Origins
from dev.stack import free_port
from tests.channels.fake_line import (
    FakeLine,
    limit_problems,
    reply_token,
    sign,
    text_event,
    user_id,
    webhook_body,
)
from tests.served_app import sanic_test_mode  # noqa: F401 (autouse fixture)

SECRET = "kose-secret-for-tests"
TOKEN = "kose-access-token-for-tests"

Turn = Callable[[UserMessage], Awaitable[Any]]


@pytest.fixture(autouse=True)
def handoff_db(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The channel's redelivery memory goes to the handoff database: a fresh one per test."""
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    monkeypatch.setenv("KOSMO_HANDOFF_DB_URL", url)
    return url


@pytest.fixture(scope="module")
def fake() -> Any:
    fake = FakeLine({TOKEN: "kose"}).start()
    yield fake
    fake.stop()


def make_channel(fake: FakeLine, **options: Any) -> LineInput:
    options.setdefault("loading_after", 0.3)
    options.setdefault("loading_seconds", 5)
    return LineInput(
        {"kose": LineAccount("kose", SECRET, TOKEN)}, api_base=fake.base_url, **options
    )


@contextlib.asynccontextmanager
async def serving(channel: LineInput, on_new_message: Turn) -> AsyncIterator[str]:
    """The channel's webhook blueprint in a Sanic server on a free port; yields its URL."""
    app = Sanic(f"line_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/line")
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None  # already listening: create_server awaited it
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/line/kose/webhook"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


async def post(url: str, body: bytes, signed: bool = True) -> tuple[int, float]:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Line-Signature"] = sign(SECRET, body)
    start = time.monotonic()
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers=headers) as resp:
            return resp.status, time.monotonic() - start


async def wait_for(fake: FakeLine, predicate: Callable[..., bool], count: int = 1) -> List[Any]:
    return await asyncio.to_thread(fake.wait_for, predicate, count, 15.0)


def answering(*messages: Dict[str, Any], delay: float = 0.0) -> Turn:
    """A stand-in for Rasa that answers every message with ``messages``."""

    async def on_new_message(message: UserMessage) -> None:
        await asyncio.sleep(delay)
        for m in messages:
            await message.output_channel.send_response(message.sender_id, dict(m))

    return on_new_message


# --- the webhook ------------------------------------------------------------------


async def test_slow_turn_shows_the_loading_animation_and_the_webhook_does_not_wait(fake):
    user, token = user_id(), reply_token()
    async with serving(
        make_channel(fake), answering({"text": "お待たせしました。"}, delay=1.5)
    ) as url:
        status, elapsed = await post(url, webhook_body(text_event(user, "遅い質問", token=token)))
        assert status == 200
        assert elapsed < 0.5

        reply, *_ = await wait_for(fake, lambda c: c.body.get("replyToken") == token)
    loading = fake.calls_matching(lambda c: c.body.get("chatId") == user)
    assert [c.path for c in loading] == ["/v2/bot/chat/loading/start"]
    assert loading[0].body == {"chatId": user, "loadingSeconds": 5}
    assert loading[0].status == 202
    assert reply.body == {
        "replyToken": token,
        "messages": [{"type": "text", "text": "お待たせしました。"}],
    }
    assert fake.calls.index(loading[0]) < fake.calls.index(reply)


async def test_quick_turn_needs_no_loading_animation(fake):
    user, token = user_id(), reply_token()
    async with serving(make_channel(fake), answering({"text": "すぐ答えます。"})) as url:
        await post(url, webhook_body(text_event(user, "質問", token=token)))
        await wait_for(fake, lambda c: c.body.get("replyToken") == token)
        await asyncio.sleep(0.5)
    assert fake.calls_matching(lambda c: c.body.get("chatId") == user) == []


async def test_unsigned_webhook_is_rejected_before_anything_runs(fake):
    seen: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)

    async with serving(make_channel(fake), on_new_message) as url:
        body = webhook_body(text_event(user_id(), "こんにちは"))
        assert (await post(url, body, signed=False))[0] == 401
        assert (await post(url, b"not json", signed=True))[0] == 400
        await asyncio.sleep(0.5)
    assert seen == []


async def test_message_reaches_rasa_with_the_society_and_a_line_conversation_id(fake):
    seen: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)

    user = user_id()
    event = text_event(user, "パスワードを忘れました")
    async with serving(make_channel(fake), on_new_message) as url:
        await post(url, webhook_body(event))
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.1)
    (message,) = seen
    assert message.text == "パスワードを忘れました"
    assert message.sender_id == f"line:kose:{user}"
    # the origin: the LINE user, as a digest keyed with the channel secret (never the id)
    assert message.metadata == {"tenant": "kose", "origin": Origins(KIND_LINE, SECRET).of(user)}
    assert user not in message.metadata["origin"]
    assert message.input_channel == "line"
    assert message.message_id == event["webhookEventId"]


async def test_a_long_answer_with_many_buttons_fits_lines_limits(fake):
    user, token = user_id(), reply_token()
    sentence = "初回ログインの手順をご案内します。"
    long_text = "\n\n".join(sentence * 20 for _ in range(40))  # about 14,000 characters
    buttons = [
        {
            "title": f"選択肢{i}：とても長いボタンの名前でございます",
            "payload": f'/choose_topic{{"topic": "faq/t{i}"}}',
        }
        for i in range(20)
    ]
    buttons.insert(3, {"title": "長すぎる", "payload": "/x" + "y" * 400})
    turn = answering({"text": long_text, "buttons": buttons})
    async with serving(make_channel(fake), turn) as url:
        await post(url, webhook_body(text_event(user, "全部教えて", token=token)))
        (reply,) = await wait_for(fake, lambda c: c.body.get("replyToken") == token)

    assert reply.status == 200, reply  # the fake LINE checks the limits too
    messages = reply.body["messages"]
    assert limit_problems(messages) == []
    assert 3 <= len(messages) <= 5
    assert all(utf16_len(m["text"]) <= 5000 for m in messages)
    assert "".join(m["text"] for m in messages).replace("\n", "") == long_text.replace("\n", "")

    items = messages[-1]["quickReply"]["items"]
    assert len(items) == 13
    assert all(len(i["action"]["label"]) <= 20 for i in items)
    assert items[0]["action"] == {
        "type": "postback",
        "label": clip(buttons[0]["title"], 20),
        "data": '/choose_topic{"topic": "faq/t0"}',
        "displayText": buttons[0]["title"],
    }
    assert all(not i["action"]["data"].startswith("/xyyy") for i in items)


async def test_many_short_messages_are_merged_into_one_reply(fake):
    user, token = user_id(), reply_token()
    texts = [f"{i}番目のお知らせです。" for i in range(8)]
    async with serving(make_channel(fake), answering(*({"text": t} for t in texts))) as url:
        await post(url, webhook_body(text_event(user, "お知らせは？", token=token)))
        (reply,) = await wait_for(fake, lambda c: c.body.get("replyToken") == token)
        await asyncio.sleep(0.3)
    assert 1 <= len(reply.body["messages"]) <= 5
    assert "\n\n".join(reply.texts) == "\n\n".join(texts)
    assert fake.calls_matching(lambda c: c.body.get("to") == user) == []  # no push needed


async def test_what_does_not_fit_one_reply_is_pushed_after_it(fake):
    user, token = user_id(), reply_token()
    texts = [f"{i}" + "あ" * 2999 for i in range(7)]  # too long to merge
    turn = answering(
        *({"text": t} for t in texts[:-1]),
        {"text": texts[-1], "buttons": [{"title": "はい", "payload": "/affirm"}]},
    )
    async with serving(make_channel(fake), turn) as url:
        await post(url, webhook_body(text_event(user, "長い話", token=token)))
        (push,) = await wait_for(fake, lambda c: c.body.get("to") == user)
    (reply,) = fake.calls_matching(lambda c: c.body.get("replyToken") == token)
    assert reply.texts + push.texts == texts
    assert len(reply.texts) == 5
    assert push.body["messages"][-1]["quickReply"]["items"][0]["action"]["data"] == "/affirm"


async def test_when_rasa_fails_the_member_gets_an_apology(fake):
    user, token = user_id(), reply_token()

    async def broken(message: UserMessage) -> None:
        raise RuntimeError("model not loaded")

    async with serving(make_channel(fake), broken) as url:
        await post(url, webhook_body(text_event(user, "こんにちは", token=token)))
        (reply,) = await wait_for(fake, lambda c: c.body.get("replyToken") == token)
    assert reply.texts == [SORRY_TRY_LATER]


async def test_group_and_standby_events_are_not_answered(fake):
    seen: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)

    group = text_event(user_id(), "グループでの発言")
    group["source"] = {
        "type": "group",
        "groupId": "C" + "1" * 32,
        "userId": group["source"]["userId"],
    }
    standby = {**text_event(user_id(), "別のチャネルが応答中"), "mode": "standby"}
    async with serving(make_channel(fake), on_new_message) as url:
        assert (await post(url, webhook_body(group, standby)))[0] == 200
        await asyncio.sleep(0.5)
    assert seen == []


async def test_output_channel_pushes_messages_sent_outside_a_webhook(fake):
    channel = make_channel(fake)
    user = user_id()
    output = channel.get_output_channel()
    assert output is not None
    await output.send_text_message(conversation_id("kose", user), "お知らせです。")
    await channel.close()
    (push,) = fake.calls_matching(lambda c: c.body.get("to") == user)
    assert push.body == {"to": user, "messages": [{"type": "text", "text": "お知らせです。"}]}
    assert push.token == TOKEN


# --- the pieces -------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature, ok",
    [
        (sign(SECRET, b'{"events":[]}'), True),
        (sign("another-secret", b'{"events":[]}'), False),
        (sign(SECRET, b'{"events": []}'), False),
        (None, False),
        ("", False),
        ("not base64!", False),
        ("署名", False),
    ],
)
def test_signature_check(signature, ok):
    assert LineAccount("kose", SECRET, TOKEN).signature_ok(b'{"events":[]}', signature) is ok


def test_seen_events_forgets_after_a_day_and_stays_bounded():
    now = [1000.0]
    seen = SeenEvents(clock=lambda: now[0], ttl=60.0, max_size=3)
    assert seen.first_time("a") and not seen.first_time("a")
    assert seen.first_time(None) and seen.first_time(None)  # no id: cannot dedupe
    now[0] += 61
    assert seen.first_time("a")  # expired
    for key in "bcd":
        assert seen.first_time(key)
    assert seen.first_time("a")  # evicted as the oldest of four


@pytest.mark.parametrize(
    "age, used, usable",
    [(0.0, False, True), (49.0, False, True), (50.0, False, False), (1.0, True, False)],
)
def test_reply_token_is_usable_once_and_briefly(age, used, usable):
    assert ReplyToken("t", issued_at=100.0, used=used).usable(100.0 + age) is usable


@pytest.mark.parametrize(
    "text, limit, pieces",
    [
        ("短い文です。", 5000, ["短い文です。"]),
        ("あ" * 5000, 5000, ["あ" * 5000]),
        ("一段落目。\n\n二段落目。", 8, ["一段落目。", "二段落目。"]),
        ("一行目です\n二行目です", 8, ["一行目です", "二行目です"]),
        ("あ" * 12, 5, ["あああああ", "あああああ", "ああ"]),
        ("😀" * 3, 4, ["😀😀", "😀"]),  # an emoji is two UTF-16 units
    ],
)
def test_split_text(text, limit, pieces):
    assert split_text(text, limit) == pieces


def test_clip_marks_what_it_cut():
    assert clip("ログインできない", 20) == "ログインできない"
    assert clip("あ" * 25, 20) == "あ" * 19 + "…"


def test_quick_reply_items_keep_what_line_can_carry():
    items = quick_reply_items(
        [
            {"title": "ポータルのURL", "payload": '/choose_topic{"topic": "faq/portal_url"}'},
            {"title": "", "payload": "/deny"},
            {"title": "マニュアル", "url": "https://example.jp/manual.pdf"},
            {"title": "電話", "url": "tel:0120000000"},
        ]
        + [{"title": f"#{i}", "payload": f"/i{i}"} for i in range(20)]
    )
    assert len(items) == 13
    assert items[0]["action"]["data"] == '/choose_topic{"topic": "faq/portal_url"}'
    assert items[1]["action"] == {
        "type": "uri",
        "label": "マニュアル",
        "uri": "https://example.jp/manual.pdf",
    }
    assert items[2]["action"]["label"] == "#0"


def test_plan_calls_puts_a_prompt_under_buttons_without_text():
    (call,) = plan_calls(
        [], [{"type": "action", "action": {"type": "postback", "label": "はい", "data": "/affirm"}}]
    )
    assert call[0]["text"] == CHOOSE_PROMPT and "quickReply" in call[0]


def test_conversation_ids_round_trip():
    assert parse_conversation_id(conversation_id("kose", "Uabc")) == ("kose", "Uabc")
    with pytest.raises(ValueError):
        parse_conversation_id("4a54132e5daa0b7a3650fda0c1f9e5a1")


def test_configuration_needs_secret_and_token_per_society(monkeypatch):
    with pytest.raises(RasaException):
        accounts_from_credentials({"kose": {"channel_secret": "s"}})
    with pytest.raises(RasaException):
        accounts_from_credentials({})
    monkeypatch.setenv("KOSMO_LINE_API_BASE", "http://127.0.0.1:1")
    channel = LineInput.from_credentials(
        {"societies": {"KOSE": {"channel_secret": "s", "access_token": "t"}}}
    )
    assert isinstance(channel, LineInput)
    assert channel.api_base == "http://127.0.0.1:1"
    assert list(channel.accounts) == ["kose"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/greet", '/greet{"society": "ono"}'),
        (
            '/choose_topic{"topic": "faq/portal_url"}',
            '/choose_topic{"topic": "faq/portal_url", "society": "ono"}',
        ),
        ('/greet{"society": "kose"}', '/greet{"society": "ono"}'),  # the channel's society wins
        ("ポータルのURLは？", "ポータルのURLは？"),
        ("/broken{", "/broken{"),
    ],
)
def test_payloads_carry_the_society(text, expected):
    assert with_society_entity(text, "ono") == expected

"""The LINE webhook under attack or mishap: old events, replays, restarts, floods, huge bodies.

Like ``test_line_channel.py``: the channel's blueprint in a real Sanic server on
loopback, LINE faked (``fake_line.py``), Rasa replaced by a recorder. The redelivery
memory is a real SQLite file per test (the handoff database, ``$KOSMO_HANDOFF_DB_URL``).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest
from rasa.core.channels.channel import UserMessage

from bot.channels.line_dedup import EventLedger, event_key, seen_events_table
from bot.channels.line_intake import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookLimits,
    event_age,
    stale_note,
)
from bot.settings import SettingsError
from tests.channels.fake_line import (
    FakeLine,
    follow_event,
    postback_event,
    reply_token,
    sign,
    text_event,
    user_id,
    webhook_body,
)
from tests.channels.raw_http import upload
from tests.channels.test_line_channel import (
    SECRET,
    TOKEN,
    make_channel,
    post,
    serving,
    wait_for,
)
from tests.served_app import sanic_test_mode  # noqa: F401 (autouse fixture)

FIFTY_MB = 50 * 1024 * 1024
QUIET_S = 1.0  # time for a wrongly accepted event to reach Rasa or LINE, if it ever would


@pytest.fixture(scope="module")
def fake() -> Any:
    fake = FakeLine({TOKEN: "kose"}).start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def handoff_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The redelivery memory's database (the handoff database): a fresh SQLite file per test."""
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    monkeypatch.setenv("KOSMO_HANDOFF_DB_URL", url)
    return url


class Recorder:
    """Stands in for Rasa: records each message and answers it with one text."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "承知しました。"})

    @property
    def texts(self) -> List[str]:
        return [m.text for m in self.messages]

    async def wait(self, count: int, timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if len(self.messages) >= count:
                break
            await asyncio.sleep(0.05)
        assert len(self.messages) >= count, self.texts


def to_user(user: str):
    return lambda c: user in (c.body.get("to"), c.body.get("chatId"))


def with_token(token: str):
    return lambda c: c.body.get("replyToken") == token


def without_id(event: dict) -> dict:
    event = dict(event)
    del event["webhookEventId"]
    return event


def ms_ago(seconds: float) -> int:
    return int((time.time() - seconds) * 1000)


# --- events too old to be answered as new --------------------------------------------


async def test_stale_message_is_not_answered_but_the_member_is_asked_once_to_send_again(fake):
    rasa, user, token = Recorder(), user_id(), reply_token()
    two_hours_ago = ms_ago(2 * 3600)
    body = webhook_body(
        text_event(user, "パスワードを忘れました", token=token, timestamp_ms=two_hours_ago),
        text_event(user, "まだですか", timestamp_ms=two_hours_ago + 5000),
    )
    async with serving(make_channel(fake), rasa) as url:
        assert (await post(url, body))[0] == 200
        (push,) = await wait_for(fake, to_user(user))
        await asyncio.sleep(QUIET_S)
        # the same body again (a replay, or LINE's redelivery): nothing more
        assert (await post(url, body))[0] == 200
        await asyncio.sleep(QUIET_S)

    assert rasa.messages == []  # not answered as if it were new
    assert push.path == "/v2/bot/message/push"
    assert push.body == {
        "to": user,
        "messages": [{"type": "text", "text": stale_note(two_hours_ago)}],
    }
    assert "もう一度お送りください" in push.texts[0]
    assert fake.calls_matching(to_user(user)) == [push]  # one note for both messages, once
    assert fake.calls_matching(with_token(token)) == []  # the expired token is not tried


async def test_event_from_2020_is_dropped_without_a_word(fake):
    rasa, user, token = Recorder(), user_id(), reply_token()
    in_2020 = 1_590_000_000_000  # 2020-05-20
    events = [
        text_event(user, "ポータルのURLは？", token=token, timestamp_ms=in_2020),
        postback_event(user, "/affirm", timestamp_ms=in_2020 + 1),
        follow_event(user, timestamp_ms=in_2020 + 2),
    ]
    no_timestamp = text_event(user, "時刻なし")
    del no_timestamp["timestamp"]
    async with serving(make_channel(fake), rasa) as url:
        assert (await post(url, webhook_body(*events, no_timestamp)))[0] == 200
        await asyncio.sleep(QUIET_S)
    assert rasa.messages == []
    assert fake.calls_matching(lambda c: to_user(user)(c) or with_token(token)(c)) == []


async def test_events_within_the_age_limit_are_answered_and_the_limit_is_configurable(fake):
    rasa, user = Recorder(), user_id()
    limits = WebhookLimits.from_env({"KOSMO_LINE_MAX_EVENT_AGE_SECONDS": "60"})
    assert limits.max_event_age == 60
    body = webhook_body(
        text_event(user, "30秒前", timestamp_ms=ms_ago(30)),
        text_event(user, "90秒前", timestamp_ms=ms_ago(90)),
        text_event(user, "今", timestamp_ms=ms_ago(0)),
    )
    async with serving(make_channel(fake, limits=limits), rasa) as url:
        assert (await post(url, body))[0] == 200
        await rasa.wait(2)
        await wait_for(fake, to_user(user))  # the note about "90秒前"
        await asyncio.sleep(QUIET_S)
    assert rasa.texts == ["30秒前", "今"]
    notes = [c for c in fake.calls_matching(to_user(user)) if c.texts[0].startswith("申し訳")]
    assert len(notes) == 1


def test_event_age_and_the_limits_from_the_environment():
    now = 1_700_000_000.0
    assert event_age({"timestamp": 1_700_000_000_000 - 90_000}, now) == pytest.approx(90.0)
    assert event_age({"timestamp": "1700000000000"}, now) is None
    assert event_age({"timestamp": True}, now) is None
    assert event_age({}, now) is None
    assert WebhookLimits.from_env({}) == WebhookLimits()
    assert WebhookLimits().max_body_bytes == DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert WebhookLimits().max_events == 20 and WebhookLimits().max_event_age == 600
    for bad in ("0", "-5", "ten", "nan", "inf", "2.5"):
        with pytest.raises(SettingsError, match="KOSMO_LINE_MAX_EVENTS_PER_BODY"):
            WebhookLimits.from_env({"KOSMO_LINE_MAX_EVENTS_PER_BODY": bad})
    for bad in ("0", "-1", "nan", "inf", "soon"):
        with pytest.raises(SettingsError, match="KOSMO_LINE_MAX_EVENT_AGE_SECONDS"):
            WebhookLimits.from_env({"KOSMO_LINE_MAX_EVENT_AGE_SECONDS": bad})
    assert WebhookLimits.from_env({"KOSMO_LINE_MAX_EVENT_AGE_SECONDS": "0.5"}).max_event_age == 0.5
    assert "12月7日 21時05分に" in stale_note(1_796_645_100_000)  # 12:05 UTC = 21:05 JST
    assert stale_note("garbage").startswith("申し訳ありません。お送りいただいた")


# --- replays and redeliveries --------------------------------------------------------


async def test_replay_of_an_event_without_webhook_event_id_is_processed_once(fake):
    rasa, user = Recorder(), user_id()
    message = without_id(text_event(user, "初期パスワードは？"))
    # LINE's redelivery of it: same event, flagged, and (say) another reply token
    redelivered = {**message, "deliveryContext": {"isRedelivery": True}, "replyToken": "x" * 32}
    postback = without_id(postback_event(user, "/affirm"))
    async with serving(make_channel(fake), rasa) as url:
        assert (await post(url, webhook_body(message)))[0] == 200
        await rasa.wait(1)
        for body in (webhook_body(message), webhook_body(redelivered), webhook_body(message)):
            assert (await post(url, body))[0] == 200
        # other events without an id are not mistaken for it
        second = {**message, "message": {**message["message"], "id": "2", "text": "別の質問"}}
        assert (await post(url, webhook_body(postback, second, postback)))[0] == 200
        await rasa.wait(3)
        await asyncio.sleep(QUIET_S)
    assert rasa.texts == ["初期パスワードは？", '/affirm{"society": "kose"}', "別の質問"]


def test_event_keys():
    user = user_id()
    event = text_event(user, "こんにちは")
    assert event_key("kose", event) == event_key("kose", {**event, "replyToken": "other"})
    assert event_key("kose", event) != event_key("ono", event)
    plain = without_id(event)
    assert event_key("kose", plain) == event_key(
        "kose", {**plain, "deliveryContext": {"isRedelivery": True}, "replyToken": "t"}
    )
    assert event_key("kose", plain) != event_key("kose", {**plain, "timestamp": 1})
    assert event_key("kose", plain) != event_key(
        "kose", {**plain, "source": {"type": "user", "userId": user_id()}}
    )
    assert len(event_key("kose", {"webhookEventId": "x" * 10_000})) == 64


async def test_redelivery_after_a_restart_is_processed_once(fake, handoff_db):
    user, token = user_id(), reply_token()
    event = text_event(user, "ロックされました", token=token)
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}

    before = Recorder()
    async with serving(make_channel(fake), before) as url:
        assert (await post(url, webhook_body(event)))[0] == 200
        await before.wait(1)
        await wait_for(fake, with_token(token))

    # a new channel object (as after a restart of the Rasa server) on the same database
    after = Recorder()
    async with serving(make_channel(fake), after) as url:
        assert (await post(url, webhook_body(redelivered)))[0] == 200
        assert (await post(url, webhook_body(event)))[0] == 200
        assert (await post(url, webhook_body(text_event(user, "次の質問"))))[0] == 200
        await after.wait(1)
        await asyncio.sleep(QUIET_S)

    assert before.texts == ["ロックされました"]
    assert after.texts == ["次の質問"]
    assert len(fake.calls_matching(with_token(token))) == 1  # answered once, by reply
    assert fake.calls_matching(to_user(user)) == []  # and never again by push


async def test_two_servers_on_one_database_handle_each_event_once(fake):
    users = [user_id() for _ in range(10)]
    events = [text_event(u, f"質問{i}") for i, u in enumerate(users)]
    first, second = Recorder(), Recorder()
    async with serving(make_channel(fake), first) as url1:
        async with serving(make_channel(fake), second) as url2:
            # every event reaches both servers at the same moment
            results = await asyncio.gather(
                *(post(url, webhook_body(e)) for e in events for url in (url1, url2))
            )
            assert {status for status, _ in results} == {200}
            await asyncio.sleep(QUIET_S * 2)
    handled = sorted(first.texts + second.texts)
    assert handled == sorted(f"質問{i}" for i in range(10))


def _remember_in_a_process(url: str, keys: List[str], out: Any) -> None:
    ledger = EventLedger(url)
    out.put(ledger.remember("kose", keys))
    ledger.dispose()


def test_processes_racing_on_the_same_keys_each_win_a_key_once(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    EventLedger(url).create_schema()
    keys = [f"{i:064x}" for i in range(300)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_remember_in_a_process, args=(url, keys, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(len(r) == len(keys) for r in results)
    wins = [sum(r[i] for r in results) for i in range(len(keys))]
    assert wins == [1] * len(keys)


def test_ledger_forgets_after_the_retention_and_falls_back_to_memory(tmp_path: Path):
    now = [1_000_000.0]
    ledger = EventLedger(
        f"sqlite:///{tmp_path / 'l.db'}", clock=lambda: now[0], retention=3600, purge_every=60
    )
    ledger.create_schema()
    assert ledger.remember("kose", ["a", "b", "a"]) == [True, True, False]
    assert ledger.remember("kose", ["a", "c"]) == [False, True]
    now[0] += 3601
    assert ledger.remember("kose", ["d"]) == [True]  # purges a, b, c
    with ledger.engine.connect() as conn:
        rows = conn.execute(seen_events_table.select()).fetchall()
    assert [r.event_key for r in rows] == ["d"]
    assert ledger.remember("kose", ["a"]) == [True]

    # database unreachable: this process's memory still drops a repeat
    broken = EventLedger("sqlite:////proc/no-such-dir/line.db", timeout=2.0)

    async def twice() -> List[List[bool]]:
        return [await broken.first_time("kose", ["k"]) for _ in range(2)]

    assert asyncio.run(twice()) == [[True], [False]]


# a database path that fails with something that is no database error: the driver of the
# URL is not installed (ModuleNotFoundError, raised when the engine is first made)
MISSING_DRIVER_URL = "postgresql+pg8000://kosmo:x@127.0.0.1:1/handoff"


async def test_a_database_path_failing_unexpectedly_falls_back_to_memory(fake, caplog):
    """Whatever the database path raises, the event is judged by this process's memory and
    answered (200, handled once); a redelivery of it is dropped, and the failure is logged."""
    rasa, user, token = Recorder(), user_id(), reply_token()
    event = text_event(user, "ロックされました", token=token)
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    channel = make_channel(fake, ledger=EventLedger(MISSING_DRIVER_URL))
    with caplog.at_level("ERROR", logger="bot.channels.line_dedup"):
        async with serving(channel, rasa) as url:
            assert (await post(url, webhook_body(event)))[0] == 200
            await rasa.wait(1)
            assert (await post(url, webhook_body(redelivered)))[0] == 200
            assert (await post(url, webhook_body(text_event(user, "次の質問"))))[0] == 200
            await rasa.wait(2)
            await asyncio.sleep(QUIET_S)
    assert rasa.texts == ["ロックされました", "次の質問"]
    assert len(fake.calls_matching(with_token(token))) == 1
    assert any("ModuleNotFoundError" in r.getMessage() for r in caplog.records)


def test_memory_marks_an_event_only_once_the_ledger_answers(tmp_path: Path):
    """A first_time call that does not return (cancelled while the database is slow) leaves
    the event unmarked, so LINE's redelivery of it is still handled."""
    ledger = EventLedger(f"sqlite:///{tmp_path / 'l.db'}", timeout=5.0)
    ledger.create_schema()
    release = threading.Event()
    remember = ledger.remember

    def slow_remember(society: str, keys: List[str], now: Any = None) -> List[bool]:
        release.wait(5)
        raise RuntimeError("the database went away")

    ledger.remember = slow_remember  # type: ignore[method-assign]

    async def cancelled_then_redelivered() -> List[bool]:
        task = asyncio.ensure_future(ledger.first_time("kose", ["k"]))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        ledger.remember = remember  # type: ignore[method-assign]
        return await ledger.first_time("kose", ["k"])

    assert asyncio.run(cancelled_then_redelivered()) == [True]


# --- floods -----------------------------------------------------------------------------


async def test_a_body_of_100_events_makes_at_most_20_conversations(fake):
    rasa = Recorder()
    users = [user_id() for _ in range(100)]
    body = webhook_body(*(text_event(u, "こんにちは") for u in users))
    async with serving(make_channel(fake), rasa) as url:
        assert (await post(url, body))[0] == 200
        await rasa.wait(20, timeout=30)
        await asyncio.sleep(QUIET_S)
    assert len(rasa.messages) == 20
    assert [m.sender_id for m in rasa.messages] == [f"line:kose:{u}" for u in users[:20]]
    assert fake.calls_matching(lambda c: any(to_user(u)(c) for u in users[20:])) == []


# --- body size ---------------------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False])
async def test_a_50_mb_body_is_refused_with_413_before_it_is_read(fake, signed):
    rasa = Recorder()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Line-Signature"] = sign(SECRET, b"x" * 100)
    async with serving(make_channel(fake), rasa) as url:
        result = await asyncio.to_thread(upload, url, FIFTY_MB, headers)
        # the connection still serves LINE afterwards
        user = user_id()
        assert (await post(url, webhook_body(text_event(user, "こんにちは"))))[0] == 200
        await rasa.wait(1)
    assert result.status == 413
    assert result.sent <= 64 * 1024  # answered after the head and the first 64 KiB
    assert result.closed  # and the rest is not taken either
    assert rasa.texts == ["こんにちは"]


async def test_a_chunked_body_is_cut_off_at_the_limit(fake):
    rasa = Recorder()
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(SECRET, b"")}
    async with serving(make_channel(fake), rasa) as url:
        result = await asyncio.to_thread(upload, url, FIFTY_MB, headers, chunked=True)
    assert result.status == 413
    assert result.sent < 8 * 1024 * 1024  # the limit (1 MiB) plus what socket buffers hold
    assert result.closed
    assert rasa.messages == []


async def test_a_content_length_lying_small_gets_only_that_much_read(fake):
    rasa = Recorder()
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(SECRET, b"{}")}
    async with serving(make_channel(fake), rasa) as url:
        result = await asyncio.to_thread(upload, url, FIFTY_MB, headers, declared_length=1000)
    assert result.status == 401  # 1000 bytes of "x": not what was signed
    assert result.closed  # the rest is not read as more requests either
    assert rasa.messages == []


async def test_unknown_society_with_a_big_body_is_not_read(fake):
    async with serving(make_channel(fake), Recorder()) as url:
        other = url.replace("/kose/", "/nobody/")
        result = await asyncio.to_thread(upload, other, FIFTY_MB, {})
    assert result.status == 404
    assert result.sent <= 64 * 1024 and result.closed


async def test_a_body_under_the_limit_is_still_read_whole(fake):
    rasa, user = Recorder(), user_id()
    event = text_event(user, "あ" * 1500)
    body = webhook_body(event, *(follow_event(user_id()) for _ in range(5)))
    padded = body[:-2] + b" " * (DEFAULT_MAX_BODY_BYTES - len(body)) + body[-2:]
    assert len(padded) == DEFAULT_MAX_BODY_BYTES and json.loads(padded)
    async with serving(make_channel(fake), rasa) as url:
        assert (await post(url, padded))[0] == 200
        assert (await post(url, padded + b" "))[0] == 413
        await rasa.wait(6)
    assert rasa.texts[0] == "あ" * 1500

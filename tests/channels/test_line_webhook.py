"""LINE webhooks to the real Rasa server; the bot's answers go to a fake LINE API.

Webhook bodies are shaped like the examples in LINE's Messaging API reference and
signed with the society's channel secret (or not). The fake LINE API checks the access
token and LINE's limits and records every call, so these tests assert what a member
would receive, word for word where the words are ours.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from bot.channels import with_society_entity
from bot.channels.line import PLEASE_TYPE
from bot.channels.line_dedup import event_key, seen_events_table
from bot.channels.line_intake import stale_note
from bot.channels.line_output import conversation_id
from tests.channels.fake_line import (
    Call,
    follow_event,
    postback_event,
    reply_token,
    sign,
    sticker_event,
    text_event,
    unfollow_event,
    user_id,
    webhook_body,
)
from tests.channels.raw_http import upload

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PORTAL = {
    "kose": "https://www.kosekenpo.portal.kosmo-web.jp/",
    "ono": "https://www.onokenpo.portal.kosmo-web.jp/",
}
SOCIETY_NAME = {"kose": "コーセー健康保険組合", "ono": "小野薬品健康保険組合"}
# time for a wrongly accepted request to reach LINE, if it ever would
QUIET_S = 3.0


def to_user(user: str):
    """Calls addressed to ``user`` (push ``to``, loading ``chatId``) or carrying its reply token."""
    return lambda c: user in (c.body.get("to"), c.body.get("chatId"))


def with_token(token: str):
    return lambda c: c.body.get("replyToken") == token


def about(user: str, token: str):
    return lambda c: to_user(user)(c) or with_token(token)(c)


def user_texts(rest, society: str, user: str) -> list[str]:
    status, tracker = rest.tracker(conversation_id(society, user))
    assert status == 200
    return [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]


@pytest.mark.parametrize("society", ["kose", "ono"])
def test_text_message_is_answered_by_reply_with_the_societys_facts(line, fake_line, society):
    channel, user, token = line[society], user_id(), reply_token()
    status, elapsed = channel.post(webhook_body(text_event(user, "ポータルのURLは？", token=token)))
    assert status == 200
    assert elapsed < 1.0

    (call,) = fake_line.wait_for(with_token(token))
    assert call.path == "/v2/bot/message/reply"
    assert call.status == 200
    assert fake_line.tokens[call.token] == society  # the society's own channel access token
    assert set(call.body) == {"replyToken", "messages"}
    assert all(set(m) == {"type", "text"} and m["type"] == "text" for m in call.body["messages"])
    assert PORTAL[society] in "\n".join(call.texts)
    time.sleep(0.5)
    assert fake_line.calls_matching(about(user, token)) == [call]  # no push, no loading


@pytest.mark.parametrize(
    "signature",
    ["missing", "other society's secret", "body changed after signing", "not base64", "empty"],
)
def test_missing_or_wrong_signature_is_rejected_and_nothing_processed(
    line, fake_line, channel_rest, signature
):
    kose, ono = line["kose"], line["ono"]
    user, token = user_id(), reply_token()
    body = webhook_body(text_event(user, "ポータルのURLは？", token=token))
    header = {
        "missing": None,
        "other society's secret": sign(ono.secret, body),
        "body changed after signing": sign(kose.secret, body.replace(b"URL", b"url")),
        "not base64": "%%%not-a-signature%%%",
        "empty": "",
    }[signature]

    status, elapsed = kose.post(body, signature=header)

    assert status == 401
    assert elapsed < 1.0
    time.sleep(QUIET_S)
    assert fake_line.calls_matching(about(user, token)) == []
    assert user_texts(channel_rest, "kose", user) == []


def test_unknown_society_webhook_is_not_found(line):
    channel = line["kose"]
    body = webhook_body(text_event(user_id(), "こんにちは"))
    url = channel.webhook_url.replace("/kose/", "/no-such-society/")
    unknown = type(channel)(channel.society, channel.secret, channel.token, url)
    assert unknown.post(body)[0] == 404


def test_verify_button_of_the_line_console_gets_200(line, fake_line):
    """LINE's "Verify" sends a signed body without events."""
    before = len(fake_line.calls)
    assert line["ono"].post(webhook_body())[0] == 200
    time.sleep(1.0)
    assert len(fake_line.calls) == before


def test_redelivered_event_is_processed_once(line, fake_line, channel_rest):
    channel, user, token = line["kose"], user_id(), reply_token()
    first = text_event(user, "ポータルのURLは？", token=token)
    again = {**first, "deliveryContext": {"isRedelivery": True}}

    assert channel.post(webhook_body(first))[0] == 200
    assert channel.post(webhook_body(again))[0] == 200
    fake_line.wait_for(with_token(token))
    assert channel.post(webhook_body(again))[0] == 200
    time.sleep(QUIET_S)

    assert len(fake_line.calls_matching(about(user, token))) == 1
    assert user_texts(channel_rest, "kose", user) == ["ポータルのURLは？"]


def test_expired_reply_token_falls_back_to_push(line, fake_line):
    channel, user, token = line["ono"], user_id(), reply_token()
    two_minutes_ago = int((time.time() - 120) * 1000)
    event = text_event(user, "ポータルのURLは？", token=token, timestamp_ms=two_minutes_ago)

    assert channel.post(webhook_body(event))[0] == 200

    (push,) = fake_line.wait_for(to_user(user))
    assert push.path == "/v2/bot/message/push"
    assert push.status == 200
    assert fake_line.tokens[push.token] == "ono"
    assert set(push.body) == {"to", "messages"} and push.body["to"] == user
    assert PORTAL["ono"] in "\n".join(push.texts)
    assert push.headers.get("X-Line-Retry-Key")
    assert fake_line.calls_matching(with_token(token)) == []  # the stale token was not tried


def test_reply_token_line_refuses_falls_back_to_push(line, fake_line):
    channel, user, token = line["kose"], user_id(), reply_token()
    fake_line.invalid_reply_tokens.add(token)

    assert channel.post(webhook_body(text_event(user, "ポータルのURLは？", token=token)))[0] == 200

    (push,) = fake_line.wait_for(to_user(user))
    (refused,) = fake_line.calls_matching(with_token(token))
    assert refused.status == 400
    assert push.body["messages"] == refused.body["messages"]
    assert PORTAL["kose"] in "\n".join(push.texts)


def quick_reply_of(call: Call) -> list[dict]:
    messages = call.body["messages"]
    assert all("quickReply" not in m for m in messages[:-1]), "quick reply only on the last message"
    return messages[-1].get("quickReply", {}).get("items", [])


def test_buttons_become_quick_replies_and_pressing_one_posts_its_payload(
    line, fake_line, channel_rest
):
    channel, user, token = line["ono"], user_id(), reply_token()
    assert channel.post(webhook_body(text_event(user, "ワンタイムのことで", token=token)))[0] == 200
    (call,) = fake_line.wait_for(with_token(token))
    assert call.status == 200

    items = quick_reply_of(call)
    assert 2 <= len(items) <= 13
    for item in items:
        action = item["action"]
        assert item["type"] == "action"
        assert action["type"] == "postback"
        assert set(action) == {"type", "label", "data", "displayText"}
        assert 1 <= len(action["label"]) <= 20
        assert action["data"].startswith("/") and len(action["data"]) <= 300
        assert action["displayText"].startswith(action["label"].rstrip("…"))

    pressed = items[0]["action"]
    token2 = reply_token()
    event = postback_event(user, pressed["data"], token=token2)
    assert channel.post(webhook_body(event))[0] == 200
    (answer,) = fake_line.wait_for(with_token(token2))
    assert answer.status == 200 and answer.texts
    # the payload reaches Rasa with the channel's society as an entity
    assert user_texts(channel_rest, "ono", user)[-1] == with_society_entity(pressed["data"], "ono")


@pytest.mark.parametrize("society", ["kose", "ono"])
def test_follow_gets_the_societys_greeting(line, fake_line, society):
    channel, user, token = line[society], user_id(), reply_token()
    assert channel.post(webhook_body(follow_event(user, token=token)))[0] == 200
    (call,) = fake_line.wait_for(with_token(token))
    text = "\n".join(call.texts)
    assert SOCIETY_NAME[society] in text
    assert "パスワード" in text  # says what it can help with


def test_unfollow_sends_nothing(line, fake_line, channel_rest):
    user = user_id()
    assert line["kose"].post(webhook_body(unfollow_event(user)))[0] == 200
    time.sleep(QUIET_S)
    assert fake_line.calls_matching(to_user(user)) == []
    assert user_texts(channel_rest, "kose", user) == []


def test_sticker_gets_a_friendly_please_type(line, fake_line, channel_rest):
    user, token = user_id(), reply_token()
    assert line["ono"].post(webhook_body(sticker_event(user, token=token)))[0] == 200
    (call,) = fake_line.wait_for(with_token(token))
    assert call.body == {"replyToken": token, "messages": [{"type": "text", "text": PLEASE_TYPE}]}
    assert user_texts(channel_rest, "ono", user) == []


def test_several_events_in_one_webhook_are_answered_in_order(line, fake_line, channel_rest):
    channel, user = line["kose"], user_id()
    t1, t2 = reply_token(), reply_token()
    body = webhook_body(
        text_event(user, "こんにちは", token=t1), text_event(user, "ポータルのURLは？", token=t2)
    )
    assert channel.post(body)[0] == 200
    fake_line.wait_for(with_token(t1))
    (second,) = fake_line.wait_for(with_token(t2))
    assert PORTAL["kose"] in "\n".join(second.texts)
    assert user_texts(channel_rest, "kose", user) == ["こんにちは", "ポータルのURLは？"]


# --- under attack or mishap (issue 13): old events, replays, huge bodies ------------------


def test_stale_event_is_not_answered_and_the_member_is_asked_to_send_again(
    line, fake_line, channel_rest
):
    channel, user, token = line["kose"], user_id(), reply_token()
    an_hour_ago = int((time.time() - 3600) * 1000)
    event = text_event(user, "ポータルのURLは？", token=token, timestamp_ms=an_hour_ago)

    assert channel.post(webhook_body(event))[0] == 200

    (push,) = fake_line.wait_for(to_user(user))
    assert push.body == {
        "to": user,
        "messages": [{"type": "text", "text": stale_note(an_hour_ago)}],
    }
    assert channel.post(webhook_body(event))[0] == 200  # a replay gets nothing more
    time.sleep(QUIET_S)
    assert fake_line.calls_matching(about(user, token)) == [push]
    assert user_texts(channel_rest, "kose", user) == []  # Rasa never saw it


def test_replayed_event_without_webhook_event_id_is_processed_once(
    line, fake_line, channel_rest, channel_stack
):
    channel, user, token = line["ono"], user_id(), reply_token()
    event = text_event(user, "ポータルのURLは？", token=token)
    del event["webhookEventId"]

    assert channel.post(webhook_body(event))[0] == 200
    fake_line.wait_for(with_token(token))
    assert channel.post(webhook_body(event))[0] == 200
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert channel.post(webhook_body(redelivered))[0] == 200
    time.sleep(QUIET_S)

    assert len(fake_line.calls_matching(about(user, token))) == 1
    assert user_texts(channel_rest, "ono", user) == ["ポータルのURLは？"]
    # remembered in the handoff database, where another Rasa process would find it
    engine = create_engine(make_url(channel_stack.env["KOSMO_HANDOFF_DB_URL"]))
    try:
        with engine.connect() as conn:
            keys = conn.execute(
                select(seen_events_table.c.event_key, seen_events_table.c.society)
            ).fetchall()
    finally:
        engine.dispose()
    assert (event_key("ono", event), "ono") in [tuple(k) for k in keys]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_50_mb_body_is_refused_with_413_and_not_read(line, channel_rest, chunked):
    channel = line["kose"]
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(channel.secret, b"")}
    result = upload(channel.webhook_url, 50 * 1024 * 1024, headers, chunked=chunked)
    assert result.status == 413
    if chunked:  # read up to the limit (1 MiB), then cut off
        assert result.sent < 8 * 1024 * 1024
    else:  # answered after the head and the first 64 KiB
        assert result.sent <= 64 * 1024
    assert result.closed  # the rest is not read either
    # and the server goes on serving
    assert channel.post(webhook_body())[0] == 200

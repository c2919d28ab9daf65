"""Each channel records the member's origin on the real Rasa server, and the actions forward it.

REST and the widget record the caller's address (fresh sender ids and fresh sessions
from one address share it), LINE the LINE user; an ``origin`` the client sends is
dropped. Through the whole stack (Rasa, action server, portal), fresh REST senders
from one address are stopped by the portal's per-origin limit.
"""

from __future__ import annotations

import uuid

import pytest

from bot.channels.line_output import conversation_id as line_conversation_id
from bot.channels.origin import KIND_LINE, KIND_REST, KIND_WIDGET, Origins
from dev.portal.settings import DEFAULT_RATE_RULES
from tests.channels.fake_line import reply_token, text_event, user_id, webhook_body
from tests.channels.test_widget_channel import WidgetClient
from tests.e2e.conftest import RestClient

pytestmark = [pytest.mark.e2e, pytest.mark.model]

FORGED = {"tenant": "kose", "origin": "widget:" + "0" * 32}
RATE_LIMITED = "短い時間にお手続きが重なったため"
NOT_FOUND = "見つかりませんでした"  # the trained model's wording may differ a little


@pytest.fixture(scope="module")
def rest(channel_stack) -> RestClient:
    return RestClient.for_stack(channel_stack)


def stored_origins(rest: RestClient, conversation: str) -> list:
    status, tracker = rest.tracker(conversation)
    assert status == 200
    return [(e.get("metadata") or {}).get("origin") for e in tracker["events"] if e.get("event") == "user"]


def test_rest_records_the_callers_address_for_every_sender(channel_stack, rest):
    expected = Origins(KIND_REST, channel_stack.env["KOSMO_REST_TOKEN"]).of("127.0.0.1")
    senders = [f"origin-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for s in senders:
        rest.send(s, "ポータルのURLは？", metadata=FORGED)
    assert [stored_origins(rest, rest.conversation(s)) for s in senders] == [[expected]] * 2


async def test_the_widget_records_the_sockets_address_for_every_session(channel_stack, rest):
    expected = Origins(KIND_WIDGET, channel_stack.env["KOSMO_WIDGET_SESSION_SECRET"]).of("127.0.0.1")
    sessions = []
    for _ in range(2):
        async with WidgetClient(channel_stack.rasa_url) as client:
            session, _ = await client.session()
            await client.say("ポータルのURLは？", session, **FORGED)
            await client.wait("turn_end")
            sessions.append(session)
    assert sessions[0] != sessions[1]
    assert [stored_origins(rest, s) for s in sessions] == [[expected]] * 2


def test_line_records_the_line_user(channel_stack, rest, line, fake_line):
    user, token = user_id(), reply_token()
    status, _ = line["ono"].post(webhook_body(text_event(user, "ポータルのURLは？", token=token)))
    assert status == 200
    fake_line.wait_for(lambda c: c.body.get("replyToken") == token)
    expected = Origins(KIND_LINE, channel_stack.env["LINE_ONO_CHANNEL_SECRET"]).of(user)
    assert stored_origins(rest, line_conversation_id("ono", user)) == [expected]


def test_fresh_rest_senders_from_one_address_are_stopped_by_the_origin_limit(rest):
    """Rasa → actions → portal: the origin read from the latest message reaches the portal."""
    per_origin = DEFAULT_RATE_RULES[("unlock_read", "origin")].limit
    answers = [
        rest.text(f"status-{uuid.uuid4().hex[:10]}", "UL-7F3K9Q の状況は？", "kose")
        for _ in range(per_origin + 1)
    ]
    assert all(NOT_FOUND in a for a in answers[:per_origin]), answers
    assert RATE_LIMITED in answers[per_origin]

"""Human handoff over LINE: a LINE member, a console agent, the whole stack, LINE faked.

The member's messages are signed webhooks to the society's LINE webhook; what the
member receives is what the fake LINE API recorded: answers to a webhook turn come by
reply (that event's reply token), what the agent's actions cause comes by push,
with the society's channel access token. The agent uses the console's JSON API
with a logged-in session, as the console page's script does. The REST version of
the same story is tests/e2e/test_handoff.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Callable, Iterator, List

import pytest

from bot.channels.line_output import conversation_id
from bot.handoff.store import HandoffStore
from tests.channels.fake_line import (
    Call,
    limit_problems,
    postback_event,
    reply_token,
    text_event,
    user_id,
    webhook_body,
)
from tests.e2e.conftest import stack_handoff_store
from tests.e2e.test_handoff import StackConsole
from tests.handoff.conftest import AgentClient

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PASSWORD = "line-agent-password-0123"
AGENTS = {"kose": ("line-kose-sato", "佐藤"), "ono": ("line-ono-tanaka", "田中")}
# time for an answer the bot must not give to reach LINE, if it ever would
QUIET_S = 3.0

OFFER = "担当者におつなぎできます"
QUEUED = "担当者への引き継ぎを受け付けました。担当者が入ると、このチャットでお知らせします。"
TAKEN = "担当者がチャットに入りました。ここからは担当者がお返事します。"
ASK_SOLVED = "担当者との会話は終了しました。お困りのことは解決しましたか？"
THANKS = "よかったです。ご回答ありがとうございました。"


@pytest.fixture(scope="module")
def handoff_store(channel_stack) -> Iterator[HandoffStore]:
    agents = [(society, login, name) for society, (login, name) in AGENTS.items()]
    with stack_handoff_store(channel_stack, agents, PASSWORD) as store:
        yield store


@pytest.fixture
async def agent_of(channel_stack, handoff_store) -> AsyncIterator[Callable[..., Any]]:
    clients: List[AgentClient] = []

    async def login(society: str) -> AgentClient:
        client = AgentClient(StackConsole(channel_stack.rasa_url))  # type: ignore[arg-type]
        clients.append(client)
        await client.login(AGENTS[society][0], PASSWORD)
        return client

    yield login
    for client in clients:
        await client.close()


def with_token(token: str) -> Callable[[Call], bool]:
    return lambda c: c.body.get("replyToken") == token


def pushed_to(user: str) -> Callable[[Call], bool]:
    return lambda c: c.path == "/v2/bot/message/push" and c.body.get("to") == user


def answered(fake_line, channel, event: dict) -> Call:
    """Post ``event`` signed; the reply LINE got for it (checked against LINE's limits)."""
    assert channel.post(webhook_body(event))[0] == 200
    (call,) = fake_line.wait_for(with_token(event["replyToken"]))
    assert call.path == "/v2/bot/message/reply" and call.status == 200, call
    assert fake_line.tokens[call.token] == channel.society
    assert limit_problems(call.body["messages"]) == []
    return call


def next_push(fake_line, user: str, already: int) -> Call:
    """The push to ``user`` after the ``already`` earlier ones, checked like LINE would."""
    pushes = fake_line.wait_for(pushed_to(user), count=already + 1, timeout=30)
    assert len(pushes) == already + 1, [p.texts for p in pushes]
    push = pushes[-1]
    assert push.status == 200, push
    assert set(push.body) == {"to", "messages"}
    assert limit_problems(push.body["messages"]) == []
    return push


def quick_replies(call: Call) -> dict[str, dict]:
    """The quick reply actions of a call's last message, by label."""
    items = call.body["messages"][-1]["quickReply"]["items"]
    return {i["action"]["label"]: i["action"] for i in items}


async def wait_for_message(agent: AgentClient, handoff_id: str, text: str) -> List[dict]:
    deadline = time.monotonic() + 20
    while True:
        status, data = await agent.get(f"/api/conversations/{handoff_id}")
        assert status == 200
        if any(m["text"] == text for m in data["messages"]) or time.monotonic() > deadline:
            return data["messages"]
        await asyncio.sleep(0.3)


async def test_line_member_is_helped_by_an_agent_and_says_it_was_solved(
    line, fake_line, handoff_store, agent_of
):
    kose, user = line["kose"], user_id()
    conversation = conversation_id("kose", user)

    # 1. the member asks for a person and agrees (typing 「はい」)
    offer = answered(fake_line, kose, text_event(user, "担当者と話したい"))
    assert OFFER in "\n".join(offer.texts), offer.texts
    buttons = quick_replies(offer)
    assert buttons["はい、つないでください"] == {
        "type": "postback",
        "label": "はい、つないでください",
        "data": "/affirm",
        "displayText": "はい、つないでください",
    }
    assert buttons["いいえ"]["data"] == "/deny"
    accepted = answered(fake_line, kose, text_event(user, "はい"))
    assert QUEUED in "\n".join(accepted.texts), accepted.texts
    assert fake_line.calls_matching(pushed_to(user)) == []

    # 2. a kose agent finds it in the queue, reads the packet, takes it
    sato = await agent_of("kose")
    handoff = handoff_store.current(conversation)
    assert handoff is not None, "the LINE conversation is not in the queue"
    status, queue = await sato.get("/api/queue")
    assert status == 200
    (listed,) = [h for h in queue if h["id"] == handoff.id]
    assert listed["channel"] == "line" and listed["status"] == "queued"
    status, data = await sato.get(f"/api/conversations/{handoff.id}")
    assert status == 200
    packet = data["packet"]
    assert packet["channel"] == "line" and packet["society"] == "kose"
    assert packet["reason"] == "member_asked"
    member_words = [t["text"] for t in packet["transcript"] if t["author"] == "member"]
    assert any("担当者と話したい" in t for t in member_words), packet["transcript"]

    status, taken = await sato.post(f"/api/conversations/{handoff.id}/take")
    assert status == 200, taken
    push = next_push(fake_line, user, already=0)
    assert fake_line.tokens[push.token] == "kose"  # kose's own channel access token
    assert push.token == kose.token
    assert push.texts == [TAKEN]

    # 3. the member writes: the agent sees it, the bot stays silent
    said = "ユーザーIDは kose.hanako です。ロックされました"
    event = text_event(user, said)
    assert kose.post(webhook_body(event))[0] == 200
    messages = await wait_for_message(sato, handoff.id, said)
    assert [m["author"] for m in messages if m["text"] == said] == ["member"], messages
    await asyncio.sleep(QUIET_S)
    assert fake_line.calls_matching(with_token(event["replyToken"])) == []
    # the only push so far is 「担当者がチャットに入りました」
    assert len(fake_line.calls_matching(pushed_to(user))) == 1

    # 4. the agent replies: pushed to the member with the agent prefix
    status, replied = await sato.post(
        f"/api/conversations/{handoff.id}/reply", {"text": "確認しました。ロックを解除しました。"}
    )
    assert status == 200, replied
    push = next_push(fake_line, user, already=1)
    assert push.token == kose.token
    assert push.texts == ["担当者：確認しました。ロックを解除しました。"]

    # 5. the agent closes: "solved?" is pushed with quick replies; the member taps 解決した
    status, closed = await sato.post(f"/api/conversations/{handoff.id}/close")
    assert status == 200, closed
    push = next_push(fake_line, user, already=2)
    assert push.token == kose.token
    assert push.texts == [ASK_SOLVED]
    answers = quick_replies(push)
    assert set(answers) == {"解決した", "解決していない"}
    assert answers["解決した"]["type"] == "postback"
    assert answers["解決していない"]["data"] == "/deny"
    token = reply_token()
    thanks = answered(
        fake_line, kose, postback_event(user, answers["解決した"]["data"], token=token)
    )
    assert thanks.texts == [THANKS]
    assert handoff_store.get(handoff.id).solved is True
    assert handoff_store.current(conversation) is None
    assert len(fake_line.calls_matching(pushed_to(user))) == 3


async def test_another_societys_agent_cannot_see_or_act_on_a_line_conversation(
    line, fake_line, handoff_store, agent_of
):
    kose, user = line["kose"], user_id()
    answered(fake_line, kose, text_event(user, "担当者と話したい"))
    answered(fake_line, kose, text_event(user, "はい"))
    handoff = handoff_store.current(conversation_id("kose", user))
    assert handoff is not None and handoff.channel == "line"

    tanaka = await agent_of("ono")
    status, queue = await tanaka.get("/api/queue")
    assert status == 200 and handoff.id not in json.dumps(queue)
    assert (await tanaka.get(f"/api/conversations/{handoff.id}"))[0] == 404
    for action, body in (("take", None), ("reply", {"text": "こんにちは"}), ("close", None)):
        status, _ = await tanaka.post(f"/api/conversations/{handoff.id}/{action}", body)
        assert status == 404, action
    await asyncio.sleep(1.0)
    assert fake_line.calls_matching(pushed_to(user)) == []
    assert handoff_store.get(handoff.id).status == "queued"

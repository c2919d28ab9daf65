"""Human handoff through the whole stack: REST member, console agent, Rasa server, action server.

The member talks over the REST channel (what it answers is what the member
sees); the agent uses the console's JSON API with a logged-in session, exactly
as the console page's script does. The tracker (Rasa's HTTP API) shows what
stays in the conversation's history. The browser and LINE versions of the same
story are in tests/browser/test_handoff_in_browser.py and
tests/channels/test_line_handoff.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Iterator

import pytest

from bot.handoff.store import HandoffStore
from tests.e2e.conftest import stack_handoff_store
from tests.e2e.test_rest_conversation import sender
from tests.handoff.conftest import AgentClient

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PASSWORD = "e2e-agent-password-0123"


class StackConsole:
    """What AgentClient needs of a console: where its pages are."""

    def __init__(self, rasa_url: str) -> None:
        self.url = rasa_url

    def at(self, path: str) -> str:
        return f"{self.url}/webhooks/agent{path}"


@pytest.fixture(scope="module")
def handoff_store(stack) -> Iterator[HandoffStore]:
    agents = (("kose", "e2e-sato", "佐藤"), ("ono", "e2e-tanaka", "田中"))
    with stack_handoff_store(stack, agents, PASSWORD) as store:
        yield store


@pytest.fixture
async def agent_login(stack, handoff_store):
    clients: list[AgentClient] = []

    async def login(name: str) -> AgentClient:
        client = AgentClient(StackConsole(stack.rasa_url))  # type: ignore[arg-type]
        clients.append(client)
        await client.login(name, PASSWORD)
        return client

    yield login
    for client in clients:
        await client.close()


def bot_texts(tracker: dict[str, Any]) -> list[str]:
    return [e.get("text") or "" for e in tracker.get("events", []) if e.get("event") == "bot"]


async def queued(client: AgentClient, conversation_id: str, handoff_store: HandoffStore) -> str:
    handoff = handoff_store.current(conversation_id)
    assert handoff is not None, "the conversation is not in the queue"
    status, queue = await client.get("/api/queue")
    assert status == 200
    assert handoff.id in json.dumps(queue)
    return handoff.id


async def test_member_asks_agent_takes_replies_and_hands_back(rest, agent_login, handoff_store):
    s = sender()
    offer = rest.text(s, "担当者と話したいです", "kose")
    assert "担当者におつなぎできます" in offer and "やっぱりいいです" in offer, offer
    assert "担当者への引き継ぎを受け付けました" in rest.text(s, "はい")
    # the first message while waiting gets a word that it reached the helpdesk
    waiting = rest.text(s, "ロックされてしまって困っています")
    assert "メッセージは担当者に届いています" in waiting, waiting

    sato = await agent_login("e2e-sato")
    handoff_id = await queued(sato, rest.conversation(s), handoff_store)
    status, data = await sato.get(f"/api/conversations/{handoff_id}")
    assert status == 200
    packet = data["packet"]
    assert packet["society"] == "kose" and packet["channel"] == "rest"
    assert packet["reason"] == "member_asked"
    assert any("担当者と話したい" in t["text"] for t in packet["transcript"])
    assert any(m["text"] == "ロックされてしまって困っています" for m in data["messages"])

    status, _ = await sato.post(f"/api/conversations/{handoff_id}/take")
    assert status == 200
    # while the agent has it, the bot says nothing; the console sees the message
    assert rest.send(s, "ユーザーIDは kose.hanako です") == []
    status, data = await sato.get(f"/api/conversations/{handoff_id}")
    assert any(m["text"] == "ユーザーIDは kose.hanako です" for m in data["messages"])

    status, _ = await sato.post(
        f"/api/conversations/{handoff_id}/reply", {"text": "確認しました。ロックを解除しました。"}
    )
    assert status == 200
    status, tracker = rest.tracker(rest.conversation(s))
    texts = bot_texts(tracker)
    assert "担当者がチャットに入りました。ここからは担当者がお返事します。" in texts
    assert "担当者：確認しました。ロックを解除しました。" in texts

    status, _ = await sato.post(f"/api/conversations/{handoff_id}/handback")
    assert status == 200
    _, tracker = rest.tracker(rest.conversation(s))
    assert any("ここからはまたボットがお返事します" in t for t in bot_texts(tracker))
    # the bot answers the next question again
    answer = rest.text(s, "ポータルのアドレスを教えてください")
    assert "https://www.kosekenpo.portal.kosmo-web.jp/" in answer, answer
    assert handoff_store.current(rest.conversation(s)) is None


async def test_other_society_and_no_session_are_refused(rest, agent_login, handoff_store, stack):
    s = sender()
    rest.text(s, "人と話したい", "kose")
    rest.text(s, "はい")
    handoff_id = handoff_store.current(rest.conversation(s)).id
    tanaka = await agent_login("e2e-tanaka")  # ono
    status, queue = await tanaka.get("/api/queue")
    assert status == 200 and handoff_id not in json.dumps(queue)
    status, _ = await tanaka.get(f"/api/conversations/{handoff_id}")
    assert status == 404
    status, _ = await tanaka.post(f"/api/conversations/{handoff_id}/take")
    assert status == 404
    anonymous = AgentClient(StackConsole(stack.rasa_url))  # type: ignore[arg-type]
    try:
        status, _ = await anonymous.get("/api/queue")
        assert status == 401
        page_status, _, headers = await anonymous.page("/")
        assert page_status in (302, 303) and "/login" in headers["Location"]
    finally:
        await anonymous.close()
    # the member leaves the queue and is back with the bot
    left = rest.text(s, "やっぱりいいです")
    assert "引き継ぎを取り消しました" in left, left
    assert handoff_store.current(rest.conversation(s)) is None
    assert "https://www.kosekenpo.portal.kosmo-web.jp/" in rest.text(s, "ポータルのURLは？")


async def test_close_asks_whether_it_was_solved_and_stores_the_answer(
    rest, agent_login, handoff_store
):
    s = sender()
    rest.text(s, "オペレーターにつないで", "ono")
    rest.text(s, "はい")
    tanaka = await agent_login("e2e-tanaka")
    handoff_id = await queued(tanaka, rest.conversation(s), handoff_store)
    await tanaka.post(f"/api/conversations/{handoff_id}/take")
    status, _ = await tanaka.post(f"/api/conversations/{handoff_id}/close")
    assert status == 200
    _, tracker = rest.tracker(rest.conversation(s))
    assert "担当者との会話は終了しました。お困りのことは解決しましたか？" in bot_texts(tracker)
    assert "よかったです" in rest.text(s, "はい")
    assert handoff_store.get(handoff_id).solved is True


async def test_outside_staffed_hours_the_member_is_told_and_offered_what_works_now(
    rest, handoff_store
):
    # the fictional society (tests/conftest.py) has no staffed hours at all
    s = sender()
    offer = rest.text(s, "担当者と話したい", "hoshi")
    assert "いまチャットでお返事できる担当者がおりません" in offer, offer
    assert "ロックを解除したい" in offer and "ほしぞら健康保険組合" in offer
    assert "申し込みますか" in offer
    assert "受け付けました" in rest.text(s, "はい")
    # its queue gives up waiting after 3 seconds: the member is told, once, and the
    # watcher then records that it told them (after the message, so wait for both)
    deadline = time.monotonic() + 20
    told: list[str] = []
    while time.monotonic() < deadline and not (told and handoff_store.current(rest.conversation(s)).wait_notified_at):
        await asyncio.sleep(1)
        _, tracker = rest.tracker(rest.conversation(s))
        told = [t for t in bot_texts(tracker) if "お待たせしていて申し訳ありません" in t]
    assert len(told) == 1
    assert handoff_store.current(rest.conversation(s)).wait_notified_at is not None

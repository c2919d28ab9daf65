"""The handoff store on a real SQLite file: handoffs, messages, agents, sessions, throttle."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest

from bot.handoff.store import HandoffStore
from bot.handoff.store_errors import (
    AgentExists,
    AgentNotFound,
    HandoffClosed,
    HandoffNotFound,
    InvalidValue,
    NotAssigned,
    UnknownSociety,
    WeakPassword,
)
from tests.handoff.conftest import PACKET, PASSWORD, Agents, TestClock, make_store, open_handoff


def test_open_queues_once_per_conversation(store: HandoffStore, clock: TestClock) -> None:
    first = open_handoff(store, packet=PACKET)
    assert first.status == "queued"
    assert first.society == "kose" and first.channel == "widget" and first.reason == "member_asked"
    assert first.packet["topic"] == PACKET["topic"]
    assert first.topic == PACKET["topic"]["label"]
    assert first.created_at == clock.now() and first.created_at.tzinfo is not None
    clock.advance(seconds=30)
    again = store.open("member-1", "kose", "line", "portal_down", {"topic": "other"})
    assert again == first and again.channel == "widget"
    assert store.current("member-1") == first
    assert [m.author for m in store.messages(first.id)] == ["system"]
    assert store.current("someone-else") is None


def test_open_validates(store: HandoffStore) -> None:
    with pytest.raises(UnknownSociety):
        store.open("m", "hoshi", "widget", "member_asked", {})
    with pytest.raises(InvalidValue):
        store.open("m", "kose", "fax", "member_asked", {})
    with pytest.raises(InvalidValue):
        store.open("", "kose", "widget", "member_asked", {})


def test_ids_are_random_and_url_safe(store: HandoffStore) -> None:
    ids = {open_handoff(store, f"member-{i}").id for i in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 16 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_queue_is_per_society_oldest_first(
    store: HandoffStore, clock: TestClock, agents: Agents
) -> None:
    a = open_handoff(store, "a")
    clock.advance(seconds=10)
    b = open_handoff(store, "b")
    clock.advance(seconds=10)
    open_handoff(store, "c", society="ono")
    d = open_handoff(store, "d")
    store.close(d.id, agents.sato)
    store.take(b.id, agents.suzuki)
    clock.advance(seconds=172)
    queue = store.queue("kose")
    assert [h.id for h in queue] == [a.id, b.id]
    assert queue[0].waiting_seconds(clock.now()) == 192
    # an active one waited until it was taken
    assert queue[1].status == "active" and queue[1].assigned_agent_name == "鈴木"
    assert queue[1].waiting_seconds(clock.now()) == 10
    assert [h.conversation_id for h in store.queue("ono")] == ["c"]


def test_take_and_take_over(store: HandoffStore, agents: Agents, clock: TestClock) -> None:
    h = open_handoff(store)
    clock.advance(seconds=5)
    taken = store.take(h.id, agents.sato)
    assert taken.status == "active"
    assert (taken.assigned_agent_id, taken.assigned_agent_name) == (agents.sato.id, "佐藤")
    assert taken.assigned_at == clock.now()
    assert store.take(h.id, agents.sato) == taken  # again: nothing changes
    over = store.take(h.id, agents.suzuki)
    assert over.assigned_agent_id == agents.suzuki.id
    texts = [m.text for m in store.messages(h.id) if m.author == "system"]
    assert texts[1:] == ["佐藤さんが対応を始めました", "鈴木さんが対応を引き継ぎました"]


def test_take_refuses_other_society_and_ended(store: HandoffStore, agents: Agents) -> None:
    h = open_handoff(store)
    with pytest.raises(HandoffNotFound):
        store.take(h.id, agents.tanaka)
    with pytest.raises(HandoffNotFound):
        store.take("no-such-id", agents.sato)
    store.close(h.id, agents.sato)
    with pytest.raises(HandoffClosed):
        store.take(h.id, agents.sato)


def test_messages_and_cursor(store: HandoffStore, agents: Agents) -> None:
    h = open_handoff(store)
    opened = store.messages(h.id)
    m1 = store.add_message(h.id, "member", "まだ届きません")
    m2 = store.add_message(h.id, "member", "<script>alert('x')</script>")
    store.take(h.id, agents.sato)
    m3 = store.reply(h.id, agents.sato, "確認します")
    assert m1.id < m2.id < m3.id
    assert (m3.author, m3.agent_id, m3.agent_name) == ("agent", agents.sato.id, "佐藤")
    after = store.messages(h.id, after_id=m1.id)
    assert [m.text for m in after][0] == "<script>alert('x')</script>"
    assert [m.id for m in after][-1] == m3.id
    assert store.messages(h.id, after_id=m3.id) == []
    assert store.messages(h.id)[0] == opened[0]
    with pytest.raises(InvalidValue):
        store.add_message(h.id, "hacker", "x")
    with pytest.raises(HandoffNotFound):
        store.add_message("nope", "member", "x")


def test_reply_only_by_the_assigned_agent(store: HandoffStore, agents: Agents) -> None:
    h = open_handoff(store)
    with pytest.raises(NotAssigned):
        store.reply(h.id, agents.sato, "まだ担当していません")
    store.take(h.id, agents.sato)
    with pytest.raises(NotAssigned):
        store.reply(h.id, agents.suzuki, "横から失礼")
    with pytest.raises(HandoffNotFound):
        store.reply(h.id, agents.tanaka, "他の組合")


def test_hand_back_close_leave(store: HandoffStore, agents: Agents, clock: TestClock) -> None:
    a = open_handoff(store, "a")
    store.take(a.id, agents.sato)
    with pytest.raises(NotAssigned):
        store.hand_back(a.id, agents.suzuki)
    clock.advance(minutes=1)
    back = store.hand_back(a.id, agents.sato)
    assert back.status == "returned" and back.ended_at == clock.now()
    assert store.current("a") is None
    with pytest.raises(HandoffClosed):
        store.close(a.id, agents.sato)
    with pytest.raises(HandoffClosed):
        store.add_message(a.id, "member", "もう遅い")
    store.add_message(a.id, "bot", "ボットが戻りました")  # the bot may still note things

    b = open_handoff(store, "b")
    closed = store.close(b.id, agents.suzuki)  # queued: anyone of the society may close it
    assert closed.status == "closed"

    c = open_handoff(store, "c")
    left = store.leave("c")
    assert left is not None and left.id == c.id and left.status == "left"
    assert store.leave("c") is None
    # a new handoff may be opened once the earlier one ended
    assert open_handoff(store, "a").id != a.id


def test_record_solved_on_latest_closed(
    store: HandoffStore, agents: Agents, clock: TestClock
) -> None:
    first = open_handoff(store)
    store.close(first.id, agents.sato)
    clock.advance(minutes=5)
    second = open_handoff(store)
    store.close(second.id, agents.sato)
    updated = store.record_solved(True, conversation_id="member-1")
    assert updated is not None and updated.id == second.id and updated.solved is True
    assert store.get(first.id).solved is None  # type: ignore[union-attr]
    by_id = store.record_solved(False, handoff_id=first.id)
    assert by_id is not None and by_id.solved is False
    assert store.record_solved(True, conversation_id="nobody") is None
    with pytest.raises(InvalidValue):
        store.record_solved(True)


def test_overdue_until_notified(store: HandoffStore, agents: Agents, clock: TestClock) -> None:
    old = open_handoff(store, "old")
    taken = open_handoff(store, "taken")
    clock.advance(minutes=4)
    fresh = open_handoff(store, "fresh")
    store.take(taken.id, agents.sato)
    clock.advance(minutes=1, seconds=1)
    assert [h.id for h in store.overdue(dt.timedelta(minutes=5))] == [old.id]
    store.mark_wait_notified(old.id)
    assert store.get(old.id).wait_notified_at == clock.now()  # type: ignore[union-attr]
    assert store.overdue(dt.timedelta(minutes=5)) == []
    clock.advance(minutes=4)
    assert [h.id for h in store.overdue(dt.timedelta(minutes=5))] == [fresh.id]
    with pytest.raises(HandoffNotFound):
        store.mark_wait_notified("nope")


def test_agents(store: HandoffStore, db_path: Path) -> None:
    agent = store.create_agent("kose", "  Sato.K ", "a-very-long-password", " 佐藤 ")
    assert (agent.login, agent.display_name, agent.society, agent.active) == (
        "sato.k",
        "佐藤",
        "kose",
        True,
    )
    with pytest.raises(AgentExists):
        store.create_agent("ono", "SATO.K", "a-very-long-password", "別人")
    with pytest.raises(WeakPassword):
        store.create_agent("kose", "short", "elevenchars", "短い")
    with pytest.raises(UnknownSociety):
        store.create_agent("hoshi", "hoshi1", "a-very-long-password", "星")
    with pytest.raises(InvalidValue):
        store.create_agent("kose", "bad login", "a-very-long-password", "空白")
    with sqlite3.connect(db_path) as db:
        (stored,) = db.execute("select password_hash from handoff_agents").fetchone()
    assert stored.startswith("scrypt$") and "a-very-long-password" not in stored
    assert [a.login for a in store.agents("kose")] == ["sato.k"]
    assert store.agents("ono") == []


def test_unknown_society_accepted_without_a_list(db_path: Path, clock: TestClock) -> None:
    store = HandoffStore(f"sqlite:///{db_path}", clock=clock.now)
    store.create_schema()
    assert (
        store.create_agent("anything", "login1", "a-very-long-password", "誰か").society
        == "anything"
    )
    store.dispose()


def test_authenticate(store: HandoffStore, agents: Agents) -> None:
    assert store.authenticate("sato", PASSWORD) == agents.sato
    assert store.authenticate("SATO ", PASSWORD) == agents.sato
    assert store.authenticate("sato", PASSWORD + "x") is None
    assert store.authenticate("nobody", PASSWORD) is None
    store.set_password("sato", "another-long-password")
    assert store.authenticate("sato", PASSWORD) is None
    assert store.authenticate("sato", "another-long-password") == agents.sato
    with pytest.raises(WeakPassword):
        store.set_password("sato", "short")
    with pytest.raises(AgentNotFound):
        store.set_password("nobody", "another-long-password")
    store.deactivate("sato")
    assert store.authenticate("sato", "another-long-password") is None


def test_sessions(store: HandoffStore, agents: Agents, clock: TestClock, db_path: Path) -> None:
    token, csrf = store.start_session(agents.sato)
    assert token != csrf and len(token) >= 40
    assert store.session(token) == (agents.sato, csrf)
    with sqlite3.connect(db_path) as db:
        rows = db.execute("select token_hash from handoff_sessions").fetchall()
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),)]
    assert store.session("wrong") is None and store.session("") is None
    clock.advance(hours=7, minutes=59)
    assert store.session(token) is not None
    clock.advance(minutes=1)
    assert store.session(token) is None  # 8 hours

    token2, _ = store.start_session(agents.sato)
    store.end_session(token2)
    assert store.session(token2) is None

    token3, _ = store.start_session(agents.suzuki)
    store.set_password("suzuki", "a-new-long-password")
    assert store.session(token3) is None
    token4, _ = store.start_session(agents.tanaka)
    store.deactivate("tanaka")
    assert store.session(token4) is None


def test_two_processes_share_the_file(store: HandoffStore, clock: TestClock, db_path: Path) -> None:
    other = make_store(f"sqlite:///{db_path}", clock)  # e.g. the action server
    try:
        h = other.open("member-9", "ono", "line", "portal_down", {"topic": "ログイン"})
        assert store.current("member-9") == h
        assert store.open("member-9", "ono", "line", "portal_down", {}) == h
        with sqlite3.connect(db_path) as db:
            assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    finally:
        other.dispose()


async def test_async_use_runs_in_a_thread(store: HandoffStore, agents: Agents) -> None:
    h = await store.run(open_handoff, store)
    results = await asyncio.gather(
        *(store.run(store.add_message, h.id, "member", f"message {i}") for i in range(10))
    )
    assert len({m.id for m in results}) == 10
    taken = await store.run(store.take, h.id, agents.sato)
    assert taken.status == "active"


def test_from_env(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deeper/folder/h.db"
    store = HandoffStore.from_env({"KOSMO_HANDOFF_DB_URL": url})
    store.create_schema()
    assert (tmp_path / "deeper" / "folder" / "h.db").exists()
    store.dispose()
    default = HandoffStore.from_env({})
    assert str(default.engine.url).endswith("var/handoff.db")
    default.dispose()

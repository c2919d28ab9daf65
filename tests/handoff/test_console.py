"""The agent console served by a real Sanic server on loopback, driven with aiohttp."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Callable

import aiohttp
import pytest

from bot.handoff.console_auth import secure_cookies_from_env
from bot.handoff.store import HandoffStore
from tests.handoff.conftest import (
    PACKET,
    PASSWORD,
    PREFIX,
    AgentClient,
    Agents,
    RunningConsole,
    TestClock,
    open_handoff,
)

ACTIONS = ("take", "reply", "handback", "close")
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def _session_cookie(resp: aiohttp.ClientResponse) -> str:
    (cookie,) = [
        c for c in resp.headers.getall("Set-Cookie") if c.startswith("kosmo_agent_session=")
    ]
    return cookie


def _flags(cookie: str) -> list[str]:
    return [part.strip().lower() for part in cookie.split(";")]


# -- who gets in -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/conversations/abcdef"])
async def test_pages_without_session_redirect_to_login(
    console: RunningConsole, client_factory: Callable[[], AgentClient], path: str
) -> None:
    client = client_factory()
    status, _, headers = await client.page(path)
    assert status == 302
    assert headers["Location"] == f"{PREFIX}/login"


async def test_apis_without_session_are_401(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    h = open_handoff(console.store)
    client = client_factory()
    for path in ("/api/queue", f"/api/conversations/{h.id}"):
        status, body = await client.get(path)
        assert status == 401 and body["error"] == "unauthenticated"
    for action in ACTIONS:
        status, body = await client.post(
            f"/api/conversations/{h.id}/{action}", {"text": "x"}, csrf="x"
        )
        assert status == 401
    assert console.link.calls == []


async def test_login_sets_a_strict_session_cookie(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    client = client_factory()
    resp = await client.post_login("sato", PASSWORD)
    assert resp.status == 303 and resp.headers["Location"] == f"{PREFIX}/"
    flags = _flags(_session_cookie(resp))
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert f"path={PREFIX}" in flags
    assert "secure" not in flags
    assert "max-age=28800" in flags


@pytest.mark.parametrize(
    "env, secure",
    [
        ({}, True),
        ({"KOSMO_AGENT_SECURE_COOKIES": ""}, True),
        ({"KOSMO_AGENT_SECURE_COOKIES": "true"}, True),
        ({"KOSMO_AGENT_SECURE_COOKIES": "false"}, False),
        ({"KOSMO_AGENT_SECURE_COOKIES": " Off "}, False),
    ],
)
def test_cookies_are_secure_unless_dev_mode_says_so(env: dict[str, str], secure: bool) -> None:
    assert secure_cookies_from_env(env) is secure


def test_a_misspelt_cookie_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="KOSMO_AGENT_SECURE_COOKIES must be true or false"):
        secure_cookies_from_env({"KOSMO_AGENT_SECURE_COOKIES": "ture"})


def test_the_rasa_channel_reads_the_cookie_setting(
    store: HandoffStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.agent_console import AgentConsoleInput

    monkeypatch.delenv("KOSMO_AGENT_SECURE_COOKIES", raising=False)
    assert AgentConsoleInput(store=store).secure_cookies is True
    monkeypatch.setenv("KOSMO_AGENT_SECURE_COOKIES", "false")
    assert AgentConsoleInput(store=store).secure_cookies is False


async def test_insecure_cookies_only_in_dev_mode(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    dev = make_console(secure_cookies=secure_cookies_from_env({"KOSMO_AGENT_SECURE_COOKIES": "0"}))
    client = AgentClient(dev)
    try:
        resp = await client.post_login("sato", PASSWORD)
        assert resp.status == 303
        assert "secure" not in _flags(_session_cookie(resp))
    finally:
        await client.close()


async def test_secure_cookies_by_default(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    running = make_console(secure_cookies=secure_cookies_from_env({}))
    async with aiohttp.ClientSession() as http:  # a Secure cookie is not sent back over http:
        async with http.get(running.at("/login")) as page:  # so the test sends it by hand
            form_cookie = page.headers["Set-Cookie"]
            token = _CSRF_FIELD.search(await page.text()).group(1)  # type: ignore[union-attr]
        assert "secure" in _flags(form_cookie)
        async with http.post(
            running.at("/login"),
            data={"login": "sato", "password": PASSWORD, "csrf": token},
            headers={"Cookie": f"kosmo_agent_login_csrf={token}"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
            cookie = _session_cookie(resp)
    assert "secure" in _flags(cookie)


async def test_session_token_is_stored_hashed(
    console: RunningConsole, client_factory: Callable[[], AgentClient], db_path: Path
) -> None:
    client = client_factory()
    resp = await client.post_login("sato", PASSWORD)
    token = resp.cookies["kosmo_agent_session"].value
    with sqlite3.connect(db_path) as db:
        hashes = [row[0] for row in db.execute("select token_hash from handoff_sessions")]
        (password_hash,) = db.execute(
            "select password_hash from handoff_agents where login = 'sato'"
        ).fetchone()
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]
    assert password_hash.startswith("scrypt$") and PASSWORD not in password_hash


async def test_wrong_password_is_401_then_throttled(
    console: RunningConsole, client_factory: Callable[[], AgentClient], clock: TestClock
) -> None:
    client = client_factory()
    for _ in range(5):
        resp = await client.post_login("sato", "wrong-password-123")
        assert resp.status == 401
        text = await resp.text()
        assert "ログインIDまたはパスワードが正しくありません" in text
        assert 'name="login" value="sato"' in text
        assert "kosmo_agent_session" not in resp.cookies
    resp = await client.post_login("sato", PASSWORD)  # right password, but blocked now
    assert resp.status == 429
    assert "このIDはこの接続元からしばらくログインできません" in await resp.text()
    assert "約15分後" in await resp.text() and resp.headers["Retry-After"] == "900"
    other = await client_factory().post_login("suzuki", PASSWORD)  # other logins still work
    assert other.status == 303
    clock.advance(minutes=15)
    assert (await client.post_login("sato", PASSWORD)).status == 303


async def test_unknown_login_is_401(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    resp = await client_factory().post_login("nobody", PASSWORD)
    assert resp.status == 401


async def test_login_needs_its_form_token(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    client = client_factory()
    await client.login_form_token()
    resp = await client.post_login("sato", PASSWORD, csrf="forged")
    assert resp.status == 403
    fresh = client_factory()  # no cookie from the form at all
    resp = await fresh.post_login("sato", PASSWORD, csrf="anything")
    assert resp.status == 403


async def test_login_from_another_origin_is_refused(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    client = client_factory()
    token = await client.login_form_token()
    resp = await client.http.post(
        console.at("/login"),
        data={"login": "sato", "password": PASSWORD, "csrf": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_logout_ends_the_session(console: RunningConsole, sato: AgentClient) -> None:
    resp = await sato.http.post(
        console.at("/logout"), data={"csrf": "wrong"}, allow_redirects=False
    )
    assert resp.status == 403
    resp = await sato.http.post(
        console.at("/logout"), data={"csrf": sato.csrf}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == f"{PREFIX}/login"
    status, _ = await sato.get("/api/queue")
    assert status == 401


# -- security headers and static files -------------------------------------------


async def test_pages_send_security_headers(
    console: RunningConsole, sato: AgentClient, client_factory: Callable[[], AgentClient]
) -> None:
    h = open_handoff(console.store)
    anonymous = client_factory()
    for client, path in ((anonymous, "/login"), (sato, "/"), (sato, f"/conversations/{h.id}")):
        status, body, headers = await client.page(path)
        assert status == 200
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "<script>" not in body  # only <script src=...>
        assert f'src="{PREFIX}/static/console.js"' in body
    status, _, headers = await sato.page("/api/queue")
    assert headers["Cache-Control"] == "no-store"


async def test_static_files_are_served(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    client = client_factory()
    for name, kind in (("console.js", "javascript"), ("console.css", "css")):
        status, body, headers = await client.page(f"/static/{name}")
        assert status == 200 and kind in headers["Content-Type"]
    status, body, _ = await client.page("/static/console.js")
    assert "innerHTML" not in body and "textContent" in body


# -- the queue -------------------------------------------------------------------


async def test_queue_page_and_api(
    console: RunningConsole, sato: AgentClient, clock: TestClock, agents: Agents
) -> None:
    first = open_handoff(console.store, "m1", reason="portal_down", channel="line")
    clock.advance(seconds=60)
    second = open_handoff(console.store, "m2")
    open_handoff(console.store, "m3", society="ono")
    console.store.take(second.id, agents.suzuki)
    clock.advance(seconds=132)
    status, body, _ = await sato.page("/")
    assert status == 200
    assert "3分12秒" in body
    assert f'href="{PREFIX}/conversations/{first.id}"' in body
    assert "ポータルの障害・応答なし" in body and "佐藤 さん" in body
    status, items = await sato.get("/api/queue")
    assert status == 200
    assert [i["id"] for i in items] == [first.id, second.id]
    assert items[0] == {
        **items[0],
        "society": "kose",
        "channel": "line",
        "status": "queued",
        "reason": "portal_down",
        "topic": PACKET["topic"]["label"],
        "waiting_seconds": 192,
        "waiting": "3分12秒",
        "assigned_agent": None,
    }
    assert items[1]["status"] == "active" and items[1]["assigned_agent"] == "鈴木"


# -- one society does not see another's ------------------------------------------


async def test_other_society_gets_404_everywhere(
    console: RunningConsole, client_factory: Callable[[], AgentClient]
) -> None:
    h = open_handoff(console.store)  # kose
    tanaka = client_factory()
    await tanaka.login("tanaka")  # ono
    status, body, _ = await tanaka.page(f"/conversations/{h.id}")
    assert status == 404 and PACKET["topic"]["label"] not in body
    status, _ = await tanaka.get(f"/api/conversations/{h.id}")
    assert status == 404
    for action in ACTIONS:
        status, body = await tanaka.post(
            f"/api/conversations/{h.id}/{action}", {"text": "こんにちは"}
        )
        assert status == 404, action
    status, items = await tanaka.get("/api/queue")
    assert items == []
    # the same answer as for an id that does not exist
    status, _ = await tanaka.get("/api/conversations/doesnotexist")
    assert status == 404
    assert console.store.get(h.id).status == "queued"  # type: ignore[union-attr]
    assert console.link.calls == []


# -- CSRF and origin -------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
async def test_posts_need_the_csrf_token(
    console: RunningConsole, sato: AgentClient, action: str
) -> None:
    h = open_handoff(console.store)
    for csrf in (None, "wrong-token", ""):
        status, body = await sato.post(
            f"/api/conversations/{h.id}/{action}", {"text": "x"}, csrf=csrf
        )
        assert status == 403 and body["error"] == "csrf"
    status, _ = await sato.post(
        f"/api/conversations/{h.id}/{action}",
        {"text": "x"},
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403
    assert console.store.get(h.id).status == "queued"  # type: ignore[union-attr]
    assert console.link.calls == []


async def test_same_origin_header_is_accepted(console: RunningConsole, sato: AgentClient) -> None:
    h = open_handoff(console.store)
    status, _ = await sato.post(f"/api/conversations/{h.id}/take", headers={"Origin": console.url})
    assert status == 200


# -- acting on a conversation ----------------------------------------------------


async def test_take_reply_handback(
    console: RunningConsole, sato: AgentClient, agents: Agents
) -> None:
    h = open_handoff(console.store)
    path = f"/api/conversations/{h.id}"
    status, body = await sato.post(f"{path}/reply", {"text": "先に返信"})
    assert status == 409 and body["error"] == "not_assigned"

    status, body = await sato.post(f"{path}/take")
    assert status == 200
    assert body["handoff"]["status"] == "active" and body["handoff"]["assigned_to_me"] is True
    assert console.store.get(h.id).assigned_agent_id == agents.sato.id  # type: ignore[union-attr]
    status, _ = await sato.post(f"{path}/take")  # taking again tells the member nothing new
    assert status == 200

    status, body = await sato.post(f"{path}/reply", {"text": "担当の佐藤です。"})
    assert status == 200
    assert body["message"]["text"] == "担当の佐藤です。" and body["message"]["author"] == "agent"
    stored = console.store.messages(h.id)[-1]
    assert (stored.author, stored.agent_id, stored.text) == (
        "agent",
        agents.sato.id,
        "担当の佐藤です。",
    )

    status, body = await sato.post(f"{path}/handback")
    assert status == 200 and body["handoff"]["status"] == "returned"
    assert console.store.current("member-1") is None
    assert console.link.calls == [
        ("taken", h.id, "sato"),
        ("agent_reply", h.id, "sato", "担当の佐藤です。"),
        ("handed_back", h.id, "sato"),
    ]
    status, body = await sato.post(f"{path}/reply", {"text": "遅れて"})
    assert status == 409 and body["error"] == "closed"


async def test_close_and_take_over(
    console: RunningConsole, sato: AgentClient, client_factory: Callable[[], AgentClient]
) -> None:
    h = open_handoff(console.store)
    path = f"/api/conversations/{h.id}"
    suzuki = client_factory()
    await suzuki.login("suzuki")
    assert (await sato.post(f"{path}/take"))[0] == 200
    status, body = await suzuki.post(f"{path}/reply", {"text": "横から"})
    assert status == 409
    status, _ = await suzuki.post(f"{path}/close")
    assert status == 409  # only the agent who holds it closes it
    status, body = await suzuki.post(f"{path}/take")  # take over from a colleague
    assert status == 200 and body["handoff"]["assigned_agent"] == "鈴木"
    status, body = await sato.post(f"{path}/reply", {"text": "まだ私が"})
    assert status == 409
    status, body = await suzuki.post(f"{path}/close")
    assert status == 200 and body["handoff"]["status"] == "closed"
    assert console.link.calls == [
        ("taken", h.id, "sato"),
        ("taken", h.id, "suzuki"),
        ("closed", h.id, "suzuki"),
    ]
    status, body = await sato.post(f"{path}/take")
    assert status == 409 and body["error"] == "closed"


@pytest.mark.parametrize(
    "body", [{}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": "あ" * 2001}]
)
async def test_reply_text_is_checked(
    console: RunningConsole, sato: AgentClient, body: dict
) -> None:
    h = open_handoff(console.store)
    await sato.post(f"/api/conversations/{h.id}/take")
    status, answer = await sato.post(f"/api/conversations/{h.id}/reply", body)
    assert status == 400 and answer["error"] == "bad_text"
    assert [c[0] for c in console.link.calls] == ["taken"]


async def test_reply_of_2000_characters_is_fine(console: RunningConsole, sato: AgentClient) -> None:
    h = open_handoff(console.store)
    await sato.post(f"/api/conversations/{h.id}/take")
    status, _ = await sato.post(f"/api/conversations/{h.id}/reply", {"text": "あ" * 2000})
    assert status == 200


async def test_failed_delivery_is_shown_and_the_message_kept(
    console: RunningConsole, sato: AgentClient
) -> None:
    h = open_handoff(console.store)
    await sato.post(f"/api/conversations/{h.id}/take")
    console.link.fail = True
    status, body = await sato.post(f"/api/conversations/{h.id}/reply", {"text": "届くかな"})
    assert status == 502 and body["error"] == "delivery_failed"
    assert "送信に失敗しました" in body["message"]
    assert body["stored_message"]["text"] == "届くかな"
    assert console.store.messages(h.id)[-1].text == "届くかな"
    status, body = await sato.post(f"/api/conversations/{h.id}/close")
    assert status == 502 and body["handoff"]["status"] == "closed"


# -- the conversation: cursor and escaping ----------------------------------------


async def test_messages_after_a_cursor(console: RunningConsole, sato: AgentClient) -> None:
    h = open_handoff(console.store)
    status, first = await sato.get(f"/api/conversations/{h.id}")
    assert status == 200
    assert first["packet"] == PACKET and first["handoff"]["id"] == h.id
    cursor = first["messages"][-1]["id"]
    m1 = console.store.add_message(h.id, "member", "まだですか")
    m2 = console.store.add_message(h.id, "member", "急いでいます")
    status, later = await sato.get(f"/api/conversations/{h.id}?after={cursor}")
    assert [(m["id"], m["author"], m["text"]) for m in later["messages"]] == [
        (m1.id, "member", "まだですか"),
        (m2.id, "member", "急いでいます"),
    ]
    assert later["messages"][0]["author_label"] == "会員"
    status, none = await sato.get(f"/api/conversations/{h.id}?after={m2.id}")
    assert none["messages"] == []
    status, _ = await sato.get(f"/api/conversations/{h.id}?after=-1")
    assert status == 400


async def test_member_html_is_data_never_markup(console: RunningConsole, sato: AgentClient) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(x)>'
    packet = {
        **PACKET,
        "topic": {"key": "faq/portal_url", "label": evil},
        "errors_mentioned": [evil],
        "transcript": [{"author": "member", "text": evil}],
    }
    h = console.store.open("evil-1", "kose", "widget", "not_understood", packet)
    console.store.add_message(h.id, "member", evil)
    for path in (f"/conversations/{h.id}", "/"):
        status, body, _ = await sato.page(path)
        assert status == 200
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    status, data = await sato.get(f"/api/conversations/{h.id}")
    assert data["messages"][-1]["text"] == evil
    assert data["packet"]["topic"]["label"] == evil


async def test_conversation_page_shows_the_packet(
    console: RunningConsole, sato: AgentClient
) -> None:
    h = open_handoff(console.store, channel="line", reason="validation_failed")
    console.store.add_message(h.id, "member", "ライブの発言")
    status, body, _ = await sato.page(f"/conversations/{h.id}")
    assert status == 200
    for text in (
        "コーセー健康保険組合",
        "LINE",
        "入力を何度も確認できなかった",
        "ワンタイムパスワードのメールが届かない",
        "8/9 ワンタイムパスワードの設定",
        "ワンタイムパスワードが正しくありません",
        "OTPの再送",
        "UL-ABC234",
        "ワンタイムパスワードが届きません",
        "再送しました。",
        "ライブの発言",
        "対応する",
        "ボットに戻す",
        "終了する",
    ):
        assert text in body, text
    assert f'data-handoff-id="{h.id}"' in body
    assert body.index("再送しました。") < body.index("ライブの発言")


async def test_cookie_does_not_reach_other_paths(
    console: RunningConsole, sato: AgentClient
) -> None:
    jar = sato.http.cookie_jar
    assert jar.filter_cookies(console.url + PREFIX + "/")  # type: ignore[arg-type]
    assert not jar.filter_cookies(console.url + "/webhooks/rest/webhook")  # type: ignore[arg-type]


def test_store_is_the_one_handed_in(console: RunningConsole, store: HandoffStore) -> None:
    assert console.store is store


async def test_aiohttp_cookie_jar_note() -> None:
    # aiohttp ignores cookies of IP hosts unless the jar is "unsafe" (conftest uses one).
    assert aiohttp.CookieJar(unsafe=True) is not None

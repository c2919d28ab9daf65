"""Human handoff in two real browsers: a member on the portal widget, an agent on the console.

The member (kose's demo page) asks for a person and consents; the agent (a second
browser context, so its own cookies) opens the web service's ``/agent``, logs in,
finds the conversation in the queue, reads the handoff packet and takes it. Then
both talk live: the member's words reach the console without a reload while the
bot stays silent, the agent's reply reaches the widget, and after 「ボットに戻す」
the bot answers again. Page errors and console errors (a CSP violation is one)
fail the test on both pages. Screenshots go to ``test-artifacts/``.

The REST version of this story is tests/e2e/test_handoff.py.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from bot.handoff.store import HandoffStore
from tests.browser.test_widget_in_browser import (
    PORTAL,
    SOCIETY_NAME,
    TIMEOUT_MS,
    ask,
    chat_log,
    message_box,
    open_chat,
    session_key,
    wait_for_bot,
)
from tests.e2e.conftest import stack_handoff_store

pytestmark = [pytest.mark.e2e, pytest.mark.model]

AGENT_LOGIN = "browser-sato"
AGENT_NAME = "佐藤"
PASSWORD = "browser-agent-password-0123"
# the bot must stay silent this long after the member writes to the agent
SILENCE_MS = 4000


@pytest.fixture(scope="module")
def handoff_store(web_stack) -> Iterator[HandoffStore]:
    """The stack's handoff database, with a kose agent to log in as."""
    with stack_handoff_store(web_stack, [("kose", AGENT_LOGIN, AGENT_NAME)], PASSWORD) as store:
        yield store


def new_context(browser) -> BrowserContext:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    return context


def watch_errors(page: Page, name: str, errors: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            errors.append(f"{name} console: {message.text} ({where})")

    page.on("pageerror", lambda e: errors.append(f"{name} page error: {e}"))
    page.on("console", on_console)


def bot_bubbles(page: Page):
    return chat_log(page).locator(".msg.bot")


def wait_until_idle(page: Page) -> None:
    """Until the widget's typing indicator is off (the server ended the member's turn)."""
    page.wait_for_function(
        "() => document.querySelector('[data-kosmo-chat]').shadowRoot"
        ".querySelector('.typing').hidden",
        timeout=TIMEOUT_MS,
    )


def packet_value(page: Page, term: str):
    """The <dd> after the packet's <dt>term</dt>."""
    return page.locator(f"section.packet dt:text-is('{term}') + dd")


def member_asks_for_a_person(
    member: Page, web_url: str, shoot: Callable[[Page, str], None] = lambda page, what: None
) -> str:
    """On kose's demo page: ask for a person, read the offer, consent. Returns the session id."""
    open_chat(member, f"{web_url}/demo/kose")
    log = chat_log(member)
    expect(log).to_contain_text(SOCIETY_NAME["kose"])

    ask(member, "担当者と話したい")
    offer = bot_bubbles(member).filter(has_text="担当者におつなぎできます")
    expect(offer).to_have_count(1)
    # what happens next is said before the question
    expect(offer).to_contain_text("このチャットを開いたままお待ちください")
    expect(offer).to_contain_text("ここまでの会話は担当者に引き継がれます")
    expect(offer).to_contain_text("やっぱりいいです")
    choices = member.get_by_role("group", name="選択肢")
    yes = choices.get_by_role("button", name="はい、つないでください")
    expect(yes).to_be_visible()
    expect(choices.get_by_role("button", name="いいえ")).to_be_visible()
    shoot(member, "member-offer")

    before = bot_bubbles(member).count()
    yes.click()
    expect(log.locator(".msg.user").last).to_have_text(re.compile("はい、つないでください$"))
    wait_for_bot(member, before)
    expect(bot_bubbles(member).last).to_contain_text("担当者への引き継ぎを受け付けました")
    shoot(member, "member-queued")
    return member.evaluate("k => localStorage.getItem(k)", session_key("kose"))


def agent_logs_in(agent: Page, web_url: str, rasa_url: str) -> None:
    """Through the web service's /agent, which redirects to the console's login."""
    agent.goto(f"{web_url}/agent")
    expect(agent).to_have_url(f"{rasa_url}/webhooks/agent/login")
    agent.get_by_label("ログインID").fill(AGENT_LOGIN)
    agent.get_by_label("パスワード").fill(PASSWORD)
    agent.get_by_role("button", name="ログイン").click()
    expect(agent).to_have_url(f"{rasa_url}/webhooks/agent/")
    expect(agent.locator(".agent-bar")).to_contain_text(f"{AGENT_NAME} さん")


def test_member_asks_for_a_person_agent_takes_over_and_hands_back(
    browser, web_stack, handoff_store, artifacts
):
    errors: list[str] = []
    shot = 0

    def screenshot(page: Page, what: str) -> None:
        nonlocal shot
        shot += 1
        page.screenshot(path=str(artifacts / f"handoff-{shot:02d}-{what}.png"))

    # -- 1. the member asks for a person and consents ------------------------------------
    member_context = new_context(browser)
    member = member_context.new_page()
    watch_errors(member, "member", errors)
    session = member_asks_for_a_person(member, web_stack.web_url, screenshot)
    log = chat_log(member)
    handoff = handoff_store.current(session)
    assert handoff is not None and handoff.status == "queued", handoff
    assert (handoff.society, handoff.channel, handoff.reason) == ("kose", "widget", "member_asked")

    # -- 2. the agent logs in, finds it in the queue and reads the packet -----------------
    agent_context = new_context(browser)
    agent = agent_context.new_page()
    watch_errors(agent, "agent", errors)
    agent.on("dialog", lambda dialog: dialog.accept())  # 「ボットに戻す」 asks to confirm
    agent_logs_in(agent, web_stack.web_url, web_stack.rasa_url)

    href = f"/webhooks/agent/conversations/{handoff.id}"
    row = agent.locator("#queue-rows tr").filter(has=agent.locator(f"a[href='{href}']"))
    expect(row).to_have_count(1)
    cells = row.locator("td")
    waiting = re.compile(r"^(\d+分)?\d+秒$")
    expect(cells.nth(1)).to_have_text(waiting)
    expect(cells.nth(2)).to_have_text("対応待ち")
    expect(cells.nth(3)).to_have_text("会員が担当者を希望")
    expect(cells.nth(5)).to_have_text("ポータルのチャット")
    # the waiting time goes on by itself (the queue is polled, not reloaded)
    first_wait = cells.nth(1).inner_text()
    expect(cells.nth(1)).not_to_have_text(first_wait, timeout=10_000)
    expect(cells.nth(1)).to_have_text(waiting)
    screenshot(agent, "agent-queue")

    row.get_by_role("link").click()
    expect(agent).to_have_url(f"{web_stack.rasa_url}{href}")
    expect(packet_value(agent, "健保組合")).to_have_text(SOCIETY_NAME["kose"])
    expect(packet_value(agent, "窓口")).to_have_text("ポータルのチャット")
    expect(packet_value(agent, "引き継ぎの理由")).to_have_text("会員が担当者を希望")
    expect(packet_value(agent, "状態")).to_have_text("対応待ち")
    expect(packet_value(agent, "待ち時間")).to_have_text(waiting)
    transcript = agent.locator("#transcript")
    expect(transcript.locator(".msg.from-member")).to_contain_text(["担当者と話したい"])
    screenshot(agent, "agent-packet")

    # -- 3. the agent takes it; the member's words reach the console, not the bot --------
    agent.get_by_role("button", name="対応する").click()
    expect(packet_value(agent, "状態")).to_have_text("対応中")
    expect(packet_value(agent, "担当者")).to_have_text(AGENT_NAME)
    expect(agent.locator("#notice")).to_have_text("")
    expect(bot_bubbles(member).last).to_have_text(
        re.compile("担当者がチャットに入りました。ここからは担当者がお返事します。$")
    )
    expect(member.locator("[data-kosmo-chat] .typing")).to_be_hidden()
    screenshot(member, "member-agent-joined")

    agent.evaluate("window.__sameDocument = true")  # gone if the page reloads
    bots_before = bot_bubbles(member).count()
    words = "ユーザーIDは kose.hanako です。ログインできません"
    box = message_box(member)
    box.fill(words)
    box.press("Enter")
    expect(log.locator(".msg.user").last).to_have_text(re.compile(re.escape(words) + "$"))
    wait_until_idle(member)
    expect(transcript.locator(".msg.from-member").last).to_contain_text(words)
    assert agent.evaluate("window.__sameDocument === true"), "the console page was reloaded"
    member.wait_for_timeout(SILENCE_MS)
    assert bot_bubbles(member).count() == bots_before, bot_bubbles(member).all_inner_texts()
    screenshot(agent, "agent-member-wrote")

    # -- 4. the agent replies; the member sees it ------------------------------------------
    reply = "確認しました。ロックを解除しましたので、もう一度ログインしてください。"
    agent.get_by_label("会員への返信").fill(reply)
    agent.get_by_role("button", name="送信", exact=True).click()
    expect(transcript.locator(".msg.from-agent").last).to_contain_text(reply)
    expect(agent.get_by_label("会員への返信")).to_have_value("")
    expect(bot_bubbles(member).last).to_have_text(re.compile("担当者：" + re.escape(reply) + "$"))
    assert bot_bubbles(member).count() == bots_before + 1
    screenshot(member, "member-agent-reply")

    # -- 5. back to the bot: it answers again -----------------------------------------------
    agent.get_by_role("button", name="ボットに戻す").click()
    expect(packet_value(agent, "状態")).to_have_text("ボットに戻した")
    expect(bot_bubbles(member).last).to_contain_text("ここからはまたボットがお返事します")
    screenshot(agent, "agent-handed-back")
    assert handoff_store.current(session) is None

    ask(member, "ポータルのアドレスを教えて")
    link = log.get_by_role("link", name=PORTAL["kose"])
    expect(link).to_have_attribute("href", PORTAL["kose"])
    expect(member.locator("[data-kosmo-chat] .typing")).to_be_hidden()
    screenshot(member, "member-bot-again")

    assert errors == []
    agent_context.close()
    member_context.close()


def test_the_agent_reads_what_the_member_saw_not_payloads(browser, web_stack, handoff_store):
    member_context = new_context(browser)
    session = member_asks_for_a_person(member_context.new_page(), web_stack.web_url)
    handoff = handoff_store.current(session)
    assert handoff is not None
    agent_context = new_context(browser)
    agent = agent_context.new_page()
    agent_logs_in(agent, web_stack.web_url, web_stack.rasa_url)
    agent.goto(f"{web_stack.rasa_url}/webhooks/agent/conversations/{handoff.id}")
    said = agent.locator("#transcript .msg.from-member .text").all_inner_texts()
    agent_context.close()
    member_context.close()
    # what the member typed or pressed, as the widget showed it; hidden payloads left out
    assert said == ["担当者と話したい", "はい、つないでください"], said

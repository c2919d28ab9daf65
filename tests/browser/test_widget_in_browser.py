"""A member on the society's portal page: Chromium, the widget, the real bot.

Each society's demo page is opened in headless Chromium (Debian's package, driven by
Playwright); the member opens the chat, asks, presses a button, reloads, opens a second
tab. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PORTAL = {
    "kose": "https://www.kosekenpo.portal.kosmo-web.jp/",
    "ono": "https://www.onokenpo.portal.kosmo-web.jp/",
}
SOCIETY_NAME = {"kose": "コーセー健康保険組合", "ono": "小野薬品健康保険組合"}
TIMEOUT_MS = 30_000


def session_key(society: str) -> str:
    return f"kosmo-chat:{society}:session"


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="チャットで質問する").click()


def chat_log(page: Page):
    return page.get_by_role("log", name="会話")


def message_box(page: Page):
    return page.get_by_role("textbox", name="メッセージを入力")


def ask(page: Page, text: str) -> None:
    # the widget sends once its session is confirmed (until then 送信 is disabled and
    # the text stays in the box); on a busy machine that can take a moment
    expect(page.get_by_role("button", name="送信", exact=True)).to_be_enabled(timeout=TIMEOUT_MS)
    before = chat_log(page).locator(".msg.bot").count()
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    expect(chat_log(page).locator(".msg.user").last).to_contain_text(text)
    wait_for_bot(page, before)


def wait_for_bot(page: Page, before: int) -> None:
    """Until the bot has answered (more bot messages, typing indicator gone)."""
    page.wait_for_function(
        """([n]) => {
            const root = document.querySelector('[data-kosmo-chat]').shadowRoot;
            return root.querySelectorAll('.msg.bot').length > n
                && root.querySelector('.typing').hidden;
        }""",
        arg=[before],
        timeout=TIMEOUT_MS,
    )


@pytest.mark.parametrize("society", ["kose", "ono"])
def test_member_asks_presses_a_button_and_keeps_the_conversation_on_reload(
    browser, web_stack, artifacts, society
):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = f"{web_stack.web_url}/demo/{society}"

    open_chat(page, url)
    log = chat_log(page)
    expect(log).to_contain_text(SOCIETY_NAME[society])  # the greeting names the society
    expect(message_box(page)).to_be_focused()

    # a question: the society's own portal address, as a link
    ask(page, "ポータルのURLは？")
    link = log.get_by_role("link", name=PORTAL[society])
    expect(link).to_have_attribute("href", PORTAL[society])
    expect(link).to_have_attribute("target", "_blank")

    # a vague question gets buttons; pressing one sends it and shows its title
    ask(page, "ワンタイムのことで")  # vague: noise gets a button or none by tiny scores
    choices = page.get_by_role("group", name="選択肢")
    expect(choices.get_by_role("button").first).to_be_visible()
    first = choices.get_by_role("button").first
    title = first.inner_text()
    before = log.locator(".msg.bot").count()
    first.click()
    expect(log.locator(".msg.user").last).to_contain_text(title)
    wait_for_bot(page, before)
    expect(message_box(page)).to_be_focused()

    session = page.evaluate("k => localStorage.getItem(k)", session_key(society))
    assert re.fullmatch(r"[0-9a-f]{64}", session)
    transcript = log.inner_text()
    page.screenshot(path=str(artifacts / f"widget-{society}.png"))

    # reload: same session, same conversation, chat still open
    page.reload()
    expect(log).to_contain_text("ポータルのURLは？")
    expect(log.get_by_role("link", name=PORTAL[society])).to_be_visible()
    expect(log).to_contain_text(title)
    assert page.evaluate("k => localStorage.getItem(k)", session_key(society)) == session
    assert log.inner_text().replace("\n", "") == transcript.replace("\n", "")
    page.screenshot(path=str(artifacts / f"widget-{society}-reloaded.png"))

    # a second tab continues the same conversation, both ways
    tab2 = context.new_page()
    open_chat(tab2, url)
    expect(chat_log(tab2)).to_contain_text("ポータルのURLは？")
    ask(tab2, "ありがとうございました")
    expect(log).to_contain_text("ありがとうございました")
    assert tab2.evaluate("k => localStorage.getItem(k)", session_key(society)) == session

    assert errors == []
    context.close()


def test_each_society_page_has_its_own_conversation(browser, web_stack):
    """Both demo pages share an origin (and localStorage) but not a conversation."""
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    open_chat(page, f"{web_stack.web_url}/demo/kose")
    expect(chat_log(page)).to_contain_text(SOCIETY_NAME["kose"])
    open_chat(page, f"{web_stack.web_url}/demo/ono")
    expect(chat_log(page)).to_contain_text(SOCIETY_NAME["ono"])
    expect(chat_log(page)).not_to_contain_text(SOCIETY_NAME["kose"])
    kose, ono = (
        page.evaluate("k => localStorage.getItem(k)", session_key(s)) for s in ("kose", "ono")
    )
    assert kose and ono and kose != ono
    context.close()


def test_enter_that_confirms_a_kana_kanji_conversion_does_not_send(browser, web_stack):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    open_chat(page, f"{web_stack.web_url}/demo/kose")
    expect(chat_log(page)).to_contain_text(SOCIETY_NAME["kose"])
    box = message_box(page)
    box.focus()
    cdp = context.new_cdp_session(page)

    page.evaluate(
        """() => {
            const input = document.querySelector('[data-kosmo-chat]').shadowRoot.querySelector('textarea');
            window.__enterKeys = [];
            input.addEventListener('keydown', e => {
                if (e.key === 'Enter') window.__enterKeys.push({composing: e.isComposing, code: e.keyCode});
            }, true);
        }"""
    )

    # typing かな with an input method: Enter confirms the conversion and must not send
    cdp.send(
        "Input.imeSetComposition", {"text": "ぽーたる", "selectionStart": 4, "selectionEnd": 4}
    )
    page.keyboard.press("Enter")
    cdp.send("Input.insertText", {"text": "ポータル"})
    keys = page.evaluate("window.__enterKeys")
    assert keys and (keys[0]["composing"] or keys[0]["code"] == 229), keys  # a conversion Enter
    expect(box).to_have_value(re.compile("^ポータル"))
    page.wait_for_timeout(500)
    assert chat_log(page).locator(".msg.user").count() == 0
    box.fill("ポータル")

    # Enter outside a conversion sends; Shift+Enter is a new line
    box.press("Shift+Enter")
    box.type("のURLは？")
    expect(box).to_have_value("ポータル\nのURLは？")
    box.press("Enter")
    expect(chat_log(page).locator(".msg.user")).to_have_count(1)
    expect(box).to_have_value("")
    context.close()


def test_keyboard_screen_reader_and_typing_indicator(browser, web_stack):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{web_stack.web_url}/demo/ono")
    launcher = page.get_by_role("button", name="チャットで質問する")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="ログインのお困りごと相談")
    expect(dialog).to_be_visible()
    expect(message_box(page)).to_be_focused()
    expect(page.get_by_role("button", name="送信", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="チャットを閉じる")).to_be_visible()
    expect(chat_log(page)).to_contain_text(SOCIETY_NAME["ono"])

    # the typing indicator shows while the bot works (recorded as it happens)
    page.evaluate(
        """() => {
            const typing = document.querySelector('[data-kosmo-chat]').shadowRoot.querySelector('.typing');
            window.__typingSeen = false;
            new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
                .observe(typing, {attributes: true});
        }"""
    )
    ask(page, "ポータルのURLは？")
    assert page.evaluate("window.__typingSeen") is True
    expect(page.get_by_role("status").filter(has_text="回答を準備しています")).to_be_hidden()

    # Escape closes the chat and gives focus back to the launcher
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    context.close()


def test_readable_on_a_phone(browser, web_stack, artifacts):
    context = browser.new_context(
        locale="ja-JP",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    open_chat(page, f"{web_stack.web_url}/demo/kose")
    ask(page, "ポータルのURLは？")
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None and box["width"] == 390 and box["x"] == 0  # the whole screen
    send = page.get_by_role("button", name="送信", exact=True).bounding_box()
    assert send is not None and send["height"] >= 44  # a finger-sized target
    no_sideways_scroll = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_sideways_scroll
    page.screenshot(path=str(artifacts / "widget-phone.png"))
    context.close()

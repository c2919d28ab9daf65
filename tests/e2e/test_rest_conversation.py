"""End to end: Japanese messages over the REST channel of the real servers.

Checks the facts in the answers per society (society from `society` metadata),
the default society, the clarification buttons, the HTTP API's token, and that
a conversation survives a restart of the Rasa server (SQL tracker store).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import FICTIONAL_EXAMPLE_PASSWORD, FICTIONAL_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    "society, facts",
    [
        # the rule as each manual gives it: kose states no digit counts, ono does
        ("kose", ["301234519901101", "記号＋番号＋生年月日（西暦8桁）"]),
        ("ono", ["10123420010101", "記号（2桁）＋番号（4桁）＋生年月日（8桁）"]),
        (FICTIONAL_KEY, [FICTIONAL_EXAMPLE_PASSWORD]),
    ],
)
def test_initial_password_per_society(rest, society, facts):
    text = rest.text(sender(), "初回ログインのパスワードって何を入れればいいですか？", society)
    for fact in facts:
        assert fact in text, text


@pytest.mark.parametrize(
    "society, url",
    [
        ("kose", "https://www.kosekenpo.portal.kosmo-web.jp/"),
        ("ono", "https://www.onokenpo.portal.kosmo-web.jp/"),
        (FICTIONAL_KEY, "https://www.hoshizora.portal.kosmo-web.jp/"),
    ],
)
def test_portal_address_per_society(rest, society, url):
    assert url in rest.text(sender(), "ログインするサイトのURLを教えてください", society)


def test_authenticator_society_gets_app_instructions(rest):
    text = rest.text(sender(), "どのアプリを入れればいいの？", "ono")
    assert "Microsoft Authenticator" in text, text


def test_email_society_is_never_told_about_the_app(rest):
    for question in ["どのアプリを入れればいいの？", "ワンタイムパスワードはどうやって受け取るの", "QRコードが読み込めません"]:
        text = rest.text(sender(), question, "kose")
        assert "Authenticator" not in text, (question, text)


def test_missing_or_unknown_society_gets_the_default(rest):
    for society in (None, "no-such-society"):
        text = rest.text(sender(), "ポータルのアドレスは？", society)
        assert "www.kosekenpo.portal.kosmo-web.jp" in text, (society, text)


def test_society_stays_for_the_conversation(rest):
    s = sender()
    rest.text(s, "こんにちは", "ono")
    text = rest.text(s, "ポータルのアドレスは？", None)
    assert "www.onokenpo.portal.kosmo-web.jp" in text, text


def test_unclear_message_gets_buttons_then_an_honest_give_up_and_a_person(rest):
    s = sender()
    # unclear, not nonsense: noise (「ふがふが」) gets the polite redirect of `nonsense`
    first = rest.send(s, "ワンタイムのことで", "ono")
    buttons = [b for m in first for b in m.get("buttons", [])]
    assert 2 <= len(buttons) <= 4, first
    assert buttons[-1]["payload"] == "/deny"
    second = "\n".join(m.get("text", "") for m in rest.send(s, "IDのことで", "ono"))
    assert "理解できませんでした" in second, second
    # two misses in a row: the offer of the society's helpdesk (human handoff)
    assert "小野薬品健保の担当者におつなぎできます" in second, second


def test_button_payload_answers_the_topic(rest):
    s = sender()
    text = rest.text(s, '/choose_topic{"topic": "faq/portal_url"}', "ono")
    assert "www.onokenpo.portal.kosmo-web.jp" in text, text


def test_http_api_needs_the_token(rest):
    s = sender()
    rest.text(s, "こんにちは", "kose")
    assert rest.tracker(rest.conversation(s), token=None)[0] == 401
    assert rest.tracker(rest.conversation(s), token="wrong")[0] == 401
    status, tracker = rest.tracker(rest.conversation(s))
    assert status == 200 and tracker["slots"]["society"] == "kose"


def test_the_server_process_is_prepared_by_bot_serve_and_runs_without_jax(stack, rest):
    """bot.serve's settings reach the real Rasa server (tests/test_serve.py checks BLAS in a fresh process)."""
    assert "301234519901101" in rest.text(sender(), "初期パスワードを教えて", "kose")
    rasa = stack.service("rasa")
    assert rasa.process is not None
    pid = rasa.process.pid
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "libtensorflow" in maps and "openblas" in maps  # the model and NumPy are loaded ...
    assert "jaxlib" not in maps  # ... JAX is not
    assert "bot.serve" in Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def test_conversation_survives_a_restart(stack, rest):
    s = sender()
    rest.text(s, "こんにちは", "ono")
    rest.text(s, "ワンタイムパスワードが通りません", "ono")
    before = rest.tracker(rest.conversation(s))[1]
    stack.restart("rasa")
    status, after = rest.tracker(rest.conversation(s))
    assert status == 200
    assert len(after["events"]) >= len(before["events"]) > 4
    assert after["slots"]["society"] == "ono"
    # no metadata after the restart: the society still comes from the stored conversation
    text = rest.text(s, "ポータルのアドレスは？")
    assert "www.onokenpo.portal.kosmo-web.jp" in text, text

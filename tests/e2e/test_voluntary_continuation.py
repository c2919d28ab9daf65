"""End to end: a voluntary-continuation member (16-digit user ID) unlocks and gets the code diagnosis.

Their ID (記号3桁＋番号5桁＋生年月日8桁, ``data/societies.yml``) looks like a code to
the masking, and used to be stored as ``****`` before the next turn: the portal
then got ``****`` and the member heard "the system is down". The ID now survives
the turns of the form; the portal's own records show it got the real one.
"""

from __future__ import annotations

import json
import sqlite3

import pyotp
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import RestClient, make_stack
from tests.e2e.test_rest_conversation import sender

pytestmark = [pytest.mark.e2e, pytest.mark.model]

VC_USER_ID = "1012345619800101"  # ono, オノ ニンケイ (dev/portal/seed.py), born 1980-01-01
VC_SECRET = "KOSMOONONINKEIDEMO234567KOSMOXY"


def _db(stack, env_key: str) -> str:
    database = make_url(stack.env[env_key]).database
    assert database
    return database


def stored_rows(stack, sender_id: str) -> list[dict]:
    with sqlite3.connect(_db(stack, "KOSMO_TRACKER_DB_URL")) as conn:
        rows = conn.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,))
        return [json.loads(r[0]) for r in rows]


def unlock_ticket(stack, ticket_id: str) -> tuple[str, str, int]:
    with sqlite3.connect(_db(stack, "KOSMO_PORTAL_DB_URL")) as conn:
        row = conn.execute(
            "SELECT society, claimed_user_id, identity_verified FROM unlock_tickets WHERE id = ?",
            (ticket_id,),
        ).fetchone()
    assert row is not None, ticket_id
    return row


def test_unlock_with_a_16_digit_user_id_over_several_turns(rest, seeded):
    s = sender()
    assert "申請しますか" in rest.text(s, "アカウントがロックされてしまいました", "ono")
    assert "ユーザーID" in rest.text(s, "はい、お願いします")
    assert "生年月日" in rest.text(s, VC_USER_ID)
    # a question in between, then a date that does not exist: the ID must still be there
    assert "www.onokenpo.portal.kosmo-web.jp" in rest.text(s, "ポータルのアドレスは？")
    retry = rest.text(s, "1980/2/30")
    assert "生年月日として読み取れませんでした" in retry, retry
    done = rest.text(s, "昭和55年1月1日")
    assert "受付番号は UL-" in done, done
    assert "システム" not in done and "つながりません" not in done, done
    ticket_id = done.split("受付番号は ")[1].split(" ")[0]

    # the portal got the real ID, and the birth date matched that member
    assert unlock_ticket(seeded, ticket_id) == ("ono", VC_USER_ID, 1)

    rows = stored_rows(seeded, rest.conversation(s))  # the REST channel's conversation id
    dump = json.dumps(rows, ensure_ascii=False)
    for secret in ("昭和55年1月1日", "1980-01-01", "1980/2/30"):
        assert secret not in dump, secret
    slot_values = [
        r["value"] for r in rows if r["event"] == "slot" and r["name"] == "unlock_user_id"
    ]
    assert VC_USER_ID in slot_values and "****" not in slot_values, slot_values


def test_code_diagnosis_with_a_16_digit_user_id(rest, seeded):
    s = sender()
    first = rest.text(s, "認証アプリのコードを入れてもエラーになります", "ono")
    assert "調べましょうか" in first, first
    rest.text(s, "はい")
    asked = rest.text(s, VC_USER_ID)
    assert "6桁" in asked, asked
    assert "www.onokenpo.portal.kosmo-web.jp" in rest.text(s, "ポータルのアドレスは？")
    code = pyotp.TOTP(VC_SECRET).now()
    answer = rest.text(s, code)
    # "the right code" or "the previous one" is told only when the portal found this member's secret
    assert "正しいコード" in answer or "ひとつ前" in answer, answer
    rows = stored_rows(seeded, rest.conversation(s))  # the REST channel's conversation id
    assert code not in json.dumps(rows, ensure_ascii=False)
    slot_values = [r["value"] for r in rows if r["event"] == "slot" and r["name"] == "otp_user_id"]
    assert VC_USER_ID in slot_values, slot_values


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory, societies_file_with_fictional):
    """A stack whose Rasa server logs at DEBUG: it then logs every message it receives."""
    stack = make_stack(
        tmp_path_factory.mktemp("debug-stack"), societies_file_with_fictional, {"LOG_LEVEL": "DEBUG"}
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_what_members_type_does_not_reach_the_rasa_log(debug_stack):
    """Rasa logs the member's text (at DEBUG, and in some warnings); the server masks its records."""
    rest = RestClient.for_stack(debug_stack)
    s = sender()
    typed = [
        "生年月日は 1978 02 14 です",
        "私のパスワード ichiro2024 が通りません",
        "記号は31、番号は11223",
        "ロックされました",
    ]
    for text in typed:
        rest.send(s, text, "kose")
    log = (debug_stack.log_dir / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "ロックされました" in log  # the server does log what members type
    for secret in ("1978 02 14", "ichiro2024", "11223"):
        assert secret not in log, secret

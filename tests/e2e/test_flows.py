"""End to end: the flows that fix things, over REST, against the real portal; what the
SQL tracker store keeps afterwards (no birth date, code or password as typed)."""

from __future__ import annotations

import json
import sqlite3

import pyotp
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.test_rest_conversation import sender

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SAKURA_SECRET = "KOSMOONOSAKURADEMO234567KOSMOABC"  # docs/portal.md, demo members


def stored_rows(stack, sender_id: str) -> list[dict]:
    db = make_url(stack.env["KOSMO_TRACKER_DB_URL"]).database
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,))
        return [json.loads(r[0]) for r in rows]


def test_unlock_ticket_flow_and_nothing_sensitive_is_stored(rest, seeded):
    s = sender()
    assert "申請しますか" in rest.text(s, "アカウントがロックされてしまいました", "kose")
    assert "ユーザーID" in rest.text(s, "はい、お願いします")
    warning = rest.text(s, "パスワードは Ichiro-Kose2024 です")
    assert "パスワードは、このチャットを含めて誰にも伝えないでください" in warning, warning
    assert "生年月日" in rest.text(s, "kose.ichiro")
    retry = rest.text(s, "1978/2/30")
    assert "生年月日として読み取れませんでした" in retry, retry
    done = rest.text(s, "昭和53年2月14日")
    assert "受付番号は UL-" in done, done
    ticket_id = done.split("受付番号は ")[1].split(" ")[0]

    status = rest.text(s, "ロック解除の申請はどうなりましたか")
    assert "受付番号" in status, status
    status = rest.text(s, ticket_id)
    assert f"受付番号 {ticket_id} の状況です。" in status and "確認中" in status, status
    # asked with the number inside the question: answered at once
    status = rest.text(s, f"{ticket_id.lower()} の状況を教えてください")
    assert f"受付番号 {ticket_id} の状況です。" in status and "確認中" in status, status

    rows = stored_rows(seeded, rest.conversation(s))
    dump = json.dumps(rows, ensure_ascii=False)
    for secret in ("Ichiro-Kose2024", "昭和53年2月14日", "1978-02-14", "1978/2/30", "19780214"):
        assert secret not in dump, secret
    user_texts = [r["text"] for r in rows if r["event"] == "user"]
    assert user_texts.count("****") == 3, user_texts
    assert "kose.ichiro" in user_texts and ticket_id in user_texts
    birth = [r["value"] for r in rows if r["event"] == "slot" and r["name"] == "unlock_birth_date"]
    assert "****" in birth and all(v in ("****", None) for v in birth), birth


def test_a_password_typed_outside_a_form_is_not_kept_and_the_member_is_warned(rest, seeded):
    s = sender()
    rest.text(s, "こんにちは", "ono")
    warning = rest.text(s, "ログインできません。パスワードは Sakura-Ono2024 なんですが")
    assert "記録していません" in warning and "誰にも伝えないでください" in warning, warning
    dump = json.dumps(stored_rows(seeded, rest.conversation(s)), ensure_ascii=False)
    assert "Sakura-Ono2024" not in dump
    # the conversation goes on
    assert "www.onokenpo.portal.kosmo-web.jp" in rest.text(s, "ポータルのアドレスは？")


def test_authenticator_diagnosis_flow_code_is_not_stored(rest, seeded):
    s = sender()
    first = rest.text(s, "認証アプリのコードを入れてもエラーになります", "ono")
    assert "調べましょうか" in first, first
    rest.text(s, "はい")
    assert "6桁" in rest.text(s, "ono.sakura")
    code = pyotp.TOTP(SAKURA_SECRET).now()
    answer = rest.text(s, code)
    assert "正しいコード" in answer or "ひとつ前" in answer, answer
    dump = json.dumps(stored_rows(seeded, rest.conversation(s)), ensure_ascii=False)
    assert code not in dump


def test_email_code_resend_flow(rest, seeded):
    s = sender()
    assert "再送信しましょうか" in rest.text(s, "ワンタイムパスワードのメールが届きません", "kose")
    rest.text(s, "はい")
    answer = rest.text(s, "kose.hanako")
    assert "再送信しました" in answer, answer


def test_user_id_reminder_flow_and_stop(rest, seeded):
    s = sender()
    assert "送りましょうか" in rest.text(s, "ユーザーIDを忘れました", "ono")
    rest.text(s, "はい")
    answer = rest.text(s, "sakura.ono@example.com")
    assert "このメールアドレスが登録されていれば" in answer, answer
    s2 = sender()
    rest.text(s2, "ユーザーIDを忘れました", "ono")
    rest.text(s2, "はい")
    assert "中断" in rest.text(s2, "やめます")
    # the form is over: a later value is not taken for it
    assert "パスワードを忘れ" not in rest.text(s2, "ありがとう")


def test_another_flow_mid_form_takes_over(rest, seeded):
    s = sender()
    rest.text(s, "アカウントがロックされてしまいました", "kose")
    rest.text(s, "はい、お願いします")
    switched = rest.text(s, "ユーザーIDを忘れました")
    assert "送りましょうか" in switched and "生年月日" not in switched, switched
    rest.text(s, "はい")
    answer = rest.text(s, "hanako.kose@example.com")
    assert "このメールアドレスが登録されていれば" in answer, answer


class HungServer:
    """Accepts connections and reads requests, never answers: an action server that hangs."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def test_a_hung_action_server_holds_the_member_only_for_the_bound(
    tmp_path, societies_file_with_fictional
):
    import time

    from tests.e2e.conftest import RestClient, make_stack

    hung = HungServer()
    s = make_stack(
        tmp_path,
        societies_file_with_fictional,
        {
            "KOSMO_ACTION_ENDPOINT": f"http://127.0.0.1:{hung.port}/webhook",
            "KOSMO_ACTION_TIMEOUT": "2",
        },
    )
    s.start()
    try:
        rest = RestClient.for_stack(s)
        conv = sender()
        rest.text(conv, "アカウントがロックされてしまいました", "kose")
        started = time.monotonic()
        # the form's validation action never answers
        answer = "\n".join(m.get("text", "") for m in rest.send(conv, "はい、お願いします"))
        took = time.monotonic() - started
        # the member is not left with nothing: an apology and "try again"
        assert "もう一度送ってください" in answer, answer
        assert hung.conns, "Rasa never called the (hung) action server"
        # it waited for the hung server, then gave up after the bound (2 s), not 300 s
        assert 1.5 <= took < 15, f"the member waited {took:.1f} s"
        # the conversation goes on
        assert "www.kosekenpo.portal.kosmo-web.jp" in rest.text(conv, "ポータルのアドレスは？")
    finally:
        s.stop()
        hung.close()

"""End to end, multi-turn: the bot keeps the thread as members write it (issue 14).

Replies to the bot's own offers, 「もう一度」 inside a topic, a direct request,
"it did not help", a frustrated member, two questions in one message: each
through the REST channel of the real stack and portal.
"""

from __future__ import annotations

import pyotp
import pytest

from tests.e2e.test_flows import SAKURA_SECRET
from tests.e2e.test_rest_conversation import sender

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def buttons(answer: list[dict]) -> list[str]:
    return [b["title"] for m in answer for b in m.get("buttons") or []]


def test_every_offer_carries_yes_and_no_buttons(rest, seeded):
    for society, message in (("kose", "アカウントがロックされてしまいました"), ("kose", "ユーザーIDを忘れました"),
                             ("kose", "ワンタイムパスワードのメールが届きません"),
                             ("kose", "ワンタイムパスワードが通りません"), ("ono", "認証アプリのコードが通りません")):
        answer = rest.send(sender(), message, society)
        titles = buttons(answer)
        assert len(titles) == 2 and titles[0].startswith("はい") and titles[1] == "いいえ", (message, titles)


def test_the_asked_value_itself_answers_the_offer(rest, seeded):
    s = sender()
    rest.text(s, "アカウントがロックされてしまいました", "kose")
    # 「申請しますか？」 answered with the user ID: the request goes on to the next question
    assert "生年月日" in rest.text(s, "kose.hanako です")


def test_natural_yes_answers_the_offer(rest, seeded):
    s = sender()
    rest.text(s, "アカウントがロックされました", "kose")
    assert "ユーザーIDを入力してください" in rest.text(s, "申請します")
    s = sender()
    rest.text(s, "ユーザーIDを忘れました", "ono")
    assert "メールアドレスを入力してください" in rest.text(s, "送ってください")


def test_a_direct_resend_starts_it_and_once_more_does_not_ask_the_id_again(rest, seeded):
    s = sender()
    assert "ユーザーID" in rest.text(s, "ワンタイムパスワードを再送してください", "kose")
    assert "再送信しました" in rest.text(s, "kose.hanako")
    again = rest.text(s, "まだ届きません。もう一度")
    assert "再送信しました" in again and "ユーザーIDを入力" not in again, again


def test_the_diagnosis_asks_only_for_the_new_code_the_second_time(rest, seeded):
    s = sender()
    rest.text(s, "認証アプリのコードを入れてもエラーになります", "ono")
    rest.text(s, "はい")
    assert "6桁" in rest.text(s, "ono.sakura")
    rest.text(s, "000000")
    again = rest.text(s, "時刻を直しました。もう一度調べて")
    assert "6桁のコード" in again and "ユーザーID" not in again, again
    answer = rest.text(s, pyotp.TOTP(SAKURA_SECRET).now())
    assert "正しいコード" in answer or "ひとつ前" in answer, answer


def test_a_new_request_while_yes_no_is_open_is_the_new_request(rest, seeded):
    s = sender()
    rest.text(s, "アカウントがロックされました", "kose")
    answer = rest.text(s, "ポータルのURLを教えてください")
    assert "kosekenpo.portal.kosmo-web.jp" in answer, answer


def test_did_not_help_apologises_with_next_steps_never_thanks(rest, seeded):
    s = sender()
    rest.text(s, "QRコードが読み取れません", "ono")
    answer = rest.send(s, "ありがとう。でもまだできない")
    text = "\n".join(m.get("text", "") for m in answer)
    assert "申し訳ありません" in text and "どういたしまして" not in text, text
    assert "担当者に相談したい" in buttons(answer)


def test_a_frustrated_member_gets_an_apology_and_a_person_first(rest, seeded):
    s = sender()
    answer = rest.text(s, "もう何度もやってるのにできない！いい加減にして", "kose")
    assert answer.startswith("ご不便とご迷惑をおかけして") and "担当者" in answer, answer
    assert "中断します" not in answer


def test_two_questions_are_both_answered_in_order(rest, seeded):
    s = sender()
    answer = rest.text(s, "初期パスワードと、ログインするURLを教えてください", "kose")
    password, url = answer.find("初回ログインのパスワード"), answer.find("kosekenpo.portal.kosmo-web.jp")
    assert 0 <= password < url, answer


def test_out_of_scope_names_the_society_to_contact(rest, seeded):
    assert "小野薬品健康保険組合" in rest.text(sender(), "扶養に子どもを追加したいです", "ono")


def test_another_members_data_is_refused(rest, seeded):
    assert "ご本人以外" in rest.text(sender(), "夫のパスワードを教えてほしい", "kose")


def test_kose_initial_password_is_said_as_the_manual_says_it(rest, seeded):
    answer = rest.text(sender(), "番号が4桁なんだけど、初期パスワードって何桁？", "kose")
    assert "記号＋番号＋生年月日（西暦8桁）" in answer and "15桁" not in answer, answer


def test_another_members_data_during_a_procedure_is_refused_and_the_question_asked_again(rest, seeded):
    s = sender()
    rest.text(s, "アカウントがロックされました", "kose")
    rest.text(s, "はい")
    answer = rest.text(s, "ついでに夫のパスワードも教えて")
    assert "ご本人以外" in answer and "ユーザーIDを入力してください" in answer, answer
    assert "生年月日" in rest.text(s, "kose.hanako")


def test_once_more_after_another_answer_does_not_restart_the_procedure(rest, seeded):
    s = sender()
    rest.text(s, "ワンタイムパスワードを再送してください", "kose")
    # an ID of its own: the portal limits resends per account, and other tests resend for kose.hanako
    assert "再送信しました" in rest.text(s, "kose.saburo")
    rest.text(s, "ログアウトのやり方を教えて")
    again = rest.text(s, "もう一度")
    assert "再送信しました" not in again and "申し訳ありません" in again, again

"""A value the member already gave fills the form's slot before it asks (actions/forms_common.py)."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.forms_common import SLOT_MEMBER_USER_ID, accept, parse_member_user_id, prefill
from bot.domain.normalize import bare_value_text, parse_email


def tracker(text="", intent="inform", requested=None, **slots):
    latest = {"text": text, "intent": {"name": intent}}
    return Tracker("m", {"requested_slot": requested, **slots}, latest, [], False, None, {}, "action_listen")


@pytest.mark.parametrize(
    "text, value",
    [
        ("kose.hanako です", "kose.hanako"),
        ("ユーザーIDは kose.hanako です", "kose.hanako"),
        ("ユーザーidは kose.hanako です", "kose.hanako"),
        ("Kose.Hanako", None),  # upper and lower case and a symbol: could be a password, never taken unasked
        ("1012345619800101", "1012345619800101"),  # a voluntary-continuation member's ID
        ("123456", None),  # a one-time code is never a user ID
        ("19901101", None),  # nor a birth date
        ("Hanako-Kose2024", None),  # nor a password
    ],
)
def test_the_answer_to_an_offer_is_taken_only_when_it_is_a_user_id(text, value):
    got = prefill(tracker(text), "unlock_user_id", parse_member_user_id, SLOT_MEMBER_USER_ID)
    assert got == ({"unlock_user_id": value} if value else {})


def test_the_kept_user_id_fills_the_next_procedure_but_not_a_filled_slot():
    kept = tracker("もう一度", intent="try_again", member_user_id="ono.sakura")
    assert prefill(kept, "otp_user_id", parse_member_user_id, SLOT_MEMBER_USER_ID) == {"otp_user_id": "ono.sakura"}
    filled = tracker("x", member_user_id="ono.sakura", otp_user_id="other.id")
    assert prefill(filled, "otp_user_id", parse_member_user_id, SLOT_MEMBER_USER_ID) == {}


def test_a_value_while_the_form_asks_is_left_to_the_form():
    asked = tracker("kose.hanako", requested="unlock_user_id")
    assert prefill(asked, "unlock_user_id", parse_member_user_id, SLOT_MEMBER_USER_ID) == {}


def test_an_address_answers_the_reminder_offer():
    assert prefill(tracker("メールアドレスは taro@example.com です。"), "reminder_email", parse_email) == {
        "reminder_email": "taro@example.com"}
    assert prefill(tracker("はい", intent="affirm"), "reminder_email", parse_email) == {}


def test_only_a_sure_user_id_is_kept_for_the_conversation():
    assert accept("unlock_user_id", "kose.hanako", SLOT_MEMBER_USER_ID)[SLOT_MEMBER_USER_ID] == "kose.hanako"
    assert SLOT_MEMBER_USER_ID not in accept("unlock_user_id", "19901101", SLOT_MEMBER_USER_ID)


def test_bare_value_text_is_bounded_and_keeps_other_text():
    assert bare_value_text("ロックです") == "ロック"
    assert len(bare_value_text("あ" * 100_000)) <= 200

"""The flow actions against the real reference portal: resend, diagnosis, reminder, unlock, status.

Each test gets a fresh seeded portal database (tests/portal/conftest.py); the
action's ``client_factory`` points at it. "Portal down" is a client aimed at
a closed port: the member gets the apology, and the offer of a person follows
(``action_offer_handoff``, tested with the handoff).
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pyotp
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms_common import FORM_SLOTS
from actions.otp import ActionOtpHelp, ValidateOtpHelpForm
from actions.unlock import (
    ActionOpenUnlockTicket,
    ActionTicketStatus,
    ValidateTicketStatusForm,
    ValidateUnlockForm,
)
from actions.user_id_reminder import ActionSendUserIdReminder, ValidateUserIdReminderForm
from bot.portal_client import PortalClient
from tests.actions.shown import shown
from tests.portal.conftest import SERVICE_TOKEN, START, member

SAKURA_SECRET = member("ono.sakura").totp_secret or ""


def tracker(society: str, **slots: Any) -> Tracker:
    return Tracker(
        sender_id="action-test",
        slots={"society": society, **slots},
        latest_message={"text": "", "intent": {"name": "inform"}},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [shown(m) for m in dispatcher.messages]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(action: Any, url: str, t: Tracker) -> tuple[list[str], list[dict]]:
    action.client_factory = lambda: PortalClient(url, SERVICE_TOKEN, timeout=3.0)
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return said(dispatcher), events


def offers_a_person(events: list[dict], reason: str) -> bool:
    """The events make the bot offer a person next, for ``reason``."""
    return {"event": "followup", "timestamp": None, "name": "action_offer_handoff"} in [
        {**e, "timestamp": None} for e in events
    ] and any(
        e["event"] == "slot" and e["name"] == "handoff_reason" and e["value"] == reason
        for e in events
    )


def code_at(offset_seconds: int) -> str:
    return pyotp.TOTP(SAKURA_SECRET).at(START + dt.timedelta(seconds=offset_seconds))


async def test_resend_mails_a_new_code_and_says_what_next(portal):
    texts, events = await run(
        ActionOtpHelp(), portal.url, tracker("kose", otp_user_id="kose.hanako")
    )
    assert texts == ["utter_otp_resent"]
    assert {e["name"] for e in events if e["event"] == "slot"} >= set(FORM_SLOTS)
    assert all(e["value"] in (None, 0.0) for e in events if e["event"] == "slot")


async def test_resend_answers_the_same_for_an_unknown_user(portal):
    texts, _ = await run(ActionOtpHelp(), portal.url, tracker("kose", otp_user_id="nobody.here"))
    assert texts == ["utter_otp_resent"]


@pytest.mark.parametrize(
    "offset, expected",
    [
        (0, ["utter_totp_match"]),
        (-30, ["utter_totp_previous_code"]),
        (60, ["スマホの時計が、正しい時刻より約60秒進んでいます。", "utter_totp_clock_wrong"]),
        (30, ["スマホの時計が、正しい時刻より約30秒進んでいます。", "utter_totp_clock_wrong"]),
        (-90, ["スマホの時計が、正しい時刻より約90秒遅れています。", "utter_totp_clock_wrong"]),
    ],
)
async def test_diagnosis_says_in_plain_words_what_is_wrong(portal, offset, expected):
    t = tracker("ono", otp_user_id="ono.sakura", totp_code=code_at(offset))
    texts, _ = await run(ActionOtpHelp(), portal.url, t)
    assert texts == expected


async def test_diagnosis_of_a_code_of_another_account(portal):
    code = pyotp.TOTP(pyotp.random_base32()).at(START)
    if code == code_at(0):  # one in a million
        code = f"{(int(code) + 1) % 1_000_000:06d}"
    texts, _ = await run(
        ActionOtpHelp(), portal.url, tracker("ono", otp_user_id="ono.sakura", totp_code=code)
    )
    assert texts == ["utter_totp_no_match"]


@pytest.mark.parametrize("email", ["hanako.kose@example.com", "not.registered@example.com"])
async def test_user_id_reminder_answers_alike_whether_registered_or_not(portal, email):
    texts, _ = await run(
        ActionSendUserIdReminder(), portal.url, tracker("kose", reminder_email=email)
    )
    assert texts == ["utter_user_id_reminder_sent"]


async def test_unlock_ticket_then_its_status_by_number(portal):
    t = tracker("kose", unlock_user_id="kose.ichiro", unlock_birth_date="1978-02-14")
    texts, _ = await run(ActionOpenUnlockTicket(), portal.url, t)
    assert texts[1] == "utter_unlock_ticket_opened", texts
    ticket_id = texts[0].split("受付番号は ")[1].split(" ")[0]
    assert ticket_id.startswith("UL-") and len(ticket_id) == 9
    status, _ = await run(ActionTicketStatus(), portal.url, tracker("kose", ticket_id=ticket_id))
    assert status == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_open"]
    # another society cannot see it
    other, _ = await run(ActionTicketStatus(), portal.url, tracker("ono", ticket_id=ticket_id))
    assert other == ["utter_ticket_not_found"]


async def test_unlock_with_a_masked_birth_date_does_not_call_the_portal(portal):
    t = tracker("kose", unlock_user_id="kose.ichiro", unlock_birth_date="****")
    texts, _ = await run(ActionOpenUnlockTicket(), portal.url, t)
    assert texts == ["utter_account_locked"]


@pytest.mark.parametrize(
    "action, slots",
    [
        (ActionOtpHelp(), {"otp_user_id": "kose.hanako"}),
        (ActionSendUserIdReminder(), {"reminder_email": "hanako.kose@example.com"}),
        (
            ActionOpenUnlockTicket(),
            {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1978-02-14"},
        ),
        (ActionTicketStatus(), {"ticket_id": "UL-7F3K9Q"}),
    ],
)
async def test_portal_down_apologises_and_offers_a_person(action, slots):
    texts, events = await run(action, f"http://127.0.0.1:{closed_port()}", tracker("kose", **slots))
    assert texts == ["utter_portal_unavailable"]
    assert offers_a_person(events, "portal_down"), events
    form_slots = [e for e in events if e["event"] == "slot" and e["name"] in FORM_SLOTS]
    assert form_slots and all(e["value"] is None for e in form_slots)


async def test_diagnosis_with_portal_down(portal):
    t = tracker("ono", otp_user_id="ono.sakura", totp_code="123456")
    texts, events = await run(ActionOtpHelp(), f"http://127.0.0.1:{closed_port()}", t)
    assert texts == ["utter_portal_unavailable"]
    assert offers_a_person(events, "portal_down")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "validator, method, text, slot, expected",
    [
        (
            ValidateOtpHelpForm(),
            "validate_otp_user_id",
            "ＫＯＳＥ．ＨＡＮＡＫＯ",
            "otp_user_id",
            "kose.hanako",
        ),
        (ValidateOtpHelpForm(), "validate_totp_code", "１２３ ４５６", "totp_code", "123456"),
        (
            ValidateUserIdReminderForm(),
            "validate_reminder_email",
            "Hanako.Kose＠Example.com",
            "reminder_email",
            "Hanako.Kose@example.com",
        ),
        (
            ValidateUnlockForm(),
            "validate_unlock_user_id",
            "kose.ichiro",
            "unlock_user_id",
            "kose.ichiro",
        ),
        (
            ValidateUnlockForm(),
            "validate_unlock_birth_date",
            "昭和53年2月14日",
            "unlock_birth_date",
            "1978-02-14",
        ),
        (
            ValidateUnlockForm(),
            "validate_unlock_birth_date",
            "S53.2.14",
            "unlock_birth_date",
            "1978-02-14",
        ),
        (
            ValidateTicketStatusForm(),
            "validate_ticket_id",
            "ｕｌ－７ｆ３ｋ９ｑ の状況",
            "ticket_id",
            "UL-7F3K9Q",
        ),
    ],
)
def test_valid_values_are_normalised(validator, method, text, slot, expected):
    dispatcher = CollectingDispatcher()
    result = getattr(validator, method)(text, dispatcher, tracker("kose"), {})
    assert result[slot] == expected and result.get("failed_attempts", 0.0) == 0.0
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "validator, method, text, slot, explain",
    [
        (
            ValidateOtpHelpForm(),
            "validate_otp_user_id",
            "わかりません",
            "otp_user_id",
            "utter_invalid_user_id",
        ),
        (
            ValidateOtpHelpForm(),
            "validate_totp_code",
            "12345",
            "totp_code",
            "utter_invalid_totp_code",
        ),
        (
            ValidateUserIdReminderForm(),
            "validate_reminder_email",
            "hanako@",
            "reminder_email",
            "utter_invalid_email",
        ),
        (
            ValidateUnlockForm(),
            "validate_unlock_birth_date",
            "1990/2/30",
            "unlock_birth_date",
            "utter_invalid_birth_date",
        ),
        (
            ValidateTicketStatusForm(),
            "validate_ticket_id",
            "12345",
            "ticket_id",
            "utter_invalid_ticket_id",
        ),
    ],
)
def test_invalid_values_explain_and_after_two_misses_offer_a_person(
    validator, method, text, slot, explain
):
    first = CollectingDispatcher()
    result = getattr(validator, method)(text, first, tracker("kose"), {})
    assert result == {slot: None, "failed_attempts": 1.0}
    assert said(first) == [explain]
    second = CollectingDispatcher()
    result = getattr(validator, method)(text, second, tracker("kose", failed_attempts=1.0), {})
    # the second miss ends the form (requested_slot emptied) with a reason to offer a person
    assert result == {
        slot: None,
        "failed_attempts": 0.0,
        "requested_slot": None,
        "handoff_reason": "validation_failed",
    }
    assert said(second) == [explain]


async def test_the_second_miss_ends_the_form_and_offers_a_person():
    t = tracker("kose", failed_attempts=1.0, requested_slot="ticket_id", ticket_id="12345")
    t.latest_message = {"text": "12345", "intent": {"name": "inform"}}
    t.active_loop = {"name": "ticket_status_form"}
    t.slots_to_validate = lambda: {"ticket_id": "12345"}  # type: ignore[method-assign]
    dispatcher = CollectingDispatcher()
    events = await ValidateTicketStatusForm().run(
        dispatcher, t, {"forms": {"ticket_status_form": {"required_slots": ["ticket_id"]}}}
    )
    assert said(dispatcher) == ["utter_invalid_ticket_id"]
    assert offers_a_person(events, "validation_failed"), events
    assert {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None} in [
        {**e, "timestamp": None} for e in events
    ]


@pytest.mark.parametrize(
    "validator, method, slot",
    [
        (ValidateOtpHelpForm(), "validate_otp_user_id", "otp_user_id"),
        (ValidateOtpHelpForm(), "validate_totp_code", "totp_code"),
        (ValidateUserIdReminderForm(), "validate_reminder_email", "reminder_email"),
        (ValidateUnlockForm(), "validate_unlock_user_id", "unlock_user_id"),
    ],
)
def test_a_typed_password_is_refused_with_a_warning(validator, method, slot):
    dispatcher = CollectingDispatcher()
    result = getattr(validator, method)("Hanako-Kose2024", dispatcher, tracker("kose"), {})
    assert result == {slot: None}
    assert said(dispatcher) == ["utter_never_share_password"]


async def test_required_slots_follow_the_society():
    form = ValidateOtpHelpForm()
    d = CollectingDispatcher()
    assert await form.required_slots([], d, tracker("kose"), {}) == ["otp_user_id"]
    assert await form.required_slots([], d, tracker("ono"), {}) == ["otp_user_id", "totp_code"]


async def test_the_guard_refuses_a_password_whatever_the_intent():
    t = Tracker(
        sender_id="action-test",
        slots={"society": "kose", "requested_slot": "unlock_user_id"},
        latest_message={
            "text": "パスワードは Ichiro-Kose2024 です",
            "intent": {"name": "forgot_password"},
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "unlock_form"},
        latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateUnlockForm().run(dispatcher, t, {"forms": {}})
    assert said(dispatcher) == ["utter_never_share_password"]
    assert events == [{"event": "slot", "timestamp": None, "name": "unlock_user_id", "value": None}]


async def test_rate_limited_resend_apologises_and_offers_a_person(portal):
    t = tracker("kose", otp_user_id="kose.hanako")
    for _ in range(3):  # the portal allows three resends per account in ten minutes
        texts, _ = await run(ActionOtpHelp(), portal.url, t)
        assert texts == ["utter_otp_resent"]
    texts, events = await run(ActionOtpHelp(), portal.url, t)
    assert texts == ["utter_portal_rate_limited"]
    assert offers_a_person(events, "portal_down")


async def test_a_slow_portal_costs_the_member_a_few_seconds_then_an_apology():
    import time

    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        action = ActionSendUserIdReminder()
        action.client_factory = lambda: PortalClient(url, SERVICE_TOKEN, timeout=0.5)
        dispatcher = CollectingDispatcher()
        started = time.monotonic()
        events = await action.run(
            dispatcher, tracker("kose", reminder_email="hanako.kose@example.com"), {}
        )
        assert time.monotonic() - started < 3
    assert said(dispatcher) == ["utter_portal_unavailable"]
    assert offers_a_person(events, "portal_down")


def test_the_actions_client_has_an_explicit_timeout(monkeypatch):
    from actions.portal import PORTAL_TIMEOUT, client_from_env

    monkeypatch.setenv("KOSMO_PORTAL_SERVICE_TOKEN", "x" * 20)
    assert client_from_env().timeout == PORTAL_TIMEOUT <= 3.0

"""The actions speak for their conversation's member, against the real reference portal.

Every portal call carries the signed member identity of the tracker's sender id,
so (issue 13, points 3 and 10):

- 30 abusive runs - from one conversation, from fresh sender ids, for other
  accounts - never block another member's resend, reminder, unlock, diagnosis
  or ticket status, while the abusing conversation and the abused account stay limited;
- asking to unlock again gets the same ticket, and the member is told so;
- a ticket's status is told only in the conversation that opened it;
- 30 abusive runs from fresh sender ids that share one origin (what the widget
  records for one address, in the message metadata) are stopped by the portal's
  per-origin limit, while a member at another origin is served.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import aiohttp
import pyotp
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.otp import ActionOtpHelp
from actions.unlock import ActionOpenUnlockTicket, ActionTicketStatus
from actions.user_id_reminder import ActionSendUserIdReminder
from bot.portal_client import PortalClient
from dev.portal.settings import DEFAULT_RATE_RULES
from tests.actions.shown import shown
from tests.portal.conftest import ADMIN_TOKEN, SERVICE_TOKEN, START, member

ABUSE = 30
VICTIM = "line:kose:U0123456789abcdef0123456789abcdef"
SAKURA_SECRET = member("ono.sakura").totp_secret or ""
ATTACKER_ORIGIN = "widget:" + "a" * 32  # the widget's record of the attacker's address
VICTIM_ORIGIN = "widget:" + "b" * 32
ENDPOINT_OF = {
    "resend": "otp_resend",
    "reminder": "user_id_reminder",
    "unlock": "unlock_open",
    "diagnosis": "otp_diagnose",
}


def tracker(sender: str, society: str, origin: Any = None, **slots: Any) -> Tracker:
    """``origin``: what the channel recorded in the latest message's metadata (None: nothing)."""
    latest: dict[str, Any] = {"text": "", "intent": {"name": "inform"}}
    if origin is not None:
        latest["metadata"] = {"tenant": society, "origin": origin}
    return Tracker(
        sender_id=sender,
        slots={"society": society, **slots},
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action: Any, url: str, t: Tracker) -> list[dict[str, Any]]:
    action.client_factory = lambda: PortalClient(url, SERVICE_TOKEN, timeout=3.0)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, t, {})
    return dispatcher.messages


def said(messages: list[dict[str, Any]]) -> list[str]:
    return [shown(m) for m in messages]


def code_now() -> str:
    return pyotp.TOTP(SAKURA_SECRET).at(START + dt.timedelta(seconds=0))


# flow: (action, society, slots for an account, the victim's own account, what the victim hears first)
FLOWS = {
    "resend": (
        ActionOtpHelp,
        "kose",
        lambda uid: {"otp_user_id": uid},
        "kose.hanako",
        "utter_otp_resent",
    ),
    "reminder": (
        ActionSendUserIdReminder,
        "kose",
        lambda uid: {"reminder_email": f"{uid}@example.com"},
        "hanako.kose",
        "utter_user_id_reminder_sent",
    ),
    "unlock": (
        ActionOpenUnlockTicket,
        "kose",
        lambda uid: {"unlock_user_id": uid, "unlock_birth_date": "1978-02-14"},
        "kose.ichiro",
        "ロック解除の申請を受け付けました。",
    ),
    "diagnosis": (
        ActionOtpHelp,
        "ono",
        lambda uid: {"otp_user_id": uid, "totp_code": "000000"},
        "ono.sakura",
        "",
    ),
}


async def victim_is_served(
    portal, flow: str, victim: str = VICTIM, origin: Optional[str] = None
) -> None:
    action, society, slots, own, first = FLOWS[flow]
    if flow == "diagnosis":
        texts = said(
            await run(
                action(),
                portal.url,
                tracker(victim, society, origin, otp_user_id=own, totp_code=code_now()),
            )
        )
        assert texts == ["utter_totp_match"]
        return
    texts = said(await run(action(), portal.url, tracker(victim, society, origin, **slots(own))))
    assert texts[0].startswith(first), texts


@pytest.mark.parametrize("flow", sorted(FLOWS))
@pytest.mark.parametrize("abuse", ["one_conversation", "fresh_sender_ids", "fresh_ids_one_account"])
async def test_abuse_does_not_block_another_member(portal, flow: str, abuse: str) -> None:
    action, society, slots, _, _ = FLOWS[flow]
    heard = []
    for i in range(ABUSE):
        sender = "widget-attacker" if abuse == "one_conversation" else f"widget-session-{i}"
        account = "target.acct" if abuse == "fresh_ids_one_account" else f"other.{i:04d}"
        heard += said(await run(action(), portal.url, tracker(sender, society, **slots(account))))
    if abuse == "fresh_sender_ids":
        assert "utter_portal_rate_limited" not in heard
    else:  # the abusing conversation, or the abused account, is limited ...
        assert "utter_portal_rate_limited" in heard
        sender = "widget-attacker" if abuse == "one_conversation" else "widget-session-new"
        account = "target.acct" if abuse == "fresh_ids_one_account" else "other.9999"
        again = said(await run(action(), portal.url, tracker(sender, society, **slots(account))))
        assert again[0] == "utter_portal_rate_limited"
    await victim_is_served(portal, flow)  # ... and the other member is served


async def test_ticket_status_survives_abuse(portal) -> None:
    opened = said(
        await run(
            ActionOpenUnlockTicket(),
            portal.url,
            tracker(VICTIM, "kose", unlock_user_id="kose.ichiro", unlock_birth_date="1978-02-14"),
        )
    )
    ticket_id = opened[0].split("受付番号は ")[1].split(" ")[0]
    for sender in ["widget-attacker"] * 70 + [f"widget-session-{i}" for i in range(ABUSE)]:
        texts = said(
            await run(
                ActionTicketStatus(), portal.url, tracker(sender, "kose", ticket_id=ticket_id)
            )
        )
        assert texts[0] in ("utter_ticket_not_found", "utter_portal_rate_limited")
    mine = said(
        await run(ActionTicketStatus(), portal.url, tracker(VICTIM, "kose", ticket_id=ticket_id))
    )
    assert mine == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_open"]


async def test_asking_again_is_told_it_is_the_same_request(portal) -> None:
    slots = {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1978-02-14"}
    first = said(await run(ActionOpenUnlockTicket(), portal.url, tracker(VICTIM, "kose", **slots)))
    ticket_id = first[0].split("受付番号は ")[1].split(" ")[0]
    for sender in (VICTIM, "widget-session-1"):
        again = await run(ActionOpenUnlockTicket(), portal.url, tracker(sender, "kose", **slots))
        assert said(again) == ["utter_unlock_ticket_already_open"]
        assert again[0]["ticket_id"] == ticket_id  # filled into the response's {ticket_id}
    # one mail for the one request
    await portal.settle()
    assert len(portal.outbox.messages(member("kose.ichiro").email)) == 1


async def test_status_is_told_only_in_the_conversation_that_opened_it(portal) -> None:
    slots = {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1978-02-14"}
    first = said(await run(ActionOpenUnlockTicket(), portal.url, tracker(VICTIM, "kose", **slots)))
    ticket_id = first[0].split("受付番号は ")[1].split(" ")[0]
    mine = said(
        await run(ActionTicketStatus(), portal.url, tracker(VICTIM, "kose", ticket_id=ticket_id))
    )
    assert mine == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_open"]
    for sender in ("widget-session-1", "line:kose:Uffffffffffffffffffffffffffffffff"):
        other = said(
            await run(
                ActionTicketStatus(), portal.url, tracker(sender, "kose", ticket_id=ticket_id)
            )
        )
        assert other == ["utter_ticket_not_found"]


async def test_the_member_who_verifies_a_ticket_opened_by_someone_else_is_told_its_status(
    portal,
) -> None:
    """An attacker asks to unlock the victim's user ID with a wrong birth date; the victim's
    own request gets that number, and it is the victim's conversation that is told its
    status (also once unlocked), never the attacker's."""
    attacker = "widget-attacker"
    wrong = {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1990-01-01"}
    first = said(await run(ActionOpenUnlockTicket(), portal.url, tracker(attacker, "kose", **wrong)))
    ticket_id = first[0].split("受付番号は ")[1].split(" ")[0]
    right = {"unlock_user_id": "kose.ichiro", "unlock_birth_date": "1978-02-14"}
    again = await run(ActionOpenUnlockTicket(), portal.url, tracker(VICTIM, "kose", **right))
    assert said(again) == ["utter_unlock_ticket_already_open"]
    assert again[0]["ticket_id"] == ticket_id

    async def status(sender: str) -> list[str]:
        t = tracker(sender, "kose", ticket_id=ticket_id)
        return said(await run(ActionTicketStatus(), portal.url, t))

    assert await status(VICTIM) == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_open"]
    assert await status(attacker) == ["utter_ticket_not_found"]
    async with aiohttp.ClientSession() as http:  # staff unlock it through the admin API
        resolved = await http.post(
            portal.api(f"/admin/v1/unlock-tickets/{ticket_id}/resolve"),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert resolved.status == 200
    assert await status(VICTIM) == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_unlocked"]
    assert await status(attacker) == ["utter_ticket_not_found"]


@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_fresh_sender_ids_from_one_origin_are_stopped_and_another_member_is_not(
    portal, flow: str
) -> None:
    """A new widget session for every run, all from one address: the origin the widget
    recorded travels with each run, and the portal's origin budget stops them."""
    action, society, slots, _, _ = FLOWS[flow]
    heard = []
    for i in range(ABUSE):
        t = tracker(f"widget-session-{i}", society, ATTACKER_ORIGIN, **slots(f"other.{i:04d}"))
        heard.append(said(await run(action(), portal.url, t))[0])
    per_origin = DEFAULT_RATE_RULES[(ENDPOINT_OF[flow], "origin")].limit
    assert "utter_portal_rate_limited" not in heard[:per_origin]
    assert set(heard[per_origin:]) == {"utter_portal_rate_limited"}
    fresh = tracker("widget-session-new", society, ATTACKER_ORIGIN, **slots("other.9999"))
    assert said(await run(action(), portal.url, fresh))[0] == "utter_portal_rate_limited"
    # a member in a fresh widget session of their own, from another address, is served
    await victim_is_served(portal, flow, "widget-session-victim", VICTIM_ORIGIN)


async def test_ticket_status_from_fresh_sender_ids_of_one_origin_is_stopped(portal) -> None:
    opened = said(
        await run(
            ActionOpenUnlockTicket(),
            portal.url,
            tracker("widget-session-victim", "kose", VICTIM_ORIGIN,
                    unlock_user_id="kose.ichiro", unlock_birth_date="1978-02-14"),
        )
    )
    ticket_id = opened[0].split("受付番号は ")[1].split(" ")[0]
    heard = []
    for i in range(ABUSE):
        t = tracker(f"widget-session-{i}", "kose", ATTACKER_ORIGIN, ticket_id=ticket_id)
        heard.append(said(await run(ActionTicketStatus(), portal.url, t))[0])
    per_origin = DEFAULT_RATE_RULES[("unlock_read", "origin")].limit
    assert set(heard[:per_origin]) == {"utter_ticket_not_found"}
    assert set(heard[per_origin:]) == {"utter_portal_rate_limited"}
    mine = said(
        await run(
            ActionTicketStatus(), portal.url,
            tracker("widget-session-victim", "kose", VICTIM_ORIGIN, ticket_id=ticket_id),
        )
    )
    assert mine == [f"受付番号 {ticket_id} の状況です。", "utter_ticket_open"]


@pytest.mark.parametrize("origin", [None, "203.0.113.7", {"kind": "widget"}, "widget:" + "z" * 32])
async def test_a_missing_or_unreadable_origin_counts_as_the_member(portal, origin: Any) -> None:
    """Conversations from before origins (or anything that is not one) still work: each
    member is their own origin, so only their member budget limits them, and four such
    members together spend more than one origin's budget."""
    action, society, slots, _, _ = FLOWS["resend"]
    per_member = DEFAULT_RATE_RULES[("otp_resend", "member")].limit
    members = 4
    assert members * per_member > DEFAULT_RATE_RULES[("otp_resend", "origin")].limit
    heard = []
    for m in range(members):
        for i in range(per_member + (1 if m == members - 1 else 0)):
            t = tracker(f"widget-old-{m}", society, origin, **slots(f"other.{m}{i:03d}"))
            heard.append(said(await run(action(), portal.url, t))[0])
    assert heard == ["utter_otp_resent"] * members * per_member + ["utter_portal_rate_limited"]

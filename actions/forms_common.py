"""What every form shares: the password guard, slot validation, and ending the form.

Password guard (:class:`GuardedFormValidationAction`): Rasa calls a form's
validation action on every turn the form is active, whatever the intent. If
the member's message looks like a password (``bot.domain.normalize.looks_like_password``)
the guard answers "never share your password here" and empties the asked
slot, so the form asks again instead of taking the text or handing it to
another rule. The text itself is never stored: ``bot.tracker_store`` writes
password-looking messages as ``****``, inside a form or not.

Slot validation (:func:`validate_slot`): every ``validate_<slot>`` method is
"refuse a password, parse, explain or take"; a value of the wrong form is
explained (:func:`reject`); after two misses the form ends and the bot offers
a person (:func:`offer_handoff`, ``actions/handoff.py``).

Ending the form: :func:`cleared` empties every slot of every form; the
portal actions (``actions.portal.PortalAction``) return it once they have
answered. Rasa's ``action_deactivate_loop`` leaves the form's slots filled,
so the next time the member starts that flow the form would submit the old
values at once; :class:`ActionStopForm` ends the form and empties them.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, Dict, List, Literal, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.domain.masking import is_user_id
from bot.domain.normalize import bare_value_text, looks_like_password, parse_user_id

SLOT_FAILURES = "failed_attempts"
# the member's user ID, kept for the conversation once a form took it, so a
# later procedure (a second diagnosis, an unlock request) does not ask again
SLOT_MEMBER_USER_ID = "member_user_id"
INTENT_INFORM = "inform"
SLOT_HANDOFF_REASON = "handoff_reason"
REQUESTED_SLOT = "requested_slot"
ACTION_OFFER_HANDOFF = "action_offer_handoff"
MAX_FAILURES = 2
# why the bot offers a person (the handoff packet shows it to the agent)
REASON_MEMBER_ASKED = "member_asked"
REASON_NOT_UNDERSTOOD = "not_understood"
REASON_PORTAL_DOWN = "portal_down"
REASON_VALIDATION_FAILED = "validation_failed"

FORM_SLOTS = (
    "otp_user_id",
    "totp_code",
    "reminder_email",
    "unlock_user_id",
    "unlock_birth_date",
    "ticket_id",
)


def cleared() -> List[EventType]:
    """The form is over: every form slot and the miss counter emptied."""
    return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet(SLOT_FAILURES, 0.0)]


def offer_handoff(reason: str) -> List[EventType]:
    """Events that make the bot offer a person next (``action_offer_handoff``), for ``reason``."""
    return [SlotSet(SLOT_HANDOFF_REASON, reason), FollowupAction(ACTION_OFFER_HANDOFF)]


def failures(tracker: Tracker) -> int:
    try:
        return int(tracker.get_slot(SLOT_FAILURES) or 0)
    except (TypeError, ValueError):
        return 0


def reject(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, *, response: str
) -> Dict[Text, Any]:
    """A value that is not of the expected form: explain; at the second miss, end the form.

    Ending it (``requested_slot`` emptied) and the handoff reason let
    :class:`GuardedFormValidationAction` follow up with the offer of a person.
    """
    count = failures(tracker) + 1
    dispatcher.utter_message(response=response)
    if count >= MAX_FAILURES:
        return {
            slot: None,
            SLOT_FAILURES: 0.0,
            REQUESTED_SLOT: None,
            SLOT_HANDOFF_REASON: REASON_VALIDATION_FAILED,
        }
    return {slot: None, SLOT_FAILURES: float(count)}


def accept(slot: str, value: Any, keep_as: Optional[str] = None) -> Dict[Text, Any]:
    # kept for the conversation only if it is surely a user ID (not a code or birth date)
    kept = {keep_as: value} if keep_as and is_user_id(str(value)) else {}
    return {slot: value, SLOT_FAILURES: 0.0, **kept}


def parse_member_user_id(text: str) -> Optional[str]:
    """A user ID the member gave unasked, or None: never a code, a birth date or a password."""
    return parse_user_id(text) if is_user_id(text) else None


def prefill(
    tracker: Tracker,
    slot: str,
    parse: Callable[[str], Optional[Any]],
    kept_slot: Optional[str] = None,
) -> Dict[Text, Any]:
    """A value for ``slot`` before the form asks for it, if the member already gave it.

    Two cases: the form is just starting and the message that started it is
    the value itself (「申請しますか？」 answered with 「kose.hanako です」); or the
    conversation kept it (``kept_slot``, the user ID of an earlier procedure).
    A password-looking message is never taken.
    """
    if tracker.get_slot(slot):
        return {}
    latest = tracker.latest_message or {}
    if not tracker.get_slot(REQUESTED_SLOT) and (latest.get("intent") or {}).get("name") == INTENT_INFORM:
        text = str(latest.get("text") or "")
        parsed = None if looks_like_password(text) else parse(bare_value_text(text))
        if parsed is not None:
            return {slot: parsed}
    kept = tracker.get_slot(kept_slot) if kept_slot else None
    if kept and parse(str(kept)) is not None:
        return {slot: kept}
    return {}


PasswordGuard = Literal["always", "unless_parsed", "never"]


def validate_slot(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    slot: str,
    value: Any,
    parse: Callable[[str], Optional[Any]],
    invalid_response: str,
    *,
    guard_password: PasswordGuard = "always",
    keep_as: Optional[str] = None,
) -> Dict[Text, Any]:
    """Refuse a password, else take ``parse(value)`` or explain what was expected.

    ``parse`` gets the value as text and returns the slot's value, or None when
    the text is not of the expected form (:func:`reject`). ``guard_password``
    says when a password-looking value is refused with "never share it" (the
    slot emptied, the miss counter left alone): ``"always"`` (user IDs, which
    a password can pass for), ``"unless_parsed"`` (codes and addresses: one
    that parses is taken), or ``"never"`` (dates, ticket numbers).
    """
    text = str(value or "")
    if guard_password == "always" and looks_like_password(text):
        return _never_share(dispatcher, slot)
    parsed = parse(text)
    if parsed is None:
        parsed = parse(bare_value_text(text))  # 「ユーザーIDは kose.hanako です」
    if parsed is None:
        if guard_password == "unless_parsed" and looks_like_password(text):
            return _never_share(dispatcher, slot)
        return reject(dispatcher, tracker, slot, response=invalid_response)
    return accept(slot, parsed, keep_as)


def _never_share(dispatcher: CollectingDispatcher, slot: str) -> Dict[Text, Any]:
    dispatcher.utter_message(response="utter_never_share_password")
    return {slot: None}


class ActionStopForm(Action):
    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        # the member stopped: the user ID they gave is not taken for the next procedure either
        return [ActiveLoop(None), SlotSet("requested_slot", None), *cleared(),
                SlotSet(SLOT_MEMBER_USER_ID, None)]


class GuardedFormValidationAction(FormValidationAction):
    """A form's validation that first refuses anything that looks like a password."""

    @abstractmethod
    def name(self) -> Text: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        requested = tracker.get_slot("requested_slot")
        if requested and looks_like_password(text):
            dispatcher.utter_message(response="utter_never_share_password")
            return [SlotSet(requested, None)]
        events = await super().run(dispatcher, tracker, domain)
        if SlotSet(SLOT_HANDOFF_REASON, REASON_VALIDATION_FAILED) in events:
            # the second miss in a row: the form is over, a person is offered
            events += [*cleared(), FollowupAction(ACTION_OFFER_HANDOFF)]
        return events

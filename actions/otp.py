"""One-time-password help that acts: resend the email code, or diagnose an authenticator code.

One form, ``otp_help_form``, for both societies, because the member's trouble
("the code does not come", "the code is refused") leads to what their
society's method allows:

* email-OTP society: ask the user ID, call ``resend_otp``, confirm, and say
  what to do if the mail still does not come;
* authenticator society: ask the user ID and the code the app shows now
  (never the password), call ``diagnose_totp`` and say in plain words what is
  wrong (phone clock ahead/behind by N seconds, a code from the previous
  window, or an app entry for another account).

``required_slots`` follows the society (``validate_otp_help_form``). The code
is used in the same turn it arrives in (the form submits right after it) and
is stored as ``****`` (``bot.tracker_store``).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms_common import (
    SLOT_MEMBER_USER_ID,
    GuardedFormValidationAction,
    cleared,
    parse_member_user_id,
    prefill,
    validate_slot,
)
from actions.portal import PortalAction, member_of, society_of
from bot.domain.normalize import parse_otp_code, parse_user_id
from bot.portal_client import PortalClient, PortalNotSupported, TotpDiagnosis

SLOT_OTP_USER_ID = "otp_user_id"
SLOT_TOTP_CODE = "totp_code"
FORM_OTP_HELP = "otp_help_form"


class ValidateOtpHelpForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_OTP_HELP}"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if society_of(tracker).uses_authenticator:
            return [SLOT_OTP_USER_ID, SLOT_TOTP_CODE]
        return [SLOT_OTP_USER_ID]

    async def extract_otp_user_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, SLOT_OTP_USER_ID, parse_member_user_id, SLOT_MEMBER_USER_ID)

    def validate_otp_user_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_OTP_USER_ID,
            value,
            partial(parse_user_id, society=society_of(tracker)),  # the society's own rule
            "utter_invalid_user_id",
            keep_as=SLOT_MEMBER_USER_ID,
        )

    def validate_totp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_TOTP_CODE,
            value,
            parse_otp_code,
            "utter_invalid_totp_code",
            guard_password="unless_parsed",
        )


def explain_diagnosis(dispatcher: CollectingDispatcher, diagnosis: TotpDiagnosis) -> None:
    """Say in plain words what the portal found."""
    if diagnosis.matches:
        dispatcher.utter_message(response="utter_totp_match")
        return
    if not diagnosis.nearby:
        dispatcher.utter_message(response="utter_totp_no_match")
        return
    step = diagnosis.step_offset or 0
    seconds = abs(diagnosis.offset_seconds or step * diagnosis.step_seconds)
    if step == -1:
        dispatcher.utter_message(response="utter_totp_previous_code")
    elif (diagnosis.offset_seconds or step) > 0:
        dispatcher.utter_message(response="utter_totp_clock_ahead", seconds=seconds)
        dispatcher.utter_message(response="utter_totp_clock_wrong")
    else:
        dispatcher.utter_message(response="utter_totp_clock_behind", seconds=seconds)
        dispatcher.utter_message(response="utter_totp_clock_wrong")


class ActionOtpHelp(PortalAction):
    """Submit of ``otp_help_form``: resend (email society) or diagnose (authenticator society)."""

    def name(self) -> Text:
        return "action_otp_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        society = society_of(tracker)
        user_id = tracker.get_slot(SLOT_OTP_USER_ID)
        code = tracker.get_slot(SLOT_TOTP_CODE)
        if not user_id:
            return cleared()

        async def help_with_the_code(client: PortalClient) -> None:
            if not society.uses_authenticator:
                await client.resend_otp(
                    society.key, user_id, member=member_of(client, tracker)
                )
                dispatcher.utter_message(response="utter_otp_resent")
            elif not code or not parse_otp_code(str(code)):
                dispatcher.utter_message(response="utter_otp_rejected")
            else:
                diagnosis = await client.diagnose_totp(
                    society.key, user_id, code, member=member_of(client, tracker)
                )
                explain_diagnosis(dispatcher, diagnosis)

        # the society's method changed under us: give the advice of the method it has
        return await self.call_portal(
            dispatcher,
            help_with_the_code,
            on_error={PortalNotSupported: "utter_otp_not_received"},
        )

"""Forgot user ID: collect the email address and ask the portal to mail the ID(s).

The answer is the same whether or not the address is registered ("if this
address is registered, a reminder has been sent"): the portal answers alike
for both so the chat cannot be used to probe addresses. Members with no
registered address are told to contact their society (in the response).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms_common import GuardedFormValidationAction, cleared, prefill, validate_slot
from actions.portal import PortalAction, member_of, society_of
from bot.domain.normalize import parse_email
from bot.portal_client import PortalClient

SLOT_REMINDER_EMAIL = "reminder_email"
FORM_USER_ID_REMINDER = "user_id_reminder_form"


class ValidateUserIdReminderForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_USER_ID_REMINDER}"

    async def extract_reminder_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, SLOT_REMINDER_EMAIL, parse_email)

    def validate_reminder_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_REMINDER_EMAIL,
            value,
            parse_email,
            "utter_invalid_email",
            guard_password="unless_parsed",
        )


class ActionSendUserIdReminder(PortalAction):
    def name(self) -> Text:
        return "action_send_user_id_reminder"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        email = tracker.get_slot(SLOT_REMINDER_EMAIL)
        if not email:
            return cleared()

        async def send_reminder(client: PortalClient) -> None:
            await client.send_user_id_reminder(
                society_of(tracker).key, email, member=member_of(client, tracker)
            )
            dispatcher.utter_message(response="utter_user_id_reminder_sent")

        return await self.call_portal(dispatcher, send_reminder)

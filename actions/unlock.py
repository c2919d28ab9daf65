"""Account locked: open an unlock ticket (user ID + birth date), and tell a ticket's status by number.

Identity for the ticket is the user ID and the birth date only. The bot never
asks for the insurance symbol or number (Health Insurance Act art. 194-2
restricts requesting them); staff check the pair on the portal side. The
birth date is the form's last slot, so the ticket is opened in the same turn
it arrives in; the tracker store keeps ``****`` for it (``bot.tracker_store``).

The portal keeps one open ticket per user ID: asking again gets the same
number, and the member is told it is the request already received. A ticket's
status is told only in the conversation that opened it: both calls name the
member (``member_of(client, tracker)``, with the channel's origin), and the portal answers any
other conversation as it answers an unknown number.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any, Dict, List, Optional, Text

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
from bot.domain.normalize import find_ticket_id, parse_birth_date, parse_user_id
from bot.portal_client import PortalClient, PortalNotFound

SLOT_UNLOCK_USER_ID = "unlock_user_id"
SLOT_UNLOCK_BIRTH_DATE = "unlock_birth_date"
SLOT_TICKET_ID = "ticket_id"
FORM_UNLOCK = "unlock_form"
FORM_TICKET_STATUS = "ticket_status_form"


def birth_date_iso(text: str) -> Optional[str]:
    """The birth date as the slot keeps it (ISO), or None."""
    date = parse_birth_date(text)
    return date.isoformat() if date else None


class ValidateUnlockForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_UNLOCK}"

    async def extract_unlock_user_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, SLOT_UNLOCK_USER_ID, parse_member_user_id, SLOT_MEMBER_USER_ID)

    def validate_unlock_user_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_UNLOCK_USER_ID,
            value,
            partial(parse_user_id, society=society_of(tracker)),  # the society's own rule
            "utter_invalid_user_id",
            keep_as=SLOT_MEMBER_USER_ID,
        )

    def validate_unlock_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_UNLOCK_BIRTH_DATE,
            value,
            birth_date_iso,
            "utter_invalid_birth_date",
            guard_password="never",
        )


class ActionOpenUnlockTicket(PortalAction):
    def name(self) -> Text:
        return "action_open_unlock_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        user_id = tracker.get_slot(SLOT_UNLOCK_USER_ID)
        raw_date = tracker.get_slot(SLOT_UNLOCK_BIRTH_DATE)
        try:
            birth_date = dt.date.fromisoformat(str(raw_date))
        except ValueError:  # masked ("****"): the form was not finished in this turn
            dispatcher.utter_message(response="utter_account_locked")
            return cleared()

        async def open_ticket(client: PortalClient) -> None:
            ticket = await client.open_unlock_ticket(
                society_of(tracker).key,
                user_id,
                birth_date,
                member=member_of(client, tracker),
            )
            if ticket.already_open:
                dispatcher.utter_message(
                    response="utter_unlock_ticket_already_open", ticket_id=ticket.ticket_id
                )
                return
            dispatcher.utter_message(
                response="utter_unlock_ticket_received", ticket_id=ticket.ticket_id
            )
            dispatcher.utter_message(response="utter_unlock_ticket_opened")

        return await self.call_portal(dispatcher, open_ticket)


class ValidateTicketStatusForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_TICKET_STATUS}"

    def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_slot(
            dispatcher,
            tracker,
            SLOT_TICKET_ID,
            value,
            find_ticket_id,
            "utter_invalid_ticket_id",
            guard_password="never",
        )


class ActionTicketStatus(PortalAction):
    def name(self) -> Text:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        ticket_id = tracker.get_slot(SLOT_TICKET_ID)
        if not ticket_id:
            return cleared()

        async def tell_status(client: PortalClient) -> None:
            ticket = await client.get_unlock_ticket(
                society_of(tracker).key, ticket_id, member=member_of(client, tracker)
            )
            dispatcher.utter_message(response="utter_ticket_status_of", ticket_id=ticket.ticket_id)
            if ticket.is_open:
                dispatcher.utter_message(response="utter_ticket_open")
            elif ticket.unlocked:
                dispatcher.utter_message(response="utter_ticket_unlocked")
            else:
                dispatcher.utter_message(response="utter_ticket_rejected")

        return await self.call_portal(
            dispatcher, tell_status, on_error={PortalNotFound: "utter_ticket_not_found"}
        )

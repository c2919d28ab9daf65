"""Account locked: open an unlock ticket (user ID + birth date), and tell a ticket's status by number.

Identity for the ticket is the user ID and the birth date only. The bot never
asks for the insurance symbol or number (Health Insurance Act art. 194-2
restricts requesting them); staff check the pair on the portal side. The
birth date is the form's last slot, so the ticket is opened in the same turn
it arrives in; the tracker store keeps ``****`` for it (``bot.tracker_store``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms_common import GuardedFormValidationAction, cleared
from actions.normalize import (
    compact,
    looks_like_password,
    parse_birth_date,
    parse_ticket_id,
    parse_user_id,
)
from actions.portal import (
    ClientFactory,
    accept,
    apologise,
    client_from_env,
    conversation_digest,
    reject,
    tenant_of,
)
from bot.portal_client import PortalError, PortalNotFound

SLOT_UNLOCK_USER_ID = "unlock_user_id"
SLOT_UNLOCK_BIRTH_DATE = "unlock_birth_date"
SLOT_TICKET_ID = "ticket_id"
FORM_UNLOCK = "unlock_form"
FORM_TICKET_STATUS = "ticket_status_form"

_TICKET_IN_TEXT = re.compile(r"UL-?[0-9A-Z]{6}")


class ValidateUnlockForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_UNLOCK}"

    def validate_unlock_user_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "")
        if looks_like_password(text):
            dispatcher.utter_message(response="utter_never_share_password")
            return {SLOT_UNLOCK_USER_ID: None}
        user_id = parse_user_id(text)
        if user_id is None:
            return reject(
                dispatcher, tracker, SLOT_UNLOCK_USER_ID, response="utter_invalid_user_id"
            )
        return accept(SLOT_UNLOCK_USER_ID, user_id)

    def validate_unlock_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        date = parse_birth_date(str(value or ""))
        if date is None:
            return reject(
                dispatcher, tracker, SLOT_UNLOCK_BIRTH_DATE, response="utter_invalid_birth_date"
            )
        return accept(SLOT_UNLOCK_BIRTH_DATE, date.isoformat())


class ActionOpenUnlockTicket(Action):
    client_factory: ClientFactory = staticmethod(client_from_env)  # type: ignore[assignment]

    def name(self) -> Text:
        return "action_open_unlock_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        import datetime as dt

        user_id = tracker.get_slot(SLOT_UNLOCK_USER_ID)
        raw_date = tracker.get_slot(SLOT_UNLOCK_BIRTH_DATE)
        try:
            birth_date = dt.date.fromisoformat(str(raw_date))
        except ValueError:  # masked ("****"): the form was not finished in this turn
            dispatcher.utter_message(response="utter_account_locked")
            return cleared()
        try:
            async with self.client_factory() as client:
                ticket = await client.open_unlock_ticket(
                    tenant_of(tracker).key,
                    user_id,
                    birth_date,
                    conversation_id=conversation_digest(tracker),
                )
            dispatcher.utter_message(
                text=f"ロック解除の申請を受け付けました。受付番号は {ticket.ticket_id} です。"
            )
            dispatcher.utter_message(response="utter_unlock_ticket_opened")
        except PortalError as e:
            apologise(dispatcher, e)
        return cleared()


class ValidateTicketStatusForm(GuardedFormValidationAction):
    def name(self) -> Text:
        return f"validate_{FORM_TICKET_STATUS}"

    def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = compact(str(value or "")).upper()
        found = _TICKET_IN_TEXT.search(text)
        ticket_id = parse_ticket_id(found.group(0)) if found else None
        if ticket_id is None:
            return reject(dispatcher, tracker, SLOT_TICKET_ID, response="utter_invalid_ticket_id")
        return accept(SLOT_TICKET_ID, ticket_id)


class ActionTicketStatus(Action):
    client_factory: ClientFactory = staticmethod(client_from_env)  # type: ignore[assignment]

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        ticket_id = tracker.get_slot(SLOT_TICKET_ID)
        if not ticket_id:
            return cleared()
        try:
            async with self.client_factory() as client:
                ticket = await client.get_unlock_ticket(
                    tenant_of(tracker).key, ticket_id, conversation_id=conversation_digest(tracker)
                )
            dispatcher.utter_message(text=f"受付番号 {ticket.ticket_id} の状況です。")
            if ticket.is_open:
                dispatcher.utter_message(response="utter_ticket_open")
            elif ticket.unlocked:
                dispatcher.utter_message(response="utter_ticket_unlocked")
            else:
                dispatcher.utter_message(response="utter_ticket_rejected")
        except PortalNotFound:
            dispatcher.utter_message(response="utter_ticket_not_found")
        except PortalError as e:
            apologise(dispatcher, e)
        return cleared()

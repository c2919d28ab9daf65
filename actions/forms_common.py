"""What every form shares: the password guard and the stop action.

Password guard (:class:`GuardedFormValidationAction`): Rasa calls a form's
validation action on every turn the form is active, whatever the intent. If
the member's message looks like a password (``actions.normalize.looks_like_password``)
the guard answers "never share your password here" and empties the asked
slot, so the form asks again instead of taking the text or handing it to
another rule. The text itself is never stored: ``bot.tracker_store`` writes
password-looking messages as ``****``, inside a form or not.

Stopping (:class:`ActionStopForm`): Rasa's ``action_deactivate_loop`` leaves
the form's slots filled, so the next time the member starts that flow the
form would submit the old values at once. This action ends the form and
empties every slot of every form.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.normalize import looks_like_password
from actions.portal import SLOT_FAILURES

FORM_SLOTS = (
    "otp_user_id",
    "totp_code",
    "reminder_email",
    "unlock_user_id",
    "unlock_birth_date",
    "ticket_id",
)


def cleared() -> List[EventType]:
    return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet(SLOT_FAILURES, 0.0)]


class ActionStopForm(Action):
    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        return [ActiveLoop(None), SlotSet("requested_slot", None), *cleared()]


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
        return await super().run(dispatcher, tracker, domain)

"""When an answer did not help, and when the member wants the last procedure again.

:class:`ActionDidNotHelp` (intent ``did_not_help``: うまくいかない, まだできない,
ありがとう。でも…): an apology, "what does the screen show now?" with buttons for
the likely next steps of the topic the bot answered last (``data/next_steps.yml``),
and a button for a person. Never thanks, never "I'll stop here".

:class:`ActionTryAgain` (intent ``try_again``: もう一度, 時刻を直しました。もう一度調べて):
runs the conversation's last procedure (a form) again; the user ID the member
already gave is kept for the conversation (``member_user_id``), so only what is
new (the authenticator's new code) is asked. With no procedure to repeat it
is handled as "it did not help".
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import TopicChoice, TopicLabels, person_button
from bot.domain.language import LANGUAGE_SLOT
from bot.domain.next_steps import LOOKBACK_EVENTS, NextSteps, load_next_steps

# the procedures a member may ask to repeat
FORMS = ("otp_help_form", "unlock_form", "user_id_reminder_form", "ticket_status_form")

def form_to_repeat(events: Sequence[Mapping[str, Any]], steps: NextSteps) -> Optional[str]:
    """The procedure (form) to run again: the newest one, if its result is what the bot said last.

    「もう一度」 right after 「再送信しました」 repeats the resend; after a later FAQ
    answer it means that answer, and is "it did not help" instead.
    """
    seen_latest_user = False
    answered_after: Optional[str] = None
    for event in reversed(events[-LOOKBACK_EVENTS:]):
        kind = event.get("event")
        if kind == "user" and not seen_latest_user:
            seen_latest_user = True
            continue
        if not seen_latest_user:
            continue
        if kind == "bot" and answered_after is None:
            response = str((event.get("metadata") or {}).get("utter_action") or "")
            if response:
                answered_after = response
        if kind == "active_loop" and event.get("name") in FORMS:
            if answered_after is None or answered_after in steps.results or answered_after.startswith(
                ("utter_ask_", "utter_invalid_", "utter_totp_", "utter_ticket_", "utter_portal_")
            ):
                return str(event["name"])
            return None
    return None


def say_did_not_help(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    steps: NextSteps,
    labels: Mapping[str, str],
) -> None:
    topic = steps.last_topic(tracker.events)
    choices = [TopicChoice(k, labels[k], 1.0) for k in steps.keys(topic, labels)]
    buttons = [{"title": c.label, "payload": c.payload} for c in choices]
    buttons.append(person_button(labels))
    response = "utter_did_not_help" if topic else "utter_did_not_help_no_topic"
    dispatcher.utter_message(response=response, buttons=buttons)


class ActionDidNotHelp(Action):
    """Apologise; offer the next steps of the topic just answered, and a person."""

    def __init__(
        self, steps: Optional[NextSteps] = None, labels: Optional[Mapping[str, str]] = None
    ) -> None:
        self._steps = steps
        self.topic_labels = TopicLabels(labels)

    @property
    def steps(self) -> NextSteps:
        if self._steps is None:
            self._steps = load_next_steps()
        return self._steps

    def labels_for(self, tracker: Tracker) -> Dict[str, str]:
        """Topic labels in the conversation's language (English has labels of its own)."""
        return self.topic_labels.for_language(tracker.get_slot(LANGUAGE_SLOT))

    def name(self) -> Text:
        return "action_did_not_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        say_did_not_help(dispatcher, tracker, self.steps, self.labels_for(tracker))
        return []


class ActionTryAgain(ActionDidNotHelp):
    """Repeat the conversation's last procedure; with none, as "it did not help"."""

    def name(self) -> Text:
        return "action_try_again"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        form = form_to_repeat(tracker.events, self.steps)
        if form:
            return [FollowupAction(form)]
        say_did_not_help(dispatcher, tracker, self.steps, self.labels_for(tracker))
        return []

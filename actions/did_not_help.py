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

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import TopicChoice
from bot.tenants import PROJECT_ROOT
from bot.topics import load_topic_labels

NEXT_STEPS_FILE_ENV = "KOSMO_NEXT_STEPS_FILE"
DEFAULT_NEXT_STEPS_FILE = PROJECT_ROOT / "data" / "next_steps.yml"
PERSON = TopicChoice("request_human", "担当者と話す", 1.0)
MAX_STEPS = 3
# the procedures a member may ask to repeat
FORMS = ("otp_help_form", "unlock_form", "user_id_reminder_form", "ticket_status_form")
# how far back the bot looks for what it answered (events, not turns)
LOOKBACK_EVENTS = 200


@dataclass(frozen=True)
class NextSteps:
    """Per topic, the topics a member most likely meets next (``data/next_steps.yml``)."""

    after: Mapping[str, Sequence[str]] = field(default_factory=dict)
    results: Mapping[str, str] = field(default_factory=dict)
    default: Sequence[str] = ()

    def topic_of_response(self, response: str) -> Optional[str]:
        """The topic a response of the bot answered (``utter_faq/qr_scan`` -> ``faq/qr_scan``)."""
        if response in self.results:
            return self.results[response]
        topic = response.removeprefix("utter_")
        return topic if topic in self.after else None

    def last_topic(self, events: Sequence[Mapping[str, Any]]) -> Optional[str]:
        """The topic of the newest answer before the member's latest message."""
        seen_latest_user = False
        for event in reversed(events[-LOOKBACK_EVENTS:]):
            kind = event.get("event")
            if kind == "user" and not seen_latest_user:
                seen_latest_user = True
                continue
            if kind == "bot" and seen_latest_user:
                response = str((event.get("metadata") or {}).get("utter_action") or "")
                topic = self.topic_of_response(response)
                if topic:
                    return topic
        return None

    def choices(self, topic: Optional[str], labels: Mapping[str, str]) -> List[TopicChoice]:
        keys = list(self.after.get(topic, ()) if topic else ()) or list(self.default)
        return [TopicChoice(k, labels[k], 1.0) for k in keys if k in labels][:MAX_STEPS]


def parse_next_steps(raw: Any) -> NextSteps:
    raw = raw if isinstance(raw, dict) else {}
    after = {str(k): [str(t) for t in (v or [])] for k, v in (raw.get("after") or {}).items()}
    results = {str(k): str(v) for k, v in (raw.get("results") or {}).items()}
    return NextSteps(after, results, [str(t) for t in raw.get("default") or []])


@lru_cache(maxsize=4)
def load_next_steps(path: Optional[str] = None) -> NextSteps:
    file = Path(path or os.environ.get(NEXT_STEPS_FILE_ENV) or DEFAULT_NEXT_STEPS_FILE)
    return parse_next_steps(yaml.safe_load(file.read_text(encoding="utf-8")))


def last_form(events: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The newest procedure (form) of the conversation, if any."""
    for event in reversed(events[-LOOKBACK_EVENTS:]):
        if event.get("event") == "active_loop" and event.get("name") in FORMS:
            return str(event["name"])
    return None


def say_did_not_help(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    steps: NextSteps,
    labels: Mapping[str, str],
) -> None:
    topic = steps.last_topic(tracker.events)
    buttons = [{"title": c.label, "payload": c.payload} for c in steps.choices(topic, labels)]
    buttons.append({"title": PERSON.label, "payload": PERSON.payload})
    response = "utter_did_not_help" if topic else "utter_did_not_help_no_topic"
    dispatcher.utter_message(response=response, buttons=buttons)


class ActionDidNotHelp(Action):
    """Apologise; offer the next steps of the topic just answered, and a person."""

    def __init__(
        self, steps: Optional[NextSteps] = None, labels: Optional[Mapping[str, str]] = None
    ) -> None:
        self._steps = steps
        self._labels = dict(labels) if labels is not None else None

    @property
    def steps(self) -> NextSteps:
        if self._steps is None:
            self._steps = load_next_steps()
        return self._steps

    @property
    def labels(self) -> Dict[str, str]:
        if self._labels is None:
            self._labels = load_topic_labels()
        return self._labels

    def name(self) -> Text:
        return "action_did_not_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        say_did_not_help(dispatcher, tracker, self.steps, self.labels)
        return []


class ActionTryAgain(ActionDidNotHelp):
    """Repeat the conversation's last procedure; with none, as "it did not help"."""

    def name(self) -> Text:
        return "action_try_again"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        form = last_form(tracker.events)
        if form:
            return [FollowupAction(form)]
        say_did_not_help(dispatcher, tracker, self.steps, self.labels)
        return []

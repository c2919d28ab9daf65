"""When the bot is unsure: ask with buttons for the likeliest topics.

A low-confidence message (``nlu_fallback``) gets "did you mean ...?" with
buttons for the two or three most likely topics, taken from the intent ranking
and, for FAQ topics, the ResponseSelector's ranking. A second miss straight
after is a rule (``data/rules/clarify.yml``): an honest "I could not
understand" with what the bot can do and whom to contact.

FAQ buttons send ``/choose_topic{"topic": "faq/<name>"}``, answered by
``action_answer_topic``; other topics send their intent (``/account_locked``),
so the normal rules for that intent apply.

In an English conversation (slot ``language`` = ``en``) the buttons carry the
English labels, and only topics with an English label are offered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.domain.language import ENGLISH, JAPANESE, LANGUAGE_SLOT
from bot.domain.next_steps import load_next_steps
from bot.domain.topics import MIN_TOPIC_SCORE, load_none_label
from bot.domain.topics import load_topic_labels as load_labels

FAQ_INTENT = "faq"
FALLBACK_INTENT = "nlu_fallback"
VAGUE_INTENT = "vague"
MAX_BUTTONS = 3

SLOT_TOPIC = "topic"
ACTION_CLARIFY = "action_clarify"


@dataclass(frozen=True)
class TopicChoice:
    key: str
    label: str
    score: float

    @property
    def payload(self) -> str:
        if self.key.startswith(FAQ_INTENT + "/"):
            return "/choose_topic" + json.dumps({"topic": self.key}, ensure_ascii=False)
        return "/" + self.key


# a person, offered beside the topics when the bot cannot help on its own (its
# label is the topic label of request_human, in the conversation's language)
PERSON = TopicChoice("request_human", "担当者に相談したい", 1.0)


def person_button(labels: Mapping[str, str]) -> Dict[str, str]:
    return {"title": labels.get(PERSON.key, PERSON.label), "payload": PERSON.payload}


def rank_topics(
    parse_data: Mapping[str, Any], labels: Mapping[str, str], limit: int = MAX_BUTTONS
) -> List[TopicChoice]:
    """The likeliest labelled topics of a parsed message, best first."""
    scores: Dict[str, float] = {}
    faq_ranking = (
        (parse_data.get("response_selector") or {}).get(FAQ_INTENT, {}).get("ranking") or []
    )
    for item in parse_data.get("intent_ranking") or []:
        name, confidence = item.get("name"), float(item.get("confidence") or 0.0)
        if not name or name == FALLBACK_INTENT:
            continue
        if name == FAQ_INTENT:
            for answer in faq_ranking:
                key = answer.get("intent_response_key")
                score = confidence * float(answer.get("confidence") or 0.0)
                if key:
                    scores[key] = max(scores.get(key, 0.0), score)
        else:
            scores[name] = max(scores.get(name, 0.0), confidence)
    ranked = sorted(
        (TopicChoice(k, labels[k], s) for k, s in scores.items() if k in labels and s >= MIN_TOPIC_SCORE),
        key=lambda c: c.score,
        reverse=True,
    )
    return ranked[:limit]


class TopicLabels:
    """Topic labels per language (``en``, else Japanese), each read once from the labels file."""

    def __init__(
        self,
        japanese: Optional[Mapping[str, str]] = None,
        english: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._by_language: Dict[str, Dict[str, str]] = {}
        if japanese is not None:
            self._by_language[JAPANESE] = dict(japanese)
        if english is not None:
            self._by_language[ENGLISH] = dict(english)

    def for_language(self, language: Optional[str]) -> Dict[str, str]:
        key = ENGLISH if language == ENGLISH else JAPANESE
        if key not in self._by_language:
            self._by_language[key] = load_labels(language=key)
        return self._by_language[key]


class ActionClarify(Action):
    """Ask which topic the member meant, with buttons."""

    def __init__(
        self,
        labels: Optional[Mapping[str, str]] = None,
        english_labels: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.topic_labels = TopicLabels(labels, english_labels)
        self._none: Dict[str, str] = {}

    @property
    def labels(self) -> Dict[str, str]:
        return self.labels_for(JAPANESE)

    def labels_for(self, language: str) -> Dict[str, str]:
        """Topic labels in ``language`` (``en``, else Japanese), read once."""
        return self.topic_labels.for_language(language)

    def none_label(self, language: str) -> str:
        key = ENGLISH if language == ENGLISH else JAPANESE
        if key not in self._none:
            self._none[key] = load_none_label(language=key)
        return self._none[key]

    def name(self) -> Text:
        return ACTION_CLARIFY

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        language = str(tracker.get_slot(LANGUAGE_SLOT) or JAPANESE)
        labels = self.labels_for(language)
        latest = tracker.latest_message or {}
        choices = rank_topics(latest, labels)
        if (latest.get("intent") or {}).get("name") == VAGUE_INTENT and len(choices) < 2:
            # "困っています": no topic to guess from; the commonest troubles, and a person
            common = [TopicChoice(k, labels[k], 1.0) for k in load_next_steps().keys(None, labels)]
            offered: Dict[str, TopicChoice] = {}
            for choice in [*choices, *common]:
                if choice.key != PERSON.key:  # a person is offered last, once
                    offered.setdefault(choice.key, choice)
            buttons = [{"title": c.label, "payload": c.payload} for c in list(offered.values())[:MAX_BUTTONS]]
            buttons.append(person_button(labels))
            dispatcher.utter_message(response="utter_clarify_vague", buttons=buttons)
            return []
        if not choices:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        buttons = [{"title": c.label, "payload": c.payload} for c in choices]
        buttons.append({"title": self.none_label(language), "payload": "/deny"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []


class ActionAnswerTopic(Action):
    """Answer the FAQ topic the member picked from the clarification buttons."""

    def name(self) -> Text:
        return "action_answer_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = tracker.get_slot(SLOT_TOPIC)
        response = f"utter_{topic}" if isinstance(topic, str) else None
        if response and response in (domain.get("responses") or {}):
            dispatcher.utter_message(response=response)
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        return [SlotSet(SLOT_TOPIC, None)]

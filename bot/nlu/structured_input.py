"""Messages whose meaning is in their form, not their words: decided by rule, not by DIET.

DIET guesses an intent from words. For some messages the form alone says
what they are, and a guess can only be wrong:

- a message that looks like a password (``bot.domain.normalize.looks_like_password``)
  gets the intent ``share_password`` (a rule answers "never share it"; inside a
  form the form's guard does the same), whatever DIET thought of its words;
- a message that is nothing but a value a form asks for (a user ID, an e-mail
  address, a birth date, a 6-digit code) gets ``inform``: random letters such
  as a ticket number or a user ID made DIET pick any topic at all, and a topic
  intent interrupts the form instead of filling it;
- an unlock ticket number anywhere in the message becomes the entity
  ``ticket_id`` (the slot of the same name), so 「UL-7F3K9Q の状況は？」
  needs no follow-up question; a message with a ticket number asks for that
  ticket's status (``ask_ticket_status``), unless DIET read it as asking for a
  person, stopping, saying no, thanks or goodbye (``KEEP_WITH_TICKET``): the
  number's random letters otherwise sway DIET to any topic.

The component runs after the FallbackClassifier and overrides it too: these
messages are certain, not "not understood". It is not trainable and reads no
model data; the patterns live in :mod:`bot.domain.normalize` with the form parsers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.domain.normalize import (
    TICKET_IN_TEXT_RE,
    bare_value_text,
    find_ticket_id,
    fold,
    looks_like_password,
    parse_birth_date,
    parse_email,
    parse_otp_code,
    parse_ticket_id,
    parse_user_id,
)

INTENT_SHARE_PASSWORD = "share_password"
INTENT_INFORM = "inform"
INTENT_ASK_TICKET_STATUS = "ask_ticket_status"
TICKET_ENTITY = "ticket_id"
# what the member wants done with the conversation: a ticket number quoted
# with one of these ("UL-7F3K9Q の件で担当者と話したい") keeps the intent
KEEP_WITH_TICKET = frozenset({"request_human", "stop", "deny", "goodbye", "thank"})
# intents this component sets that have no training examples of their own
INTENTS_SET_BY_RULE = frozenset({INTENT_SHARE_PASSWORD})

_ASCII_VALUE_RE = re.compile(r"[\x21-\x7e]+")


def is_bare_value(text: str) -> bool:
    """Whether the whole message is one value a form asks for, with nothing else."""
    value = bare_value_text(text).strip("。.、,")
    if not value:
        return False
    if parse_birth_date(value) or parse_otp_code(value) or parse_email(value):
        return True
    # a user ID: one token of ID characters, no spaces, with a digit or a separator
    # (a bare word such as "password" or "help" is not taken for one)
    return bool(
        _ASCII_VALUE_RE.fullmatch(value) and parse_user_id(value) and re.search(r"[0-9._@-]", value)
    )


def ticket_span(text: str, ticket_id: str) -> tuple[int, int]:
    """Where the ticket number stands in the message (the whole message if typed with spaces)."""
    folded = fold(text).upper()
    if len(folded) == len(text.strip()):
        offset = len(text) - len(text.lstrip())
        for m in TICKET_IN_TEXT_RE.finditer(folded):
            if parse_ticket_id(m.group(0)) == ticket_id:
                return m.start() + offset, m.end() + offset
    return 0, len(text)


def decide(text: str, guessed: Optional[str] = None) -> tuple[Optional[str], Optional[str]]:
    """(intent or None, ticket number or None) for a message's text and DIET's ``guessed`` intent."""
    ticket_id = find_ticket_id(text)
    if looks_like_password(text):
        return INTENT_SHARE_PASSWORD, None
    if ticket_id and parse_ticket_id(bare_value_text(text).strip("。.、,")):
        return INTENT_ASK_TICKET_STATUS, ticket_id
    if is_bare_value(text):
        return INTENT_INFORM, ticket_id
    if ticket_id and guessed not in KEEP_WITH_TICKET:
        # the ticket's random letters make DIET's guess about the rest unreliable
        return INTENT_ASK_TICKET_STATUS, ticket_id
    return None, ticket_id


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class StructuredInputClassifier(GraphComponent):
    """Sets the intent (and the ticket entity) of messages whose form says what they are."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "StructuredInputClassifier":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):  # button payloads are already exact
                continue
            guessed = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            intent, ticket_id = decide(unicodedata.normalize("NFC", text), guessed)
            if ticket_id:
                entities = [
                    e for e in message.get(ENTITIES, []) if e.get("entity") != TICKET_ENTITY
                ]
                start, end = ticket_span(text, ticket_id)
                entities.append(
                    {
                        "entity": TICKET_ENTITY,
                        "value": ticket_id,
                        "start": start,
                        "end": end,
                        "extractor": type(self).__name__,
                    }
                )
                message.set(ENTITIES, entities, add_to_output=True)
            if intent:
                self._set_intent(message, intent)
        return messages

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        chosen = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [
            r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != name
        ]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)

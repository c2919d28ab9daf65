"""Responses that speak for the member's own society.

Rasa's templated generator fills ``{variables}`` from slots and picks response
variations whose ``condition`` matches slot values. We add the facts of the
conversation's society (``bot.domain.societies.Society.template_variables``) to those
values, so ``domain.yml`` can say ``{portal_url}`` or have a variation with
``condition: [{type: slot, name: otp_method, value: totp}]`` and a new society
needs only a new entry in ``data/societies.yml``.

A conversation in English (slot ``language`` = ``en``, ``bot.domain.language``) gets
the English text of the same response from ``data/responses_en.yml``, with the
same facts and conditions; a response with no English text (or none whose
condition holds) becomes ``utter_english_scope``: what the bot answers in
English, and the offer of a person. Japanese conversations are unchanged.

Configured in ``endpoints.yml``::

    nlg:
      type: bot.nlg.SocietyNaturalLanguageGenerator
      responses_en_file: data/responses_en.yml   # optional; also $KOSMO_RESPONSES_EN_FILE
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.domain.language import ENGLISH_SCOPE_RESPONSE, is_english, load_english_responses
from bot.domain.societies import SOCIETY_SLOT, SocietyRegistry, load_registry

ANSWERED_WITH_KEY = "answered_with"


class SocietyNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Templated responses with the conversation's society facts filled in."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        registry: Optional[SocietyRegistry] = None,
        english_responses: Optional[Dict[Text, Any]] = None,
    ) -> None:
        super().__init__(domain.responses if domain else {})
        kwargs = (endpoint_config.kwargs if endpoint_config else None) or {}
        self.registry = registry or load_registry(kwargs.get("societies_file"))
        if english_responses is None:
            english_responses = load_english_responses(kwargs.get("responses_en_file"))
        self.english = TemplatedNaturalLanguageGenerator(english_responses)

    def values_for(self, slots: Dict[Text, Any]) -> Dict[Text, Any]:
        """Slot values overlaid with the facts of the society in the ``society`` slot."""
        society = self.registry.resolve(slots.get(SOCIETY_SLOT))
        return {**slots, **society.template_variables()}

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        values = self.values_for(tracker.current_slot_values())
        if is_english(values):
            return self.generate_english(utter_action, values, output_channel, **kwargs)
        return self.generate_from_slots(utter_action, values, output_channel, **kwargs)

    def generate_english(
        self, utter_action: Text, values: Dict[Text, Any], output_channel: Text, **kwargs: Any
    ) -> Optional[Dict[Text, Any]]:
        """The English text of ``utter_action``, else the English scope message (never Japanese)."""
        message = None
        if self.english.responses.get(utter_action):
            message = self.english.generate_from_slots(
                utter_action, values, output_channel, **kwargs
            )
        if message is None:
            message = self.english.generate_from_slots(
                ENGLISH_SCOPE_RESPONSE, values, output_channel, **kwargs
            )
            if message is not None:
                # kept in the bot event's metadata beside Rasa's `utter_action` (the
                # response the policy chose), so a reader of the tracker sees what was said
                message[ANSWERED_WITH_KEY] = ENGLISH_SCOPE_RESPONSE
        return message

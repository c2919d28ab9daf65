"""Rasa's serialised events with what a member typed masked: one masking for what is kept and shown.

The tracker store (``bot.tracker_store``), the handoff packet (``bot.handoff.packet``)
and the review broker (``bot.review.broker``) mask events here, by what each
message answered (:func:`requested_after`); what is sensitive in a text is
:mod:`bot.domain.masking`. Works on dicts (``Event.as_dict()``), so no Rasa import.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from bot.domain.masking import MASK, mask_member_text, mask_slot_value, sensitive_text
from bot.domain.messages import DISPLAY_TEXT_KEY
from bot.domain.societies import SOCIETY_SLOT

# Rasa's event type names and the form's slot (rasa.shared.core), spelled out
# so that this module needs no Rasa: "form" is the old name of "active_loop".
_SLOT_EVENT = "slot"
_USER_EVENT = "user"
_LOOP_EVENTS = frozenset({"active_loop", "form"})
REQUESTED_SLOT = "requested_slot"


def requested_after(event: Mapping[str, Any], requested: Optional[str]) -> Optional[str]:
    """The slot the bot is asking for after ``event``, given the one it asked for before.

    A form's ``requested_slot`` names it; a form that ends clears it. The one
    rule for everything that masks a member's answer by what it answered
    (:func:`mask_events_from`, the review broker in ``bot.review.broker``).
    """
    kind = event.get("event")
    if kind == _SLOT_EVENT and event.get("name") == REQUESTED_SLOT:
        value = event.get("value")
        return value if isinstance(value, str) else None
    if kind in _LOOP_EVENTS and event.get("name") is None:
        return None
    return requested


def mask_event_dicts(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of serialised events (``Event.as_dict()``), sensitive values replaced by ``****``.

    Works on dicts so that what Rasa stores (``bot.tracker_store``) and what
    the action server sees (rasa_sdk's ``tracker.events``) go through one
    masking: the handoff packet an agent reads (``bot.handoff.packet``) holds
    no more than the database. The input is never changed (only the changed
    levels are copied).
    """
    return mask_events_from(events, None)[0]


def mask_events_from(
    events: Iterable[Mapping[str, Any]], requested: Optional[str]
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """Mask ``events`` that follow a prefix whose form was asking for ``requested``.

    Returns the masked copies and the slot asked for after them, so that a
    conversation's new events can be masked without going over the old ones.
    A masked message loses its text and its entities (the society's stays).
    """
    out: list[dict[str, Any]] = []
    for event in events:
        data = dict(event)
        kind = data.get("event")
        requested = requested_after(data, requested)
        if kind == _SLOT_EVENT:
            name, value = data.get("name"), data.get("value")
            if name != REQUESTED_SLOT:
                data["value"] = mask_slot_value(name, value)
        elif kind == _USER_EVENT:
            text = data.get("text")
            text = text if isinstance(text, str) else ""
            metadata = data.get("metadata")
            shown = metadata.get(DISPLAY_TEXT_KEY) if isinstance(metadata, Mapping) else None
            # the title is shown only for a payload (bot.domain.messages.shown_text)
            if text.lstrip().startswith("/") and isinstance(shown, str) and sensitive_text(shown):
                data["metadata"] = {**metadata, DISPLAY_TEXT_KEY: MASK}  # type: ignore[dict-item]
            if mask_member_text(text, requested) != text:
                data["text"] = MASK
                parse = data.get("parse_data")
                if isinstance(parse, Mapping):
                    parse = data["parse_data"] = dict(parse)
                    parse["text"] = MASK
                    parse["entities"] = [
                        e
                        for e in parse.get("entities") or []
                        if isinstance(e, Mapping) and e.get("entity") == SOCIETY_SLOT
                    ]
        out.append(data)
    return out, requested

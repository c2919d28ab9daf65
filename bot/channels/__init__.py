"""Where members meet the bot: one module per Rasa channel.

- ``widget``: the chat widget on a society's portal page (socket.io, server-issued
  signed session ids); ``credentials.yml`` key ``bot.channels.widget.WidgetInput``.
- ``line``: the society's LINE official account (Messaging API webhook);
  ``credentials.yml`` key ``bot.channels.line.LineInput``.

- ``rest``: Rasa's REST webhook, for development, tests and a trusted server;
  ``credentials.yml`` key ``bot.channels.rest.SocietyRestInput``.

All put the member's society in the message metadata as ``{"tenant": <key>}``
(``METADATA_KEY``, the society's wire name, ``bot.domain.societies``), which
``bot.nlu.society_resolver.SocietyResolver`` turns into the ``society`` slot,
and hand their messages to Rasa through ``bot.channels.input_bounds`` (length,
metadata and payloads bounded before anything else runs).
"""

from __future__ import annotations

import json

from bot.domain.societies import SOCIETY_SLOT


def with_society_entity(text: str, society: str) -> str:
    """An intent payload (``/intent``, ``/intent{"topic": ...}``) that also names the society.

    Rasa parses a message starting with ``/`` with its RegexMessageHandler, which replaces
    the entities the NLU pipeline found, ``SocietyResolver``'s ``society`` included: a
    button press, a LINE follow or rich-menu postback, or the widget's opening greeting
    would otherwise not set the ``society`` slot, and a new conversation would be answered
    for the default society. So the channel writes the society into the payload's
    entities (the channel's society wins over one in the payload). Other text is
    returned unchanged.

    White space around the text is stripped first (``str.strip``, every Unicode space),
    as Rasa does before it looks for the ``/`` (``YAMLStoryReader.unpack_regex_message``):
    `` /greet{"society": "ono"}`` is a payload to Rasa, so it is one here too. The
    channels do not call this themselves: ``bot.channels.input_bounds.bounded_message``
    does, for every channel, with the society the channel hands in.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    head, brace, rest = stripped.partition("{")
    entities = {}
    if brace:
        try:
            entities = json.loads(brace + rest)
        except ValueError:
            return text
        if not isinstance(entities, dict):
            return text
    entities[SOCIETY_SLOT] = society
    return head.rstrip() + json.dumps(entities, ensure_ascii=False)

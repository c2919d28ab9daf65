"""The helpdesk's own knowledge, with no Rasa and no web framework in it.

What the bot knows about societies and members, whatever process asks: the Rasa
server (NLU components, channels, tracker store, NLG), the action server, the
handoff console, the reference portal and the tests all take it from here.

- ``societies``: the societies (``data/societies.yml`` read and checked), the slot
  that holds a conversation's society and its wire name (``METADATA_KEY``);
  ``society_facts``: one society's facts and the ``{variables}`` responses use;
  ``helpdesk_hours``: when a society's helpdesk people answer;
- ``portal_contract``: what the bot and the society's portal must agree on;
- ``normalize``: what members type -> the values the portal expects;
- ``masking``, ``masking_events``: what must not be kept as typed, in a text and in
  Rasa's serialised events;
- ``messages``: a member's message as the channels record it (metadata keys) and as
  the member saw it (a button's title, not its payload);
- ``topics``, ``next_steps``: topic labels and what a member meets next;
  ``language``: the conversation's language and the English texts;
- ``kana_terms``, ``kana_romaji``: kana, width and romaji spellings of the training
  data's katakana terms.

The rule (``docs/architecture.md``, ``tests/test_layers.py``): a module here imports
the standard library, data and text libraries (yaml, jaconv, sudachipy), the other
modules here and ``bot.settings``; never rasa, rasa_sdk, sanic, aiohttp, sqlalchemy
or tensorflow, and no other package of ``bot``. Importing this package imports none
of its modules.
"""

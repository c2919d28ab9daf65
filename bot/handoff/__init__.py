"""Human handoff: conversations the bot hands to helpdesk people of the member's society.

``store`` keeps handoffs, their messages, agents and console sessions (one SQL
database shared by the Rasa server and the action server); ``console`` is the
agents' web app as a Sanic blueprint (only the Rasa server mounts it,
``bot.channels.agent_console``); ``packet`` is what the agent reads first;
``gate`` keeps the bot silent while people have a conversation; ``cli`` manages
agents (``python -m bot.handoff ...``). Nothing here connects or reads the
environment at import time: build a :class:`~bot.handoff.store.HandoffStore`
(``HandoffStore.from_env()``) and hand it in.

Importing the package imports none of its modules, so the action server, which
needs the store and the packet, does not load the console's web framework.
"""

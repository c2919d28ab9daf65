"""Human handoff: conversations the bot hands to helpdesk people of the member's society.

``store`` keeps handoffs, their messages, agents and console sessions (one SQL
database shared by the Rasa server and the action server); ``console`` is the
agents' web app as a Sanic blueprint; ``cli`` manages agents
(``python -m bot.handoff ...``). Nothing here connects or reads the environment
at import time: build a :class:`HandoffStore` (``HandoffStore.from_env()``) and
hand it in.
"""

from bot.handoff.console import console_blueprint
from bot.handoff.console_views import MemberLink
from bot.handoff.models import Agent, Handoff, Message
from bot.handoff.store import HandoffStore
from bot.handoff.store_errors import (
    AgentExists,
    AgentNotFound,
    HandoffClosed,
    HandoffError,
    HandoffNotFound,
    InvalidValue,
    NotAssigned,
    UnknownSociety,
    WeakPassword,
)

__all__ = [
    "Agent",
    "AgentExists",
    "AgentNotFound",
    "Handoff",
    "HandoffClosed",
    "HandoffError",
    "HandoffNotFound",
    "HandoffStore",
    "InvalidValue",
    "MemberLink",
    "Message",
    "NotAssigned",
    "UnknownSociety",
    "WeakPassword",
    "console_blueprint",
]

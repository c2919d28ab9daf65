"""Everything the handoff store (``bot.handoff.store``) refuses, one tree under :class:`HandoffError`::

    HandoffError
    ├── HandoffNotFound     no such handoff, or one of another society
    ├── HandoffClosed       the handoff has ended (returned, closed, left)
    ├── NotAssigned         an agent acts on a handoff another agent holds (or nobody)
    ├── AgentExists         the login is taken
    ├── AgentNotFound       no agent with that login
    ├── UnknownSociety      not one of the known societies
    ├── InvalidValue        a malformed login, name, channel, author, ...
    └── WeakPassword        shorter than 12 characters

Callers catch :class:`HandoffError` for all of them, or one of its kinds.
"""


class HandoffError(Exception):
    """Base of everything the store refuses."""


class HandoffNotFound(HandoffError):
    """No such handoff (or it belongs to another society than the agent's)."""


class HandoffClosed(HandoffError):
    """The handoff has ended; nobody can take it or write to it any more."""


class NotAssigned(HandoffError):
    """The agent does not hold this handoff (take it first)."""


class AgentExists(HandoffError):
    """An agent with this login exists already."""


class AgentNotFound(HandoffError):
    """No agent with this login."""


class UnknownSociety(HandoffError):
    """The society is not one of those the store was told about."""


class InvalidValue(HandoffError):
    """A value of the wrong form (login, display name, channel, author, text)."""


class WeakPassword(HandoffError):
    """The password is too short."""

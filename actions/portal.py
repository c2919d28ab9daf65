"""What every portal-calling action shares: the client, the society, the apology.

:class:`PortalAction` is the base of the actions that call the portal: it
opens the client, runs the action's call, answers a portal error, and ends
the form (``actions.forms_common.cleared``). Each action only says what it
asks the portal and what it tells the member.

Actions reach the portal only through :class:`bot.portal_client.PortalClient`
built here with an explicit timeout (``PORTAL_TIMEOUT``, below Rasa's bound on
the action server, see ``bot.speedups.action_timeout``).
A portal that is down, slow, rate-limiting or refusing becomes one
member-facing answer (:func:`apologise`): an apology and what to try, then
the offer of a person (``action_offer_handoff`` follows). The conversation goes on.

Every call names the member it is made for (``member=member_of(client, tracker)``):
the client sends a signed, keyed digest of the sender id (``bot.portal_client.member``),
on which the portal keys its per-member limits and which alone may read an
unlock ticket it opened, and a digest of the *origin* the channel recorded in the
latest user message's metadata (``bot.channels.origin``: the widget's or REST
caller's address, the LINE user), on which the portal keeps per-origin limits that
fresh sender ids do not reset. One member using up their budget never blocks another.

Dependencies are handed in: each :class:`PortalAction` has a ``client_factory``
(default :func:`client_from_env`) that tests replace to point at a portal of
their own; nothing connects when this module is imported.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Awaitable, Callable, List, Mapping, Optional, Text, Type

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.forms_common import REASON_PORTAL_DOWN, cleared, offer_handoff
from bot.domain.messages import ORIGIN_KEY, ORIGIN_RE
from bot.domain.societies import SOCIETY_SLOT, Society, SocietyRegistry, load_registry
from bot.portal_client import (
    PortalClient,
    PortalError,
    PortalRateLimited,
)
from bot.portal_client.member import Member

logger = logging.getLogger(__name__)

PORTAL_TIMEOUT = 3.0


ClientFactory = Callable[[], PortalClient]
PortalCall = Callable[[PortalClient], Awaitable[None]]


def client_from_env() -> PortalClient:
    """The portal client from ``KOSMO_PORTAL_URL`` / ``KOSMO_PORTAL_SERVICE_TOKEN``."""
    return PortalClient.from_env(timeout=PORTAL_TIMEOUT)


@lru_cache(maxsize=1)
def society_registry() -> SocietyRegistry:
    return load_registry()


def society_of(tracker: Tracker) -> Society:
    """The member's society (the ``society`` slot, else the default society)."""
    return society_registry().resolve(tracker.get_slot(SOCIETY_SLOT))


def origin_of(tracker: Tracker) -> Optional[str]:
    """The origin the channel recorded in the latest user message's metadata, or None
    (a conversation from before origins, or a message that did not come through a channel)."""
    metadata = (tracker.latest_message or {}).get("metadata")
    origin = metadata.get(ORIGIN_KEY) if isinstance(metadata, Mapping) else None
    return origin if isinstance(origin, str) and ORIGIN_RE.fullmatch(origin) else None


def member_of(client: PortalClient, tracker: Tracker) -> Member:
    """Who a portal call is made for: the conversation's member and the channel's origin."""
    return client.member_of(tracker.sender_id, origin_of(tracker))


def apologise(dispatcher: CollectingDispatcher, error: PortalError) -> List[EventType]:
    """Tell the member the portal could not help just now and what to try; a person is offered next."""
    logger.warning("portal call failed: %s (%s)", type(error).__name__, error.message)
    if isinstance(error, PortalRateLimited):
        dispatcher.utter_message(response="utter_portal_rate_limited")
    else:
        dispatcher.utter_message(response="utter_portal_unavailable")
    return offer_handoff(REASON_PORTAL_DOWN)


class PortalAction(Action, ABC):
    """An action that asks the portal one thing, tells the member the answer, and ends the form.

    Abstract, so the action server does not register the base itself.
    """

    client_factory: ClientFactory = staticmethod(client_from_env)  # type: ignore[assignment]

    @abstractmethod
    def name(self) -> Text: ...

    async def call_portal(
        self,
        dispatcher: CollectingDispatcher,
        call: PortalCall,
        *,
        on_error: Optional[Mapping[Type[PortalError], str]] = None,
    ) -> List[EventType]:
        """Run ``call`` with a client; a portal error becomes its response in ``on_error``
        (the first kind that matches, in order), else :func:`apologise`. Returns :func:`cleared`.
        """
        try:
            async with self.client_factory() as client:
                await call(client)
        except PortalError as e:
            response = next(
                (r for kind, r in (on_error or {}).items() if isinstance(e, kind)), None
            )
            if response is None:
                return [*cleared(), *apologise(dispatcher, e)]
            dispatcher.utter_message(response=response)
        return cleared()

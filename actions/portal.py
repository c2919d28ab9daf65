"""What every portal-calling action shares: the client, the society, the apology.

Actions reach the portal only through :class:`bot.portal_client.PortalClient`
built here with an explicit timeout (``PORTAL_TIMEOUT``, below Rasa's bound on
the action server, see ``bot.tracker_store.bound_action_server_timeout``).
A portal that is down, slow, rate-limiting or refusing becomes one
member-facing answer (:func:`apologise`): an apology, what to try, and the
offer of a person. The conversation goes on.

Dependencies are handed in: each action class has a ``client_factory``
(default :func:`client_from_env`) that tests replace to point at a portal of
their own; nothing connects when this module is imported.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import Any, Callable, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.portal_client import (
    PortalClient,
    PortalError,
    PortalRateLimited,
)
from bot.tenants import Tenant, TenantRegistry, load_registry

logger = logging.getLogger(__name__)

PORTAL_TIMEOUT = 3.0
SLOT_TENANT = "tenant"
SLOT_FAILURES = "failed_attempts"
MAX_FAILURES = 2


ClientFactory = Callable[[], PortalClient]


def client_from_env() -> PortalClient:
    """The portal client from ``KOSMO_PORTAL_URL`` / ``KOSMO_PORTAL_SERVICE_TOKEN``."""
    return PortalClient.from_env(timeout=PORTAL_TIMEOUT)


@lru_cache(maxsize=1)
def _registry() -> TenantRegistry:
    return load_registry()


def tenant_of(tracker: Tracker) -> Tenant:
    """The member's society (the ``tenant`` slot, else the default society)."""
    return _registry().resolve(tracker.get_slot(SLOT_TENANT))


def conversation_digest(tracker: Tracker) -> str:
    """What the portal rate-limits per conversation by: a digest, never the sender id itself."""
    return hashlib.sha256(tracker.sender_id.encode("utf-8")).hexdigest()[:32]


def apologise(dispatcher: CollectingDispatcher, error: PortalError) -> None:
    """Tell the member the portal could not help just now, what to try, and offer a person."""
    logger.warning("portal call failed: %s (%s)", type(error).__name__, error.message)
    if isinstance(error, PortalRateLimited):
        dispatcher.utter_message(response="utter_portal_rate_limited")
    else:
        dispatcher.utter_message(response="utter_portal_unavailable")
    dispatcher.utter_message(response="utter_request_human")


def failures(tracker: Tracker) -> int:
    try:
        return int(tracker.get_slot(SLOT_FAILURES) or 0)
    except (TypeError, ValueError):
        return 0


def reject(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, *, response: str
) -> Dict[Text, Any]:
    """A value that is not of the expected form: explain; after two misses, offer a person too."""
    count = failures(tracker) + 1
    dispatcher.utter_message(response=response)
    if count >= MAX_FAILURES:
        dispatcher.utter_message(response="utter_request_human")
        count = 0
    return {slot: None, SLOT_FAILURES: float(count)}


def accept(slot: str, value: Any) -> Dict[Text, Any]:
    return {slot: value, SLOT_FAILURES: 0.0}


def reset(*slots: str) -> List[Dict[Text, Any]]:
    events = [SlotSet(s, None) for s in slots] + [SlotSet(SLOT_FAILURES, 0.0)]
    return events  # type: ignore[return-value]

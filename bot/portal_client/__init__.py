"""Client of the portal's helpdesk API, used by every action. See :mod:`.client` and :mod:`.errors`."""

from bot.portal_client.client import (
    DEFAULT_PORTAL_URL,
    Accepted,
    PortalClient,
    TotpDiagnosis,
    UnlockTicket,
)
from bot.portal_client.errors import (
    PortalAuthError,
    PortalConfigError,
    PortalError,
    PortalNotFound,
    PortalNotSupported,
    PortalRateLimited,
    PortalRejected,
    PortalUnavailable,
)

__all__ = [
    "DEFAULT_PORTAL_URL",
    "Accepted",
    "PortalAuthError",
    "PortalClient",
    "PortalConfigError",
    "PortalError",
    "PortalNotFound",
    "PortalNotSupported",
    "PortalRateLimited",
    "PortalRejected",
    "PortalUnavailable",
    "TotpDiagnosis",
    "UnlockTicket",
]

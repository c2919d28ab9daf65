"""Errors of the portal client. Actions catch :class:`PortalError` once.

::

    PortalError                  anything that kept the portal from answering as hoped
    ├── PortalConfigError        no URL or token to reach the portal with
    ├── PortalUnavailable        connection refused, timeout, 5xx, unreadable answer
    ├── PortalAuthError          401 / 403: our service token was refused
    ├── PortalRateLimited        429; .retry_after seconds
    └── PortalRejected           other 4xx; .field names the request field at fault
        ├── PortalNotFound       404: no such ticket for this society
        └── PortalNotSupported   409: the society uses the other OTP method

Every error carries ``status`` (HTTP status, or None when there was no
answer), ``code`` (the portal's stable error code) and a message meant for
logs, never for members. The codes are the contract's (``bot.domain.portal_contract``).
"""

from __future__ import annotations

from bot.domain.portal_contract import ERROR_OTP_METHOD_MISMATCH, ERROR_RATE_LIMITED, SOCIETY_FIELD


class PortalError(Exception):
    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field


class PortalConfigError(PortalError):
    """``KOSMO_PORTAL_URL`` or ``KOSMO_PORTAL_SERVICE_TOKEN`` is missing or malformed."""


class PortalUnavailable(PortalError):
    """The portal did not answer usefully: down, slow, failing, or speaking nonsense."""


class PortalAuthError(PortalError):
    """Our service token was refused (401) or the API is not enabled for it (403)."""


class PortalRateLimited(PortalError):
    def __init__(self, message: str, *, retry_after: int, status: int | None = 429,
                 code: str | None = ERROR_RATE_LIMITED, field: str | None = None) -> None:
        super().__init__(message, status=status, code=code, field=field)
        self.retry_after = retry_after


class PortalRejected(PortalError):
    """The portal refused the request as given; ``field`` says which value."""


class PortalNotFound(PortalRejected):
    """No such object (an unlock ticket id that does not exist for this society)."""


class PortalNotSupported(PortalRejected):
    """The endpoint does not apply to this society (email OTP vs authenticator app)."""

    def __init__(self, message: str, *, otp_method: str | None = None, status: int | None = 409,
                 code: str | None = ERROR_OTP_METHOD_MISMATCH, field: str | None = SOCIETY_FIELD) -> None:
        super().__init__(message, status=status, code=code, field=field)
        self.otp_method = otp_method

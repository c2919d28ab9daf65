"""Errors the portal answers with; each becomes one JSON body ``{"error", "field", "message"}``."""

from __future__ import annotations


class ApiError(Exception):
    """An answer other than success, with the HTTP status and a stable error code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, object]:
        return {"error": self.code, "field": self.field, "message": self.message, **self.extra}


def invalid_credentials() -> ApiError:
    """The one answer for unknown ID, wrong password and locked account alike."""
    return ApiError(401, "invalid_credentials", "invalid user ID or password")


def invalid_code() -> ApiError:
    return ApiError(401, "invalid_code", "the one-time password is not valid", "code")


def session_invalid() -> ApiError:
    return ApiError(401, "session_invalid", "the login session is unknown or has expired", "session")


def wrong_step(expected: str) -> ApiError:
    return ApiError(409, "wrong_step", f"this login session is at step {expected!r}", "session",
                    extra={"next_step": expected})

"""What the portal's route groups share: reading a request, errors as answers, the audit.

:func:`_json_body` reads a JSON object and refuses unknown fields; :func:`_check_bearer`
checks an API's bearer token; :func:`_client_ip` is the caller's address (trusted
proxies honoured); ApiError, ValidationError and RateLimited become JSON answers
(:func:`_error`); :func:`_audited` wraps a helpdesk or admin handler so that every
call is authenticated and writes one audit row whatever its outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Callable, Coroutine

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.domain.portal_contract import (
    ERROR_OTP_METHOD_MISMATCH,
    ERROR_RATE_LIMITED,
    ERROR_VALIDATION,
    SOCIETY_FIELD,
)
from bot.domain.societies import OTP_EMAIL, Society
from bot.shared_secret import bearer_matches
from dev.portal import audit
from dev.portal.audit import AuditRecord
from dev.portal.errors import ApiError
from dev.portal.ratelimit import RateLimited
from dev.portal.security import identity_from_headers
from dev.portal.settings import PortalSettings
from dev.portal.validation import ValidationError, reject_unknown_fields, require_object

if TYPE_CHECKING:
    from dev.portal.app import Portal

JST = dt.timezone(dt.timedelta(hours=9))
ACCEPTED_BODY = {
    "status": "accepted",
    "message": "If the details match a member with a registered address, mail is on its way.",
}


def _error(e: ApiError) -> HTTPResponse:
    return json_response(e.body(), status=e.status, headers=e.headers)


def _validation_error(e: ValidationError) -> ApiError:
    return ApiError(422, ERROR_VALIDATION, e.message, e.field, extra={"reason": e.code})


def _client_ip(request: Request, settings: PortalSettings) -> str:
    """The caller's address (:class:`bot.client_address.ClientAddresses`): the peer, or,
    with ``KOSMO_PORTAL_TRUST_FORWARDED_FOR`` on a request from one of
    ``KOSMO_PORTAL_TRUSTED_PROXIES``, the nearest ``X-Forwarded-For`` entry that is not
    a trusted proxy, read from the right across all its lines (a client may send a line
    and entries of its own, a proxy appends). An IPv6 caller counts as its /64."""
    return settings.client_addresses.client_of(request.ip, request.headers)


def _check_bearer(request: Request, expected: str | None, realm: str) -> None:
    if expected is None:
        raise ApiError(403, "forbidden", f"the {realm} API is not enabled on this portal")
    if not bearer_matches(request.headers.get("Authorization"), expected):
        raise ApiError(
            401, "unauthorized", "a valid bearer token is required", "Authorization",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )


def _json_body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        raw = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON", "body") from None
    body = dict(require_object(raw))
    reject_unknown_fields(body, allowed)
    return body


def _otp_method_mismatch(society: Society, wanted: str) -> ApiError:
    what = "email one-time passwords" if wanted == OTP_EMAIL else "an authenticator app (TOTP)"
    return ApiError(
        409, ERROR_OTP_METHOD_MISMATCH,
        f"society {society.key!r} does not use {what}; it uses {society.otp_method}", SOCIETY_FIELD,
        extra={"otp_method": society.otp_method},
    )


def _today(portal: Portal) -> dt.date:
    return portal.clock.now().astimezone(JST).date()


def _rate_limited(e: RateLimited) -> ApiError:
    return ApiError(
        429, ERROR_RATE_LIMITED, "too many requests; try again later", None,
        headers={"Retry-After": str(e.retry_after)}, extra={"retry_after": e.retry_after},
    )


Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def _audited(
    portal: Portal, endpoint: str, token_of: Callable[[], str | None], realm: str
) -> Callable[[Handler], Handler]:
    """Authenticate (the bearer token, then the member's signature), run, and write
    one audit row whatever the outcome."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: Request, **kwargs: Any) -> HTTPResponse:
            record = AuditRecord(endpoint=endpoint, client=_client_ip(request, portal.settings))
            try:
                _check_bearer(request, token_of(), realm)
                record.member, record.origin = identity_from_headers(request.headers, portal.member_key)
                response = await handler(request, record, **kwargs)
            except ApiError as e:
                response = _error(e)
                record.outcome = record.outcome or e.code
            except ValidationError as e:
                response = _error(_validation_error(e))
                record.outcome = f"invalid:{e.field}"[:48]
            except RateLimited as e:
                response = _error(_rate_limited(e))
                record.outcome = f"rate_limited:{e.scope}"
            record.status = response.status
            now = portal.clock.now()
            await portal.db.run(lambda s: audit.write(s, record, now))
            return response

        run.__name__ = handler.__name__
        return run

    return wrap

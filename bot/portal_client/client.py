"""The one client the bot's actions use to call the portal's helpdesk API.

Async (aiohttp) with an explicit total timeout per call, so a slow portal
costs one member a few seconds and never stalls the action server's loop.
Answers become frozen dataclasses; every failure becomes a
:class:`~bot.portal_client.errors.PortalError` subclass, never a raw
aiohttp exception or traceback.

Member identity: every call may name the member it is made for
(``member=client.member_of(tracker.sender_id, origin)``, ``origin`` being what
the channel recorded in the message metadata, ``bot.channels.origin``); the
client sends the member id, the origin id and their signature
(:mod:`bot.portal_client.member`), and the portal keys its per-member and
per-origin limits, and unlock-ticket visibility, on them.

Retries: only :meth:`PortalClient.get_unlock_ticket` (a GET) is retried, on
connection errors, timeouts and 502/503/504. The POSTs are not idempotent:
repeating ``resend_otp`` would mail a second code and kill the first, a
repeated ``open_unlock_ticket`` comes back as "already open" (the portal keeps
one open ticket per user ID), and every repeat counts against the member's
rate limit, so after a timeout we cannot know
whether the first attempt already took effect. The bot says "try again
later" instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import aiohttp

from bot.domain.portal_contract import ERROR_NOT_FOUND, ERROR_OTP_METHOD_MISMATCH, SOCIETY_FIELD
from bot.portal_client import member as member_ids
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
from bot.settings import DEFAULT_PORTAL_URL as DEFAULT_PORTAL_URL
from bot.settings import PortalSettings, reveal

DEFAULT_TIMEOUT = 3.0
_RETRY_STATUSES = frozenset({502, 503, 504})
# who a call is made for: a Member (from PortalClient.member_of), a bare member id, or no one
MemberArg = member_ids.Member | str | None


@dataclass(frozen=True)
class Accepted:
    """The portal took the request; whether mail went out is deliberately not said."""

    message: str


@dataclass(frozen=True)
class UnlockTicket:
    ticket_id: str
    society: str
    status: str  # "open" | "closed"
    resolution: str | None  # None | "unlocked" | "rejected"
    created_at: dt.datetime
    closed_at: dt.datetime | None
    already_open: bool = False  # opening: the account already had this open ticket

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def unlocked(self) -> bool:
        return self.resolution == "unlocked"


@dataclass(frozen=True)
class TotpDiagnosis:
    """Where the member's authenticator code falls relative to the portal's clock."""

    result: str  # "match" | "nearby" | "no_match"
    step_offset: int | None
    offset_seconds: int | None  # + : the phone's clock is ahead; − : behind
    window_steps: int
    step_seconds: int

    @property
    def matches(self) -> bool:
        return self.result == "match"

    @property
    def nearby(self) -> bool:
        return self.result == "nearby"


def _parse_time(value: Any, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise PortalUnavailable(f"portal sent an unreadable {what}: {value!r}") from None


class PortalClient:
    """Calls the helpdesk API; share one instance (and its session) across actions.

    ``session``: an aiohttp session to use (not closed by us); otherwise one
    is created on first use and closed by :meth:`aclose`.
    ``member`` on each call is optional: a member from :meth:`member_of` (or a bare
    member id); the portal rate-limits per member and per origin when it is given,
    and tells an unlock ticket's status only to the member that opened it. ``member_key``: the signing key
    (``KOSMO_MEMBER_ID_KEY``); None derives it from the token, as the portal does.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        *,
        get_retries: int = 2,
        retry_backoff: float = 0.2,
        member_key: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise PortalConfigError(f"portal URL must start with http:// or https://, got {base_url!r}")
        if not token:
            raise PortalConfigError("portal service token is empty")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._get_retries = max(0, get_retries)
        self._retry_backoff = retry_backoff
        self._member_key = member_ids.member_key(member_key, token)

    def __repr__(self) -> str:
        return f"PortalClient({self.base_url!r}, timeout={self.timeout})"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> "PortalClient":
        """From ``KOSMO_PORTAL_URL`` (default http://127.0.0.1:8080), ``KOSMO_PORTAL_SERVICE_TOKEN``
        and ``KOSMO_MEMBER_ID_KEY`` (optional).

        The token is required: the reference portal's development token is a dev tool's
        secret (``dev.portal.settings``), not part of the contract; the dev stack hands
        both sides one token (``dev.stack``).
        """
        settings = PortalSettings.from_env(environ)
        token = reveal(settings.service_token)
        if not token:
            raise PortalConfigError("KOSMO_PORTAL_SERVICE_TOKEN is not set")
        return cls(settings.url, token, timeout=timeout, session=session,
                   member_key=reveal(settings.member_id_key) or None)

    def member_of(self, sender_id: str, origin: str | None = None) -> member_ids.Member:
        """What to pass as ``member=`` for a Rasa sender id and the origin its channel
        recorded (``None``: none recorded; the portal then counts the member as its origin).
        Both become keyed digests."""
        return member_ids.Member(
            member_ids.member_id_for(sender_id, self._member_key),
            member_ids.origin_id_for(origin, self._member_key) if origin else None,
        )

    async def __aenter__(self) -> "PortalClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise PortalConfigError("the aiohttp session handed to PortalClient is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    # ------------------------------------------------------------------ calls

    async def resend_otp(self, society: str, user_id: str, *, member: MemberArg = None) -> Accepted:
        """Email-OTP societies: mail a fresh code (the previous one stops working).

        Raises PortalNotSupported for an authenticator society.
        """
        data = await self._request("POST", "/api/v1/otp/resend", {SOCIETY_FIELD: society, "user_id": user_id},
                                   member=member)
        return Accepted(message=str(data.get("message", "")))

    async def send_user_id_reminder(self, society: str, email: str, *, member: MemberArg = None) -> Accepted:
        """Mail the user ID(s) registered with a verified ``email``."""
        data = await self._request("POST", "/api/v1/reminders/user-id", {SOCIETY_FIELD: society, "email": email},
                                   member=member)
        return Accepted(message=str(data.get("message", "")))

    async def open_unlock_ticket(
        self, society: str, user_id: str, birth_date: dt.date, *, member: MemberArg = None
    ) -> UnlockTicket:
        """Open an unlock request; staff verify user ID + birth date and unlock.

        One ticket is open per user ID: when one already is, its number comes back
        with ``already_open`` set (whoever opened it; nothing says whether it matched).
        """
        if not isinstance(birth_date, dt.date):
            raise TypeError("birth_date must be a datetime.date")
        body = {SOCIETY_FIELD: society, "user_id": user_id, "birth_date": birth_date.isoformat()}
        data = await self._request("POST", "/api/v1/unlock-tickets", body, member=member)
        return self._ticket(data)

    async def get_unlock_ticket(self, society: str, ticket_id: str, *, member: MemberArg = None) -> UnlockTicket:
        """Read a ticket; retried on transient failures because reading changes nothing.

        Only the member that opened the ticket is told it: for anyone else (or no
        ``member``) the portal answers as for an unknown number (PortalNotFound).
        """
        data = await self._request("GET", f"/api/v1/unlock-tickets/{_path_segment(ticket_id)}",
                                   params={SOCIETY_FIELD: society}, member=member,
                                   retries=self._get_retries)
        return self._ticket(data)

    async def diagnose_totp(self, society: str, user_id: str, code: str, *, member: MemberArg = None) -> TotpDiagnosis:
        """Authenticator societies: does ``code`` match now, a nearby step, or nothing?"""
        data = await self._request("POST", "/api/v1/otp/diagnose",
                                   {SOCIETY_FIELD: society, "user_id": user_id, "code": code},
                                   member=member)
        try:
            result = data["result"]
            if result not in ("match", "nearby", "no_match"):
                raise ValueError(result)
            return TotpDiagnosis(
                result=result,
                step_offset=_opt_int(data.get("step_offset")),
                offset_seconds=_opt_int(data.get("offset_seconds")),
                window_steps=int(data.get("window_steps", 3)),
                step_seconds=int(data.get("step_seconds", 30)),
            )
        except (KeyError, TypeError, ValueError):
            raise PortalUnavailable(f"portal sent an unreadable diagnosis: {data!r}") from None

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _ticket(data: Mapping[str, Any]) -> UnlockTicket:
        try:
            return UnlockTicket(
                ticket_id=str(data["ticket_id"]),
                society=str(data[SOCIETY_FIELD]),
                status=str(data["status"]),
                resolution=data.get("resolution"),
                created_at=_parse_time(data["created_at"], "created_at"),
                closed_at=_parse_time(data["closed_at"], "closed_at") if data.get("closed_at") else None,
                already_open=data.get("already_open") is True,
            )
        except (KeyError, TypeError):
            raise PortalUnavailable(f"portal sent an unreadable ticket: {data!r}") from None

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        member: MemberArg = None,
        retries: int = 0,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if isinstance(member, str):
            member = member_ids.Member(member)
        if member:
            headers.update(member_ids.headers_for(self._member_key, member.id, member.origin))
        attempt = 0
        while True:
            try:
                return await self._once(method, path, body, params, headers)
            except PortalUnavailable as e:
                if attempt >= retries or (e.status is not None and e.status not in _RETRY_STATUSES):
                    raise
            attempt += 1
            await asyncio.sleep(self._retry_backoff * attempt)

    async def _once(
        self, method: str, path: str, body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None, headers: Mapping[str, str],
    ) -> dict[str, Any]:
        url = self.base_url + path
        try:
            async with self._client_session().request(
                method, url, json=body, params=params, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                status = resp.status
                raw = await resp.read()
                retry_after_header = resp.headers.get("Retry-After")
        except asyncio.TimeoutError:
            raise PortalUnavailable(f"portal did not answer {method} {path} within {self.timeout}s") from None
        except aiohttp.ClientError as e:
            raise PortalUnavailable(f"cannot reach the portal for {method} {path}: {e}") from None
        data = _json_or_none(raw)
        if 200 <= status < 300:
            if not isinstance(data, dict):
                raise PortalUnavailable(f"portal answered {status} without a JSON object", status=status)
            return data
        raise _error_for(status, data if isinstance(data, dict) else {}, retry_after_header, method, path)


def _json_or_none(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _path_segment(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


def _error_for(status: int, data: Mapping[str, Any], retry_after: str | None, method: str, path: str) -> PortalError:
    code = data.get("error") if isinstance(data.get("error"), str) else None
    field = data.get("field") if isinstance(data.get("field"), str) else None
    message = f"{method} {path}: {status} {code or ''} {data.get('message', '')}".strip()
    if status >= 500:
        return PortalUnavailable(message, status=status, code=code)
    if status in (401, 403):
        return PortalAuthError(message, status=status, code=code, field=field)
    if status == 429:
        seconds = _retry_seconds(retry_after, data.get("retry_after"))
        return PortalRateLimited(message, retry_after=seconds, status=status, code=code, field=field)
    if status == 404:
        return PortalNotFound(message, status=status, code=code or ERROR_NOT_FOUND, field=field)
    if status == 409 and code == ERROR_OTP_METHOD_MISMATCH:
        method_name = data.get("otp_method") if isinstance(data.get("otp_method"), str) else None
        return PortalNotSupported(message, otp_method=method_name, status=status, code=code, field=field or SOCIETY_FIELD)
    return PortalRejected(message, status=status, code=code, field=field)


def _retry_seconds(header: str | None, body_value: Any) -> int:
    for candidate in (header, body_value):
        try:
            if candidate is not None:
                return max(1, int(float(candidate)))
        except (TypeError, ValueError):
            continue
    return 60

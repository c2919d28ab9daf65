"""Password hashing, random tokens and digests.

Member identities (``X-Kosmo-Member``, and the optional ``X-Kosmo-Origin``) are
checked against their HMAC signature here (:func:`identity_from_headers`).

Passwords use PBKDF2-HMAC-SHA512 with 210,000 iterations, Keycloak's current
default (``pbkdf2-sha512``); the iteration count is stored in each hash, so it
can be lowered for tests or raised later without breaking stored passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Mapping

from bot.domain.portal_contract import TICKET_ID_ALPHABET, TICKET_ID_LENGTH, TICKET_ID_PREFIX
from bot.portal_client import member as member_ids
from dev.portal.errors import ApiError
from dev.portal.validation import ValidationError

_SCHEME = "pbkdf2_sha512"


def hash_password(password: str, iterations: int) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return "$".join(
        (_SCHEME, str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt_b64, digest_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        rounds = int(iterations)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds)
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    """A URL-safe random token (256 bits) for sessions and mailed links."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """SHA-256 hex digest; how tokens and email OTPs are stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_email_otp() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def new_ticket_id() -> str:
    """``UL-`` and six characters from a 32-letter alphabet without 0/O/1/I (about 10^9 ids)."""
    return TICKET_ID_PREFIX + "".join(
        secrets.choice(TICKET_ID_ALPHABET) for _ in range(TICKET_ID_LENGTH)
    )


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def identity_from_headers(headers: Mapping[str, str], key: bytes) -> tuple[str | None, str | None]:
    """The member the bot speaks for and their origin, from the signed headers: (member, origin).

    ``X-Kosmo-Member`` and, when the channel recorded one, ``X-Kosmo-Origin``, both
    covered by ``X-Kosmo-Member-Signature``. A malformed id, or an origin without a
    member, is a 422 (ValidationError); a missing or wrong signature (a signature
    without an id, an origin the signature does not cover) a 401: an unsigned claim
    is never keyed on. No headers at all: (None, None).
    """
    member = headers.get(member_ids.MEMBER_HEADER, "")
    origin = headers.get(member_ids.ORIGIN_HEADER, "")
    signature = headers.get(member_ids.SIGNATURE_HEADER, "")
    if not member and not signature and not origin:
        return None, None
    if len(member) > 64 or not member_ids.MEMBER_ID_RE.match(member):
        raise ValidationError(member_ids.MEMBER_HEADER, "must be a kind, a colon and 32 hex digits", "format")
    if origin and (len(origin) > 64 or not member_ids.MEMBER_ID_RE.match(origin)):
        raise ValidationError(member_ids.ORIGIN_HEADER, "must be a kind, a colon and 32 hex digits", "format")
    if (
        len(signature) != 64
        or not member_ids.SIGNATURE_RE.match(signature)
        or not member_ids.verify(key, member, signature, origin or None)
    ):
        raise ApiError(401, "member_signature_invalid", "the member identity is not signed with the member-id key",
                       member_ids.SIGNATURE_HEADER)
    return member, origin or None

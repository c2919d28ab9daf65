"""Who the member is, as the bot tells the portal: a signed member id and origin.

All members reach the portal through the action server's one address, so the
portal cannot tell them apart by address. With every helpdesk call the bot
sends the member's identity on their channel, signed, in two headers::

    X-Kosmo-Member:           line:3f9c0e...   (kind ":" 32 hex digits)
    X-Kosmo-Origin:           widget:8d1f...   (optional; kind ":" 32 hex digits)
    X-Kosmo-Member-Signature: 64 hex digits    HMAC-SHA256(key, "kosmo-member:" + member id
                                                             [+ "|origin:" + origin id])

The member id is a keyed digest of the Rasa sender id (the LINE conversation
``line:<society>:<U...>``, the widget's session id, the REST ``sender``), so
the portal never learns a LINE user id; its kind (``line`` for a stable
channel user, ``chat`` for anything else) is there for the audit log.
The portal keys its per-member rate limits on the id and remembers which
member opened an unlock ticket, so a ticket's status is told only to them.

A sender id is cheap on some channels (every widget session is a new one, a
REST caller picks its own), so the channel also records the member's *origin*,
who they are on the channel whatever their sender id (``bot.channels.origin``:
a digest of the client address on the widget and REST, of the LINE user id on
LINE), in the message metadata. The actions forward it as a second keyed digest
(:func:`origin_id_for`) in ``X-Kosmo-Origin``, covered by the same signature, and
the portal keeps a per-origin budget too: fresh sessions from one address share
one. Without an origin (conversations from before, tests) the signature covers
the member id alone, as it always did, and the portal counts the member as its
own origin.

The key is ``KOSMO_MEMBER_ID_KEY`` on both sides; without it both derive one
from the service token (:func:`derive_key`), so a stack that shares the token
needs nothing more. A separate key means that holding the service token alone
does not let a caller speak for a member.

This module is the contract: the portal (``dev.portal``) verifies with the same
functions the client signs with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

MEMBER_HEADER = "X-Kosmo-Member"
ORIGIN_HEADER = "X-Kosmo-Origin"
SIGNATURE_HEADER = "X-Kosmo-Member-Signature"
MEMBER_ID_RE = re.compile(r"^[a-z]{1,16}:[0-9a-f]{32}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
KIND_LINE = "line"
KIND_CHAT = "chat"
MAX_SENDER_ID_LENGTH = 512
MAX_ORIGIN_LENGTH = 128
_ORIGIN_KIND_RE = re.compile(r"^([a-z]{1,16}):")
_DERIVE_LABEL = b"kosmo-member-id-key-v1"


def derive_key(service_token: str) -> bytes:
    """The member-id key when ``KOSMO_MEMBER_ID_KEY`` is not set: a digest of the service token."""
    return hmac.new(service_token.encode("utf-8"), _DERIVE_LABEL, hashlib.sha256).digest()


def member_key(explicit: str | None, service_token: str) -> bytes:
    """``explicit`` (``KOSMO_MEMBER_ID_KEY``) if given, else :func:`derive_key` of the token."""
    return explicit.encode("utf-8") if explicit else derive_key(service_token)


def member_id_for(sender_id: str, key: bytes) -> str:
    """The member id of a Rasa sender id: its kind and a keyed digest (never the id itself)."""
    sender = str(sender_id)[:MAX_SENDER_ID_LENGTH]
    kind = KIND_LINE if sender.startswith(f"{KIND_LINE}:") else KIND_CHAT
    mac = hmac.new(key, b"kosmo-sender:" + sender.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{kind}:{mac[:32]}"


def origin_id_for(origin: str, key: bytes) -> str:
    """The origin id the portal sees for a channel's origin (``widget:<hex>``, ``line:<hex>``):
    its kind and a keyed digest of it, so the portal never holds the value the tracker does."""
    value = str(origin)[:MAX_ORIGIN_LENGTH]
    match = _ORIGIN_KIND_RE.match(value)
    kind = match.group(1) if match else KIND_CHAT
    mac = hmac.new(key, b"kosmo-origin:" + value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{kind}:{mac[:32]}"


@dataclass(frozen=True)
class Member:
    """Who a helpdesk call is made for: the member id and, when the channel recorded it, the origin id."""

    id: str
    origin: str | None = None


def sign(key: bytes, member_id: str, origin_id: str | None = None) -> str:
    """The signature of a member id, and of its origin id when there is one (both in one MAC)."""
    message = "kosmo-member:" + member_id + (f"|origin:{origin_id}" if origin_id else "")
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: bytes, member_id: str, signature: str, origin_id: str | None = None) -> bool:
    """True when ``signature`` is :func:`sign` of ``member_id`` (and ``origin_id``); constant time."""
    return hmac.compare_digest(
        sign(key, member_id, origin_id).encode("ascii"), signature.encode("ascii")
    )


def headers_for(key: bytes, member_id: str, origin_id: str | None = None) -> dict[str, str]:
    headers = {MEMBER_HEADER: member_id, SIGNATURE_HEADER: sign(key, member_id, origin_id)}
    if origin_id:
        headers[ORIGIN_HEADER] = origin_id
    return headers

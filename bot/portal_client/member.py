"""Who the member is, as the bot tells the portal: a signed, per-channel-user member id.

All members reach the portal through the action server's one address, so the
portal cannot tell them apart by address. With every helpdesk call the bot
sends the member's identity on their channel, signed, in two headers::

    X-Kosmo-Member:           line:3f9c0e...   (kind ":" 32 hex digits)
    X-Kosmo-Member-Signature: 64 hex digits    HMAC-SHA256(key, "kosmo-member:" + member id)

The member id is a keyed digest of the Rasa sender id (the LINE conversation
``line:<society>:<U...>``, the widget's session id, the REST ``sender``), so
the portal never learns a LINE user id; its kind (``line`` for a stable
channel user, ``chat`` for anything else) is there for the audit log.
The portal keys its per-member rate limits on the id and remembers which
member opened an unlock ticket, so a ticket's status is told only to them.

The key is ``KOSMO_MEMBER_ID_KEY`` on both sides; without it both derive one
from the service token (:func:`derive_key`), so a stack that shares the token
needs nothing more. A separate key means that holding the service token alone
does not let a caller speak for a member.

This module is the contract: the portal (``bot.portal``) verifies with the same
functions the client signs with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Mapping

MEMBER_HEADER = "X-Kosmo-Member"
SIGNATURE_HEADER = "X-Kosmo-Member-Signature"
MEMBER_ID_RE = re.compile(r"^[a-z]{1,16}:[0-9a-f]{32}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ENV = "KOSMO_MEMBER_ID_KEY"
KIND_LINE = "line"
KIND_CHAT = "chat"
MAX_SENDER_ID_LENGTH = 512
_DERIVE_LABEL = b"kosmo-member-id-key-v1"


def derive_key(service_token: str) -> bytes:
    """The member-id key when ``KOSMO_MEMBER_ID_KEY`` is not set: a digest of the service token."""
    return hmac.new(service_token.encode("utf-8"), _DERIVE_LABEL, hashlib.sha256).digest()


def member_key(explicit: str | None, service_token: str) -> bytes:
    """``explicit`` (``KOSMO_MEMBER_ID_KEY``) if given, else :func:`derive_key` of the token."""
    return explicit.encode("utf-8") if explicit else derive_key(service_token)


def key_from_env(env: Mapping[str, str], service_token: str) -> bytes:
    return member_key(env.get(KEY_ENV) or None, service_token)


def member_id_for(sender_id: str, key: bytes) -> str:
    """The member id of a Rasa sender id: its kind and a keyed digest (never the id itself)."""
    sender = str(sender_id)[:MAX_SENDER_ID_LENGTH]
    kind = KIND_LINE if sender.startswith(f"{KIND_LINE}:") else KIND_CHAT
    mac = hmac.new(key, b"kosmo-sender:" + sender.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{kind}:{mac[:32]}"


def sign(key: bytes, member_id: str) -> str:
    return hmac.new(key, b"kosmo-member:" + member_id.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: bytes, member_id: str, signature: str) -> bool:
    """True when ``signature`` is :func:`sign` of ``member_id``; constant time."""
    return hmac.compare_digest(sign(key, member_id).encode("ascii"), signature.encode("ascii"))


def headers_for(key: bytes, member_id: str) -> dict[str, str]:
    return {MEMBER_HEADER: member_id, SIGNATURE_HEADER: sign(key, member_id)}

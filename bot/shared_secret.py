"""Secrets a server shares with its callers: what counts as a real one, and the bearer check.

Used by every server of ours that takes a shared secret: the action server
(``KOSMO_ACTION_SERVER_TOKEN``), the Rasa server's HTTP API token
(``RASA_AUTH_TOKEN``, ``bot.serve``), the REST channel (``KOSMO_REST_TOKEN``),
the widget's session key and the reference portal's tokens. No Rasa imports.
"""

from __future__ import annotations

import hmac
from typing import Optional

PLACEHOLDERS = frozenset({"change-me", "changeme"})
MIN_LENGTH = 16
_SCHEME = b"bearer "


def weak_secret(value: str) -> bool:
    """Whether ``value`` is empty, a placeholder from .env.example, or shorter than 16 characters."""
    return value.strip().lower() in PLACEHOLDERS or len(value) < MIN_LENGTH


def bearer_matches(header: Optional[str], token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``, compared in constant time.

    The scheme is case-insensitive (RFC 7235); the token must match exactly, with
    one space before it.
    """
    expected = _SCHEME + token.encode("utf-8")
    given = (header or "").encode("utf-8", "surrogatepass")
    given = given[: len(_SCHEME)].lower() + given[len(_SCHEME):]
    return hmac.compare_digest(given, expected)

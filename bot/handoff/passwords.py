"""Agent passwords, hashed with scrypt from the standard library.

scrypt is memory-hard, so a stolen ``handoff_agents`` table is expensive to
attack with GPUs; ``hashlib.scrypt`` needs no new dependency. Each hash carries
its own parameters (``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``), so tests can
use cheap ones and production can raise them later without breaking stored
passwords.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_MEM = 128 * 1024 * 1024  # room for n up to 2**16 with r=8


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost parameters: CPU/memory cost ``n`` (a power of two), block size ``r``, parallelism ``p``."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of two greater than 1")
        if self.r < 1 or self.p < 1:
            raise ValueError("scrypt r and p must be at least 1")


DEFAULT_PARAMS = ScryptParams()
# For tests only: about a thousand times cheaper than the default.
FAST_TEST_PARAMS = ScryptParams(n=2**4, r=8, p=1)


def _derive(password: str, salt: bytes, params: ScryptParams, key_bytes: int = _KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=_MAX_MEM,
        dklen=key_bytes,
    )


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """The stored form of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, params)
    return "$".join(
        (
            _SCHEME,
            str(params.n),
            str(params.r),
            str(params.p),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(key).decode("ascii"),
        )
    )


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a malformed hash (never raises)."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        params = ScryptParams(int(n), int(r), int(p))
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(key_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    actual = _derive(password, salt, params, len(expected) or _KEY_BYTES)
    return hmac.compare_digest(actual, expected)

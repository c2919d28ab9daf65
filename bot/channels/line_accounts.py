"""Each society's LINE channel, from ``credentials.yml``: its secret signs webhooks, its token calls the API.

:func:`accounts_from_credentials` reads the ``societies:`` of the channel's
credentials (every society needs both values); :meth:`LineAccount.signature_ok`
checks a webhook's ``X-Line-Signature`` (base64 of the HMAC-SHA256 of the raw
body under the channel secret) in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from rasa.shared.exceptions import RasaException


@dataclass(frozen=True)
class LineAccount:
    """One society's LINE channel: its secret signs webhooks, its token calls the API."""

    society: str
    channel_secret: str = field(repr=False)
    access_token: str = field(repr=False)

    def signature_ok(self, body: bytes, signature: Optional[str]) -> bool:
        if not signature:
            return False
        try:
            given = base64.b64decode(signature.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            return False
        expected = hmac.new(self.channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
        return hmac.compare_digest(expected, given)


def accounts_from_credentials(societies: Any) -> Dict[str, LineAccount]:
    if not isinstance(societies, Mapping) or not societies:
        raise RasaException("LINE channel: 'societies' must map society keys to LINE channels")
    accounts = {}
    for key, conf in societies.items():
        society = str(key).strip().lower()
        conf = conf or {}
        secret = str(conf.get("channel_secret") or "")
        token = str(conf.get("access_token") or "")
        if not society or not secret or not token:
            raise RasaException(
                f"LINE channel {key!r}: channel_secret and access_token are required"
            )
        accounts[society] = LineAccount(society, secret, token)
    return accounts

"""Where a member's message came from on its channel: the *origin*, recorded by the channel.

The portal keeps its helpdesk limits per member (``bot.portal_client.member``: a
keyed digest of the Rasa sender id). A sender id is cheap on some channels: every
new widget session is a new one, and a REST caller picks its own. So each channel
also records, server-side, who the member is *on the channel*, a value fresh
session ids do not change:

=========  ===================================================================
widget     the client's network address (:class:`bot.client_address.ClientAddresses`:
           the socket's peer, or behind a trusted proxy the last entry of
           ``KOSMO_CLIENT_IP_HEADER``; an IPv6 client counts as its /64)
REST       the REST request's client address, the same way
LINE       the LINE user id (stable already, like the conversation id)
=========  ===================================================================

Only a keyed digest is kept (``<channel>:<32 hex digits>``, HMAC-SHA256 with the
channel's own secret: the widget's session secret, the REST token, the LINE
channel secret), because the tracker store keeps message metadata: an IPv4
address hashed without a key could be recovered by trying all 2^32.

Behind a reverse proxy, ``KOSMO_CLIENT_IP_HEADER`` must be set: otherwise every
member's address is the proxy's, all widget members share one origin, and the
portal's per-origin budgets are spent for all of them together. The first message
whose client is a trusted proxy's own address (loopback by default) while no header
is set logs a warning (on a development machine without a proxy it can be ignored).

The channel puts it in the message metadata under :data:`bot.domain.messages.ORIGIN_KEY` after the
client's metadata was filtered (``bot.channels.input_bounds``), so a client can
never set or change it. The actions read it from the latest user message and
forward it, signed, to the portal (``X-Kosmo-Origin``), which keeps a per-origin
budget for each helpdesk call.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, Mapping, Optional

from bot.client_address import ClientAddresses, ProxyWarning

logger = logging.getLogger(__name__)

KIND_WIDGET = "widget"
KIND_REST = "rest"
KIND_LINE = "line"


class Origins:
    """Makes a channel's origin values: ``<kind>:`` and a keyed digest of who the member is there.

    ``secret``: the channel's own secret (the same in every Rasa process, so one
    client is one origin whichever process serves it). ``None`` (a REST channel
    without a token, development only): a random key for this process.
    """

    def __init__(self, kind: str, secret: Optional[str]) -> None:
        if not re.fullmatch(r"[a-z]{1,16}", kind):
            raise ValueError(f"origin kind must be 1-16 lower-case letters, got {kind!r}")
        self.kind = kind
        self._key = secret.encode("utf-8") if secret else secrets.token_bytes(32)
        self._proxy_warning = ProxyWarning(
            logger, f"{kind} clients",
            "every member shares one origin and one set of the portal's per-origin limits",
            forwarded_only=False,
        )

    def of(self, who: str) -> str:
        """The origin of ``who`` (a client key such as ``192.0.2.7``, or a LINE user id)."""
        mac = hmac.new(
            self._key, f"kosmo-origin:{self.kind}:{who}".encode(), hashlib.sha256
        ).hexdigest()
        return f"{self.kind}:{mac[:32]}"

    def of_request(
        self, addresses: ClientAddresses, peer: Optional[str], headers: Mapping[str, Any]
    ) -> str:
        """The origin of a request from ``peer`` (its client, :class:`ClientAddresses`)."""
        self._proxy_warning.check(addresses, peer, headers)
        return self.of(addresses.client_of(peer, headers))

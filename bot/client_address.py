"""Who a client is, by network address: one setting for the whole Rasa server.

Used wherever the server keys something on the client rather than on what the
client says about itself: failed logins of the agents' console
(``bot.handoff.login_throttle``), and the *origin* of members' messages on the
widget and REST channels (``bot.channels.origin``), on which the portal keeps
per-origin helpdesk limits that fresh session ids do not reset.

A client is the connection's peer address; an IPv6 client is its /64 network (the
block one subscriber gets), an IPv4-mapped IPv6 address its IPv4 address. Behind a
reverse proxy every peer is the proxy, so ``KOSMO_CLIENT_IP_HEADER`` names the
header the proxy sets (``X-Forwarded-For``, ``X-Real-IP``): its **last** entry,
the one the nearest proxy wrote, is used, and only when the peer is one of
``KOSMO_TRUSTED_PROXIES`` (addresses or networks, default loopback). A client
that sends the header itself, or reaches the server directly, cannot choose its
address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

CLIENT_IP_HEADER_ENV = "KOSMO_CLIENT_IP_HEADER"
TRUSTED_PROXIES_ENV = "KOSMO_TRUSTED_PROXIES"
DEFAULT_TRUSTED_PROXIES = "127.0.0.1/8,::1"
UNKNOWN_CLIENT = "unknown"

_MAX_HEADER_VALUE = 1000


def client_key(address: str) -> str:
    """The counter key of an address: IPv4 as is, IPv6 as its /64; ``unknown`` if unreadable."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{TRUSTED_PROXIES_ENV}: {part!r} is not an IP address or network"
            ) from None
    return tuple(networks)


_HEADER_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class ClientAddresses:
    """How the Rasa server tells clients apart: the connection's peer address, or, behind
    a reverse proxy, the last address in ``header`` when the peer is a trusted proxy.

    The last entry is the one the nearest proxy wrote (``X-Forwarded-For`` grows to the
    right), so a client cannot choose it by sending the header itself. Without
    ``header`` the peer counts and nothing the client sends can change that.
    """

    header: Optional[str] = None
    trusted_proxies: tuple[IPNetwork, ...] = _networks(DEFAULT_TRUSTED_PROXIES)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ClientAddresses":
        """``KOSMO_CLIENT_IP_HEADER`` (e.g. ``X-Forwarded-For``; unset: the peer)
        and ``KOSMO_TRUSTED_PROXIES`` (addresses or networks, comma-separated)."""
        header = (env.get(CLIENT_IP_HEADER_ENV) or "").strip().lower() or None
        if header is not None and not set(header) <= _HEADER_NAME_CHARS:
            raise ValueError(f"{CLIENT_IP_HEADER_ENV}: {header!r} is not a header name")
        proxies = _networks(env.get(TRUSTED_PROXIES_ENV) or DEFAULT_TRUSTED_PROXIES)
        return cls(header=header, trusted_proxies=proxies)

    def trusted(self, peer: str) -> bool:
        """Whether ``peer`` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def client_of(self, peer: Optional[str], headers: Mapping[str, Any]) -> str:
        """The client key of a request from ``peer`` with ``headers``."""
        peer = (peer or "").strip()
        if self.header and self.trusted(peer):
            value = str(headers.get(self.header) or "")[-_MAX_HEADER_VALUE:]
            last = value.rsplit(",", 1)[-1].strip()
            if last:
                key = client_key(last)
                if key != UNKNOWN_CLIENT:
                    return key
        return client_key(peer)

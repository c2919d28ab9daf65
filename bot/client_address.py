"""Who a client is, by network address: one setting for the whole Rasa server.

Used wherever the server keys something on the client rather than on what the
client says about itself: failed logins of the agents' console
(``bot.handoff.login_throttle``), and the *origin* of members' messages on the
widget and REST channels (``bot.channels.origin``), on which the portal keeps
per-origin helpdesk limits that fresh session ids do not reset.

A client is the connection's peer address; an IPv6 client is its /64 network (the
block one subscriber gets), an IPv4-mapped IPv6 address (``::ffff:192.0.2.7``, the
peer when the server listens on ``::``) its IPv4 address. Behind reverse proxies
every peer is a proxy, so ``KOSMO_CLIENT_IP_HEADER`` names the header they set
(``X-Forwarded-For``, ``X-Real-IP``). It is read only when the peer is one of
``KOSMO_TRUSTED_PROXIES`` (addresses or networks, default loopback), and then
from the right: all its lines taken together in order (a proxy may add its own
line after one the client sent), entries that are trusted proxies themselves
skipped (with two proxies the last entry is the inner one), the first other
entry is the client. A client that sends the header itself, or reaches the
server directly, cannot choose its address.

When no header is set but requests come from a trusted proxy's own address,
:class:`ProxyWarning` logs once that every client looks the same.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from bot.settings import ClientAddressSettings, list_of, parse_network

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

UNKNOWN_CLIENT = "unknown"

# Headers a reverse proxy sets; seen from a trusted proxy while KOSMO_CLIENT_IP_HEADER
# is unset, they tell that a proxy is in front (ProxyWarning).
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

_MAX_HEADER_VALUE = 1000  # characters of the header read, from its end


def _address(text: Optional[str]) -> Optional[IPAddress]:
    """``text`` as an IP address, an IPv4-mapped IPv6 address as its IPv4 address; None if unreadable."""
    try:
        ip = ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _key(ip: Optional[IPAddress]) -> str:
    if ip is None:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_key(address: str) -> str:
    """The counter key of an address: IPv4 as is, IPv6 as its /64; ``unknown`` if unreadable."""
    return _key(_address(address))


def _header_lines(headers: Mapping[str, Any], name: str) -> list[str]:
    """Every line of header ``name`` in order (Sanic's ``get`` gives only the first)."""
    getall = getattr(headers, "getall", None)
    if callable(getall):
        return [str(line) for line in getall(name, [])]
    value = headers.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(line) for line in value]
    return [str(value)]


def _entries_from_the_right(lines: list[str]) -> list[str]:
    """The comma-separated entries of ``lines`` taken as one list, last first; only
    the last ``_MAX_HEADER_VALUE`` characters are read, and an entry the cut went
    through is dropped (its tail could read as another address)."""
    value = ",".join(lines)
    cut = len(value) > _MAX_HEADER_VALUE
    entries = value[-_MAX_HEADER_VALUE:].split(",")
    if cut:
        entries = entries[1:]
    return [entry.strip() for entry in reversed(entries)]


def parse_trusted_proxies(raw: str, setting: str = "KOSMO_TRUSTED_PROXIES") -> tuple[IPNetwork, ...]:
    """Addresses or networks separated by commas (``127.0.0.1/8,::1,10.0.0.0/8``), as
    ``KOSMO_TRUSTED_PROXIES`` is read (bot.settings); ``setting`` names the variable in the
    error. An IPv4-mapped peer is checked as its IPv4 address."""
    return tuple(list_of(parse_network)(setting, raw))


@dataclass(frozen=True)
class ClientAddresses:
    """How the Rasa server tells clients apart: the connection's peer address, or, behind
    reverse proxies, the nearest address in ``header`` that is not a trusted proxy.

    ``X-Forwarded-For`` grows to the right (each proxy appends the address it was
    reached from, on the same line or on a line of its own), so the entries right of
    the client's were written by our proxies and a client cannot choose them by
    sending the header itself. Without ``header`` the peer counts and nothing the
    client sends can change that.
    """

    header: Optional[str] = None
    trusted_proxies: tuple[IPNetwork, ...] = ClientAddressSettings().trusted_proxies

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "ClientAddresses":
        """``KOSMO_CLIENT_IP_HEADER`` (e.g. ``X-Forwarded-For``; unset: the peer)
        and ``KOSMO_TRUSTED_PROXIES`` (addresses or networks, comma-separated)."""
        settings = ClientAddressSettings.from_env(env)
        return cls(header=settings.client_ip_header, trusted_proxies=settings.trusted_proxies)

    def _trusted(self, ip: Optional[IPAddress]) -> bool:
        return ip is not None and any(ip in network for network in self.trusted_proxies)

    def trusted(self, peer: Optional[str]) -> bool:
        """Whether ``peer`` (an IPv4-mapped address as its IPv4 address) is a trusted proxy."""
        return self._trusted(_address(peer))

    def client_of(self, peer: Optional[str], headers: Mapping[str, Any]) -> str:
        """The client key of a request from ``peer`` with ``headers``.

        From a trusted proxy, ``header``'s entries are read from the right: trusted
        proxies are skipped and the first other address is the client. When every
        entry is a trusted proxy, the leftmost is; when one is unreadable (or the
        header is missing), the nearest proxy read so far is.
        """
        nearest = _address(peer)
        if not self.header or not self._trusted(nearest):
            return _key(nearest)
        for entry in _entries_from_the_right(_header_lines(headers, self.header)):
            ip = _address(entry)
            if ip is None:
                break
            nearest = ip
            if not self._trusted(ip):
                break
        return _key(nearest)


class ProxyWarning:
    """Logs once (per instance) that clients look like a proxy's own address while
    ``KOSMO_CLIENT_IP_HEADER`` is unset: behind a reverse proxy every client is then
    the proxy, and whatever is kept per client is shared by all of them.

    ``clients`` names them in the message (``"widget clients"``), ``consequence`` says
    what they then share. ``forwarded_only``: warn only when the request from the
    proxy carries a forwarding header (``X-Forwarded-For``, ``Forwarded``,
    ``X-Real-IP``), so a development machine without a proxy stays quiet.
    """

    def __init__(
        self, logger: logging.Logger, clients: str, consequence: str, *, forwarded_only: bool
    ) -> None:
        self.logger = logger
        self.clients = clients
        self.consequence = consequence
        self.forwarded_only = forwarded_only
        self.warned = False

    def check(self, addresses: ClientAddresses, peer: Optional[str], headers: Mapping[str, Any]) -> None:
        """Warn if this request is the first from a trusted proxy's address without the setting."""
        if self.warned or addresses.header is not None or not addresses.trusted(peer):
            return
        forwarded = [name for name in FORWARDING_HEADERS if _header_lines(headers, name)]
        if self.forwarded_only and not forwarded:
            return
        self.warned = True
        seen = f" (the request carried {', '.join(forwarded)})" if forwarded else ""
        self.logger.warning(
            "%s are seen as %s, a proxy address%s: behind a reverse proxy set "
            "KOSMO_CLIENT_IP_HEADER, or %s (ignore this on a machine without a proxy)",
            self.clients, client_key(peer or ""), seen, self.consequence,
        )

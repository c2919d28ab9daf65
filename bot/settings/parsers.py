"""The settings' kinds: one parser per kind, the error they raise, the secret they hide.

A parser takes the variable's name (for its error) and its value (stripped, never
empty: an unset or empty variable takes its default without being parsed) and
returns the typed value or raises :class:`SettingsError` naming the variable. The
kinds are listed in ``bot.settings``' docstring; the groups that use them are in
``bot.settings.groups``.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from bot.shared_secret import PLACEHOLDERS

# a parser takes the variable's name (for its error) and its value (stripped, not empty)
Parser = Callable[[str, str], Any]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class SettingsError(ValueError):
    """One or more variables cannot be used; each problem names its variable."""

    def __init__(self, problems: Union[str, Sequence[str]]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Secret:
    """A secret's value, kept out of ``repr`` and ``str`` (settings may be logged)."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    @property
    def placeholder(self) -> bool:
        """Whether it is still the value ``.env.example`` shows (``change-me``)."""
        return self.value.strip().lower() in PLACEHOLDERS


def reveal(secret: Optional[Secret]) -> str:
    """The secret's value, or ``""`` when unset."""
    return secret.value if secret is not None else ""


# ---------------------------------------------------------------- one parser per kind

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(name: str, raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def whole_number(low: Optional[int] = None, high: Optional[int] = None) -> Parser:
    """A whole number from ``low`` to ``high`` (each inclusive, None: unbounded)."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            raise SettingsError(f"{name} must be a whole number{_bounds(low, high)}, not {raw!r}")
        return value

    return parse


def number(low: Optional[float] = None, high: Optional[float] = None, low_inclusive: bool = True) -> Parser:
    """A finite number from ``low`` to ``high`` (``low`` excluded unless ``low_inclusive``)."""

    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        below = low is not None and (value < low or (not low_inclusive and value == low))
        if not math.isfinite(value) or below or (high is not None and value > high):
            bounds = _bounds(low, high) if low_inclusive else f" above {low:g}"
            raise SettingsError(f"{name} must be a number{bounds}, not {raw!r}")
        return value

    return parse


def _bounds(low: Optional[float], high: Optional[float]) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    return f" of at most {high:g}" if high is not None else ""


def list_of(item: Parser) -> Parser:
    """Items separated by commas or spaces, each parsed by ``item``; a tuple."""

    def parse(name: str, raw: str) -> tuple[Any, ...]:
        return tuple(item(name, part) for part in re.split(r"[\s,]+", raw) if part)

    return parse


def url(schemes: Optional[Sequence[str]] = ("http", "https")) -> Parser:
    """``scheme://...``; with ``schemes`` (http, https) it needs a host too. Trailing ``/`` kept."""
    shape = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S*")

    def parse(name: str, raw: str) -> str:
        scheme = raw.split("://", 1)[0].lower()
        ok = shape.fullmatch(raw) is not None
        if ok and schemes is not None:
            ok = scheme in schemes and re.match(r"[^/?#\s]+", raw.split("://", 1)[1]) is not None
        if not ok:
            want = " or ".join(f"{s}://host" for s in schemes) if schemes else "scheme://..."
            raise SettingsError(f"{name} must be a URL ({want}), not {raw!r}")
        return raw

    return parse


def parse_secret(name: str, raw: str) -> Secret:
    return Secret(raw)


def parse_path(name: str, raw: str) -> Path:
    return Path(raw)


def text(pattern: str, what: str, lower: bool = False) -> Parser:
    """A name that matches ``pattern`` (after lower-casing, with ``lower``)."""
    compiled = re.compile(pattern)

    def parse(name: str, raw: str) -> str:
        value = raw.lower() if lower else raw
        if not compiled.fullmatch(value):
            raise SettingsError(f"{name}: {value!r} is not {what}")
        return value

    return parse


def choice(kind: type[enum.Enum]) -> Parser:
    """One of an enum's values (any case)."""

    def parse(name: str, raw: str) -> enum.Enum:
        for member in kind:
            if member.value == raw.lower():
                return member
        words = " or ".join(str(m.value) for m in kind)
        raise SettingsError(f"{name} must be {words}, not {raw!r}")

    return parse


# items of lists
# scheme://host[:port], nothing else: an origin as browsers send it (sanic-cors compares
# such a string exactly; one with "*", "?", "]" or "\\" it treats as a regex)
ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")


def parse_origin(name: str, raw: str) -> str:
    origin = raw.rstrip("/")
    if origin == "*" or not ORIGIN.fullmatch(origin):
        raise SettingsError(
            f"{name}: {origin!r} is not an origin; name each site as scheme://host[:port], "
            "e.g. https://www.kosekenpo.portal.kosmo-web.jp ('*' is not allowed)"
        )
    return origin


def parse_network(name: str, raw: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not an IP address or network") from None

"""Every environment variable the bot reads, typed, in one place.

Nothing is read when this module is imported. A group of settings is built from
the environment it is handed (``ChannelSettings.from_env(environ)``; no
argument: ``os.environ`` at the time of the call), so each module asks for the
group it needs when it builds its objects, and a test's environment is the one
that counts. :meth:`Settings.from_env` builds every group at once and reports
every unusable variable together: the Rasa server does that before it starts
(``bot.preflight``), and ``python -m bot.settings`` does it for an operator.

An unset or empty variable takes its default. Each kind has one parser, and
each parser's error names the variable:

=========  ====================================================================
bool       ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``, any case
int        a whole number within bounds
float      a finite number within bounds
list       items separated by commas or spaces, each parsed as its own kind
           (an origin, an IP network)
url        ``scheme://...``: http(s) with a host, or any scheme for a database
secret     any text (surrounding spaces dropped), hidden in ``repr``;
           ``change-me`` is a placeholder (``bot.shared_secret``)
path       a file; a relative one is found by the module that reads it
text       a name (a host, a society, a header name) matching its pattern
choice     one of a few words (``KOSMO_MODE``: ``dev`` or ``production``)
=========  ====================================================================

The groups (the README's "Configuration" table documents each variable, and
``.env.example`` lists them; ``tests/test_settings.py`` checks that the three agree):

- :class:`Settings`: ``KOSMO_MODE`` and the groups below;
- :class:`RasaServerSettings`: the Rasa server process (API token, CORS,
  action endpoint and timeout, tracker store, speed-ups, BLAS, JAX);
- :class:`ChannelSettings`: the channels (REST token, message length, widget
  session key, LINE accounts, API base and webhook limits);
- :class:`ClientAddressSettings`: telling clients apart behind a reverse proxy;
- :class:`HandoffSettings`: the handoff database and the agents' console;
- :class:`ReviewSettings`: the review database;
- :class:`DataFiles`: the data files and the default society;
- :class:`ActionServerSettings`: the action server's secret and interface;
- :class:`PortalSettings`: how the actions reach the society's portal;
- :class:`WidgetServiceSettings`: the widget's web service.

Some variables are read by Rasa itself, through ``${VAR}`` in ``credentials.yml``
and ``endpoints.yml`` (the channels' secrets, the action endpoint); they are here
too, so that they are checked and documented with the rest. No Rasa or web
framework imports.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Optional, Sequence, TypeVar, Union

from bot.shared_secret import PLACEHOLDERS

PROJECT_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")
G = TypeVar("G", bound="_Group")
# a parser takes the variable's name (for its error) and its value (stripped, not empty)
Parser = Callable[[str, str], Any]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# ---------------------------------------------------------------- defaults

DEFAULT_TRACKER_DB_FILE = PROJECT_ROOT / "var" / "tracker.db"
DEFAULT_HANDOFF_DB_FILE = PROJECT_ROOT / "var" / "handoff.db"
DEFAULT_REVIEW_DB_FILE = PROJECT_ROOT / "var" / "review.db"
DEFAULT_TRACKER_CACHE_SIZE = 500
DEFAULT_ACTION_TIMEOUT = 5.0
DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_LINE_API_BASE = "https://api.line.me"
DEFAULT_LINE_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_LINE_MAX_EVENTS = 20
DEFAULT_LINE_MAX_EVENT_AGE_S = 600.0
DEFAULT_TRUSTED_PROXIES = "127.0.0.1/8,::1"
DEFAULT_HANDOFF_WATCH_SECONDS = 15.0
DEFAULT_SOCIETIES_FILE = PROJECT_ROOT / "data" / "societies.yml"
DEFAULT_TOPIC_LABELS_FILE = PROJECT_ROOT / "data" / "topic_labels.yml"
DEFAULT_NEXT_STEPS_FILE = PROJECT_ROOT / "data" / "next_steps.yml"
DEFAULT_RESPONSES_EN_FILE = PROJECT_ROOT / "data" / "responses_en.yml"
DEFAULT_FIRST_LOGIN_STEPS_FILE = PROJECT_ROOT / "data" / "first_login_steps.yml"
DEFAULT_ACTIONS_HOST = "127.0.0.1"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"

# Variables .env.example carries for the reference portal (dev/portal/settings.py reads
# them, docs/portal.md documents them). The bot does not read them.
REFERENCE_PORTAL_VARIABLES = frozenset(
    {"KOSMO_PORTAL_ADMIN_TOKEN", "KOSMO_PORTAL_DB_URL", "KOSMO_PORTAL_DEV"}
)


class SettingsError(ValueError):
    """One or more variables cannot be used; each problem names its variable."""

    def __init__(self, problems: Union[str, Sequence[str]]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class Mode(str, enum.Enum):
    """``KOSMO_MODE``: how strictly the servers judge their set-up when they start."""

    DEV = "dev"  # make run, the tests: a placeholder secret or another Rasa is a warning
    PRODUCTION = "production"  # operators: they stop the server (bot.preflight)


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


# ---------------------------------------------------------------- parsers, one per kind

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


# ---------------------------------------------------------------- declaring variables

_VARIABLE = "kosmo_variable"


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its parser, and, for a family of variables
    (``LINE_<SOCIETY>_ACCESS_TOKEN``), the pattern of their names (group 1: the key)."""

    name: str
    parse: Parser
    pattern: Optional[re.Pattern[str]] = None
    secret: bool = False

    def names_in(self, environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
        """(variable, key) for each variable of the environment this one stands for."""
        if self.pattern is None:
            yield self.name, ""
            return
        for name in sorted(environ):
            match = self.pattern.fullmatch(name)
            if match:
                yield name, match.group(1).lower()


def setting(name: str, parse: Parser, default: Any = None) -> Any:
    """A field read from ``$name`` (unset or empty: ``default``)."""
    return field(default=default, metadata={_VARIABLE: Variable(name, parse, secret=parse is parse_secret)})


def family(name: str, pattern: str, parse: Parser) -> Any:
    """A field read from every variable whose name matches ``pattern``: key -> value."""
    return field(
        default_factory=dict,
        metadata={_VARIABLE: Variable(name, parse, re.compile(pattern), secret=parse is parse_secret)},
    )


class _Group:
    """A frozen dataclass of settings, built by :meth:`from_env`."""

    # old name -> new name of a variable that was renamed: one still set under its old
    # name is refused by name, not silently ignored
    RENAMED: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_env(cls: type[G], environ: Optional[Mapping[str, str]] = None) -> G:
        """The group from ``environ`` (default ``os.environ``); every bad variable in one error."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            variable: Optional[Variable] = f.metadata.get(_VARIABLE)
            if variable is None:
                continue
            found: dict[str, Any] = {}
            for name, key in variable.names_in(env):
                raw = (env.get(name) or "").strip()
                if not raw:
                    continue
                try:
                    found[key] = variable.parse(name, raw)
                except SettingsError as e:
                    problems += e.problems
            if variable.pattern is not None:
                values[f.name] = found
            elif "" in found:
                values[f.name] = found[""]
        for old, new in cls.RENAMED.items():
            if (env.get(old) or "").strip():
                problems.append(f"{old} was renamed {new}: set {new} instead")
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    @classmethod
    def variables(cls) -> list[Variable]:
        return [
            f.metadata[_VARIABLE]
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if _VARIABLE in f.metadata
        ]


# ---------------------------------------------------------------- the groups


@dataclass(frozen=True)
class RasaServerSettings(_Group):
    """The Rasa server process (``bot.serve``, ``bot.tracker_store``, ``bot.speedups``)."""

    # Rasa's HTTP API token; bot.serve hands it to Rasa inside the process
    auth_token: Optional[Secret] = setting("RASA_AUTH_TOKEN", parse_secret)
    # sites whose pages may call the server from the browser (none by default)
    cors_origins: tuple[str, ...] = setting("KOSMO_CORS_ORIGINS", list_of(parse_origin), ())
    # the action server (endpoints.yml: read by Rasa)
    action_endpoint: Optional[str] = setting("KOSMO_ACTION_ENDPOINT", url())
    # seconds Rasa waits for the action server (bot.speedups.action_timeout)
    action_timeout: float = setting("KOSMO_ACTION_TIMEOUT", number(1.0), DEFAULT_ACTION_TIMEOUT)
    tracker_db_url: str = setting(
        "KOSMO_TRACKER_DB_URL", url(None), f"sqlite:///{DEFAULT_TRACKER_DB_FILE}"
    )
    # conversations whose latest session is kept in memory (0: none)
    tracker_cache_size: int = setting(
        "KOSMO_TRACKER_CACHE_SIZE", whole_number(0), DEFAULT_TRACKER_CACHE_SIZE
    )
    speedups: bool = setting("KOSMO_RASA_SPEEDUPS", parse_bool, True)
    jax: bool = setting("KOSMO_SERVER_JAX", parse_bool, False)
    # None: bot.serve sets 1
    blas_threads: Optional[int] = setting("OPENBLAS_NUM_THREADS", whole_number(1))


@dataclass(frozen=True)
class ChannelSettings(_Group):
    """Where members meet the bot (``bot.channels``)."""

    # credentials.yml (read by Rasa): the REST channel's token, the widget's session key
    rest_token: Optional[Secret] = setting("KOSMO_REST_TOKEN", parse_secret)
    widget_session_secret: Optional[Secret] = setting("KOSMO_WIDGET_SESSION_SECRET", parse_secret)
    max_message_chars: int = setting(
        "KOSMO_MAX_MESSAGE_CHARS", whole_number(1), DEFAULT_MAX_MESSAGE_CHARS
    )
    # credentials.yml (read by Rasa): each society's LINE channel, society -> value
    line_channel_secrets: Mapping[str, Secret] = family(
        "LINE_<SOCIETY>_CHANNEL_SECRET", r"LINE_([A-Z0-9_]+)_CHANNEL_SECRET", parse_secret
    )
    line_access_tokens: Mapping[str, Secret] = family(
        "LINE_<SOCIETY>_ACCESS_TOKEN", r"LINE_([A-Z0-9_]+)_ACCESS_TOKEN", parse_secret
    )
    line_api_base: str = setting("KOSMO_LINE_API_BASE", url(), DEFAULT_LINE_API_BASE)
    line_max_body_bytes: int = setting(
        "KOSMO_LINE_MAX_BODY_BYTES", whole_number(1), DEFAULT_LINE_MAX_BODY_BYTES
    )
    line_max_events: int = setting(
        "KOSMO_LINE_MAX_EVENTS_PER_BODY", whole_number(1), DEFAULT_LINE_MAX_EVENTS
    )
    line_max_event_age: float = setting(
        "KOSMO_LINE_MAX_EVENT_AGE_SECONDS", number(0.0, low_inclusive=False), DEFAULT_LINE_MAX_EVENT_AGE_S
    )


@dataclass(frozen=True)
class ClientAddressSettings(_Group):
    """How the Rasa server tells clients apart (``bot.client_address``)."""

    # behind a reverse proxy: the header it sets to the client's address (None: the peer)
    client_ip_header: Optional[str] = setting(
        "KOSMO_CLIENT_IP_HEADER", text(r"[a-z0-9-]+", "a header name", lower=True)
    )
    trusted_proxies: tuple[IPNetwork, ...] = setting(
        "KOSMO_TRUSTED_PROXIES",
        list_of(parse_network),
        list_of(parse_network)("KOSMO_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
    )


@dataclass(frozen=True)
class HandoffSettings(_Group):
    """Human handoff (``bot.handoff``, ``bot.channels.agent_console``, ``bot.channels.line_dedup``)."""

    db_url: str = setting("KOSMO_HANDOFF_DB_URL", url(None), f"sqlite:///{DEFAULT_HANDOFF_DB_FILE}")
    # the console's cookies are Secure unless false (plain-http development)
    secure_cookies: bool = setting("KOSMO_AGENT_SECURE_COOKIES", parse_bool, True)
    watch_seconds: float = setting(
        "KOSMO_HANDOFF_WATCH_SECONDS", number(0.0, low_inclusive=False), DEFAULT_HANDOFF_WATCH_SECONDS
    )


@dataclass(frozen=True)
class ReviewSettings(_Group):
    """The review of what the bot could not handle (``bot.review``)."""

    db_url: str = setting("KOSMO_REVIEW_DB_URL", url(None), f"sqlite:///{DEFAULT_REVIEW_DB_FILE}")


@dataclass(frozen=True)
class DataFiles(_Group):
    """The data files (a relative path: from the working folder, else the project's)."""

    # the one word for a society is "society" (it was "tenant" before)
    RENAMED: ClassVar[Mapping[str, str]] = {
        "KOSMO_TENANTS_FILE": "KOSMO_SOCIETIES_FILE",
        "KOSMO_DEFAULT_TENANT": "KOSMO_DEFAULT_SOCIETY",
    }

    societies_file: Path = setting("KOSMO_SOCIETIES_FILE", parse_path, DEFAULT_SOCIETIES_FILE)
    # society used when a message names none (None: the societies file's default_society)
    default_society: Optional[str] = setting(
        "KOSMO_DEFAULT_SOCIETY", text(r"[A-Za-z0-9_-]{1,64}", "a society key")
    )
    topic_labels_file: Path = setting("KOSMO_TOPIC_LABELS_FILE", parse_path, DEFAULT_TOPIC_LABELS_FILE)
    next_steps_file: Path = setting("KOSMO_NEXT_STEPS_FILE", parse_path, DEFAULT_NEXT_STEPS_FILE)
    responses_en_file: Path = setting("KOSMO_RESPONSES_EN_FILE", parse_path, DEFAULT_RESPONSES_EN_FILE)
    first_login_steps_file: Path = setting(
        "KOSMO_FIRST_LOGIN_STEPS_FILE", parse_path, DEFAULT_FIRST_LOGIN_STEPS_FILE
    )


@dataclass(frozen=True)
class ActionServerSettings(_Group):
    """The action server (``bot.action_server``)."""

    # the secret the Rasa server sends (endpoints.yml) and the action server checks
    token: Optional[Secret] = setting("KOSMO_ACTION_SERVER_TOKEN", parse_secret)
    host: str = setting("KOSMO_ACTIONS_HOST", text(r"[A-Za-z0-9.:\-\[\]]+", "a host name or address"), DEFAULT_ACTIONS_HOST)


@dataclass(frozen=True)
class PortalSettings(_Group):
    """How the actions reach the society's portal (``bot.portal_client``)."""

    url: str = setting("KOSMO_PORTAL_URL", url(), DEFAULT_PORTAL_URL)
    service_token: Optional[Secret] = setting("KOSMO_PORTAL_SERVICE_TOKEN", parse_secret)
    # signs the member identity sent to the portal (None: derived from the service token)
    member_id_key: Optional[Secret] = setting("KOSMO_MEMBER_ID_KEY", parse_secret)


@dataclass(frozen=True)
class WidgetServiceSettings(_Group):
    """The widget's web service (``bot.web``)."""

    # the Rasa server as members' browsers reach it (None: rasa_url)
    socket_url: Optional[str] = setting("KOSMO_WIDGET_SOCKET_URL", url())
    # the Rasa server's own URL (make run sets it)
    rasa_url: str = setting("KOSMO_RASA_URL", url(), DEFAULT_RASA_URL)


# Settings' field -> its group
GROUPS: Mapping[str, type[_Group]] = {
    "server": RasaServerSettings,
    "channels": ChannelSettings,
    "client_addresses": ClientAddressSettings,
    "handoff": HandoffSettings,
    "review": ReviewSettings,
    "data": DataFiles,
    "action_server": ActionServerSettings,
    "portal": PortalSettings,
    "widget_service": WidgetServiceSettings,
}


@dataclass(frozen=True)
class Settings:
    """Every setting of the bot: the mode and each group."""

    mode: Mode = Mode.DEV
    server: RasaServerSettings = field(default_factory=RasaServerSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    client_addresses: ClientAddressSettings = field(default_factory=ClientAddressSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    data: DataFiles = field(default_factory=DataFiles)
    action_server: ActionServerSettings = field(default_factory=ActionServerSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    widget_service: WidgetServiceSettings = field(default_factory=WidgetServiceSettings)

    MODE = Variable("KOSMO_MODE", choice(Mode))

    @property
    def production(self) -> bool:
        return self.mode is Mode.PRODUCTION

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Every group from ``environ`` (default ``os.environ``); one error lists every problem."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        groups: dict[str, Any] = {}
        mode = Mode.DEV
        raw_mode = (env.get(cls.MODE.name) or "").strip()
        if raw_mode:
            try:
                mode = cls.MODE.parse(cls.MODE.name, raw_mode)
            except SettingsError as e:
                problems += e.problems
        for name, group in GROUPS.items():
            try:
                groups[name] = group.from_env(env)
            except SettingsError as e:
                problems += e.problems
        if problems:
            raise SettingsError(problems)
        return cls(mode=mode, **groups)

    @classmethod
    def variables(cls) -> list[Variable]:
        """Every variable the bot reads, ``KOSMO_MODE`` first."""
        return [cls.MODE, *(v for group in GROUPS.values() for v in group.variables())]


def mode_from_env(environ: Optional[Mapping[str, str]] = None) -> Mode:
    """``KOSMO_MODE`` alone (unset: dev)."""
    env = os.environ if environ is None else environ
    raw = (env.get(Settings.MODE.name) or "").strip()
    return Settings.MODE.parse(Settings.MODE.name, raw) if raw else Mode.DEV


def describe(settings: Settings) -> list[str]:
    """``name = value`` for every setting (secrets hidden), for ``python -m bot.settings``."""
    lines = [f"{Settings.MODE.name} = {settings.mode.value}"]
    for name in GROUPS:
        group = getattr(settings, name)
        for gf in dataclasses.fields(group):
            variable = gf.metadata.get(_VARIABLE)
            if variable is not None:
                lines.append(f"{variable.name} = {_shown(getattr(group, gf.name))}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, Secret):
        return "(set, hidden)" + (" PLACEHOLDER" if value.placeholder else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value) or "(none)"
    return "(unset)" if value is None else str(value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m bot.settings``: the settings this environment gives, or what is wrong with it."""
    import sys

    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print("error: " + "\n       ".join(e.problems), file=sys.stderr)
        return 2
    print("\n".join(describe(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

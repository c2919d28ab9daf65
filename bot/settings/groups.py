"""The table of variables: each process's group of settings, with its defaults.

Each group is a frozen dataclass whose fields name their variable and its parser
(``setting``, ``family``: ``bot.settings.variables``); the parsers are in
``bot.settings.parsers``. The README's "Configuration" table and ``.env.example``
list the same variables (``tests/test_settings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping, Optional

from bot.settings.parsers import (
    IPNetwork,
    Secret,
    list_of,
    number,
    parse_bool,
    parse_network,
    parse_origin,
    parse_path,
    parse_secret,
    text,
    url,
    whole_number,
)
from bot.settings.variables import Group, family, setting

PROJECT_ROOT = Path(__file__).resolve().parents[2]

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


# ---------------------------------------------------------------- the groups


@dataclass(frozen=True)
class RasaServerSettings(Group):
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
class ChannelSettings(Group):
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
class ClientAddressSettings(Group):
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
class HandoffSettings(Group):
    """Human handoff (``bot.handoff``, ``bot.channels.agent_console``, ``bot.channels.line_dedup``)."""

    db_url: str = setting("KOSMO_HANDOFF_DB_URL", url(None), f"sqlite:///{DEFAULT_HANDOFF_DB_FILE}")
    # the console's cookies are Secure unless false (plain-http development)
    secure_cookies: bool = setting("KOSMO_AGENT_SECURE_COOKIES", parse_bool, True)
    watch_seconds: float = setting(
        "KOSMO_HANDOFF_WATCH_SECONDS", number(0.0, low_inclusive=False), DEFAULT_HANDOFF_WATCH_SECONDS
    )


@dataclass(frozen=True)
class ReviewSettings(Group):
    """The review of what the bot could not handle (``bot.review``)."""

    db_url: str = setting("KOSMO_REVIEW_DB_URL", url(None), f"sqlite:///{DEFAULT_REVIEW_DB_FILE}")


@dataclass(frozen=True)
class DataFiles(Group):
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
class ActionServerSettings(Group):
    """The action server (``bot.action_server``)."""

    # the secret the Rasa server sends (endpoints.yml) and the action server checks
    token: Optional[Secret] = setting("KOSMO_ACTION_SERVER_TOKEN", parse_secret)
    host: str = setting("KOSMO_ACTIONS_HOST", text(r"[A-Za-z0-9.:\-\[\]]+", "a host name or address"), DEFAULT_ACTIONS_HOST)


@dataclass(frozen=True)
class PortalSettings(Group):
    """How the actions reach the society's portal (``bot.portal_client``)."""

    url: str = setting("KOSMO_PORTAL_URL", url(), DEFAULT_PORTAL_URL)
    service_token: Optional[Secret] = setting("KOSMO_PORTAL_SERVICE_TOKEN", parse_secret)
    # signs the member identity sent to the portal (None: derived from the service token)
    member_id_key: Optional[Secret] = setting("KOSMO_MEMBER_ID_KEY", parse_secret)


@dataclass(frozen=True)
class WidgetServiceSettings(Group):
    """The widget's web service (``bot.web``)."""

    # the Rasa server as members' browsers reach it (None: rasa_url)
    socket_url: Optional[str] = setting("KOSMO_WIDGET_SOCKET_URL", url())
    # the Rasa server's own URL (make run sets it)
    rasa_url: str = setting("KOSMO_RASA_URL", url(), DEFAULT_RASA_URL)


# Settings' field -> its group
GROUPS: Mapping[str, type[Group]] = {
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

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

The package, one settings layer in four parts; every name above is imported from
``bot.settings`` itself:

- ``bot.settings.parsers``: the kinds, one parser each, :class:`SettingsError` and
  :class:`Secret`;
- ``bot.settings.variables``: declaring a variable (:func:`setting`, :func:`family`) and
  building a group of them from the environment;
- ``bot.settings.groups``: the table of variables, group by group, with their defaults;
- this module: :class:`Settings` (the mode and every group), ``python -m bot.settings``.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from bot.settings.groups import (
    DEFAULT_ACTION_TIMEOUT,
    DEFAULT_ACTIONS_HOST,
    DEFAULT_FIRST_LOGIN_STEPS_FILE,
    DEFAULT_HANDOFF_DB_FILE,
    DEFAULT_HANDOFF_WATCH_SECONDS,
    DEFAULT_LINE_API_BASE,
    DEFAULT_LINE_MAX_BODY_BYTES,
    DEFAULT_LINE_MAX_EVENT_AGE_S,
    DEFAULT_LINE_MAX_EVENTS,
    DEFAULT_MAX_MESSAGE_CHARS,
    DEFAULT_NEXT_STEPS_FILE,
    DEFAULT_PORTAL_URL,
    DEFAULT_RASA_URL,
    DEFAULT_RESPONSES_EN_FILE,
    DEFAULT_REVIEW_DB_FILE,
    DEFAULT_SOCIETIES_FILE,
    DEFAULT_TOPIC_LABELS_FILE,
    DEFAULT_TRACKER_CACHE_SIZE,
    DEFAULT_TRACKER_DB_FILE,
    DEFAULT_TRUSTED_PROXIES,
    GROUPS,
    PROJECT_ROOT,
    REFERENCE_PORTAL_VARIABLES,
    ActionServerSettings,
    ChannelSettings,
    ClientAddressSettings,
    DataFiles,
    HandoffSettings,
    PortalSettings,
    RasaServerSettings,
    ReviewSettings,
    WidgetServiceSettings,
)
from bot.settings.parsers import (
    ORIGIN,
    IPNetwork,
    Parser,
    Secret,
    SettingsError,
    choice,
    list_of,
    number,
    parse_bool,
    parse_network,
    parse_origin,
    parse_path,
    parse_secret,
    reveal,
    text,
    url,
    whole_number,
)
from bot.settings.variables import Group, Variable, family, setting

__all__ = [
    # the whole
    "Mode", "Settings", "describe", "main", "mode_from_env",
    # the groups and their defaults (bot.settings.groups)
    "GROUPS", "ActionServerSettings", "ChannelSettings", "ClientAddressSettings", "DataFiles",
    "HandoffSettings", "PortalSettings", "RasaServerSettings", "ReviewSettings",
    "WidgetServiceSettings", "PROJECT_ROOT", "REFERENCE_PORTAL_VARIABLES",
    "DEFAULT_ACTION_TIMEOUT", "DEFAULT_ACTIONS_HOST", "DEFAULT_FIRST_LOGIN_STEPS_FILE",
    "DEFAULT_HANDOFF_DB_FILE", "DEFAULT_HANDOFF_WATCH_SECONDS", "DEFAULT_LINE_API_BASE",
    "DEFAULT_LINE_MAX_BODY_BYTES", "DEFAULT_LINE_MAX_EVENT_AGE_S", "DEFAULT_LINE_MAX_EVENTS",
    "DEFAULT_MAX_MESSAGE_CHARS", "DEFAULT_NEXT_STEPS_FILE", "DEFAULT_PORTAL_URL",
    "DEFAULT_RASA_URL", "DEFAULT_RESPONSES_EN_FILE", "DEFAULT_REVIEW_DB_FILE",
    "DEFAULT_SOCIETIES_FILE", "DEFAULT_TOPIC_LABELS_FILE", "DEFAULT_TRACKER_CACHE_SIZE",
    "DEFAULT_TRACKER_DB_FILE", "DEFAULT_TRUSTED_PROXIES",
    # declaring variables (bot.settings.variables)
    "Group", "Variable", "family", "setting",
    # the kinds (bot.settings.parsers)
    "ORIGIN", "IPNetwork", "Parser", "Secret", "SettingsError", "choice", "list_of", "number",
    "parse_bool", "parse_network", "parse_origin", "parse_path", "parse_secret", "reveal",
    "text", "url", "whole_number",
]


class Mode(str, enum.Enum):
    """``KOSMO_MODE``: how strictly the servers judge their set-up when they start."""

    DEV = "dev"  # make run, the tests: a placeholder secret or another Rasa is a warning
    PRODUCTION = "production"  # operators: they stop the server (bot.preflight)


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
        group: Group = getattr(settings, name)
        for variable, value in group.items():
            lines.append(f"{variable.name} = {_shown(value)}")
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

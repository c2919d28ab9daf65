"""Fail loudly on a broken set-up: what the servers check before they start.

The Rasa server (``bot.serve``, before Rasa loads anything) refuses to start when

- **a variable cannot be used** (``bot.settings``: every such variable at once);
- **the handoff gate is missing**: the endpoints file in use names an action
  server, whose ``action_handoff`` queues conversations for the helpdesk, but the
  credentials file in use does not name ``bot.channels.agent_console.AgentConsoleInput``,
  which puts the gate in front of the bot and serves the agents' console. Without
  it a queued member keeps getting the bot's answers and no agent can reply;
- **a credentials value is still its placeholder**: a ``${VAR}`` that the
  credentials or endpoints file takes is ``change-me`` (``.env.example``) or
  empty, or the file itself holds ``change-me``;
- **Rasa is not the pinned version** (``rasa==`` in ``pyproject.toml``): the
  speed-ups and Rasa patches were checked against that version only.

The last two stop the server in production mode (``KOSMO_MODE=production``); in
dev mode (the default: ``make run``, the tests) they are warnings. The action
server (``bot.action_server``) judges the secrets it sends the portal the same
way. No Rasa imports at module level.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import yaml

from bot.rasa_pin import PYPROJECT, pinned_rasa_version
from bot.settings import (
    Mode,
    Secret,
    Settings,
    SettingsError,
    mode_from_env,
)
from bot.shared_secret import PLACEHOLDERS

CONSOLE_CHANNEL = "bot.channels.agent_console.AgentConsoleInput"
_REFERENCE = re.compile(r"\$\{(\w+)\}")
DEV_NOTE = "dev mode: starting anyway; KOSMO_MODE=production refuses this"


class SetupError(RuntimeError):
    """The server must not start; the message lists every reason."""

    def __init__(self, server: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"the {server} will not start:\n  - " + "\n  - ".join(self.problems))


@dataclass
class Findings:
    """What a check found: reasons to refuse, and what dev mode only warns about."""

    mode: Mode
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def strict(self, finding: str) -> None:
        """A problem in production mode, a warning in dev mode."""
        if self.mode is Mode.PRODUCTION:
            self.problems.append(finding)
        else:
            self.warnings.append(f"{finding} ({DEV_NOTE})")

    def verdict(self, server: str) -> list[str]:
        """Raise :class:`SetupError` if anything must stop the server; else the warnings."""
        if self.problems:
            raise SetupError(server, self.problems)
        return self.warnings


def _findings(environ: Mapping[str, str]) -> tuple[Findings, Optional[Settings]]:
    """Every setting parsed; an unreadable ``KOSMO_MODE`` judges as strictly as production."""
    try:
        mode = mode_from_env(environ)
    except SettingsError:
        mode = Mode.PRODUCTION
    findings = Findings(mode)
    try:
        return findings, Settings.from_env(environ)
    except SettingsError as e:
        findings.problems += e.problems
        return findings, None


# ---------------------------------------------------------------- the Rasa server


def check_rasa_server(
    credentials: Optional[Union[str, Path]],
    endpoints: Optional[Union[str, Path]],
    environ: Mapping[str, str],
    connector: Optional[str] = None,
    rasa_version: Optional[str] = None,
    pinned_version: Optional[str] = None,
) -> list[str]:
    """Check the Rasa server's set-up; raise :class:`SetupError`, else return the warnings.

    ``credentials`` and ``endpoints`` are the files the server will use (None: none);
    ``connector`` is ``rasa run --connector`` (then that is the only channel);
    ``rasa_version`` defaults to ``rasa.__version__``, ``pinned_version`` to
    :func:`pinned_rasa_version`.
    """
    findings, _ = _findings(environ)
    channels = _yaml_file(credentials)
    endpoint_config = _yaml_file(endpoints)
    if _names_action_server(endpoint_config) and not _names_console(
        [connector] if connector else list(channels)
    ):
        where = f"{credentials}" if credentials else "no credentials file"
        findings.problems.append(
            f"the handoff gate is missing: {where} does not name {CONSOLE_CHANNEL}, but "
            f"{endpoints} names an action server, whose action_handoff queues conversations "
            "for the helpdesk: a member waiting for a person would keep getting the bot's "
            "answers, and no agent could reply. Add the line "
            f"`{CONSOLE_CHANNEL}:` to {credentials or 'credentials.yml'}"
        )
    for path, config in ((credentials, channels), (endpoints, endpoint_config)):
        for finding in placeholder_references(config, environ, str(path)):
            findings.strict(finding)
    _check_rasa_version(findings, rasa_version, pinned_version)
    return findings.verdict("Rasa server")


def check_rasa_server_args(namespace: Any, environ: Mapping[str, str]) -> list[str]:
    """:func:`check_rasa_server` for the arguments of ``rasa run`` (Rasa's own parser's
    namespace): the files Rasa will use, found as Rasa finds them."""
    return check_rasa_server(
        _in_use(getattr(namespace, "credentials", None), "credentials.yml"),
        _in_use(getattr(namespace, "endpoints", None), "endpoints.yml"),
        environ,
        connector=getattr(namespace, "connector", None),
    )


def _in_use(given: Optional[str], default: str) -> Optional[Path]:
    """The file Rasa will read: the one given if it exists, else the default if that
    exists, else none (``rasa.cli.utils.get_validated_path`` with ``none_is_valid``)."""
    for candidate in (given, default):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _yaml_file(path: Optional[Union[str, Path]]) -> Mapping[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}  # Rasa reads it next and says what is wrong
    return data if isinstance(data, Mapping) else {}


def _names_action_server(endpoints: Mapping[str, Any]) -> bool:
    action = endpoints.get("action_endpoint")
    return isinstance(action, Mapping) and bool(action.get("url"))


def _names_console(channels: Sequence[str]) -> bool:
    """Whether one of the channels is the agents' console (or a subclass of it)."""
    for name in channels:
        if name == CONSOLE_CHANNEL:
            return True
        module, _, attribute = str(name).rpartition(".")
        if not module:
            continue  # one of Rasa's own channels (rest, socketio, ...)
        try:  # as Rasa will import it
            candidate = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue  # Rasa says why it cannot load it
        from bot.channels.agent_console import AgentConsoleInput

        if isinstance(candidate, type) and issubclass(candidate, AgentConsoleInput):
            return True
    return False


def placeholder_references(
    config: Any, environ: Mapping[str, str], source: str
) -> Iterator[str]:
    """A finding for each ``${VAR}`` in ``config`` whose value is a placeholder or empty,
    and each value written in ``config`` that is itself a placeholder."""
    for where, value in _strings(config, ()):
        names = _REFERENCE.findall(value)
        if not names and value.strip().lower() in PLACEHOLDERS:
            yield (
                f"{source}: {'.'.join(where)} is the placeholder {value!r}: write the real "
                "value there, or ${VAR} to take it from the environment"
            )
        for name in names:
            if name not in environ:
                continue  # unset: Rasa refuses to start and names it
            if not environ[name].strip():
                yield f"{name} ({source}) is empty: put the real value in the environment (.env)"
            elif Secret(environ[name]).placeholder:
                yield (
                    f"{name} ({source}) is still the placeholder {environ[name].strip()!r} "
                    "from .env.example: put the real value in the environment (.env)"
                )


def _strings(value: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*where, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*where, str(index)))


def _check_rasa_version(findings: Findings, found: Optional[str], pinned: Optional[str]) -> None:
    if found is None:
        import rasa

        found = str(getattr(rasa, "__version__", "unknown"))
    pinned = pinned or pinned_rasa_version()
    if pinned is None:
        findings.strict(f"the pinned Rasa version is unknown (no rasa== in {PYPROJECT}); found {found}")
    elif found != pinned:
        findings.strict(
            f"Rasa {found} is installed, but the bot is pinned to Rasa {pinned} (pyproject.toml): "
            "its speed-ups and Rasa patches were checked against that version only. "
            "Install the pinned version (`make venv`)"
        )


# ---------------------------------------------------------------- the action server


def check_action_server(environ: Mapping[str, str]) -> list[str]:
    """Check the action server's set-up; raise :class:`SetupError`, else return the warnings.

    Its own secret (``KOSMO_ACTION_SERVER_TOKEN``) it refuses itself in every mode
    (``bot.action_server.token_from_env``); here: every setting readable, and the
    secrets it sends the portal not left at their placeholder.
    """
    findings, settings = _findings(environ)
    portal = settings.portal if settings is not None else None
    if portal is not None:
        for name, secret in (
            ("KOSMO_PORTAL_SERVICE_TOKEN", portal.service_token),
            ("KOSMO_MEMBER_ID_KEY", portal.member_id_key),
        ):
            if secret is not None and secret.placeholder:
                findings.strict(
                    f"{name} is still the placeholder {secret.value!r} from .env.example: "
                    "put the real value in the environment (.env)"
                )
    return findings.verdict("action server")

"""bot/settings/: every variable the bot reads, typed, one parser per kind; the docs agree."""

from __future__ import annotations

import ast
import ipaddress
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import (
    REFERENCE_PORTAL_VARIABLES,
    ChannelSettings,
    ClientAddressSettings,
    HandoffSettings,
    Mode,
    PortalSettings,
    RasaServerSettings,
    Secret,
    Settings,
    SettingsError,
    list_of,
    number,
    parse_bool,
    parse_network,
    parse_origin,
    url,
    whole_number,
)
from tests.conftest import PROJECT_ROOT

# ---------------------------------------------------------------- the parsers


@pytest.mark.parametrize(
    "raw, value",
    [("true", True), ("1", True), ("YES", True), ("On", True),
     ("false", False), ("0", False), ("no", False), ("OFF", False)],
)
def test_one_boolean_parser_for_every_switch(raw, value):
    assert parse_bool("KOSMO_X", raw) is value


@pytest.mark.parametrize("raw", ["ture", "2", "y", "enabled"])
def test_a_misspelt_switch_is_refused_by_name(raw):
    with pytest.raises(SettingsError, match=f"KOSMO_X must be true or false, not '{raw}'"):
        parse_bool("KOSMO_X", raw)


@pytest.mark.parametrize(
    "parse, raw, value",
    [
        (whole_number(1), "20", 20),
        (whole_number(0), "0", 0),
        (whole_number(1, 60), "60", 60),
        (number(1.0), "1", 1.0),
        (number(0.0, low_inclusive=False), "0.5", 0.5),
    ],
)
def test_numbers_within_their_bounds(parse, raw, value):
    assert parse("KOSMO_N", raw) == value


@pytest.mark.parametrize(
    "parse, raw, why",
    [
        (whole_number(1), "0", "a whole number of at least 1"),
        (whole_number(1), "2.5", "a whole number of at least 1"),
        (whole_number(1), "ten", "a whole number of at least 1"),
        (whole_number(1, 60), "61", "a whole number from 1 to 60"),
        (number(1.0), "0.5", "a number of at least 1"),
        (number(0.0, low_inclusive=False), "0", "a number above 0"),
        (number(0.0, low_inclusive=False), "nan", "a number above 0"),
        (number(0.0, low_inclusive=False), "inf", "a number above 0"),
    ],
)
def test_numbers_outside_their_bounds_are_refused_by_name(parse, raw, why):
    with pytest.raises(SettingsError, match=f"KOSMO_N must be {why}, not '{raw}'"):
        parse("KOSMO_N", raw)


def test_lists_split_on_commas_and_spaces_and_parse_each_item():
    origins = list_of(parse_origin)("KOSMO_CORS_ORIGINS", "https://a.example/, http://127.0.0.1:8000  https://b.example")
    assert origins == ("https://a.example", "http://127.0.0.1:8000", "https://b.example")
    networks = list_of(parse_network)("KOSMO_TRUSTED_PROXIES", "127.0.0.1/8,::1 10.0.0.0/8")
    assert networks == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1"), ipaddress.ip_network("10.0.0.0/8")
    )
    with pytest.raises(SettingsError, match=r"KOSMO_CORS_ORIGINS: '\*' is not an origin"):
        list_of(parse_origin)("KOSMO_CORS_ORIGINS", "https://a.example *")
    with pytest.raises(SettingsError, match="KOSMO_TRUSTED_PROXIES: 'proxy' is not an IP address or network"):
        list_of(parse_network)("KOSMO_TRUSTED_PROXIES", "127.0.0.1 proxy")


def test_urls():
    assert url()("KOSMO_PORTAL_URL", "https://portal.example/") == "https://portal.example/"
    assert url(None)("KOSMO_TRACKER_DB_URL", "postgresql+psycopg2://u:p@db/rasa").startswith("postgresql")
    assert url(None)("KOSMO_TRACKER_DB_URL", "sqlite:////tmp/t.db") == "sqlite:////tmp/t.db"
    for parse, raw in [(url(), "ftp://x"), (url(), "portal.example"), (url(), "https://"),
                       (url(None), "var/tracker.db")]:
        with pytest.raises(SettingsError, match="KOSMO_U must be a URL"):
            parse("KOSMO_U", raw)


def test_a_secret_stays_out_of_repr_and_knows_its_placeholder():
    settings = ChannelSettings.from_env({"KOSMO_REST_TOKEN": " s3cret-s3cret-s3cret ",
                                         "LINE_KOSE_CHANNEL_SECRET": "change-me"})
    assert settings.rest_token == Secret("s3cret-s3cret-s3cret")  # surrounding spaces dropped
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.rest_token)
    assert settings.line_channel_secrets["kose"].placeholder
    assert not settings.rest_token.placeholder


# ---------------------------------------------------------------- the groups


def test_the_defaults_are_the_ones_the_bot_always_had():
    s = Settings.from_env({})
    assert s == Settings()
    assert s.mode is Mode.DEV and not s.production
    assert s.server.action_timeout == 5.0 and s.server.tracker_cache_size == 500
    assert s.server.speedups is True and s.server.jax is False and s.server.blas_threads is None
    assert s.server.tracker_db_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    assert s.server.cors_origins == () and s.server.auth_token is None
    assert s.channels.max_message_chars == 2000
    assert (s.channels.line_max_body_bytes, s.channels.line_max_events, s.channels.line_max_event_age) == (
        1024 * 1024, 20, 600.0
    )
    assert s.channels.line_api_base == "https://api.line.me"
    assert s.client_addresses == ClientAddressSettings(
        None, (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1"))
    )
    assert s.handoff == HandoffSettings(f"sqlite:///{PROJECT_ROOT / 'var' / 'handoff.db'}", True, 15.0)
    assert s.review.db_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'review.db'}"
    assert s.data.societies_file == PROJECT_ROOT / "data" / "societies.yml" and s.data.default_society is None
    assert s.action_server.host == "127.0.0.1" and s.action_server.token is None
    assert s.portal == PortalSettings("http://127.0.0.1:8080", None, None)
    assert s.widget_service.socket_url is None and s.widget_service.rasa_url == "http://127.0.0.1:5005"


def test_an_empty_variable_is_an_unset_one():
    assert Settings.from_env({v.name: "" for v in Settings.variables() if v.pattern is None}) == Settings()


def test_values_are_typed():
    s = Settings.from_env({
        "KOSMO_MODE": "Production",
        "KOSMO_ACTION_TIMEOUT": "2.5",
        "KOSMO_TRACKER_CACHE_SIZE": "0",
        "KOSMO_RASA_SPEEDUPS": "off",
        "KOSMO_SERVER_JAX": "on",
        "OPENBLAS_NUM_THREADS": "2",
        "KOSMO_CLIENT_IP_HEADER": "X-Forwarded-For",
        "LINE_ONO_ACCESS_TOKEN": "t" * 40,
        "KOSMO_AGENT_SECURE_COOKIES": "false",
        "KOSMO_DEFAULT_SOCIETY": "ono",
    })
    assert s.production
    assert s.server == RasaServerSettings(
        action_timeout=2.5, tracker_cache_size=0, speedups=False, jax=True, blas_threads=2
    )
    assert s.client_addresses.client_ip_header == "x-forwarded-for"
    assert s.channels.line_access_tokens == {"ono": Secret("t" * 40)}
    assert s.handoff.secure_cookies is False and s.data.default_society == "ono"


def test_every_unusable_variable_is_named_at_once():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({
            "KOSMO_MODE": "prod",
            "KOSMO_MAX_MESSAGE_CHARS": "-1",
            "KOSMO_HANDOFF_WATCH_SECONDS": "often",
            "KOSMO_CORS_ORIGINS": "*",
            "KOSMO_TRACKER_CACHE_SIZE": "lots",
        })
    named = [re.match(r"[A-Z_]+", p).group(0) for p in caught.value.problems]  # type: ignore[union-attr]
    assert sorted(named) == sorted([
        "KOSMO_MODE", "KOSMO_MAX_MESSAGE_CHARS", "KOSMO_HANDOFF_WATCH_SECONDS",
        "KOSMO_CORS_ORIGINS", "KOSMO_TRACKER_CACHE_SIZE",
    ])
    assert "KOSMO_MODE must be dev or production, not 'prod'" in str(caught.value)



@pytest.mark.parametrize(
    "old, new",
    [("KOSMO_DEFAULT_TENANT", "KOSMO_DEFAULT_SOCIETY"), ("KOSMO_TENANTS_FILE", "KOSMO_SOCIETIES_FILE")],
)
def test_a_variable_still_set_under_its_old_name_is_refused_with_its_new_one(old, new):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({old: "ono"})
    assert caught.value.problems == [f"{old} was renamed {new}: set {new} instead"]
    Settings.from_env({new: "ono" if "DEFAULT" in new else "data/societies.yml"})  # no SettingsError


def test_python_m_bot_settings_shows_the_settings_with_secrets_hidden():
    env = {"PATH": "/usr/bin:/bin", "KOSMO_REST_TOKEN": "visible-if-broken-0123", "LINE_KOSE_ACCESS_TOKEN": "change-me"}
    out = subprocess.run([sys.executable, "-m", "bot.settings"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "KOSMO_MODE = dev" in out and "KOSMO_MAX_MESSAGE_CHARS = 2000" in out
    assert "KOSMO_REST_TOKEN = (set, hidden)" in out and "visible-if-broken" not in out
    assert "LINE_<SOCIETY>_ACCESS_TOKEN = kose: (set, hidden) PLACEHOLDER" in out
    bad = subprocess.run([sys.executable, "-m", "bot.settings"], cwd=PROJECT_ROOT,
                         env={**env, "KOSMO_LINE_MAX_EVENTS_PER_BODY": "0"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "KOSMO_LINE_MAX_EVENTS_PER_BODY must be a whole number" in bad.stderr


# ---------------------------------------------------------------- the module, .env.example and the README agree


def _known() -> tuple[set[str], list[re.Pattern[str]], set[str]]:
    """Concrete names, the families' patterns, and every name as the docs write it."""
    variables = Settings.variables()
    concrete = {v.name for v in variables if v.pattern is None}
    families = [v.pattern for v in variables if v.pattern is not None]
    return concrete, families, {v.name for v in variables}


def env_example_names() -> list[str]:
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    return re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.M)


def readme_table_names() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_<>]*)`", row.split(" | ")[0])]


def test_env_example_lists_every_variable_and_nothing_else():
    concrete, families, _ = _known()
    names = env_example_names()
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert concrete - set(names) == set(), "variables the bot reads that .env.example does not list"
    for pattern in families:
        assert any(pattern.fullmatch(n) for n in names), f"no example of {pattern.pattern}"
    unknown = {
        n for n in names
        if n not in concrete and n not in REFERENCE_PORTAL_VARIABLES and not any(p.fullmatch(n) for p in families)
    }
    assert unknown == set(), "in .env.example but not read by the bot (bot/settings/)"


def test_the_readme_table_documents_every_variable_and_nothing_else():
    _, _, documented_names = _known()
    names = readme_table_names()
    assert len(names) == len(set(names)), "a variable has two rows"
    assert documented_names - set(names) == set(), "missing from the README's Configuration table"
    assert set(names) - documented_names == set(), "in the README's table but not read by the bot"


def test_the_reference_portals_variables_are_documented_with_the_portal():
    portal_docs = (PROJECT_ROOT / "docs" / "portal.md").read_text(encoding="utf-8")
    for name in REFERENCE_PORTAL_VARIABLES:
        assert f"`{name}`" in portal_docs


# ---------------------------------------------------------------- nobody else reads them

# the reference portal (a stand-in for the society's system) and the dev launcher are not
# the bot: they live in dev/, outside what is scanned here
NOT_THE_BOT = ("bot/settings/",)


def _environment_lookups(path: Path, names: set[str]) -> list[str]:
    """``os.environ.get(X)``, ``os.environ[X]``, ``os.getenv(X)``, ``env.get(X)``, with X one
    of the settings' variables, written out or as a module's constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    found = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr in ("get", "getenv", "pop"):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        value = constants.get(key.id) if isinstance(key, ast.Name) else None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            value = key.value
        if value is not None and (value in names or value.startswith("KOSMO_")):
            found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {value}")
    return found


def test_only_the_settings_module_reads_the_bots_variables():
    names = {v.name for v in Settings.variables()}
    files = sorted((PROJECT_ROOT / "bot").rglob("*.py")) + sorted((PROJECT_ROOT / "actions").rglob("*.py"))
    lookups = [
        hit for path in files
        if not str(path.relative_to(PROJECT_ROOT)).startswith(NOT_THE_BOT)
        for hit in _environment_lookups(path, names)
    ]
    assert lookups == []

"""Loading societies from data/societies.yml, and what goes wrong loudly."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.domain.societies import (
    DEFAULT_SOCIETIES_FILE,
    SocietyConfigError,
    load_registry,
    parse_registry,
)
from tests.conftest import FICTIONAL_EXAMPLE_PASSWORD, FICTIONAL_KEY, societies_data_with_fictional


def raw() -> dict:
    return yaml.safe_load(DEFAULT_SOCIETIES_FILE.read_text(encoding="utf-8"))


def test_both_manual_societies_load_with_their_facts(registry):
    kose, ono = registry.get("kose"), registry.get("ono")
    assert kose.otp_method == "email" and kose.authenticator_app is None
    assert kose.portal_url == "https://www.kosekenpo.portal.kosmo-web.jp/"
    assert kose.initial_password.example == "301234519901101"
    assert ono.otp_method == "totp" and ono.authenticator_app == "Microsoft Authenticator"
    assert ono.portal_url == "https://www.onokenpo.portal.kosmo-web.jp/"
    assert ono.initial_password.example == "10123420010101"
    assert ono.initial_password.total_digits == 14
    assert ono.voluntary_continuation is not None and kose.voluntary_continuation is None


@pytest.mark.parametrize(
    "given, expected",
    [
        ("ono", "ono"),
        ("ONO", "ono"),
        (" kose ", "kose"),
        ("nope", "kose"),
        (None, "kose"),
        ("", "kose"),
    ],
)
def test_resolve_falls_back_to_the_default(registry, given, expected):
    assert registry.resolve(given).key == expected


def test_default_can_be_overridden_from_the_environment():
    reg = load_registry(DEFAULT_SOCIETIES_FILE, environ={"KOSMO_DEFAULT_SOCIETY": "ono"})
    assert reg.default.key == "ono"
    assert reg.resolve("unknown").key == "ono"


def test_unknown_default_is_refused():
    with pytest.raises(SocietyConfigError, match="default society 'zzz'"):
        load_registry(DEFAULT_SOCIETIES_FILE, environ={"KOSMO_DEFAULT_SOCIETY": "zzz"})


@pytest.mark.parametrize(
    "path, message",
    [
        (("ono", "portal_url"), "societies.ono: missing required key 'portal_url'"),
        (
            ("ono", "initial_password", "example"),
            "societies.ono.initial_password: missing required key 'example'",
        ),
        (("kose", "otp_method"), "societies.kose: missing required key 'otp_method'"),
    ],
)
def test_a_missing_fact_is_named(path, message):
    data = copy.deepcopy(raw())
    node = data["societies"]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(SocietyConfigError) as err:
        parse_registry(data)
    assert str(err.value) == message


def test_bad_otp_method_and_missing_app_are_refused():
    data = copy.deepcopy(raw())
    data["societies"]["kose"]["otp_method"] = "sms"
    with pytest.raises(SocietyConfigError, match="otp_method: must be one of"):
        parse_registry(data)
    data = copy.deepcopy(raw())
    data["societies"]["ono"]["authenticator_app"] = None
    with pytest.raises(SocietyConfigError, match="authenticator_app: required"):
        parse_registry(data)


def test_missing_or_broken_file_gives_a_clear_error(tmp_path: Path):
    with pytest.raises(SocietyConfigError, match="not found"):
        load_registry(tmp_path / "nope.yml", environ={})
    bad = tmp_path / "bad.yml"
    bad.write_text("societies: [unclosed", encoding="utf-8")
    with pytest.raises(SocietyConfigError, match="not valid YAML"):
        load_registry(bad, environ={})


def test_a_third_society_is_data_only(registry_with_fictional):
    hoshi = registry_with_fictional.get(FICTIONAL_KEY)
    assert hoshi is not None
    assert hoshi.initial_password.example == FICTIONAL_EXAMPLE_PASSWORD
    variables = hoshi.template_variables()
    assert variables["pw_total_digits"] == 17
    assert variables["portal_url"].startswith("https://www.hoshizora")
    assert {t.key for t in registry_with_fictional} == {"kose", "ono", FICTIONAL_KEY}
    assert societies_data_with_fictional()["societies"][FICTIONAL_KEY]["otp_method"] == "email"


# ------------------------------------------------------------------ helpdesk hours

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize(
    ("at", "staffed"),
    [
        (dt.datetime(2026, 11, 24, 9, 0, tzinfo=JST), True),  # Tuesday, opening minute
        (dt.datetime(2026, 11, 24, 16, 59, tzinfo=JST), True),
        (dt.datetime(2026, 11, 24, 17, 0, tzinfo=JST), False),  # closing minute
        (dt.datetime(2026, 11, 24, 8, 59, tzinfo=JST), False),
        (dt.datetime(2026, 11, 29, 10, 0, tzinfo=JST), False),  # Sunday
        (dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.timezone.utc), True),  # 10:00 in Tokyo
        (dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone.utc), False),  # 18:00 in Tokyo
    ],
)
def test_staffed_hours_of_the_real_societies(registry, at, staffed):
    for key in ("kose", "ono"):
        helpdesk = registry.get(key).helpdesk
        assert helpdesk is not None and helpdesk.is_staffed(at) is staffed
        assert registry.get(key).template_variables()["staffed_hours"] == "平日 9:00〜17:00"


def test_helpdesk_is_optional_and_checked():
    from bot.domain.societies import parse_helpdesk

    assert parse_helpdesk(None, "x") is None
    always = parse_helpdesk(
        {"staffed_hours": {"days": ["sun", "sat"], "start": "0:00", "end": "24:00"}}, "x"
    )
    assert always.describe() == "土・日 0:00〜24:00" and always.max_wait_minutes == 10
    assert always.is_staffed(dt.datetime(2026, 11, 29, 23, 59, tzinfo=JST))
    never = parse_helpdesk({"staffed_hours": {"days": [], "start": "9:00", "end": "17:00"}}, "x")
    assert never.describe() == "" and not never.is_staffed(dt.datetime.now(dt.timezone.utc))
    for bad in (
        {"staffed_hours": {"days": ["mon"], "start": "17:00", "end": "09:00"}},
        {"staffed_hours": {"days": ["xyz"], "start": "9:00", "end": "17:00"}},
        {"staffed_hours": {"days": ["mon"], "start": "9:60", "end": "17:00"}},
        {
            "staffed_hours": {"days": ["mon"], "start": "9:00", "end": "17:00"},
            "timezone": "Mars/Base",
        },
        {
            "staffed_hours": {"days": ["mon"], "start": "9:00", "end": "17:00"},
            "max_wait_minutes": "soon",
        },
    ):
        with pytest.raises(SocietyConfigError):
            parse_helpdesk(bad, "x")


def test_closed_dates_are_days_off():
    from bot.domain.societies import parse_helpdesk

    data = yaml.safe_load(
        'staffed_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n'
        "closed_dates: [2026-11-23, 2026-12-31]\n"
    )
    helpdesk = parse_helpdesk(data, "x")
    assert not helpdesk.is_staffed(dt.datetime(2026, 11, 23, 10, 0, tzinfo=JST))  # 勤労感謝の日
    assert helpdesk.is_staffed(dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST))
    with pytest.raises(SocietyConfigError):
        parse_helpdesk({**data, "closed_dates": ["someday"]}, "x")

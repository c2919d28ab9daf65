"""Shared fixtures: the project's societies plus a fictional third society."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.domain.societies import DEFAULT_SOCIETIES_FILE, SocietyRegistry, load_registry

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A society that exists only here: email OTP like kose, but every fact differs,
# so a test can tell whose facts an answer used.
FICTIONAL_KEY = "hoshi"
FICTIONAL_SOCIETY = {
    "name": "ほしぞら健康保険組合",
    "short_name": "ほしぞら健保",
    "portal_url": "https://www.hoshizora.portal.kosmo-web.jp/",
    "otp_method": "email",
    "authenticator_app": None,
    "mail_sender": "no-reply@kosmo-web.jp",
    "mail_domain": "kosmo-web.jp",
    "first_login_minutes": 15,
    "user_id": {
        "min_length": 8,
        "max_length": 13,
        "allowed": "半角英数字と - _ . @",
        "source_first_time": "ほしぞら健保から届いた通知書のユーザーID",
        "source_returning": "今までのユーザーID",
    },
    "first_time_notice": "「ログインのご案内」",
    "initial_password": {
        "rule": "記号（3桁）＋番号（6桁）＋生年月日（西暦8桁）",
        "symbol_digits": 3,
        "number_digits": 6,
        "example": {"symbol": "707", "number": "654321", "birth_date": "1985-02-03"},
    },
    "symbol_number_source": "ほしぞら健保の資格情報のお知らせ",
    "voluntary_continuation": None,
    "password": {"min_length": 8, "max_length": 64, "allowed_symbols": "!#$%"},
    "email_link_valid_minutes": 30,
    "contact": "ほしぞら健康保険組合",
    "app_help_desk": None,
    # nobody ever staffs it, and a queued member is told after 3 seconds
    "helpdesk": {
        "staffed_hours": {"days": [], "start": "09:00", "end": "17:00"},
        "max_wait_minutes": 0.05,
    },
}
# In the test stacks the real societies' helpdesks are staffed at every hour, so
# that no test depends on the time of day it runs at (bot.domain.helpdesk_hours.Helpdesk is
# tested with set clocks in tests/test_societies.py).
ALWAYS_STAFFED = {
    "staffed_hours": {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "00:00",
        "end": "24:00",
    },
    "timezone": "Asia/Tokyo",
    "max_wait_minutes": 10,
}
FICTIONAL_EXAMPLE_PASSWORD = "70765432119850203"


def societies_data_with_fictional() -> dict:
    data = yaml.safe_load(DEFAULT_SOCIETIES_FILE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["societies"][FICTIONAL_KEY] = copy.deepcopy(FICTIONAL_SOCIETY)
    for key in ("kose", "ono"):
        data["societies"][key]["helpdesk"] = copy.deepcopy(ALWAYS_STAFFED)
    return data


@pytest.fixture(scope="session")
def societies_file_with_fictional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/societies.yml plus the fictional society (helpdesks as above), written to a temp file."""
    path = tmp_path_factory.mktemp("societies") / "societies.yml"
    path.write_text(
        yaml.safe_dump(societies_data_with_fictional(), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def registry() -> SocietyRegistry:
    return load_registry(DEFAULT_SOCIETIES_FILE, environ={})


@pytest.fixture(scope="session")
def registry_with_fictional(societies_file_with_fictional: Path) -> SocietyRegistry:
    return load_registry(societies_file_with_fictional, environ={})

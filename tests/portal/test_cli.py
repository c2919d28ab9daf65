"""``python -m dev.portal ...`` as the Makefile and staff run it (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dev.portal.seed import DEMO_MEMBERS
from tests.portal.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dev.portal", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KOSMO_")}
    clean.update({
        "KOSMO_PORTAL_DB_URL": f"sqlite:///{tmp_path}/var/portal.db",
        "KOSMO_PORTAL_PBKDF2_ITERATIONS": "1000",
    })
    return clean


@pytest.fixture
def cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The CLI's ``main`` in this process (fast); subprocess tests below cover the real entry point."""
    from dev.portal.cli import main

    for key in [k for k in os.environ if k.startswith("KOSMO_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("KOSMO_"):
            monkeypatch.setenv(key, value)

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_upgrade_seed_and_tickets(cli, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = cli("db-upgrade")
    assert code == 0, err
    assert (tmp_path / "var" / "portal.db").exists()
    code, out, _ = cli("seed")
    assert code == 0 and out.count("created") == len(DEMO_MEMBERS)
    code, out, _ = cli("seed")
    assert code == 0 and out.count("exists") == len(DEMO_MEMBERS)
    assert cli("tickets", "list")[1].strip() == "no tickets"

    # open tickets through the library, as the API does
    import datetime as dt

    from bot.domain.societies import load_registry
    from dev.portal.clock import SystemClock
    from dev.portal.db import Database
    from dev.portal.services import Ctx
    from dev.portal.settings import PortalSettings
    from dev.portal.tickets import open_unlock_ticket

    db = Database.from_url(env["KOSMO_PORTAL_DB_URL"])
    ctx = Ctx(PortalSettings(db_url="", service_token="x", admin_token=None), load_registry(), SystemClock().now())
    ticket, _ = db.run_sync(lambda s: open_unlock_ticket(s, ctx, "kose", "kose.ichiro", dt.date(1978, 2, 14)))
    bogus, _ = db.run_sync(lambda s: open_unlock_ticket(s, ctx, "kose", "nobody.1234", dt.date(1978, 2, 14)))
    db.dispose()

    code, out, _ = cli("tickets", "list", "--society", "kose", "--status", "open")
    assert ticket["ticket_id"] in out and "kose.ichiro" in out
    assert "identity NOT verified" in out
    # closing a ticket mails the member, through the SMTP server the portal is configured with
    from dev.portal.devsmtp import DevOutbox, DevSmtpServer

    outbox = DevOutbox()
    smtp_port = free_port()
    smtp = DevSmtpServer(outbox, "127.0.0.1", smtp_port)
    smtp.start()
    monkeypatch.setenv("KOSMO_SMTP_PORT", str(smtp_port))
    try:
        code, out, _ = cli("tickets", "resolve", ticket["ticket_id"].lower())
    finally:
        smtp.stop()
    assert code == 0 and "unlocked" in out and "mailed the member" in out
    [mail] = outbox.messages("ichiro.kose@example.com")
    assert ticket["ticket_id"] in mail["body"] and "ロックを解除しました" in mail["subject"]
    code, _, err = cli("tickets", "resolve", ticket["ticket_id"])
    assert code == 1 and "already closed" in err
    code, _, err = cli("tickets", "resolve", bogus["ticket_id"])
    assert code == 1 and "reject it instead" in err
    # no account behind this one: nobody to mail, and nothing said about mail
    code, out, err = cli("tickets", "reject", bogus["ticket_id"])
    assert code == 0 and "mail" not in out + err
    code, out, _ = cli("tickets", "list", "--status", "closed")
    assert "closed/unlocked" in out and "closed/rejected" in out
    code, out, _ = cli("seed", "--reset")
    assert out.count("reset") == len(DEMO_MEMBERS)
    code, out, _ = cli("audit")
    assert code == 0


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["tickets", "resolve", "nope"], 2, "is not a ticket id"),
        (["tickets", "list", "--society", "nowhere"], 2, "unknown society"),
        (["tickets", "list", "--status", "maybe"], 2, "invalid choice"),
        (["frobnicate"], 2, "invalid choice"),
        ([], 2, "required"),
    ],
)
def test_user_errors_are_one_line(cli, args: list[str], code: int, message: str) -> None:
    assert cli("db-upgrade")[0] == 0
    got, _, err = cli(*args)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_tickets_without_a_schema(cli) -> None:
    code, _, err = cli("tickets", "list")
    assert code == 1 and "db-upgrade" in err


def test_bad_settings_are_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSMO_PORTAL_SERVICE_TOKEN", "short")
    code, _, err = cli("serve")
    assert code == 2 and "at least 16" in err
    monkeypatch.setenv("KOSMO_PORTAL_SERVICE_TOKEN", "a-long-enough-service-token")
    monkeypatch.setenv("KOSMO_PORTAL_RATE_LIMITS", "otp_resend.account=three")
    code, _, err = cli("serve")
    assert code == 2 and "KOSMO_PORTAL_RATE_LIMITS" in err


def test_serve_without_token_refuses_to_start(env: dict[str, str]) -> None:
    r = run(["serve"], env)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: KOSMO_PORTAL_SERVICE_TOKEN is not set (use --dev for the development token)"


def test_serve_dev_end_to_end(env: dict[str, str]) -> None:
    port, smtp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dev.portal", "serve", "--dev", "--port", str(port)],
        cwd=ROOT, env={**env, "KOSMO_SMTP_PORT": str(smtp_port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert run(["seed"], env).returncode == 0
        req = urllib.request.Request(
            base + "/api/v1/otp/resend", method="POST",
            data=json.dumps({"tenant": "kose", "user_id": "kose.hanako"}).encode(),
            headers={"Authorization": "Bearer dev-service-token", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 202
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(base + "/dev/outbox?to=hanako.kose@example.com", timeout=5) as r:
                messages = json.loads(r.read())["messages"]
            if messages or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(messages) == 1 and "ワンタイムパスワード" in messages[0]["subject"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "dev-service-token" in out  # it says it uses the dev token
    assert "Traceback" not in out


def test_a_dead_mail_server_does_not_undo_the_closing(cli, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from bot.domain.societies import load_registry
    from dev.portal.clock import SystemClock
    from dev.portal.db import Database
    from dev.portal.services import Ctx
    from dev.portal.settings import PortalSettings
    from dev.portal.tickets import open_unlock_ticket

    assert cli("seed")[0] == 0
    db = Database.from_url(env["KOSMO_PORTAL_DB_URL"])
    ctx = Ctx(PortalSettings(db_url="", service_token="x", admin_token=None), load_registry(), SystemClock().now())
    ticket, _ = db.run_sync(lambda s: open_unlock_ticket(s, ctx, "kose", "kose.ichiro", dt.date(1978, 2, 14)))
    db.dispose()
    monkeypatch.setenv("KOSMO_SMTP_PORT", str(free_port()))  # nothing listens there
    code, out, err = cli("tickets", "resolve", ticket["ticket_id"])
    assert code == 0 and "unlocked" in out
    assert err.startswith("warning: the ticket is closed") and len(err.strip().splitlines()) == 1
    assert "closed/unlocked" in cli("tickets", "list", "--status", "closed")[1]

"""`make .env`: secrets in a file only its owner can read (0600), with real random values."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make_env(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-f", str(folder / "Makefile"), ".env"], cwd=folder, capture_output=True,
        text=True, timeout=60, check=True,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask: new files would be 0644
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", ".env.example"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def test_a_new_env_file_is_private_and_has_random_secrets(project: Path):
    make_env(project)
    env = project / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = dict(re.findall(r"^(\w+)=(.*)$", env.read_text(), flags=re.M))
    assert len(values["KOSMO_ACTION_SERVER_TOKEN"]) >= 16
    assert "change-me" not in values.values()


def test_an_existing_readable_env_file_is_made_private(project: Path):
    env = project / ".env"
    env.write_text("RASA_AUTH_TOKEN=kept-0123456789abcdef\n")
    env.chmod(0o644)
    os.utime(env, (0, 0))  # older than .env.example: make brings it up to date
    make_env(project)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    text = env.read_text()
    assert "RASA_AUTH_TOKEN=kept-0123456789abcdef" in text
    assert "KOSMO_ACTION_SERVER_TOKEN=" in text

"""End to end: a message the bot could not understand reaches the helpdesk's review list.

Through the real stack: REST channel, Rasa server with the review event broker of
``endpoints.yml``, the stack's own review database (``KOSMO_REVIEW_DB_URL`` in its
temp dir), read back by ``python -m bot.review`` as an operator would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from bot.domain.societies import PROJECT_ROOT
from dev.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def review(stack: Stack, *args: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bot.review", "--format", "json", *args],
        cwd=PROJECT_ROOT,
        env=stack.base_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def group_of(stack: Stack, text: str, *args: str) -> dict:
    groups = [g for g in review(stack, "--limit", "10000", *args) if g["text"] == text]
    return groups[0] if groups else {"count": 0}


def wait_for(
    stack: Stack, text: str, *args: str, more_than: int = 0, timeout: float = 15.0
) -> dict:
    """The group of ``text`` once the broker's writer has written more than ``more_than`` rows of it."""
    deadline = time.monotonic() + timeout
    while True:
        group = group_of(stack, text, *args)
        if group["count"] > more_than or time.monotonic() > deadline:
            assert group["count"] > more_than, f"{text!r} not (again) in the review list"
            return group
        time.sleep(0.3)


UNCLEAR = "コードのことで"  # which code? the bot asks back with buttons


def test_an_unclear_message_ends_up_in_the_review_list(stack, rest):
    # other tests of the session may send it too: this test counts its own row
    before = group_of(stack, UNCLEAR, "--society", "ono")
    answer = rest.send(f"e2e-{uuid.uuid4().hex[:12]}", UNCLEAR, "ono")
    assert any(m.get("buttons") for m in answer), answer  # the clarification question
    group = wait_for(stack, UNCLEAR, "--society", "ono", more_than=before["count"])
    assert group["count"] == before["count"] + 1
    assert set(group["kinds"]) <= {"clarification", "fallback"}
    assert (
        group["kinds"].get("clarification", 0)
        == before.get("kinds", {}).get("clarification", 0) + 1
    )
    assert group["societies"] == {"ono": group["count"]}
    assert group["channels"]["rest"] == before.get("channels", {}).get("rest", 0) + 1
    assert group["nlu_intents"]  # what the NLU took it for
    for other in review(stack, "--society", "kose"):
        assert set(other["societies"]) == {"kose"}


def test_a_handoff_is_recorded_and_a_birth_date_never_kept(stack, rest):
    sender = f"e2e-{uuid.uuid4().hex[:12]}"
    rest.send(sender, "担当者と話したい", "kose")  # the offer of a person
    group = wait_for(stack, "担当者と話したい", "--kind", "handoff")
    assert group["societies"].get("kose") and group["channels"].get("rest")
    rest.send(f"e2e-{uuid.uuid4().hex[:12]}", "ぽよぽよ 生年月日は1978年2月14日", "kose")
    time.sleep(1.0)  # the writer's turn
    groups = review(stack, "--limit", "10000")
    assert not [g for g in groups if "1978" in g["text"]]
    database = stack.env["KOSMO_REVIEW_DB_URL"].removeprefix("sqlite:///")
    for suffix in ("", "-wal"):
        try:
            with open(database + suffix, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            continue
        assert "1978年2月14日".encode() not in raw

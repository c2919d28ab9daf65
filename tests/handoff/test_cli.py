"""``python -m bot.handoff ...``: agents and the queue from the command line."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Callable

import pytest

from bot.handoff import cli
from bot.handoff.store import HandoffStore
from tests.handoff.conftest import (
    PASSWORD,
    AgentClient,
    RunningConsole,
    TestClock,
    open_handoff,
)

ROOT = Path(__file__).resolve().parents[2]


def call(store: HandoffStore, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), store=store, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_create_list_deactivate(store: HandoffStore) -> None:
    code, out, err = call(
        store,
        "create-agent",
        "--society",
        "kose",
        "--login",
        "sato",
        "--name",
        "佐藤",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert (code, err) == (0, "")
    assert "created agent sato (佐藤) of kose" in out
    assert store.authenticate("sato", PASSWORD) is not None
    call(
        store,
        "create-agent",
        "--society",
        "ono",
        "--login",
        "tanaka",
        "--name",
        "田中",
        "--password-stdin",
        stdin=PASSWORD,
    )
    code, out, _ = call(store, "list-agents")
    assert out.splitlines() == ["kose\tsato\t佐藤\tactive", "ono\ttanaka\t田中\tactive"]
    code, out, _ = call(store, "list-agents", "--society", "ono")
    assert out.splitlines() == ["ono\ttanaka\t田中\tactive"]
    code, out, _ = call(store, "deactivate-agent", "--login", "sato")
    assert code == 0 and "deactivated sato" in out
    assert store.authenticate("sato", PASSWORD) is None
    code, _, err = call(store, "deactivate-agent", "--login", "nobody")
    assert code == 2 and "no agent" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["create-agent", "--society", "hoshi", "--login", "x1", "--name", "X", "--password-stdin"],
        ["list-agents", "--society", "hoshi"],
        ["queue", "--society", "hoshi"],
    ],
)
def test_unknown_society_exits_2(store: HandoffStore, argv: list[str]) -> None:
    code, out, err = call(store, *argv, stdin=PASSWORD)
    assert code == 2 and out == ""
    assert "unknown society 'hoshi'" in err and "kose" in err and "ono" in err


def test_refusals_are_one_line(store: HandoffStore) -> None:
    base = [
        "create-agent",
        "--society",
        "kose",
        "--login",
        "sato",
        "--name",
        "佐藤",
        "--password-stdin",
    ]
    code, _, err = call(store, *base, stdin="short\n")
    assert code == 2 and "at least 12" in err
    assert call(store, *base, stdin=PASSWORD)[0] == 0
    code, _, err = call(store, *base, stdin=PASSWORD)
    assert code == 2 and "exists already" in err
    assert "Traceback" not in err


def test_password_is_never_an_argument(store: HandoffStore) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call(
            store,
            "create-agent",
            "--society",
            "kose",
            "--login",
            "sato",
            "--name",
            "佐藤",
            "--password",
            PASSWORD,
        )
    assert exit_info.value.code == 2


def test_interactive_password(store: HandoffStore, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "typo"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    code, _, err = call(
        store, "create-agent", "--society", "kose", "--login", "sato", "--name", "佐藤"
    )
    assert code == 2 and "differ" in err
    answers = iter([PASSWORD, PASSWORD])
    code, _, _ = call(
        store, "create-agent", "--society", "kose", "--login", "sato", "--name", "佐藤"
    )
    assert code == 0


def test_queue(store: HandoffStore, clock: TestClock) -> None:
    code, out, _ = call(store, "queue", "--society", "kose")
    assert out.strip() == "no handoffs waiting"
    h = open_handoff(store, reason="portal_down")
    clock.advance(seconds=192)
    code, out, _ = call(store, "queue", "--society", "kose")
    assert code == 0
    assert out.split("\t")[:3] == [h.id, "対応待ち", "3分12秒"]


async def test_agent_created_by_the_real_command_can_log_in(
    make_console: Callable[..., RunningConsole], db_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOSMO_")}
    env["KOSMO_HANDOFF_DB_URL"] = f"sqlite:///{db_path}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.handoff", "create-agent", "--society", "ono", "--login", "kimura",
        "--name", "木村", "--password-stdin",
        cwd=ROOT, env=env, stdin=PIPE, stdout=PIPE, stderr=PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(process.communicate((PASSWORD + "\n").encode()), 60)
    assert process.returncode == 0, err.decode()
    running = make_console()
    client = AgentClient(running)
    try:
        await client.login("kimura")
        status, body, _ = await client.page("/")
        assert status == 200 and "木村 さん" in body and "小野薬品健康保険組合" in body
    finally:
        await client.close()

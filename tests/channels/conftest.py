"""A real stack whose LINE channel talks to a fake LINE API on loopback."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from dev.stack import Stack
from tests.channels.fake_line import FakeLine, sign
from tests.e2e.conftest import RestClient, credentials_env, make_stack


@dataclass(frozen=True)
class LineChannel:
    """What LINE knows about one society's channel, and how it calls our webhook."""

    society: str
    secret: str
    token: str
    webhook_url: str

    def post(self, body: bytes, signature: Optional[str] = "sign") -> tuple[int, float]:
        """POST a webhook like LINE does: (status, seconds until the answer)."""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature == "sign":
            signature = sign(self.secret, body)
        if signature is not None:
            headers["X-Line-Signature"] = signature
        request = urllib.request.Request(self.webhook_url, data=body, headers=headers)
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, time.monotonic() - start
        except urllib.error.HTTPError as e:
            return e.code, time.monotonic() - start


@pytest.fixture(scope="session")
def fake_line() -> Iterator[FakeLine]:
    fake = FakeLine().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def channel_stack(
    tmp_path_factory: pytest.TempPathFactory, societies_file_with_fictional: Path, fake_line: FakeLine
) -> Iterator[Stack]:
    secrets_env = credentials_env()
    fake_line.tokens = {
        secrets_env["LINE_KOSE_ACCESS_TOKEN"]: "kose",
        secrets_env["LINE_ONO_ACCESS_TOKEN"]: "ono",
    }
    s = make_stack(
        tmp_path_factory.mktemp("channel-stack"),
        societies_file_with_fictional,
        {**secrets_env, "KOSMO_LINE_API_BASE": fake_line.base_url},
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def line(channel_stack: Stack) -> Dict[str, LineChannel]:
    env = channel_stack.env
    return {
        key: LineChannel(
            key,
            env[f"LINE_{key.upper()}_CHANNEL_SECRET"],
            env[f"LINE_{key.upper()}_ACCESS_TOKEN"],
            f"{channel_stack.rasa_url}/webhooks/line/{key}/webhook",
        )
        for key in ("kose", "ono")
    }


@pytest.fixture(scope="session")
def channel_rest(channel_stack: Stack) -> RestClient:
    return RestClient(channel_stack.rasa_url, channel_stack.env["RASA_AUTH_TOKEN"])

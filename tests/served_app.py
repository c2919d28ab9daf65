"""Servers on loopback in tests: a Sanic app on a free port, Sanic's test mode, who listens where."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from sanic import Sanic

from dev.stack import free_port


@contextlib.asynccontextmanager
async def served(app: Sanic) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (its start and stop hooks run); yields its base URL."""
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


@pytest.fixture(scope="module", autouse=True)
def sanic_test_mode() -> Iterator[None]:
    """Sanic 21.12 rewrites its own class's methods when an app starts ("touchup");
    test mode keeps the originals, so several apps can start in one process.
    A module that imports this fixture gets it for all its tests."""
    before, Sanic.test_mode = Sanic.test_mode, True
    yield
    Sanic.test_mode = before


def listening_addresses(port: int) -> set[str]:
    """The addresses (as /proc/net/tcp writes them: 127.0.0.1 is 0100007F) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found

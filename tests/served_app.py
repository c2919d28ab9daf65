"""A Sanic app served on a free loopback port for the length of a test."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from sanic import Sanic

from bot.stack import free_port


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

"""The bots the bench measures: our whole stack, and the stock ``rasa init`` bot, on loopback.

:func:`our_server` and :func:`stock_server` yield a Rasa URL, its pid and the REST
headers; :func:`our_stack` is our stack as a :class:`bench.understanding.RestBot`
(``python -m bench.understanding`` uses it too).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from bench.understanding import RestBot
from dev.stack import Service, Stack, credentials_env, free_port, newest_model

VENV_BIN = Path(sys.executable).parent


def _our_stack(model: Path, workdir: Path) -> Stack:
    """Our whole stack (portal, action server, Rasa) on free loopback ports, not started."""
    env = {
        "KOSMO_TRACKER_DB_URL": f"sqlite:///{workdir / 'tracker.db'}",
        "KOSMO_PORTAL_DB_URL": f"sqlite:///{workdir / 'portal.db'}",
        "KOSMO_REVIEW_DB_URL": f"sqlite:///{workdir / 'review.db'}",
        "KOSMO_PORTAL_SERVICE_TOKEN": "bench-service-token",
        "KOSMO_PORTAL_ADMIN_TOKEN": "bench-admin-token",
        "RASA_AUTH_TOKEN": secrets.token_hex(16),  # bot.serve wants 16+ random characters
        **credentials_env(),
    }
    return Stack(model=model, rasa_port=free_port(), actions_port=free_port(),
                 portal_port=free_port(), smtp_port=free_port(), web_port=free_port(), env=env,
                 log_dir=workdir / "logs-ours")


@contextlib.contextmanager
def our_server(model: Path, workdir: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Our whole stack, started; yields the Rasa URL, pid and REST headers."""
    stack = _our_stack(model, workdir)
    with stack:
        rasa = stack.service("rasa")
        assert rasa.process is not None
        yield stack.rasa_url, rasa.process.pid, {"Authorization": f"Bearer {stack.env['KOSMO_REST_TOKEN']}"}


@contextlib.contextmanager
def our_stack(model: Path | None = None) -> Iterator[RestBot]:
    """Our whole stack in a temporary folder, as a :class:`bench.understanding.RestBot`."""
    model = model or Path(os.environ.get("KOSMO_MODEL") or newest_model())
    workdir = Path(tempfile.mkdtemp(prefix="kosmo-understanding-"))
    try:
        stack = _our_stack(model, workdir)
        with stack:
            yield RestBot(stack.rasa_url, stack.env["RASA_AUTH_TOKEN"], stack.env.get("KOSMO_REST_TOKEN"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def init_stock(workdir: Path) -> tuple[Path, float]:
    """`rasa init` (which trains) in a temp folder; returns the folder and the seconds it took."""
    stock = workdir / "stock"
    stock.mkdir(parents=True)  # `rasa init --init-dir` wants an existing folder
    start = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(stock)],
        cwd=workdir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    return stock, round(time.perf_counter() - start, 1)


@contextlib.contextmanager
def stock_server(stock: Path, workdir: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    port = free_port()
    service = Service(
        "stock-rasa",
        [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(port),
         "--interface", "127.0.0.1", "--model", str(stock / "models")],
        ready_url=f"http://127.0.0.1:{port}/",
        describe="stock bot",
        cwd=stock,  # its own endpoints.yml and credentials.yml, not ours
    )
    service.start({**os.environ, "RASA_TELEMETRY_ENABLED": "false"}, workdir / "logs-stock")
    try:
        deadline = time.monotonic() + 240
        while not service.is_ready():
            if service.exited() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stock bot did not start:\n{service.log_tail()}")
            time.sleep(0.5)
        assert service.process is not None
        yield f"http://127.0.0.1:{port}", service.process.pid, {}
    finally:
        service.stop()

"""A real stack with the web service, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.domain.societies import PROJECT_ROOT
from dev.stack import Stack
from tests.e2e.conftest import make_stack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def web_stack(
    tmp_path_factory: pytest.TempPathFactory, societies_file_with_fictional: Path
) -> Iterator[Stack]:
    s = make_stack(tmp_path_factory.mktemp("web-stack"), societies_file_with_fictional)
    s.start()
    try:
        yield s
    finally:
        s.stop()


# Module scope, not session: while Playwright's sync API is open it keeps an
# event loop running in the main thread, and every asyncio test after it would
# fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

"""The widget service with the demo pages on loopback: health, demo pages per society,
widget files (no model); and the shipped widget service alone, without the demo pages."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from typing import AsyncIterator

import aiohttp
import pytest

from bot.web.app import WebSettings
from bot.web.app import create_app as create_widget_app
from dev.demo.app import create_app
from dev.demo.pages import PALETTE, accent_colour
from tests.conftest import FICTIONAL_KEY
from tests.served_app import (
    sanic_test_mode,  # noqa: F401 (autouse fixture)
    served,
)

SOCKET_URL = "http://127.0.0.1:5999"


@contextlib.asynccontextmanager
async def serving(registry) -> AsyncIterator[str]:
    app = create_app(registry, WebSettings(socket_url=SOCKET_URL), name=f"web_{uuid.uuid4().hex}")
    async with served(app) as base_url:
        yield f"{base_url}"


async def get(url: str) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            return resp.status, dict(resp.headers), await resp.text()


async def test_health_and_widget_files(registry):
    async with serving(registry) as base:
        assert (await get(f"{base}/healthz"))[::2] == (200, "ok")
        for path, kind in [
            ("/widget/widget.js", "javascript"),
            ("/widget/widget.css", "text/css"),
            ("/widget/vendor/socket.io.min.js", "javascript"),
        ]:
            status, headers, _ = await get(base + path)
            assert status == 200 and kind in headers["Content-Type"], path
            assert headers["X-Content-Type-Options"] == "nosniff"
        assert (await get(f"{base}/widget/../app.py"))[0] == 404


@pytest.mark.parametrize("key", ["kose", "ono", FICTIONAL_KEY])
async def test_demo_page_embeds_the_widget_for_its_society(registry_with_fictional, key):
    society = registry_with_fictional.get(key)
    async with serving(registry_with_fictional) as base:
        status, headers, html = await get(f"{base}/demo/{key}")
    assert status == 200
    assert society.name in html and society.portal_url in html

    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", headers["Content-Security-Policy"])
    assert nonce, headers["Content-Security-Policy"]
    assert (
        f"connect-src 'self' {SOCKET_URL} ws://127.0.0.1:5999" in headers["Content-Security-Policy"]
    )
    config = re.search(
        rf'<script nonce="{nonce.group(1)}">window.kosmoChat = (.*?);</script>', html
    )
    assert config, html
    assert json.loads(config.group(1)) == {
        "tenant": key,
        "socketUrl": SOCKET_URL,
        "societyName": society.name,
        "accentColor": accent_colour(society),
    }
    assert html.count("<script") == 2 and '<script src="/widget/widget.js" defer>' in html


async def test_unknown_society_gets_a_404_page_listing_the_real_ones(registry):
    async with serving(registry) as base:
        status, _, html = await get(f"{base}/demo/no-such-society")
        index_status, _, index = await get(f"{base}/")
    assert status == 404
    assert "見つかりませんでした" in html
    assert 'href="/demo/kose"' in html and 'href="/demo/ono"' in html
    assert index_status == 200 and 'href="/demo/ono"' in index


def test_colour_from_data_or_palette(registry):
    society = registry.get("kose")
    assert accent_colour(society) in PALETTE
    themed = type(society)(**{**society.__dict__, "raw": {"theme_color": "#123456"}})
    assert accent_colour(themed) == "#123456"


@pytest.mark.parametrize(
    "env, url",
    [
        ({}, "http://127.0.0.1:5005"),
        ({"KOSMO_RASA_URL": "http://127.0.0.1:6000/"}, "http://127.0.0.1:6000"),
        (
            {
                "KOSMO_RASA_URL": "http://127.0.0.1:6000",
                "KOSMO_WIDGET_SOCKET_URL": "https://bot.example.jp",
            },
            "https://bot.example.jp",
        ),
    ],
)
def test_socket_url_setting(env, url):
    assert WebSettings.from_env(env).socket_url == url


async def test_the_shipped_widget_service_has_no_demo_pages(registry):
    app = create_widget_app(
        registry, WebSettings(socket_url=SOCKET_URL), name=f"widget_{uuid.uuid4().hex}"
    )
    async with served(app) as base:
        assert (await get(f"{base}/widget/widget.js"))[0] == 200
        for path in ("/", "/demo/kose", "/static/demo/demo.css"):
            assert (await get(base + path))[0] == 404, path

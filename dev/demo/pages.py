"""Demo portal pages: what a society's KOSMO Web page looks like with the widget embedded.

``/demo/<society>`` shows a mock portal page in the society's name and colour with the
widget embedded exactly as a real portal would embed it (a config object and one
``<script>`` tag). The page's Content-Security-Policy is as strict as a careful portal's
(scripts and styles from this origin or with the page's nonce; connections to this
origin and the Rasa server only), so the demo also shows the widget works under one.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
from typing import Any, Dict
from urllib.parse import urlsplit

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain.societies import METADATA_KEY, Society, SocietyRegistry

# dark enough for white text (WCAG AA); a society may set `theme_color` in societies.yml
PALETTE = ("#1d4f91", "#0b6e4f", "#8a2c5b", "#5b3a9a", "#8a4500", "#005f73")
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def accent_colour(society: Society) -> str:
    """The society's colour: ``theme_color`` from its data, else one derived from its key."""
    given = society.raw.get("theme_color") if society.raw else None
    if isinstance(given, str) and _HEX_COLOUR.fullmatch(given):
        return given
    return PALETTE[hashlib.sha256(society.key.encode()).digest()[0] % len(PALETTE)]


def widget_config(society: Society, socket_url: str) -> Dict[str, Any]:
    """The config object a portal page gives the widget."""
    return {
        METADATA_KEY: society.key,  # the society's wire name: the widget sends it as metadata
        "socketUrl": socket_url,
        "societyName": society.name,
        "accentColor": accent_colour(society),
    }


def _script_json(value: Any) -> str:
    # safe inside <script>: no "</script>" or "<!--" can appear
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _origins(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {ws}://{parts.netloc}"


def content_security_policy(nonce: str, socket_url: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data: https:",
            f"connect-src 'self' {_origins(socket_url)}".strip(),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/demo/demo.css">
<style nonce="{nonce}">:root {{ --portal-accent: {accent}; }}</style>
</head>
<body>
{body}
</body>
</html>
"""

DEMO_BODY = """<header class="portal-header">
  <span class="portal-brand">KOSMO Web</span>
  <span class="portal-society">{name}</span>
</header>
<main class="portal-main">
  <p class="portal-demo-note">チャットボット確認用のデモページです。実際のポータルは
    <a href="{portal_url}">{portal_url}</a> です。</p>
  <h1>{name} 加入者ポータル</h1>
  <section class="portal-card" aria-labelledby="login-title">
    <h2 id="login-title">ログイン</h2>
    <p>このデモページではログインできません。</p>
    <label>ユーザーID<input type="text" autocomplete="off" disabled></label>
    <label>パスワード<input type="password" autocomplete="off" disabled></label>
    <button type="button" disabled>ログイン</button>
  </section>
  <section class="portal-card" aria-labelledby="help-title">
    <h2 id="help-title">ログインでお困りの方へ</h2>
    <p>初回ログインの手順、パスワード、ワンタイムパスワード、アカウントのロックなどは、
      画面右下の「チャットで質問する」からチャットボットにお尋ねください。</p>
  </section>
</main>
<footer class="portal-footer">{name}</footer>
<script nonce="{nonce}">window.kosmoChat = {config};</script>
<script src="/widget/widget.js" defer></script>
"""

INDEX_BODY = """<header class="portal-header"><span class="portal-brand">KOSMO Web</span>
  <span class="portal-society">チャットボット デモ</span></header>
<main class="portal-main">
  <h1>{heading}</h1>
  <ul class="portal-list">
{items}
  </ul>
</main>
"""


def _page(title: str, body: str, nonce: str, accent: str) -> str:
    return PAGE.format(title=html.escape(title), body=body, nonce=nonce, accent=accent)


def _society_list(registry: SocietyRegistry) -> str:
    return "\n".join(
        f'    <li><a href="/demo/{html.escape(t.key)}">{html.escape(t.name)}</a></li>'
        for t in registry
    )


def blueprint(registry: SocietyRegistry, socket_url: str) -> Blueprint:
    """Routes ``/`` (the list of demo pages) and ``/demo/<society>``."""
    bp = Blueprint("demo")

    @bp.get("/")
    async def index(_: Request) -> HTTPResponse:
        nonce = secrets.token_urlsafe(16)
        body = INDEX_BODY.format(heading="デモページ", items=_society_list(registry))
        return response.html(
            _page("KOSMO Web チャットボット デモ", body, nonce, PALETTE[0]),
            headers={"Content-Security-Policy": content_security_policy(nonce, socket_url)},
        )

    @bp.get("/demo/<key>")
    async def demo_page(_: Request, key: str) -> HTTPResponse:
        nonce = secrets.token_urlsafe(16)
        csp = {"Content-Security-Policy": content_security_policy(nonce, socket_url)}
        society = registry.get(key)
        if society is None:
            body = INDEX_BODY.format(
                heading="お探しの健康保険組合のページは見つかりませんでした",
                items=_society_list(registry),
            )
            return response.html(
                _page("ページが見つかりません", body, nonce, PALETTE[0]), status=404, headers=csp
            )
        body = DEMO_BODY.format(
            name=html.escape(society.name),
            portal_url=html.escape(society.portal_url),
            nonce=nonce,
            config=_script_json(widget_config(society, socket_url)),
        )
        return response.html(
            _page(f"{society.name} KOSMO Web（デモ）", body, nonce, accent_colour(society)),
            headers=csp,
        )

    return bp

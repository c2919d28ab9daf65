"""The widget service of :mod:`bot.web` with the demo pages added.

    GET /                      list of demo pages
    GET /demo/<society>        a society's demo portal page with the widget (404 page if unknown)
    GET /static/demo/demo.css  the demo pages' look
    (and everything :func:`bot.web.app.create_app` serves: /healthz, /agent, /widget/...)
"""

from __future__ import annotations

from pathlib import Path

from sanic import Sanic

from bot.domain.societies import SocietyRegistry
from bot.web.app import WebSettings
from bot.web.app import create_app as create_widget_app
from dev.demo import pages

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(registry: SocietyRegistry, settings: WebSettings, name: str = "kosmo_demo") -> Sanic:
    """The widget service plus the demo pages (``name`` must be unique per process)."""
    app = create_widget_app(registry, settings, name=name)
    app.static("/static/demo", str(STATIC_DIR), name="demo_static")
    app.blueprint(pages.blueprint(registry, settings.socket_url))
    return app

"""``python -m bot.web serve --host H --port P``: the widget's files, for portals to embed.

The socket URL of the ``/agent`` redirect is ``$KOSMO_WIDGET_SOCKET_URL``, else
``$KOSMO_RASA_URL``. ``make run`` serves this together with the demo pages
(``python -m dev.demo serve``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable, Sequence

from bot.domain.societies import SocietyConfigError, load_registry
from bot.web.app import WebSettings, create_app


def serve_command(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str | None,
    what: str,
    make_app: Callable[[Any, WebSettings], Any],
) -> int:
    """``<prog> serve --host H --port P``: the app ``make_app`` builds, on that address.

    Shared with ``python -m dev.demo``, which serves the demo pages around the widget.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help=f"serve {what}")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        registry = load_registry()
    except SocietyConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    app = make_app(registry, WebSettings.from_env())
    app.run(host=args.host, port=args.port, access_log=False, motd=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return serve_command(argv, prog="python -m bot.web", description=__doc__,
                         what="the widget's files", make_app=create_app)


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bot.web serve --host H --port P``: the widget's files, for portals to embed.

The socket URL of the ``/agent`` redirect is ``$KOSMO_WIDGET_SOCKET_URL``, else
``$KOSMO_RASA_URL``. ``make run`` serves this together with the demo pages
(``python -m dev.demo serve``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from bot.tenants import TenantConfigError, load_registry
from bot.web.app import WebSettings, create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.web", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the widget's files")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        registry = load_registry()
    except TenantConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    app = create_app(registry, WebSettings.from_env())
    app.run(host=args.host, port=args.port, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

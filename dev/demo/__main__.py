"""``python -m dev.demo serve --host H --port P``: the demo pages and the widget files.

Started by ``dev.stack`` (``make run``). The socket URL the widget connects to is
``$KOSMO_WIDGET_SOCKET_URL``, else ``$KOSMO_RASA_URL`` (set by the stack).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from bot.tenants import TenantConfigError, load_registry
from bot.web.app import WebSettings
from dev.demo.app import create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the demo pages and the widget")
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

"""``python -m dev.demo serve --host H --port P``: the demo pages and the widget files.

Started by ``dev.stack`` (``make run``). The socket URL the widget connects to is
``$KOSMO_WIDGET_SOCKET_URL``, else ``$KOSMO_RASA_URL`` (set by the stack).
"""

from __future__ import annotations

from typing import Sequence

from bot.web.__main__ import serve_command
from dev.demo.app import create_app


def main(argv: Sequence[str] | None = None) -> int:
    return serve_command(argv, prog="python -m dev.demo", description=__doc__,
                         what="the demo pages and the widget", make_app=create_app)


if __name__ == "__main__":
    raise SystemExit(main())

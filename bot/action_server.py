"""The action server as we run it: rasa_sdk's app, on loopback, behind a shared secret.

``python -m bot.action_server [--host H] [--port P]`` serves the actions of the
``actions`` package the way ``python -m rasa_sdk`` does (rasa_sdk's own
:func:`rasa_sdk.endpoint.create_app`), with three differences:

- **A shared secret.** Every call except ``GET /health`` must carry
  ``Authorization: Bearer $KOSMO_ACTION_SERVER_TOKEN``; the Rasa server sends it
  (``headers:`` of ``action_endpoint`` in ``endpoints.yml``). The header is
  compared in constant time (:func:`hmac.compare_digest`) as soon as the
  route is known, before Sanic reads any of the body (a refused caller's
  connection is closed, its body unread): a forged tracker opens no ticket,
  queues no handoff and costs no buffer. The secret comes from the environment
  only (there is no option for it), and the server refuses to start without a
  real one.
- **Loopback by default.** rasa_sdk listens on every interface; this server
  binds ``127.0.0.1`` unless ``--host`` or ``$KOSMO_ACTIONS_HOST`` names another
  interface (e.g. when Rasa and the actions run in separate containers).
- **No CORS.** Nothing but the Rasa server calls the action server, so no
  origin is allowed (rasa_sdk's default is ``*``); bodies are bounded
  (:data:`MAX_BODY_BYTES`).

Files it creates (the handoff database) are private to its user (umask 077).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import types
from typing import Any, Mapping, Optional, Sequence, Union

from rasa_sdk.constants import DEFAULT_SERVER_PORT
from sanic import Sanic, response
from sanic.exceptions import Forbidden, SanicException, Unauthorized
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.preflight import SetupError, check_action_server
from bot.settings import DEFAULT_ACTIONS_HOST, ActionServerSettings, SettingsError, reveal
from bot.shared_secret import MIN_LENGTH, bearer_matches, weak_secret

logger = logging.getLogger(__name__)

TOKEN_ENV = "KOSMO_ACTION_SERVER_TOKEN"  # the names, for messages (bot.settings reads them)
HOST_ENV = "KOSMO_ACTIONS_HOST"
DEFAULT_HOST = DEFAULT_ACTIONS_HOST
OPEN_PATHS = frozenset({"/health"})
# A tracker holds one session's events (the tracker store loads no older ones):
# a few hundred kilobytes at most. Sanic's own default is 100 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024


class ActionServerConfigError(RuntimeError):
    """The action server cannot start as configured; the message says what to set."""


def token_from_env(environ: Optional[Mapping[str, str]] = None) -> str:
    """The shared secret, from ``$KOSMO_ACTION_SERVER_TOKEN``; refuses a missing or weak one."""
    token = reveal(ActionServerSettings.from_env(environ).token)
    if not token:
        raise ActionServerConfigError(
            f"{TOKEN_ENV} is not set: the action server refuses calls without a shared secret. "
            "Put a random value in .env (`make env` writes one) and give the Rasa server the same."
        )
    if weak_secret(token):
        raise ActionServerConfigError(
            f"{TOKEN_ENV} must be a random string of {MIN_LENGTH}+ characters, "
            "not a placeholder (`make env` writes one)"
        )
    return token


def require_token(app: Sanic, token: str) -> None:
    """Refuse every request but ``GET /health`` that lacks ``Authorization: Bearer <token>``.

    Checked on Sanic's ``http.routing.after`` signal: Sanic preloads a request's
    body after that signal and before request middleware (``Sanic.handle_request``),
    so a middleware would only see a caller after buffering up to
    :data:`MAX_BODY_BYTES` of whatever it sent. A refused request is answered at
    once and its connection closed without reading the body. Missing header: 401;
    a wrong one: 403. Neither says more.
    """
    if not token:
        raise ActionServerConfigError("empty action server token")

    async def check_token(request: Request, **_context: Any) -> None:
        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return
        header = request.headers.get("authorization")
        if header is not None and bearer_matches(header, token):
            return
        # no body is read: a limit of 0 makes Sanic close the connection instead of draining it
        if request.stream is not None:
            request.stream.request_max_size = 0
        if header is None:
            raise Unauthorized("authentication required", scheme="Bearer", realm="kosmo-actions")
        logger.warning("action server: refused a call with a wrong token from %s", request.ip)
        raise Forbidden("forbidden")

    app.signal("http.routing.after")(check_token)


def create_app(
    token: str,
    actions: Union[str, types.ModuleType] = "actions",
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Sanic:
    """rasa_sdk's action server app for ``actions``, behind ``token``, with no CORS origin."""
    from rasa_sdk.endpoint import create_app as sdk_create_app

    app = sdk_create_app(actions, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = max_body_bytes
    require_token(app, token)

    @app.exception(SanicException)
    async def http_error(_request: Request, exception: SanicException) -> HTTPResponse:
        # rasa_sdk's catch-all handler would make a 413/404/405 a 500 echoing the body
        return response.json(
            {"error": str(exception)},
            status=exception.status_code,
            headers=getattr(exception, "headers", None),  # WWW-Authenticate of a 401
        )

    return app


def parse_args(argv: Optional[Sequence[str]], environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=ActionServerSettings.from_env(environ).host,
                        help=f"interface to listen on (default ${HOST_ENV} or {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_SERVER_PORT)
    parser.add_argument("--actions", default="actions", help="package of the actions")
    parser.add_argument("--loglevel", default=logging.INFO, type=lambda s: s.upper(),
                        help="log level (default INFO)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    os.umask(0o077)
    from bot.masking_logs import (
        install_log_masking,  # birth dates, codes ... masked in every log record
    )

    install_log_masking()
    try:
        args = parse_args(argv, os.environ)
        token = token_from_env()
        for warning in check_action_server(os.environ):  # refuses a broken set-up (SetupError)
            print(f"warning: {warning}", file=sys.stderr)
    except (ActionServerConfigError, SettingsError, SetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from rasa_sdk import utils

    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    app = create_app(token, args.actions)
    logger.info("Action server on http://%s:%s (calls need %s)", args.host, args.port, TOKEN_ENV)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

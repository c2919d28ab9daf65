"""The Rasa server process as we run it: two process settings, then Rasa's own CLI.

``python -m bot.serve run --model ... [rasa run options]`` is ``rasa run`` with
two settings made before NumPy or TensorFlow is imported (``dev.stack`` starts
the server this way, so ``make run``, the end-to-end tests and ``make bench``
all get them):

- **One BLAS thread** (``OPENBLAS_NUM_THREADS=1`` unless already set). DIET and
  the ResponseSelector predict with NumPy (``bot.nlu.numpy_predict``), a few
  small matrix products per message. OpenBLAS would run them on a pool of one
  thread per core whose helper threads spin while waiting for the next call:
  under load that helper burned about a core (8 ms of CPU per message) on this
  2-core machine and slowed the server's own thread from 7.8 to 5.5 ms of CPU
  per message beside it. The products are far too small to gain from a second
  thread.
- **No JAX.** TensorFlow 2.12 lists JAX as a dependency and imports it for one
  optional TFLite converter feature (``tensorflow.lite.python.util``, inside
  ``try: from jax import ... except ImportError``). Rasa never converts to
  TFLite, and loading JAX cost the server about 105 MB of resident memory and
  half a second at start. The server marks ``jax`` as not importable, so
  TensorFlow takes its own ``ImportError`` path. Set ``KOSMO_SERVER_JAX=on`` to
  let it load (for ruling this out).

For ``run`` it also makes three security settings:

- **The HTTP API token stays off every command line.** It comes from
  ``$RASA_AUTH_TOKEN`` and is handed to Rasa inside this process (``sys.argv``
  here is not ``/proc/<pid>/cmdline``, which ``ps`` shows to every user). It
  must be 16+ characters and no placeholder. A token on the command line is
  refused, and so is ``--enable-api`` without a token: the arguments are judged
  by what Rasa's own parser makes of them, so ``-tX``, ``--auth-tok=X`` or
  ``--enable`` cannot slip past. ``run actions`` (an action server without the
  shared secret) is refused: use ``python -m bot.action_server``.
- **CORS for named origins only**: ``$KOSMO_CORS_ORIGINS`` (the portal sites
  that embed the widget, separated by spaces or commas) become Rasa's
  ``--cors``; without it no origin is allowed, and ``*`` is refused (in a
  ``--cors`` given on the command line too, however abbreviated). The
  agents' console sends no CORS headers at all (``bot.channels.agent_console``).
- **Private files**: umask 077, so the tracker database and anything else the
  server creates is readable by its user only.

And for ``run`` it installs the patches of Rasa code that has no extension
point (``bot.speedups``: the graph runner, the event class lookup, the action
server's timeout), each only over the Rasa code it was written for, and logs
which; ``KOSMO_RASA_SPEEDUPS=off`` installs none. This is the only place they
are installed: training, ``rasa test`` and tests run Rasa's code (the
speed-ups Rasa lets us plug in are components in ``config.yml`` instead).

Everything else is Rasa's: the arguments are those of ``rasa`` itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from typing import Any, Mapping, MutableMapping, Optional, Sequence

from bot.preflight import SetupError, check_rasa_server_args
from bot.settings import ORIGIN as ORIGIN
from bot.settings import RasaServerSettings, SettingsError, list_of, parse_origin, reveal
from bot.shared_secret import MIN_LENGTH, weak_secret

# the names, for messages (bot.settings reads them)
BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
JAX_ENV = "KOSMO_SERVER_JAX"
AUTH_TOKEN_ENV = "RASA_AUTH_TOKEN"
CORS_ENV = "KOSMO_CORS_ORIGINS"
PRIVATE_UMASK = 0o077


class ServeConfigError(RuntimeError):
    """The server cannot start as configured; the message says what to set."""


def _settings(env: Mapping[str, str]) -> RasaServerSettings:
    try:
        return RasaServerSettings.from_env(env)
    except SettingsError as e:
        raise ServeConfigError(str(e)) from None


def prepare_process(
    environ: Optional[MutableMapping[str, str]] = None,
    modules: Optional[MutableMapping[str, object]] = None,
) -> list[str]:
    """Make the two settings (before NumPy/TensorFlow are imported); returns what was set."""
    env = os.environ if environ is None else environ
    mods: MutableMapping[str, Any] = sys.modules if modules is None else modules
    settings = _settings(env)
    done = []
    if settings.blas_threads is None:
        env[BLAS_THREADS_ENV] = "1"
        done.append(f"{BLAS_THREADS_ENV}=1")
    if not settings.jax and "jax" not in mods:
        mods["jax"] = None  # `import jax` now raises ImportError, which TensorFlow catches
        done.append("jax not importable")
    return done


def cors_origins(value: str, source: str = CORS_ENV) -> list[str]:
    """The origins of ``$KOSMO_CORS_ORIGINS`` (spaces or commas between them)."""
    try:
        return list(list_of(parse_origin)(source, value.strip()))
    except SettingsError as e:
        raise ServeConfigError(str(e)) from None


def _rasa_arguments(args: Sequence[str]) -> tuple[list[str], Optional[argparse.Namespace]]:
    """``args`` as Rasa will see them, and what Rasa's own parser makes of them.

    The same parser as ``rasa``'s (``rasa.__main__.create_argument_parser``), so
    abbreviations (``--auth-tok``, ``--cor``, ``--enable``), ``--x=y`` and short
    forms (``-tX``) mean here what they will mean to Rasa. A trailing model path
    becomes ``--model PATH`` first, as ``rasa`` does it
    (``parse_last_positional_argument_as_model_path``), so that options appended
    after it cannot hide it. No namespace when the arguments do not parse: then
    ``rasa`` itself stops with the reason, before it starts anything. Imports
    Rasa's CLI (and NumPy): call after :func:`prepare_process`.
    """
    from rasa.__main__ import create_argument_parser
    from rasa.cli.utils import parse_last_positional_argument_as_model_path

    saved = sys.argv
    sys.argv = ["rasa", *args]
    try:
        parse_last_positional_argument_as_model_path()
        fixed = sys.argv[1:]
    finally:
        sys.argv = saved
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            namespace, _unknown = create_argument_parser().parse_known_args(fixed)
    except SystemExit as e:
        if not e.code:  # --help
            raise
        return fixed, None  # Rasa's parser will refuse the same arguments, and say why
    return fixed, namespace


def _is_run(namespace: argparse.Namespace, name: str) -> bool:
    func = getattr(namespace, "func", None)
    return getattr(func, "__module__", None) == "rasa.cli.run" and getattr(func, "__name__", None) == name


def server_args(args: Sequence[str], environ: Optional[Mapping[str, str]] = None) -> list[str]:
    """``rasa run`` arguments with the API token and the CORS origins from the environment.

    For ``run``, the set-up is checked first (``bot.preflight``: settings, the handoff
    gate, placeholder secrets, the Rasa version); what must stop the server raises
    :class:`bot.preflight.SetupError`, dev mode's warnings go to stderr.
    The arguments are judged by what Rasa's own parser makes of them. A token on
    the command line is refused for every command; ``rasa run actions`` (an action
    server with no secret) is refused; other commands than ``run`` are passed
    through unchanged.
    """
    env = os.environ if environ is None else environ
    fixed, parsed = _rasa_arguments(args)
    if parsed is None:
        return list(args)
    if getattr(parsed, "auth_token", None) is not None:
        raise ServeConfigError(
            f"--auth-token on the command line is visible to every user (ps); set {AUTH_TOKEN_ENV} instead"
        )
    if _is_run(parsed, "run_actions"):
        raise ServeConfigError(
            "`rasa run actions` serves the actions without the shared secret; use `python -m bot.action_server`"
        )
    if not _is_run(parsed, "run"):
        return list(args)
    settings = _settings(env)
    for warning in check_rasa_server_args(parsed, env):  # refuses a broken set-up (SetupError)
        print(f"warning: {warning}", file=sys.stderr)
    out = list(fixed)
    token = reveal(settings.auth_token)
    if token and weak_secret(token):
        raise ServeConfigError(
            f"{AUTH_TOKEN_ENV} must be a random string of {MIN_LENGTH}+ characters, "
            "not a placeholder: put one in .env (`make env`)"
        )
    if token:
        out.append(f"--auth-token={token}")  # "=": a token may begin with "-"
    elif parsed.enable_api:
        raise ServeConfigError(f"--enable-api needs {AUTH_TOKEN_ENV}: the HTTP API would be open to anyone")
    if parsed.cors is not None:
        cors_origins(" ".join(parsed.cors), "--cors")  # refuses "*" and non-origins
    elif settings.cors_origins:
        out += ["--cors", *settings.cors_origins]
    return out


def serves(args: Sequence[str]) -> bool:
    """Whether ``args`` start Rasa's server (``rasa run``, not ``run actions`` or another command)."""
    _fixed, parsed = _rasa_arguments(args)
    return parsed is not None and _is_run(parsed, "run")


def install_server_patches() -> list[str]:
    """Install ``bot.speedups``' patches and log what was installed; returns their names.

    Rasa configures logging only later (its ``main``), so until then the log
    goes to stderr in Rasa's format; Rasa's own handler replaces this one.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s  - %(message)s")
    from bot.speedups import install_all, patches

    names = install_all()
    logging.getLogger("bot.speedups").info(
        "%d of %d patches of Rasa installed: %s", len(names), len(patches()), ", ".join(names) or "none"
    )
    return names


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Rasa's command line (``rasa`` with ``argv``), in a prepared process."""
    try:
        prepare_process()  # before server_args: Rasa's parser imports NumPy
        os.umask(PRIVATE_UMASK)
        from bot.masking_logs import (
            install_log_masking,  # birth dates, codes ... masked in every log record
        )

        install_log_masking()
        args = server_args(sys.argv[1:] if argv is None else argv)
    except (ServeConfigError, SetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if serves(args):
        install_server_patches()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]  # this process's memory only: /proc/<pid>/cmdline keeps the exec'd argv
    rasa_main()


if __name__ == "__main__":
    main()

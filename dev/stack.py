"""Start, watch and stop the whole system: portal, demo pages, action server, Rasa server.

A development tool (not shipped): the portal is the reference one (``dev.portal``)
and the pages the demo ones (``dev.demo``). Used three ways, so the three agree on
how the system is started:

- ``make run`` -> ``python -m dev.stack`` (prints what runs where; Ctrl-C stops all);
- the end-to-end tests, which start a stack on free loopback ports;
- ``make bench``, which measures it.

Each service is a child process in its own process group, so stopping the stack
stops everything a service started too.

Secrets reach the services through the environment only, never their command
lines (``ps`` shows those to every user): the Rasa HTTP API token
(``RASA_AUTH_TOKEN``, read by ``bot.serve``) and the action server's shared
secret (``KOSMO_ACTION_SERVER_TOKEN``, sent by Rasa per ``endpoints.yml`` and
checked by ``bot.action_server``) and the portal's helpdesk API token
(``KOSMO_PORTAL_SERVICE_TOKEN``, held by the portal and its client); a stack
without one makes a random one for each.
Services run with umask 077, and the stack's logs and ``var/`` are private to
its user (files 0600, folders 0700).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Sequence

from bot.domain.societies import PROJECT_ROOT

ACTION_TOKEN_ENV = "KOSMO_ACTION_SERVER_TOKEN"
PORTAL_TOKEN_ENV = "KOSMO_PORTAL_SERVICE_TOKEN"
CORS_ENV = "KOSMO_CORS_ORIGINS"
PRIVATE_UMASK = 0o077
VAR_DIR = PROJECT_ROOT / "var"


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents (0700); make ``path`` 0700 if it exists."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)


def make_var_private(var_dir: Path = VAR_DIR) -> None:
    """``var/`` (databases, logs) 0700 and its files 0600, also those of older runs."""
    if not var_dir.is_dir():
        return
    for folder in (var_dir, *(p for p in var_dir.iterdir() if p.is_dir() and not p.is_symlink())):
        folder.chmod(0o700)
        for item in folder.iterdir():
            if item.is_file() and not item.is_symlink():
                item.chmod(0o600)


@dataclass
class Service:
    """One child process and the URL that answers once it is ready."""

    name: str
    argv: Sequence[str]
    ready_url: str
    describe: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = PROJECT_ROOT
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: IO[bytes] | None = None

    def start(self, base_env: Mapping[str, str], log_dir: Path) -> None:
        private_dir(log_dir)
        self.log_path = log_dir / f"{self.name}.log"
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a log of an older run may have been readable by others
        self._log = os.fdopen(fd, "wb")
        self.process = subprocess.Popen(
            list(self.argv),
            cwd=self.cwd,
            env={**base_env, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,  # databases and files the service creates: its user's only
        )

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


class StackError(RuntimeError):
    """A service did not come up; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def credentials_env() -> dict[str, str]:
    """A fresh random value for each ``${VAR}`` in credentials.yml (channel secrets).

    For throw-away stacks (tests, benchmarks) that have no .env: Rasa refuses to
    start while a variable the channels name is unset.
    """
    text = (PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8")
    return {name: secrets.token_hex(24) for name in re.findall(r"\$\{(\w+)\}", text)}


def newest_model(models_dir: Path = PROJECT_ROOT / "models") -> Path:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise StackError(f"no trained model in {models_dir}: run `make train`")
    return models[-1]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blanks skipped)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass
class Stack:
    """The portal, the action server and the Rasa server, on given ports."""

    model: Path
    rasa_port: int = 5005
    actions_port: int = 5055
    portal_port: int = 8080
    smtp_port: int = 8025
    web_port: int = 8000
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = PROJECT_ROOT / "var" / "log"
    with_portal: bool = True
    services: list[Service] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the secrets two services share (Rasa and the action server; the action server's
        # portal client and the portal): .env's, else one for this stack
        for name in (ACTION_TOKEN_ENV, PORTAL_TOKEN_ENV):
            if not (self.env.get(name) or os.environ.get(name)):
                self.env[name] = secrets.token_urlsafe(32)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def portal_url(self) -> str:
        return f"http://{self.host}:{self.portal_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    def base_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("KOSMO_ACTION_ENDPOINT", f"{self.actions_url}/webhook")
        env.setdefault("KOSMO_PORTAL_URL", self.portal_url)
        env.setdefault("KOSMO_SMTP_PORT", str(self.smtp_port))
        env.setdefault("KOSMO_SMTP_HOST", self.host)
        env.setdefault("KOSMO_RASA_URL", self.rasa_url)
        env.setdefault("KOSMO_WEB_URL", self.web_url)
        # the demo pages embed the widget (also opened as localhost); a portal's own sites go in .env
        demo_origins = [self.web_url]
        if self.host == "127.0.0.1":
            demo_origins.append(f"http://localhost:{self.web_port}")
        env.setdefault(CORS_ENV, " ".join(demo_origins))
        env.setdefault("KOSMO_AGENT_SECURE_COOKIES", "false")  # dev: plain http on loopback
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def build(self) -> list[Service]:
        py = sys.executable
        env = self.base_env()
        services = []
        if self.with_portal and (PROJECT_ROOT / "dev" / "portal" / "__main__.py").exists():
            services.append(
                Service(
                    "portal",
                    [py, "-m", "dev.portal", "serve", "--dev", "--host", self.host,
                     "--port", str(self.portal_port)],
                    ready_url=f"{self.portal_url}/api/v1/openapi.json",
                    describe=f"reference portal   {self.portal_url}  (dev outbox: {self.portal_url}/dev/outbox, SMTP {self.host}:{self.smtp_port})",
                )
            )
        if (PROJECT_ROOT / "dev" / "demo" / "__main__.py").exists():
            services.append(
                Service(
                    "web",  # the widget's files (bot.web) and the demo pages
                    [py, "-m", "dev.demo", "serve", "--host", self.host, "--port", str(self.web_port)],
                    ready_url=f"{self.web_url}/healthz",
                    describe=f"demo portal pages  {self.web_url}/demo/kose  {self.web_url}/demo/ono",
                )
            )
        services.append(
            Service(
                "actions",
                # rasa_sdk's app behind the shared secret (bot/action_server.py)
                [py, "-m", "bot.action_server", "--host", self.host, "--port", str(self.actions_port)],
                ready_url=f"{self.actions_url}/health",
                describe=f"action server      {self.actions_url}/webhook  (calls need {ACTION_TOKEN_ENV})",
            )
        )
        # `rasa run` in a prepared process (bot/serve.py); it takes the API token
        # (RASA_AUTH_TOKEN) and the CORS origins (KOSMO_CORS_ORIGINS) from the environment
        rasa_argv = [
            py, "-m", "bot.serve", "run",
            "--model", str(self.model),
            "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml",
            "--port", str(self.rasa_port),
            "--interface", self.host,
        ]
        api = "HTTP API with token" if env.get("RASA_AUTH_TOKEN") else "HTTP API off: no RASA_AUTH_TOKEN"
        if env.get("RASA_AUTH_TOKEN"):
            rasa_argv.append("--enable-api")
        services.append(
            Service(
                "rasa",
                rasa_argv,
                ready_url=f"{self.rasa_url}/",
                describe=f"Rasa server        {self.rasa_url}  (REST: {self.rasa_url}/webhooks/rest/webhook, {api})",
            )
        )
        return services

    def start(self, timeout: float = 240.0) -> None:
        self.services = self.build()
        env = self.base_env()
        make_var_private()
        for service in self.services:
            service.start(env, self.log_dir)
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                code = service.exited()
                if code is not None:
                    self.stop()
                    raise StackError(
                        f"{service.name} exited with code {code} while starting; "
                        f"log {service.log_path}:\n{service.log_tail()}"
                    )
                if service.is_ready():
                    pending.remove(service)
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in pending)
                self.stop()
                raise StackError(f"not ready after {timeout:.0f}s: {names}\n{tails}")
            if pending:
                time.sleep(0.5)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def restart(self, name: str, timeout: float = 240.0) -> None:
        """Stop one service and start it again (e.g. to prove state survives)."""
        service = self.service(name)
        service.stop()
        service.start(self.base_env(), self.log_dir)
        deadline = time.monotonic() + timeout
        while not service.is_ready():
            code = service.exited()
            if code is not None or time.monotonic() > deadline:
                raise StackError(f"{name} did not come back (exit {code}):\n{service.log_tail()}")
            time.sleep(0.5)

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.stack", description=__doc__)
    parser.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--portal-port", type=int, default=8080)
    parser.add_argument("--web-port", type=int, default=8000)
    args = parser.parse_args(argv)

    env = read_env_file(PROJECT_ROOT / ".env")
    env = {k: v for k, v in env.items() if k not in os.environ}
    try:
        stack = Stack(
            model=args.model or newest_model(),
            rasa_port=args.rasa_port,
            actions_port=args.actions_port,
            portal_port=args.portal_port,
            web_port=args.web_port,
            env=env,
        )
        print(f"Starting with model {stack.model.name} (logs in {stack.log_dir}) ...", flush=True)
        stack.start()
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print("\nRunning:")
    for service in stack.services:
        print(f"  {service.describe}")
    print(
        "\nTry it:\n"
        f"  curl -s {stack.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\\n"
        "    -H \"Authorization: Bearer $(grep ^KOSMO_REST_TOKEN= .env | cut -d= -f2)\" \\\n"
        "    -d '{\"sender\": \"demo-1\", \"message\": \"初期パスワードを教えて\", \"metadata\": {\"tenant\": \"ono\"}}'\n"
        f"\nHelpdesk agents' console: {stack.rasa_url}/webhooks/agent/  (make an agent first:\n"
        "  .venv/bin/python -m bot.handoff create-agent --society kose --login sato --name 佐藤)\n"
        "\nCtrl-C stops everything.",
        flush=True,
    )
    try:
        while not stopping:
            for service in stack.services:
                code = service.exited()
                if code is not None:
                    print(f"\n{service.name} stopped (exit {code}); log tail:\n{service.log_tail()}",
                          file=sys.stderr)
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        print("\nStopping ...", flush=True)
        stack.stop()
        print("Stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

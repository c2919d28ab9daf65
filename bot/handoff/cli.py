"""Command line for the people who run the helpdesk: agents and the queue.

    python -m bot.handoff create-agent --society kose --login sato --name 佐藤 [--password-stdin]
    python -m bot.handoff list-agents [--society kose]
    python -m bot.handoff deactivate-agent --login sato
    python -m bot.handoff queue --society kose

The database is ``$KOSMO_HANDOFF_DB_URL`` (default ``var/handoff.db``). A password is
never an argument (it would stay in the shell history and in ``ps``): it is read
from stdin with ``--password-stdin`` or asked for twice without echo. Societies are
those of ``data/societies.yml``. User errors end with one line on stderr and exit
status 2 (bad input) or 1 (the operation failed), never with a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Optional, Sequence, TextIO

from bot.domain.societies import SocietyConfigError, load_registry
from bot.handoff.display import CHANNEL_LABELS, REASON_LABELS, STATUS_LABELS, format_duration
from bot.handoff.store import HandoffStore
from bot.handoff.store_agents import MIN_PASSWORD_LENGTH
from bot.handoff.store_errors import AgentExists, AgentNotFound, InvalidValue, WeakPassword


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.handoff", description="Helpdesk agents and the handoff queue."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create-agent", help="add an agent of a society")
    create.add_argument("--society", required=True, help="society key from data/societies.yml")
    create.add_argument("--login", required=True, help="login name (a-z 0-9 . _ -)")
    create.add_argument("--name", required=True, help="name shown to colleagues, e.g. 佐藤")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )

    listing = sub.add_parser("list-agents", help="list agents")
    listing.add_argument("--society")

    deactivate = sub.add_parser("deactivate-agent", help="stop an agent from logging in")
    deactivate.add_argument("--login", required=True)

    queue = sub.add_parser("queue", help="show a society's waiting and active handoffs")
    queue.add_argument("--society", required=True)
    return parser


def _societies() -> set[str]:
    try:
        return set(load_registry().societies)
    except SocietyConfigError as e:
        raise CliError(str(e), 1) from None


def _check_society(society: str, known: set[str]) -> None:
    if society not in known:
        raise CliError(
            f"unknown society {society!r}; known societies: {', '.join(sorted(known))}", 2
        )


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        line = stdin.readline()
        return line.rstrip("\r\n")
    try:
        first = getpass.getpass(f"password (at least {MIN_PASSWORD_LENGTH} characters): ")
        second = getpass.getpass("password again: ")
    except (EOFError, KeyboardInterrupt):
        raise CliError("no password given", 2) from None
    if first != second:
        raise CliError("the passwords differ", 2)
    return first


def run(args: argparse.Namespace, store: HandoffStore, stdin: TextIO, stdout: TextIO) -> None:
    known = _societies()
    if args.command == "create-agent":
        _check_society(args.society, known)
        password = _read_password(args.password_stdin, stdin)
        try:
            agent = store.create_agent(args.society, args.login, password, args.name)
        except AgentExists:
            raise CliError(f"an agent with login {args.login!r} exists already", 2) from None
        except (WeakPassword, InvalidValue) as e:
            raise CliError(str(e), 2) from None
        print(f"created agent {agent.login} ({agent.display_name}) of {agent.society}", file=stdout)
    elif args.command == "list-agents":
        if args.society is not None:
            _check_society(args.society, known)
        for agent in store.agents(args.society):
            state = "active" if agent.active else "inactive"
            print(f"{agent.society}\t{agent.login}\t{agent.display_name}\t{state}", file=stdout)
    elif args.command == "deactivate-agent":
        try:
            agent = store.deactivate(args.login)
        except AgentNotFound:
            raise CliError(f"no agent with login {args.login!r}", 2) from None
        print(f"deactivated {agent.login}; their console sessions have ended", file=stdout)
    elif args.command == "queue":
        _check_society(args.society, known)
        now = store.clock()
        handoffs = store.queue(args.society)
        if not handoffs:
            print("no handoffs waiting", file=stdout)
        for h in handoffs:
            print(
                "\t".join(
                    (
                        h.id,
                        STATUS_LABELS.get(h.status, h.status),
                        format_duration(h.waiting_seconds(now)),
                        CHANNEL_LABELS.get(h.channel, h.channel),
                        REASON_LABELS.get(h.reason, h.reason),
                        h.topic,
                        h.assigned_agent_name or "",
                    )
                ),
                file=stdout,
            )


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    store: Optional[HandoffStore] = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
) -> int:
    """Run one command; ``store`` is for tests (default: ``HandoffStore.from_env()``)."""
    args = _parser().parse_args(argv)
    own_store = store is None
    try:
        if store is None:
            store = HandoffStore.from_env()
        store.create_schema()
        run(args, store, stdin, stdout)
    except CliError as e:
        print(f"error: {e}", file=stderr)
        return e.code
    finally:
        if own_store and store is not None:
            store.dispose()
    return 0

"""Command line of the reference portal.

    python -m dev.portal db-upgrade
    python -m dev.portal seed [--reset]
    python -m dev.portal serve [--host 127.0.0.1] [--port 8080] [--dev]
    python -m dev.portal tickets list [--society T] [--status open|closed]
    python -m dev.portal tickets resolve TICKET_ID   (mails the member how it ended)
    python -m dev.portal tickets reject TICKET_ID
    python -m dev.portal audit [--limit N]

User errors end with one line on stderr and exit status 2 (bad input) or 1
(the operation failed); never with a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from email.message import EmailMessage
from typing import Any, NoReturn, Sequence

from bot.domain.portal_contract import SOCIETY_FIELD
from bot.domain.societies import SocietyConfigError
from dev.portal.settings import (
    DEV_SERVICE_TOKEN,
    PortalSettings,
    SettingsError,
    default_db_url,
)


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _db_url() -> str:
    return os.environ.get("KOSMO_PORTAL_DB_URL") or default_db_url()


def _iterations() -> int:
    raw = os.environ.get("KOSMO_PORTAL_PBKDF2_ITERATIONS")
    if not raw:
        return 210_000
    try:
        value = int(raw)
    except ValueError:
        raise CliError(f"KOSMO_PORTAL_PBKDF2_ITERATIONS must be a whole number, got {raw!r}", 2) from None
    if value < 1000:
        raise CliError("KOSMO_PORTAL_PBKDF2_ITERATIONS must be at least 1000", 2)
    return value


def _clean_url(url: str) -> str:
    """The DB URL without a password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<unreadable URL>"


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from dev.portal.db import upgrade

    url = _db_url()
    upgrade(url)
    print(f"portal schema is up to date ({_clean_url(url)})")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from bot.domain.societies import load_registry
    from dev.portal.clock import SystemClock
    from dev.portal.db import Database, upgrade
    from dev.portal.seed import seed

    url = _db_url()
    upgrade(url)
    registry = load_registry()
    db = Database.from_url(url)
    try:
        now = SystemClock().now()
        report = db.run_sync(lambda s: seed(s, registry, now, iterations=_iterations(), reset=args.reset))
    finally:
        db.dispose()
    for member, status in report:
        print(f"{member.society:5} {member.user_id:14} {status}")
    return 0


def _load_settings(dev: bool) -> PortalSettings:
    from dev.portal.settings import settings_from_env

    env_dev = os.environ.get("KOSMO_PORTAL_DEV", "").strip().lower() in ("1", "true", "yes", "on")
    return settings_from_env(dev=dev or env_dev)


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.domain.societies import load_registry
    from dev.portal.app import create_app
    from dev.portal.db import upgrade
    from dev.portal.devsmtp import DevOutbox, DevSmtpServer
    from dev.portal.mail import SmtpMailer

    settings = _load_settings(args.dev)
    if not os.environ.get("KOSMO_PORTAL_PUBLIC_URL") and not os.environ.get("KOSMO_PORTAL_URL"):
        settings = settings.with_overrides(public_url=f"http://{args.host}:{args.port}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    registry = load_registry(settings.societies_file)
    upgrade(settings.db_url)
    # Bind first, so a busy port is one clear line instead of Sanic's logged traceback.
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        sock.close()
        raise CliError(f"cannot serve on {args.host}:{args.port}: {e.strerror or e}") from None
    outbox = None
    smtp_server = None
    mailer = None
    try:
        if settings.dev:
            if settings.service_token == DEV_SERVICE_TOKEN:
                print(f"dev mode: helpdesk API token is {DEV_SERVICE_TOKEN!r} "
                      "(set KOSMO_PORTAL_SERVICE_TOKEN to change it)")
            outbox = DevOutbox()
            smtp_server = DevSmtpServer(outbox, settings.dev_smtp_host, settings.dev_smtp_port)
            try:
                smtp_server.start()
            except (OSError, RuntimeError) as e:
                smtp_server = None
                raise CliError(
                    f"cannot start the local SMTP server on {settings.dev_smtp_host}:"
                    f"{settings.dev_smtp_port}: {e}"
                ) from None
            mailer = SmtpMailer(settings.dev_smtp_host, settings.dev_smtp_port)
            print(f"dev mode: local SMTP server on {settings.dev_smtp_host}:{settings.dev_smtp_port}, "
                  f"mail shown at http://{args.host}:{args.port}/dev/outbox")
        app = create_app(settings, mailer=mailer, registry=registry, outbox=outbox)
        app.run(sock=sock, workers=1, access_log=False, motd=False)
    finally:
        sock.close()
        if smtp_server is not None:
            smtp_server.stop()
    return 0


def _mail_member(message: EmailMessage) -> None:
    """Send the mail about a ticket this command closed, as the running portal would.

    A mail server problem does not undo the closing: it is one warning line.
    """
    import asyncio

    from dev.portal.mail import SmtpMailer
    from dev.portal.settings import settings_from_env

    try:
        settings = settings_from_env(require_token=False)
        if settings.dev:
            mailer = SmtpMailer(settings.dev_smtp_host, settings.dev_smtp_port, timeout=settings.smtp_timeout)
        else:
            mailer = SmtpMailer(
                settings.smtp_host, settings.smtp_port, username=settings.smtp_user,
                password=settings.smtp_password, starttls=settings.smtp_starttls, timeout=settings.smtp_timeout,
            )
        asyncio.run(mailer.send(message))
    except Exception as e:  # noqa: BLE001 - settings, SMTP or network: one line for staff
        print(f"warning: the ticket is closed, but the mail to the member could not be sent: {e}",
              file=sys.stderr)
    else:
        print("mailed the member at their registered address")


def _ticket_line(t: dict) -> str:
    who = t["claimed_user_id"] + ("" if t["identity_verified"] else " (identity NOT verified)")
    state = t["status"] + (f"/{t['resolution']}" if t["resolution"] else "")
    locked = "locked" if t["account_locked"] else "-"
    return f"{t['ticket_id']}  {t[SOCIETY_FIELD]:5} {state:16} {t['created_at'][:19]}  {locked:6} {who}"


def cmd_tickets(args: argparse.Namespace) -> int:
    from bot.domain.societies import load_registry
    from dev.portal import tickets
    from dev.portal.clock import SystemClock
    from dev.portal.db import Database, current_revision
    from dev.portal.validation import ValidationError, parse_ticket_id

    url = _db_url()
    if current_revision(url) is None:
        raise CliError("the portal database has no schema yet; run: python -m dev.portal db-upgrade")
    db = Database.from_url(url)
    try:
        if args.action == "list":
            society = None
            if args.society:
                registry = load_registry()
                if args.society.strip().lower() not in registry:
                    raise CliError(f"unknown society {args.society!r}; known: {', '.join(sorted(registry.societies))}", 2)
                society = args.society.strip().lower()
            rows = db.run_sync(lambda s: [tickets.admin_ticket_json(s, t)
                                          for t in tickets.list_tickets(s, society, args.status)])
            if not rows:
                print("no tickets")
            for row in rows:
                print(_ticket_line(row))
            return 0
        try:
            tid = parse_ticket_id(args.ticket_id)
        except ValidationError:
            raise CliError(f"{args.ticket_id!r} is not a ticket id like UL-7F3K9Q", 2) from None
        fn = tickets.resolve_ticket if args.action == "resolve" else tickets.reject_ticket
        now = SystemClock().now()
        by = f"cli:{os.environ.get('USER', 'staff')}"
        registry = load_registry()
        sender = os.environ.get("KOSMO_MAIL_SENDER") or None

        def close(s: Any) -> tuple[dict[str, Any], EmailMessage | None]:
            ticket = fn(s, now, tid, by)
            return tickets.admin_ticket_json(s, ticket), tickets.closed_ticket_mail(s, registry, sender, ticket)

        try:
            row, message = db.run_sync(close)
        except tickets.TicketError as e:
            raise CliError(str(e)) from None
        done = "unlocked the account and closed" if args.action == "resolve" else "rejected"
        print(f"{done} {tid} ({row[SOCIETY_FIELD]} {row['claimed_user_id']})")
        if message is not None:
            _mail_member(message)
        return 0
    finally:
        db.dispose()


def cmd_audit(args: argparse.Namespace) -> int:
    from dev.portal import audit
    from dev.portal.db import Database

    db = Database.from_url(_db_url())
    try:
        rows = db.run_sync(lambda s: [
            (e.at.isoformat()[:19], e.endpoint, e.society or "-", e.client or "-", e.subject or "-", e.status, e.outcome)
            for e in audit.recent(s, args.limit)
        ])
    finally:
        db.dispose()
    for row in reversed(rows):
        print("  ".join(str(v) for v in row))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise CliError(f"{self.prog}: {message}", 2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dev.portal", description="KOSMO Web reference portal")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("db-upgrade", help="apply schema migrations to $KOSMO_PORTAL_DB_URL").set_defaults(func=cmd_db_upgrade)
    p = sub.add_parser("seed", help="create the demo members of every society (idempotent)")
    p.add_argument("--reset", action="store_true", help="put existing demo members back in their initial state")
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("serve", help="run the portal")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--dev", action="store_true", help="dev token, local SMTP server and /dev/outbox")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("tickets", help="list, resolve or reject unlock tickets")
    tsub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tl = tsub.add_parser("list")
    tl.add_argument("--society")
    tl.add_argument("--status", choices=("open", "closed"))
    for action, text in (("resolve", "unlock the account and close the ticket"), ("reject", "close without unlocking")):
        tp = tsub.add_parser(action, help=text)
        tp.add_argument("ticket_id")
    p.set_defaults(func=cmd_tickets)
    p = sub.add_parser("audit", help="show recent helpdesk/admin API calls")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    except (SettingsError, SocietyConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SQLAlchemyError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: database {_clean_url(_db_url())}: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

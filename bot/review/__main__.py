"""``python -m bot.review``: the messages the bot could not handle well, grouped, most frequent first.

    python -m bot.review [--society kose] [--kind clarification] [--since 7] [--limit 50]
                         [--format text|json|csv] [--export-nlu review.yml]

The database is ``$KOSMO_REVIEW_DB_URL`` (default ``var/review.db``; ``--db-url``
overrides it); the Rasa server fills it (``bot.review.broker``). At most
``--max-rows`` rows, the newest, are read. Errors end with one line on stderr:
exit status 2 for bad input or a missing database, 1 when reading failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Callable, Optional, Sequence, TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.review.report import as_csv, as_json, as_nlu_yaml, as_text, grouped
from bot.review.store import KINDS, ReviewDatabaseMissing, ReviewStore, review_db_url

MAX_LIMIT = 10_000
MAX_ROWS = 1_000_000
MAX_DAYS = 3650.0
FORMATS: dict[str, Callable[..., str]] = {"text": as_text, "json": as_json, "csv": as_csv}


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value[:20]!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {value[:20]!r}") from None
    if not 0 < days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_DAYS:g} days")
    return days


def _society(value: str) -> str:
    if not value or len(value) > 64:
        raise argparse.ArgumentTypeError("a society key of 1-64 characters")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.review",
        description="Messages the bot could not handle well (clarification, fallback, "
        "'did not help', handoff, out of scope), grouped by text, most frequent first.",
    )
    p.add_argument("--society", type=_society, help="only this society (key from data/societies.yml)")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    p.add_argument("--since", type=_days, metavar="DAYS", help="only the last DAYS days")
    p.add_argument(
        "--limit", type=_bounded_int(1, MAX_LIMIT), default=50, help="groups shown (default 50)"
    )
    p.add_argument("--format", choices=sorted(FORMATS), default="text", help="default text")
    p.add_argument(
        "--export-nlu",
        metavar="FILE",
        help="write a Rasa NLU YAML skeleton (- intent: TODO) of the groups to FILE ('-': stdout)",
    )
    p.add_argument(
        "--max-rows",
        type=_bounded_int(1, MAX_ROWS),
        default=100_000,
        help="newest rows read at most (default 100000)",
    )
    p.add_argument("--db-url", help="SQLAlchemy URL (default $KOSMO_REVIEW_DB_URL, then var/review.db)")
    return p


def _write_private(path: str, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds members' words)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    now: Optional[dt.datetime] = None,
) -> int:
    args = parser().parse_args(argv)
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - dt.timedelta(days=args.since) if args.since is not None else None
    store = ReviewStore(review_db_url(args.db_url))
    try:
        rows = store.rows(society=args.society, kind=args.kind, since=since, max_rows=args.max_rows)
    except ReviewDatabaseMissing as error:
        print(
            f"error: {error}. The Rasa server creates it when it records the first message "
            f"(event_broker in endpoints.yml); set KOSMO_REVIEW_DB_URL or --db-url to read another.",
            file=stderr,
        )
        return 2
    except SQLAlchemyError as error:
        print(f"error: cannot read the review database ({type(error).__name__})", file=stderr)
        return 1
    finally:
        store.dispose()
    groups = grouped(rows, args.limit)
    if args.export_nlu is not None:
        yaml_text, examples = as_nlu_yaml(groups)
        if args.export_nlu == "-":
            stdout.write(yaml_text)
        else:
            try:
                _write_private(args.export_nlu, yaml_text)
            except OSError as error:
                print(f"error: cannot write {args.export_nlu}: {error.strerror}", file=stderr)
                return 1
            print(f"wrote {examples} examples to {args.export_nlu}", file=stderr)
        return 0
    stdout.write(FORMATS[args.format](groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())

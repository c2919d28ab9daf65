"""The review rows grouped by what the member wrote, and the forms the helpdesk reads them in.

Rows with the same text after normalisation (NFKC, trimmed, case-folded: ｐａｓｓ and
pass are one) are one group; groups come most frequent first (then most
recent). Each group counts its kinds, societies, channels, the bot's actions
and what the NLU took the message for, so the helpdesk sees at a glance what
to teach the bot. Output: a readable text list, JSON or CSV (cells that a
spreadsheet would run as a formula are quoted), and a Rasa NLU YAML skeleton
(``- intent: TODO`` blocks, one per NLU guess) for labelling.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from bot.domain.masking import MASK
from bot.review.store import ReviewRow

SHOWN_TEXT_CHARS = 200  # the text list cuts longer texts; JSON and CSV keep them whole
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_INTENT_NAME_RE = re.compile(r"[^A-Za-z0-9_./-]")


def normalised(text: str) -> str:
    """The grouping key of a text: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass
class Group:
    """All the rows of one (normalised) text."""

    text: str  # the most recent spelling
    last_seen: dt.datetime
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    societies: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    bot_actions: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)  # what the NLU took it for

    def add(self, row: ReviewRow) -> None:
        self.count += 1
        self.kinds[row.kind] += 1
        self.societies[row.society or "?"] += 1
        self.channels[row.channel or "?"] += 1
        self.bot_actions[row.bot_actions or row.action] += 1
        nlu = row.guess or row.intent
        if nlu:
            self.intents[nlu] += 1
        if row.at > self.last_seen:
            self.last_seen, self.text = row.at, row.text

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "text": self.text,
            "kinds": dict(self.kinds.most_common()),
            "societies": dict(self.societies.most_common()),
            "channels": dict(self.channels.most_common()),
            "bot_actions": dict(self.bot_actions.most_common()),
            "nlu_intents": dict(self.intents.most_common()),
            "last_seen": self.last_seen.isoformat(),
        }


def grouped(rows: Iterable[ReviewRow], limit: int) -> list[Group]:
    """The ``limit`` largest groups of ``rows``, most frequent first, then most recent."""
    groups: dict[str, Group] = {}
    for row in rows:
        key = normalised(row.text)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(text=row.text, last_seen=row.at)
        group.add(row)
    ordered = sorted(groups.values(), key=lambda g: (-g.count, -g.last_seen.timestamp(), g.text))
    return ordered[: max(0, limit)]


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common())


def _one_line(text: str) -> str:
    return _CONTROL_RE.sub(" ", text).strip()


def as_text(groups: Sequence[Group]) -> str:
    """A list to read in a terminal: one block per group."""
    if not groups:
        return "No recorded messages match.\n"
    lines: list[str] = []
    for group in groups:
        text = _one_line(group.text)
        if len(text) > SHOWN_TEXT_CHARS:
            text = text[:SHOWN_TEXT_CHARS] + "…"
        lines.append(f"{group.count:>5}  「{text}」")
        lines.append(f"       kinds: {_counts(group.kinds)}")
        lines.append(
            f"       societies: {_counts(group.societies)} · channels: {_counts(group.channels)}"
        )
        lines.append(f"       bot: {_counts(group.bot_actions)}")
        if group.intents:
            lines.append(f"       NLU: {_counts(group.intents)}")
        lines.append(f"       last seen: {group.last_seen.strftime('%Y-%m-%d %H:%M')} UTC")
    return "\n".join(lines) + "\n"


def as_json(groups: Sequence[Group]) -> str:
    return json.dumps([g.as_dict() for g in groups], ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = (
    "count",
    "text",
    "kinds",
    "societies",
    "channels",
    "bot_actions",
    "nlu_intents",
    "last_seen",
)


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def as_csv(groups: Sequence[Group]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for g in groups:
        writer.writerow(
            [
                g.count,
                _cell(g.text),
                _counts(g.kinds),
                _cell(_counts(g.societies)),
                _cell(_counts(g.channels)),
                _counts(g.bot_actions),
                _counts(g.intents),
                g.last_seen.isoformat(),
            ]
        )
    return out.getvalue()


def trainable(text: str) -> bool:
    """Whether a text can be a training example: not masked, not one of the bot's payloads."""
    text = text.strip()
    return bool(text) and MASK not in text and not text.startswith("/")


def as_nlu_yaml(groups: Sequence[Group]) -> tuple[str, int]:
    """A Rasa NLU YAML skeleton to label, and how many examples it holds.

    One ``- intent: TODO`` block per intent the NLU guessed (the examples it
    was least sure about together), most frequent first; masked texts and
    button payloads are left out (nothing to learn from them).
    """
    blocks: dict[str, list[str]] = {}
    for group in groups:
        text = _one_line(group.text)
        if not trainable(text):
            continue
        guess = group.intents.most_common(1)[0][0] if group.intents else "none"
        blocks.setdefault(_INTENT_NAME_RE.sub("_", guess)[:128], []).append(text)
    lines = [
        "# Messages the bot could not handle well (python -m bot.review --export-nlu),",
        "# most frequent first. Replace each TODO with the intent the examples mean",
        "# (or faq/<topic>), move them to data/nlu/<topic>.yml, delete what should not",
        "# be learnt. Masked messages and button payloads are not included.",
        'version: "3.1"',
        "nlu:" if blocks else "nlu: []",
    ]
    count = 0
    for guess, examples in blocks.items():
        lines += [f"- intent: TODO  # the NLU guessed: {guess}", "  examples: |"]
        lines += [f"    - {text}" for text in examples]
        count += len(examples)
    return "\n".join(lines) + "\n", count

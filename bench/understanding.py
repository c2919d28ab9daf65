"""How well the whole bot understands members as they really write.

Scores the sets of ``tests/understanding/`` (their README says the format and
the outcome names) against a running bot over the REST channel: every item is
one fresh member (its own sender id), who sends the item's ``context``
messages, then its ``text``. What the bot did with ``text`` is read from the
conversation's tracker (the Rasa HTTP API), not guessed from the reply's
words: the bot's responses carry their name (``utter_action``), and the forms
and actions it ran are events.

Each item ends in one of three ways:

- **right**: the first outcome is one of ``expect`` (with ``both``: all of
  them came, in order), and the reply's text checks hold;
- **asked**: the bot asked back (``ask``) where something else was expected;
- **wrong**: it answered something else without asking (confident-wrong).

``python -m bench.understanding --set dev`` starts our stack and prints the
figures and every miss; ``make bench`` reports the evaluation set's figures
per category (:func:`report_rows`).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from bot.domain.societies import METADATA_KEY, PROJECT_ROOT

SETS_DIR = PROJECT_ROOT / "tests" / "understanding"
SETS = {"dev": SETS_DIR / "dev.yml", "eval": SETS_DIR / "eval.yml"}
CATEGORIES = (
    "vague", "did_not_help", "frustrated", "two_questions", "typos_kana_romaji", "long_polite",
    "line_style", "out_of_scope", "english", "adversarial", "replies_to_offers",
)
SOCIETIES = ("kose", "ono")
MAX_ITEMS = 2000
MAX_TEXT = 2000
ASK = "ask"

# the form or action that a flow starts with
FLOW_ACTIONS = {
    "otp_help_form": "otp_help_flow",
    "unlock_form": "unlock_flow",
    "user_id_reminder_form": "reminder_flow",
    "ticket_status_form": "ticket_status_flow",
    "action_offer_handoff": "handoff_offer",
}
# responses that are an outcome of their own (the rest: utter_<outcome>)
RESPONSE_OUTCOMES = {
    "utter_clarify": ASK,
    "utter_clarify_vague": ASK,
    "utter_ask_rephrase": ASK,
    "utter_default": ASK,
    "utter_give_up": ASK,
    "utter_anything_else": "affirm",
    # with no answer before it, "it did not help" asks what the trouble is, with buttons
    "utter_did_not_help_no_topic": ASK,
    # the apology to a frustrated member comes before the offer of a person
    "utter_sorry_frustrated": "handoff_offer",
    "utter_refuse_other_member": "refuse",
    "utter_handoff_offer": "handoff_offer",
    "utter_handoff_offer_closed": "handoff_offer",
    "utter_ask_otp_user_id": "otp_help_flow",
    "utter_ask_totp_code": "otp_help_flow",
    "utter_otp_resent": "otp_help_flow",
    "utter_ask_unlock_user_id": "unlock_flow",
    "utter_ask_unlock_birth_date": "unlock_flow",
    "utter_ask_reminder_email": "reminder_flow",
    "utter_ask_ticket_id": "ticket_status_flow",
}
_KANA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


class SetError(ValueError):
    """A set file that does not follow tests/understanding/README.md."""


@dataclass(frozen=True)
class Item:
    text: str
    society: str
    category: str
    expect: tuple[str, ...] = ()
    both: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    lang: str | None = None
    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SetError(f"{where}: expected a string or a list of strings")
    return tuple(value)


def parse_items(raw: Any, source: str = "set") -> list[Item]:
    """The items of a loaded set file, checked."""
    items_raw = (raw or {}).get("items") if isinstance(raw, dict) else None
    if not isinstance(items_raw, list) or not items_raw:
        raise SetError(f"{source}: no `items` list")
    if len(items_raw) > MAX_ITEMS:
        raise SetError(f"{source}: more than {MAX_ITEMS} items")
    items = []
    for n, entry in enumerate(items_raw, 1):
        where = f"{source} item {n}"
        if not isinstance(entry, dict):
            raise SetError(f"{where}: not a mapping")
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise SetError(f"{where}: `text` must be 1-{MAX_TEXT} characters")
        if entry.get("society") not in SOCIETIES:
            raise SetError(f"{where}: `society` must be one of {SOCIETIES}")
        if entry.get("category") not in CATEGORIES:
            raise SetError(f"{where}: unknown category {entry.get('category')!r}")
        item = Item(
            text=text,
            society=entry["society"],
            category=entry["category"],
            expect=_strings(entry.get("expect"), where),
            both=_strings(entry.get("both"), where),
            context=_strings(entry.get("context"), where),
            lang=entry.get("lang"),
            must_contain=_strings(entry.get("must_contain"), where),
            must_not_contain=_strings(entry.get("must_not_contain"), where),
        )
        if bool(item.expect) == bool(item.both):
            raise SetError(f"{where}: give exactly one of `expect` and `both`")
        items.append(item)
    return items


def load_items(path: Path) -> list[Item]:
    return parse_items(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def outcome_of_event(event: Mapping[str, Any]) -> str | None:
    """The outcome one tracker event stands for, if any."""
    kind = event.get("event")
    if kind == "action":
        return FLOW_ACTIONS.get(str(event.get("name") or ""))
    if kind != "bot":
        return None
    metadata = event.get("metadata") or {}
    # `answered_with`: the response said instead of the chosen one (bot/nlg.py: the English scope)
    name = str(metadata.get("answered_with") or metadata.get("utter_action") or "")
    if not name:
        return None
    if name in RESPONSE_OUTCOMES:
        return RESPONSE_OUTCOMES[name]
    return name.removeprefix("utter_") if name.startswith("utter_") else None


def turn_of(
    events: Sequence[Mapping[str, Any]], since: int | None = None
) -> tuple[list[str], str]:
    """The outcomes (first to last, repeats dropped) and the reply text of one member message.

    ``since``: the number of events the conversation had before the message was
    sent (a message of two questions becomes two member events, each answered);
    without it, what came after the last member event.
    """
    if since is None:
        since = 1 + max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    outcomes: list[str] = []
    texts: list[str] = []
    for event in events[since:]:
        outcome = outcome_of_event(event)
        if outcome and outcome not in outcomes:
            outcomes.append(outcome)
        if event.get("event") == "bot" and event.get("text"):
            texts.append(str(event["text"]))
    return outcomes, "\n".join(texts)


def _in_order(wanted: Sequence[str], got: Sequence[str]) -> bool:
    position = 0
    for outcome in got:
        if position < len(wanted) and outcome == wanted[position]:
            position += 1
    return position == len(wanted)


# what an English reply may quote in Japanese: a screen's label 「…」 and a name in brackets
_QUOTED_JAPANESE = re.compile(r"「[^」]{0,80}」|[(（][^)）]{0,80}[)）]")


def in_english(reply: str) -> bool:
    """A reply in English: Japanese only inside 「quoted labels」 or (bracketed names)."""
    return bool(reply.strip()) and not _KANA.search(_QUOTED_JAPANESE.sub("", reply))


def verdict(item: Item, outcomes: Sequence[str], reply: str) -> str:
    """right | asked | wrong."""
    if item.both:
        matched = _in_order(item.both, outcomes)
    else:
        matched = bool(outcomes) and outcomes[0] in item.expect
    checks = (
        all(s in reply for s in item.must_contain)
        and not any(s in reply for s in item.must_not_contain)
        and (item.lang != "en" or in_english(reply))
    )
    if matched and checks:
        return "right"
    if outcomes and outcomes[0] == ASK:
        return "asked"
    return "wrong"


@dataclass
class ItemResult:
    item: Item
    outcomes: list[str]
    reply: str
    verdict: str
    nlu: dict[str, float] = field(default_factory=dict)


def nlu_scores(events: Sequence[Mapping[str, Any]], since: int) -> dict[str, float]:
    """What the NLU thought of the member's message: top and second intent, FAQ answer confidence.

    From the first member event of the turn (before any fallback: ``nlu_fallback``
    is skipped in the ranking). Used to calibrate the clarification thresholds
    on the development set (:func:`calibrate`).
    """
    user = next((e for e in events[since:] if e.get("event") == "user"), None)
    parse = (user or {}).get("parse_data") or {}
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    top = float(ranking[0]["confidence"]) if ranking else 1.0
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    answer = ((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    faq = bool(ranking) and ranking[0].get("name") == "faq"
    return {"top": top, "margin": top - second, "faq_answer": float(answer.get("confidence") or 0.0) if faq else 1.0}


@dataclass
class Scores:
    results: list[ItemResult] = field(default_factory=list)

    def _share(self, rows: Iterable[ItemResult], what: str) -> float:
        rows = list(rows)
        return sum(r.verdict == what for r in rows) / max(len(rows), 1)

    def summary(self) -> dict[str, Any]:
        by_category: dict[str, list[ItemResult]] = defaultdict(list)
        for r in self.results:
            by_category[r.item.category].append(r)
        return {
            "items": len(self.results),
            "accuracy": round(self._share(self.results, "right"), 3),
            "ask_rate": round(self._share(self.results, "asked"), 3),
            "confident_wrong_rate": round(self._share(self.results, "wrong"), 3),
            "categories": {
                c: {
                    "items": len(rows),
                    "accuracy": round(self._share(rows, "right"), 3),
                    "ask_rate": round(self._share(rows, "asked"), 3),
                    "confident_wrong_rate": round(self._share(rows, "wrong"), 3),
                }
                for c in CATEGORIES
                if (rows := by_category.get(c))
            },
            "misses": [
                {
                    "category": r.item.category,
                    "society": r.item.society,
                    "context": list(r.item.context),
                    "text": r.item.text,
                    "expected": list(r.item.both or r.item.expect),
                    "got": r.outcomes,
                    "verdict": r.verdict,
                }
                for r in self.results
                if r.verdict != "right"
            ],
        }


class RestBot:
    """A running bot's REST channel and HTTP API (tracker reads need the API token)."""

    def __init__(self, base_url: str, api_token: str, rest_token: str | None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.rest_token = rest_token
        self.timeout = timeout

    def send(self, sender: str, text: str, society: str) -> None:
        body = json.dumps({"sender": sender, "message": text, "metadata": {METADATA_KEY: society}}).encode()
        headers = {"Content-Type": "application/json"}
        if self.rest_token:
            headers["Authorization"] = f"Bearer {self.rest_token}"
        req = urllib.request.Request(f"{self.base_url}/webhooks/rest/webhook", data=body, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            resp.read()

    def events(self, sender: str) -> list[dict[str, Any]]:
        conversation = urllib.parse.quote(f"rest:{sender}", safe=":")
        url = f"{self.base_url}/conversations/{conversation}/tracker?token={self.api_token}"
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:
            return list(json.loads(resp.read()).get("events") or [])

    def run(self, item: Item) -> ItemResult:
        sender = "understanding-" + secrets.token_hex(8)
        for message in item.context:
            self.send(sender, message, item.society)
        before = len(self.events(sender)) if item.context else 0
        self.send(sender, item.text, item.society)
        events = self.events(sender)
        outcomes, reply = turn_of(events, before)
        return ItemResult(item, outcomes, reply, verdict(item, outcomes, reply), nlu_scores(events, before))


def evaluate(bot: RestBot, items: Sequence[Item], workers: int = 4) -> Scores:
    """Every item, a few members at a time (each item is its own conversation)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Scores(list(pool.map(bot.run, items)))


def calibrate(results: Sequence[ItemResult]) -> list[str]:
    """How raising the clarification thresholds would change the figures (development set only).

    An item whose NLU scores fall below a threshold would have been asked back
    instead: right if asking was expected, else "asked". ``floor``: an FAQ's
    confidence is P(faq) × min(1, P(answer) / floor) (``weigh_intent_by_answer`` and
    ``answer_floor``; 1.0 is the plain product). Run it on a model that weighs
    nothing (raising a threshold can be simulated, lowering one cannot). A simulation,
    for choosing the thresholds in config.yml; the real figures come from a run.
    """
    rows = ["| threshold | ambiguity | FAQ answer floor | right | asked | wrong | right − wrong |",
            "|---|---|---|---|---|---|---|"]
    for top in (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8):
        for margin in (0.0, 0.05, 0.1, 0.2):
            # FAQ confidence × min(1, P(answer) / floor): 0 = not weighed, 1 = P(faq) × P(answer)
            for floor in (0.0, 0.5, 1.0):
                counts: Counter[str] = Counter()
                for r in results:
                    n = r.nlu or {}
                    answer = n.get("faq_answer", 1.0)
                    weight = min(1.0, answer / floor) if floor else 1.0
                    confidence = n.get("top", 1.0) * weight
                    unsure = confidence < top or n.get("margin", 1.0) < margin
                    if unsure and r.verdict != "asked":
                        v = "right" if ASK in r.item.expect else "asked"
                    else:
                        v = r.verdict
                    counts[v] += 1
                total = max(len(results), 1)
                rows.append(f"| {top} | {margin} | {floor} | {counts['right'] / total:.1%} | "
                            f"{counts['asked'] / total:.1%} | {counts['wrong'] / total:.1%} | "
                            f"{(counts['right'] - counts['wrong']) / total:.1%} |")
    return rows


TARGETS = {"accuracy": 0.92, "category_accuracy": 0.85, "confident_wrong_rate": 0.03}


def report_rows(summary: Mapping[str, Any], title: str) -> list[str]:
    """Markdown rows of one set's figures, per category, with the targets."""

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = [
        f"## {title}",
        "",
        f"{summary['items']} messages. Accuracy {summary['accuracy']:.1%} "
        f"(target ≥ 92%: {mark(summary['accuracy'] >= TARGETS['accuracy'])}), "
        f"asked back {summary['ask_rate']:.1%}, answered wrongly without asking "
        f"{summary['confident_wrong_rate']:.1%} "
        f"(target ≤ 3%: {mark(summary['confident_wrong_rate'] <= TARGETS['confident_wrong_rate'])}).",
        "",
        "| category | messages | right | asked back | wrong without asking | ≥ 85% |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in summary["categories"].items():
        lines.append(
            f"| {name} | {c['items']} | {c['accuracy']:.1%} | {c['ask_rate']:.1%} | "
            f"{c['confident_wrong_rate']:.1%} | {mark(c['accuracy'] >= TARGETS['category_accuracy'])} |"
        )
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import our_stack  # the bench's stack, on free loopback ports

    parser = argparse.ArgumentParser(prog="python -m bench.understanding")
    parser.add_argument("--set", choices=sorted(SETS), default="dev")
    parser.add_argument("--file", type=Path, default=None, help="another set file instead of --set")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--category", choices=CATEGORIES, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--calibrate", action="store_true",
                        help="also print how higher clarification thresholds would score (not with --set eval)")
    args = parser.parse_args(argv)
    items = load_items(args.file or SETS[args.set])
    if args.category:
        items = [i for i in items if i.category == args.category]
    evaluation = (args.file or SETS[args.set]).resolve() == SETS["eval"].resolve()
    if args.calibrate and evaluation:
        parser.error("thresholds are calibrated on the development set, never on the evaluation set")
    with our_stack(args.model) as bot:
        scores = evaluate(bot, items)
    summary = scores.summary()
    print("\n".join(report_rows(summary, f"{args.set} set")))
    if evaluation:
        # the evaluation set only measures: its misses are not shown to whoever tunes the bot
        summary["misses"] = []
    for miss in summary["misses"]:
        context = f"[{' / '.join(miss['context'])}] " if miss["context"] else ""
        print(f"- {miss['verdict']:5} {miss['category']:18} {miss['society']:4} {context}{miss['text']!r}"
              f" expected {miss['expected']} got {miss['got']}")
    if args.calibrate:
        print("\n".join(calibrate(scores.results)))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""NLU evaluation of clean one-topic messages, shared by the tests and the benchmark.

Two sets of such messages, both written fresh and never trained on:

- ``tests/nlu_dev``: the **development** set. Model settings (featurizers, epochs,
  the second opinion's weight) are chosen on it; its misses may be read.
- ``tests/nlu``: the **held-out** set. It only measures (``make bench``, the
  model-quality test); nothing is chosen on it.

``python -m bench.nlu_eval [--set dev|heldout] [--model PATH]`` prints a set's
accuracy and macro-F1 (and, for the development set only, its misses).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.metrics import f1_score

from bot.domain.topics import topic_of_parse
from bot.settings import PROJECT_ROOT


def expected_label(message: Any) -> str:
    """`faq/<topic>` for FAQ examples, else the intent."""
    return message.get("intent_response_key") or message.get("intent")


def predicted_label(parse: dict[str, Any]) -> str:
    """`faq/<topic>` for FAQ answers (`faq` when none was selected), else the intent."""
    return topic_of_parse(parse) or (parse.get("intent") or {}).get("name") or ""


@dataclass
class HoldoutResult:
    examples: int
    accuracy: float
    macro_f1: float
    misses: list[dict[str, Any]] = field(default_factory=list)


async def evaluate_holdout(agent: Agent, holdout_dir: Path) -> HoldoutResult:
    data = load_data(str(holdout_dir))
    gold, pred, misses = [], [], []
    for message in data.intent_examples:
        parse = await agent.parse_message(message.get("text"))
        g, p = expected_label(message), predicted_label(parse)
        gold.append(g)
        pred.append(p)
        if g != p:
            misses.append(
                {
                    "text": message.get("text"),
                    "expected": g,
                    "predicted": p,
                    "confidence": round(float(parse["intent"]["confidence"]), 3),
                }
            )
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1)
    macro_f1 = float(
        f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)
    )
    return HoldoutResult(len(gold), accuracy, macro_f1, misses)


SETS = {"dev": PROJECT_ROOT / "tests" / "nlu_dev", "heldout": PROJECT_ROOT / "tests" / "nlu"}


async def _evaluate(model: Path, holdout_dir: Path) -> HoldoutResult:
    from rasa.core.agent import load_agent

    return await evaluate_holdout(await load_agent(model_path=str(model)), holdout_dir)


def main(argv: list[str] | None = None) -> int:
    from dev.stack import newest_model

    parser = argparse.ArgumentParser(prog="python -m bench.nlu_eval")
    parser.add_argument("--set", choices=sorted(SETS), default="dev")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args(argv)
    model = args.model or Path(newest_model())
    result = asyncio.run(_evaluate(model, SETS[args.set]))
    asked = sum(1 for m in result.misses if m["predicted"] == "nlu_fallback")
    print(f"{args.set} set, model {model.name}: {result.examples} messages, accuracy {result.accuracy:.3f}, "
          f"macro-F1 {result.macro_f1:.3f}; {len(result.misses)} misses, {asked} of them asked back")
    # the held-out set only measures: its misses are not shown to whoever tunes
    if args.set == "dev":
        for m in result.misses:
            print(f"- {m['expected']} -> {m['predicted']} ({m['confidence']}): {m['text']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

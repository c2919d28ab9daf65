"""Held-out NLU evaluation shared by the tests and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.metrics import f1_score

from bot.topics import topic_of_parse


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

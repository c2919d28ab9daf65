"""One notion of "the same message" for keeping the test and development sets apart from training.

Two messages are the same when they differ only in width (NFKC), case, spaces,
punctuation, symbols and emoji, or long-vowel and wave marks (ー 〜 ~):
「初期パスなにー？」 and 「初期パス なに」, 「うんこ！」 and 「うんこ」 are one message.
A training example that is the same as a message of a set would let the set
measure memory instead of understanding.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

_MARKS = frozenset("ー〜~")


def near(text: str) -> str:
    """``text`` reduced to what makes it a different message."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        c for c in folded if not (c.isspace() or c in _MARKS or unicodedata.category(c)[0] in "PS")
    )


def nlu_texts(path: Path) -> set[str]:
    """The examples of a Rasa NLU file or folder, each as :func:`near` reduces it (nothing left: left out)."""
    return {near(m.get("text")) for m in load_data(str(path)).intent_examples} - {""}

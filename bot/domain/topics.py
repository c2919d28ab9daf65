"""The member's topics and their short Japanese labels, read from ``data/topic_labels.yml``.

Two places name a topic to a person: the clarification buttons
(``actions/clarify.py``) and the handoff packet an agent reads
(``bot/handoff/packet.py``). Both read the same labels through this one
loader, so a topic is called the same thing on the member's screen and on the
agent's. Keys are intents (``account_locked``) or FAQ topics (``faq/portal_url``).

English conversations (``bot.domain.language``) get the ``en:`` labels: only the
topics answered in English have one, so only those are offered as buttons.
The agent's packet keeps the Japanese labels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

from bot.domain.language import ENGLISH, JAPANESE
from bot.settings import DataFiles

# A topic whose score (its intent's confidence; for an FAQ topic, the ``faq``
# intent's confidence times the ResponseSelector's) is below this is a guess too
# poor to offer; the NLU does not rank FAQ topics below it at all
# (bot.nlu.faq_selector).
MIN_TOPIC_SCORE = 0.02


# "none of these", the last clarification button, when the file names none
DEFAULT_NONE_LABELS = {JAPANESE: "どれでもない", ENGLISH: "None of these"}


def _read(path: Optional[str | os.PathLike[str]]) -> Dict[str, Any]:
    file = Path(path or DataFiles.from_env().topic_labels_file)
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    return data if isinstance(data, dict) else {}


def load_topic_labels(
    path: Optional[str | os.PathLike[str]] = None, language: str = JAPANESE
) -> Dict[str, str]:
    """Label per topic key: ``path``, else ``$KOSMO_TOPIC_LABELS_FILE``, else ``data/topic_labels.yml``.

    ``language`` ``en`` reads the ``en:`` section; anything else the Japanese ``labels:``.
    """
    data = _read(path)
    labels = data.get("en" if language == ENGLISH else "labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def load_none_label(path: Optional[str | os.PathLike[str]] = None, language: str = JAPANESE) -> str:
    """The "none of these" button's label in ``language`` (Japanese unless ``en``)."""
    key = ENGLISH if language == ENGLISH else JAPANESE
    labels = _read(path).get("none_of_these") or {}
    return str(labels.get(key) or DEFAULT_NONE_LABELS[key])


FAQ_INTENT = "faq"
# intents whose answer explains a topic (an FAQ, or a trouble of data/topic_labels.yml);
# requests that start a procedure (resend_otp, request_unlock, ...) are not among them
ANSWER_TOPIC_INTENTS = frozenset(
    {
        FAQ_INTENT,
        "login_invalid",
        "otp_rejected",
        "otp_not_received",
        "account_locked",
        "forgot_user_id",
        "forgot_password",
    }
)


def topic_of_parse(parse_data: Mapping[str, Any]) -> Optional[str]:
    """The topic a parsed message asks: its intent, or for the FAQ intent the answer the
    ResponseSelector chose (``faq/<name>``; None when it chose none)."""
    intent = parse_data.get("intent") or {}
    name = intent.get("name")
    if name != FAQ_INTENT:
        return str(name) if name else None
    selector = parse_data.get("response_selector") or {}
    chosen = selector.get(FAQ_INTENT) or selector.get("default") or {}
    key = intent.get("full_retrieval_intent_name") or (chosen.get("response") or {}).get(
        "intent_response_key"
    )
    return str(key) if key else None

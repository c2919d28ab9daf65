"""What an action said, as the tests read it: a response name, or its text when it carries values."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List

import yaml

from tests.conftest import PROJECT_ROOT

# values an action hands to a response (``dispatcher.utter_message(response=..., ticket_id=...)``)
VALUE_KEYS = ("ticket_id", "seconds")
# the responses that say a value (they were texts the actions wrote; English has its own)
SAYS_A_VALUE = frozenset(
    {"utter_unlock_ticket_received", "utter_ticket_status_of", "utter_totp_clock_ahead", "utter_totp_clock_behind"}
)


@lru_cache(maxsize=1)
def _responses() -> Dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def said(messages: List[Dict[str, Any]]) -> List[str]:
    """Each message: its text; a response with values, its Japanese text filled in; else its name."""
    out = []
    for m in messages:
        name = m.get("response")
        values = {k: m[k] for k in VALUE_KEYS if m.get(k) is not None}
        if name in SAYS_A_VALUE and values:
            out.append(_responses()[name][0]["text"].format(**values))
        else:
            out.append(name or m.get("text") or "")
    return out

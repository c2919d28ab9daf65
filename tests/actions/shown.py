"""What the member reads for a message an action sends, as the action tests compare it.

A response is compared by its name, except the responses that carry a value
from the action (the ticket number, the clock's offset): those are compared
by their Japanese text (domain.yml) with the value filled in, as the member
reads it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from tests.conftest import PROJECT_ROOT

# responses an action sends with a value of its own (actions/unlock.py, actions/otp.py)
WITH_VALUES = {
    "utter_unlock_ticket_received": "ticket_id",
    "utter_ticket_status_of": "ticket_id",
    "utter_totp_clock_ahead": "seconds",
    "utter_totp_clock_behind": "seconds",
}


@lru_cache(maxsize=1)
def domain_texts() -> dict[str, str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {name: variations[0]["text"] for name, variations in domain["responses"].items()}


def shown(message: dict[str, Any]) -> str:
    """The response's name, or for a response with a value its text with the value filled in."""
    name = message.get("response")
    key = WITH_VALUES.get(name or "")
    if key:
        return domain_texts()[name].replace("{" + key + "}", str(message.get(key)))
    return name or message.get("text") or ""

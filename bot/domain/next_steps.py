"""What a member most likely meets next, per topic (``data/next_steps.yml``).

Read by the "it did not help" answer (``actions/did_not_help.py``) and by the
clarification of a vague message (``actions/clarify.py``): topic keys as in
``data/topic_labels.yml``. No Rasa imports: the action server reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import yaml

from bot.settings import DataFiles

MAX_STEPS = 3
# how far back the bot looks for what it answered (events, not turns)
LOOKBACK_EVENTS = 200


@dataclass(frozen=True)
class NextSteps:
    """Per topic, the topics a member most likely meets next (``data/next_steps.yml``)."""

    after: Mapping[str, Sequence[str]] = field(default_factory=dict)
    results: Mapping[str, str] = field(default_factory=dict)
    default: Sequence[str] = ()

    def topic_of_response(self, response: str) -> Optional[str]:
        """The topic a response of the bot answered (``utter_faq/qr_scan`` -> ``faq/qr_scan``)."""
        if response in self.results:
            return self.results[response]
        topic = response.removeprefix("utter_")
        return topic if topic in self.after else None

    def last_topic(self, events: Sequence[Mapping[str, Any]]) -> Optional[str]:
        """The topic of the newest answer before the member's latest message."""
        seen_latest_user = False
        for event in reversed(events[-LOOKBACK_EVENTS:]):
            kind = event.get("event")
            if kind == "user" and not seen_latest_user:
                seen_latest_user = True
                continue
            if kind == "bot" and seen_latest_user:
                response = str((event.get("metadata") or {}).get("utter_action") or "")
                topic = self.topic_of_response(response)
                if topic:
                    return topic
        return None

    def keys(self, topic: Optional[str], labels: Mapping[str, str]) -> List[str]:
        """The labelled next topics after ``topic`` (none: the commonest troubles), at most MAX_STEPS."""
        keys = list(self.after.get(topic, ()) if topic else ()) or list(self.default)
        return [k for k in keys if k in labels][:MAX_STEPS]


def parse_next_steps(raw: Any) -> NextSteps:
    raw = raw if isinstance(raw, dict) else {}
    after = {str(k): [str(t) for t in (v or [])] for k, v in (raw.get("after") or {}).items()}
    results = {str(k): str(v) for k, v in (raw.get("results") or {}).items()}
    return NextSteps(after, results, [str(t) for t in raw.get("default") or []])


@lru_cache(maxsize=4)
def load_next_steps(path: Optional[str] = None) -> NextSteps:
    file = Path(path or DataFiles.from_env().next_steps_file)
    return parse_next_steps(yaml.safe_load(file.read_text(encoding="utf-8")))

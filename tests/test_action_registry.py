"""Every custom action named in the domain is registered exactly once."""

from __future__ import annotations

from collections import Counter

import yaml
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from tests.conftest import PROJECT_ROOT


def domain_custom_actions() -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    names = {a if isinstance(a, str) else next(iter(a)) for a in domain.get("actions", [])}
    return {n for n in names if not n.startswith("utter_")}


def all_action_classes(base=Action) -> list[type]:
    found = []
    for cls in base.__subclasses__():
        if cls.__module__.startswith("actions"):
            found.append(cls)
        found.extend(all_action_classes(cls))
    return found


def test_every_domain_action_is_registered_once():
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = set(executor.actions)
    missing = domain_custom_actions() - registered
    assert not missing, f"in domain.yml but not in the action server: {sorted(missing)}"
    counts = Counter(cls().name() for cls in all_action_classes() if not getattr(cls, "__abstractmethods__", None))
    twice = {n: c for n, c in counts.items() if c > 1}
    assert not twice, f"action names defined more than once: {twice}"
    extra = {n for n in registered if not n.startswith("validate_")} - domain_custom_actions()
    assert not extra, f"registered but not in domain.yml: {sorted(extra)}"

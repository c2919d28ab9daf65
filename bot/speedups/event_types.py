"""Rasa finds an event's class by a table lookup instead of a class-tree walk.

Rasa 3.6 loads the whole current session from the SQL store for every
message, and finds each event's class with ``Event.resolve_by_type``, which
walks every subclass of ``Event`` recursively (``all_subclasses``) for each
event. At 80 turns that was about 80 ms of every message, half of the turn,
and it grows with the conversation. The replacement looks the type name up in
a table of the same classes (the first match wins, as in Rasa's loop); an
unknown name rebuilds the table once, then falls back to Rasa's own function,
so defaults and errors are Rasa's.

There is no extension point for it (Rasa's code calls the static method by
name), so it is a patch: :data:`PATCH`, installed by the registry
(``bot.speedups``) when the server starts.
"""

from __future__ import annotations

from typing import Any, Callable, Text

from bot.speedups.registry import Patch, replace


def _targets() -> list:
    from rasa.shared.core.events import Event

    return [Event.resolve_by_type]


def install() -> Callable[[], None]:
    """Put the table lookup in place; returns what puts Rasa's back."""
    from rasa.shared.core import events as rasa_events
    from rasa.shared.utils.common import all_subclasses

    event_cls = rasa_events.Event
    original = event_cls.resolve_by_type
    table: dict[str, Any] = {}

    def rebuild() -> None:
        table.clear()
        for cls in all_subclasses(event_cls):
            table.setdefault(cls.type_name, cls)

    def resolve_by_type(type_name: Text, default: Any = None) -> Any:
        cls = table.get(type_name)
        if cls is None:
            rebuild()  # a class defined since, or a name Rasa handles itself
            cls = table.get(type_name)
        return cls if cls is not None else original(type_name, default)

    return replace(event_cls, "resolve_by_type", staticmethod(resolve_by_type))


PATCH = Patch(
    name="Event.resolve_by_type",
    summary="an event's class by table lookup, not a walk of every Event subclass",
    targets=_targets,
    sha256="b5cf570fa7f286c7059ec73d8880528d03a78b28cf4e80285a46079c0fa65968",
    install=install,
)

"""Declaring a variable: a :class:`Variable` names it and its parser, :func:`setting` and
:func:`family` attach one to a dataclass field, and a :class:`Group` (a frozen dataclass
of such fields) is built from an environment by :meth:`Group.from_env`.

The groups themselves are in ``bot.settings.groups``; the parsers in
``bot.settings.parsers``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Mapping, Optional, TypeVar

from bot.settings.parsers import Parser, SettingsError, parse_secret

G = TypeVar("G", bound="Group")


# the key of a field's metadata that holds its Variable
_VARIABLE = "kosmo_variable"


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its parser, and, for a family of variables
    (``LINE_<SOCIETY>_ACCESS_TOKEN``), the pattern of their names (group 1: the key)."""

    name: str
    parse: Parser
    pattern: Optional[re.Pattern[str]] = None
    secret: bool = False

    def names_in(self, environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
        """(variable, key) for each variable of the environment this one stands for."""
        if self.pattern is None:
            yield self.name, ""
            return
        for name in sorted(environ):
            match = self.pattern.fullmatch(name)
            if match:
                yield name, match.group(1).lower()


def setting(name: str, parse: Parser, default: Any = None) -> Any:
    """A field read from ``$name`` (unset or empty: ``default``)."""
    return field(default=default, metadata={_VARIABLE: Variable(name, parse, secret=parse is parse_secret)})


def family(name: str, pattern: str, parse: Parser) -> Any:
    """A field read from every variable whose name matches ``pattern``: key -> value."""
    return field(
        default_factory=dict,
        metadata={_VARIABLE: Variable(name, parse, re.compile(pattern), secret=parse is parse_secret)},
    )


class Group:
    """A frozen dataclass of settings, built by :meth:`from_env`."""

    # old name -> new name of a variable that was renamed: one still set under its old
    # name is refused by name, not silently ignored
    RENAMED: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_env(cls: type[G], environ: Optional[Mapping[str, str]] = None) -> G:
        """The group from ``environ`` (default ``os.environ``); every bad variable in one error."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            variable: Optional[Variable] = f.metadata.get(_VARIABLE)
            if variable is None:
                continue
            found: dict[str, Any] = {}
            for name, key in variable.names_in(env):
                raw = (env.get(name) or "").strip()
                if not raw:
                    continue
                try:
                    found[key] = variable.parse(name, raw)
                except SettingsError as e:
                    problems += e.problems
            if variable.pattern is not None:
                values[f.name] = found
            elif "" in found:
                values[f.name] = found[""]
        for old, new in cls.RENAMED.items():
            if (env.get(old) or "").strip():
                problems.append(f"{old} was renamed {new}: set {new} instead")
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    @classmethod
    def variables(cls) -> list[Variable]:
        return [
            f.metadata[_VARIABLE]
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if _VARIABLE in f.metadata
        ]

    def items(self) -> Iterator[tuple[Variable, Any]]:
        """(variable, value) for each of the group's settings, in declaration order."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            variable: Optional[Variable] = f.metadata.get(_VARIABLE)
            if variable is not None:
                yield variable, getattr(self, f.name)

"""No regular expression costs more than linear time on what a member types.

Python's ``re`` backtracks: a pattern such as 「[^」]+」 tries every 「 of
「「「… against the rest of the text, so 100,000 of them took 5 s in the handoff
packet and stalled the action server. Every pattern at module level of the
modules that see member text is run here on pathological inputs of 100,000
characters (runs of each character class, of the pattern's own literal
pieces, nested quotes, digits with separators), and so are the functions that
use them. A linear pattern needs milliseconds; a quadratic one needs seconds.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from typing import Callable, Iterator

import pytest

N = 100_000
# generous for a slow, shared CI machine; a quadratic pattern takes seconds to minutes
LIMIT_SECONDS = 0.5

MODULES = [
    "bot.domain.normalize",
    "bot.domain.masking",
    "bot.handoff.packet",
    "bot.nlu.structured_input",
    *(
        f"bot.channels.{m.name}"
        for m in pkgutil.iter_modules(importlib.import_module("bot.channels").__path__)
    ),
    *(
        f"actions.{m.name}"
        for m in pkgutil.iter_modules(importlib.import_module("actions").__path__)
    ),
]
# how a module calls a pattern when it is not a search (search, finditer, sub, findall)
CALLED_WITH_FULLMATCH = {
    ("bot.channels.input_bounds", "_PAYLOAD"),
    ("bot.channels.input_bounds", "_SOCIETY"),
    ("bot.channels.input_bounds", "_INTENT"),
    ("bot.channels.rest", "_SENDER"),
    ("bot.channels.widget", "_SESSION_ID"),
}
# patterns of these modules that never see member text
NOT_MEMBER_TEXT = {
    # applied to the bot's own responses (markdown links) before they go to LINE
    ("bot.channels.line_messages", "_MARKDOWN_LINK"),
}

CHARACTERS = list(
    "aA1１ \u3000\t\n-ー－./・,、「」『』“”\"'`()[]{}<>=:;@_#+*\\|?!年月日十一元ULSHRMTあアｱ漢"
)
# pieces repeated, and followed by long runs
WORDS = [
    "a",
    "1",
    " ",
    "「",
    "記号",
    "番号",
    "パスワード",
    "パス",
    "暗証",
    "pw",
    "pass",
    "password is ",
    "昭和",
    "UL-",
    "https://",
    "/a{",
    "1 ",
    "1-",
    "12 ",
    "1.",
    "1/",
    "1年",
    "1月",
    "1日",
    "一月",
    "生年月日",
    "「a",
    "a」",
    "「「」",
    "“a",
    "記号1",
    "番号1 ",
    "パスワード a",
    "S1.",
    "H1 1 ",
]


def module_patterns() -> Iterator[tuple[str, str, re.Pattern[str]]]:
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                if (module_name, name) not in NOT_MEMBER_TEXT:
                    yield module_name, name, value


PATTERNS = list(module_patterns())


def literal_pieces(pattern: str) -> list[str]:
    """The literal runs of a pattern's source (UL, 記号, パスワード ...): its own prefixes."""
    pieces = re.findall(r"(?<!\\)[^\\\[\]\(\)\{\}\.\*\+\?\^\$\|]{1,12}", pattern)
    return [p for p in pieces if p.strip()][:20]


def pathological_inputs(
    extra: list[str], tails: tuple[str, ...] = ("1", " ", "a", "「")
) -> list[str]:
    """Runs of each character and piece, and each piece followed by a run of each of ``tails``."""
    inputs = [c * N for c in CHARACTERS]
    for piece in [*WORDS, *extra]:
        inputs.append((piece * (N // len(piece) + 1))[:N])
        for tail in tails:
            inputs.append(piece + tail * N)
    inputs += [
        "「" * N + "」",
        "「a" * (N // 2) + "」",
        "1 " * (N // 2) + "x",
        "1-" * (N // 2) + "-",
    ]
    return inputs


def timed(call: Callable[[], object]) -> float:
    """Seconds the call takes; the best of three when over the limit (the machine may be busy).

    A linear call that was unlucky once is fast again; a quadratic one never is.
    """
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
        if best < LIMIT_SECONDS:
            break
    return best


def slowest(calls: dict[str, Callable[[], object]]) -> tuple[float, str]:
    return max((timed(call), label) for label, call in calls.items())


def test_the_modules_have_patterns_to_check():
    names = {(m, n) for m, n, _ in PATTERNS}
    assert ("bot.handoff.packet", "_QUOTED_RE") in names
    assert ("bot.domain.masking", "DIGIT_GROUPS_RE") in names
    assert ("bot.domain.normalize", "_PASSWORD_PHRASE_RE") in names
    assert len(PATTERNS) > 20


@pytest.mark.parametrize(
    "module_name, name, pattern", PATTERNS, ids=[f"{m}.{n}" for m, n, _ in PATTERNS]
)
def test_every_pattern_is_linear_on_pathological_input(module_name, name, pattern):
    full = (module_name, name) in CALLED_WITH_FULLMATCH
    for text in pathological_inputs(literal_pieces(pattern.pattern)):
        if full:
            calls = {
                "fullmatch": lambda text=text: pattern.fullmatch(text),
                "match": lambda text=text: pattern.match(text),
            }
        else:
            calls = {"finditer": lambda text=text: sum(1 for _ in pattern.finditer(text))}
        seconds, how = slowest(calls)
        assert seconds < LIMIT_SECONDS, (
            f"{module_name}.{name} {how} took {seconds:.2f} s on {text[:20]!r}…"
        )


def member_functions() -> dict[str, Callable[[str], object]]:
    from bot.domain import masking, masking_events, normalize
    from bot.handoff import packet
    from bot.nlu import structured_input

    def as_events(text: str) -> list[dict]:
        return [
            {"event": "slot", "name": "requested_slot", "value": "unlock_user_id"},
            {"event": "user", "text": text, "parse_data": {"text": text, "entities": []}},
            {"event": "user", "text": "/affirm", "metadata": {"display_text": text}},
        ]

    return {
        "mask_text": masking.mask_text,
        "mask_log_text": masking.mask_log_text,
        "sensitive_text": masking.sensitive_text,
        "is_user_id": masking.is_user_id,
        "mask_event_dicts": lambda t: masking_events.mask_event_dicts(as_events(t)),
        "looks_like_password": normalize.looks_like_password,
        "password_spans": lambda t: normalize.password_spans(t, digits=True),
        "parse_birth_date": normalize.parse_birth_date,
        "parse_user_id": normalize.parse_user_id,
        "parse_email": normalize.parse_email,
        "parse_otp_code": normalize.parse_otp_code,
        "parse_ticket_id": normalize.parse_ticket_id,
        "find_ticket_id": normalize.find_ticket_id,
        "decide": structured_input.decide,
        "errors_mentioned": lambda t: packet.errors_mentioned([{"event": "user", "text": t}]),
    }


FUNCTIONS = member_functions()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_on_member_text_is_linear(name):
    function = FUNCTIONS[name]
    # the patterns were tried with every tail above; the functions combine them
    for text in pathological_inputs([], tails=("1",)):
        seconds = timed(lambda text=text: function(text))
        assert seconds < LIMIT_SECONDS, f"{name} took {seconds:.2f} s on {text[:20]!r}…"


def test_the_old_quote_pattern_would_fail_this_test():
    """The bound is tight enough to catch the quadratic pattern the packet used to have."""
    old = re.compile(r"「[^」]+」|『[^』]+』|\"[^\"]+\"|“[^”]+”")
    assert timed(lambda: old.search("「" * 20_000)) > 10 * timed(
        lambda: importlib.import_module("bot.handoff.packet")._QUOTED_RE.search("「" * 20_000)
    )

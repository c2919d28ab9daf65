"""Running our test stories through Rasa's story evaluation, so that a wrong story fails.

Rasa's end-to-end evaluation (``rasa.core.test.test(..., e2e=True)``, what
``rasa test`` runs) reads only the story files whose *names* start with
``test_`` (``YAMLStoryReader.is_test_stories_file``); any other file in the
folder is silently skipped, so a folder of ``<topic>.yml`` files evaluates no
story at all and "no failures" proves nothing. We keep the ``<topic>.yml``
names (docs/training-data.md, the per-topic layout) and hand Rasa a copy of
each as ``test_<topic>.yml``: the reader treats the copies exactly as it would
renamed files.

Two more things would make the evaluation say less than it seems to:

- Rasa evaluates a conversation once when two stories are the same to its
  generator (same messages and actions, differing only in a slot that does not
  influence the conversation, such as ``society``, or only in the FAQ key of an
  ``faq/<key>`` intent): one of them is silently dropped. :func:`run_stories`
  reports which declared stories were never evaluated, and the test fails on
  them.
- ``bot.nlu.language_detector`` adds an entity ``language`` to every message
  whose language is certain. It belongs to the whole message (no start or
  end), so a story cannot mark it in its text, and Rasa would count every
  message as an entity miss. It is left out of the comparison here; the
  detector has its own tests (tests/test_language_detector.py).
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa.core.agent import Agent
from rasa.shared.constants import TEST_STORIES_FILE_PREFIX

# Entities that describe the whole message, not a span of it (see above).
WHOLE_MESSAGE_ENTITIES = frozenset({"language"})

_STORY_LINE = re.compile(r"^- story: (?P<name>.*) \((?P<source>[^()]*)\)$")
_STEP_LINE = re.compile(r"^  - (?P<step>.*)$")
_PREDICTED = "  # predicted: "


@dataclass
class StoryFailure:
    """One failed story: its name, its file, and each step the bot got wrong."""

    story: str
    file: str
    wrong_steps: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        steps = "\n".join(f"    {s}" for s in self.wrong_steps)
        return f"  {self.file}: story {self.story!r}\n{steps}"


@dataclass
class StoryRun:
    declared: list[tuple[str, str]]  # (file, story) for every story in the folder
    evaluated: set[tuple[str, str]]  # (file, story) that Rasa evaluated, passed or failed
    failures: list[StoryFailure]
    summary: dict[str, Any]

    @property
    def not_evaluated(self) -> list[tuple[str, str]]:
        return [story for story in self.declared if story not in self.evaluated]


def declared_stories(stories_dir: Path) -> dict[tuple[str, str], list[str]]:
    """(file name, story name) -> the member's messages, for every story in the folder.

    A turn without text (``intent: EXTERNAL_...``) is given as ``/<intent>``.
    """
    found = {}
    for file in sorted(stories_dir.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for story in data.get("stories", []):
            found[(file.name, story["story"])] = [
                str(step.get("user") or f"/{step['intent']}").strip()
                for step in story.get("steps", [])
                if "user" in step or "intent" in step
            ]
    return found


def _without_whole_message_entities(agent: Agent) -> Agent:
    """A shallow copy of the agent whose NLU leaves out :data:`WHOLE_MESSAGE_ENTITIES`.

    The shared agent is not touched: the copy has its own processor object
    (same model, same graph) with a wrapped ``parse_message``.
    """
    processor = copy.copy(agent.processor)
    parse = agent.processor.parse_message

    async def parse_message(*args: Any, **kwargs: Any) -> dict[str, Any]:
        parsed = await parse(*args, **kwargs)
        parsed["entities"] = [
            e for e in parsed.get("entities") or [] if e.get("entity") not in WHOLE_MESSAGE_ENTITIES
        ]
        return parsed

    processor.parse_message = parse_message  # type: ignore[method-assign]
    view = copy.copy(agent)
    view.processor = processor
    return view


def _stories_in(report: Path) -> list[tuple[str, str, list[tuple[int, str, str]]]]:
    """(story, source file, wrong steps) for each story in a file Rasa wrote.

    A wrong step is (number of the member's messages so far, the step as the
    story has it, what the model predicted instead).
    """
    if not report.exists():
        return []
    stories: list[tuple[str, str, list[tuple[int, str, str]]]] = []
    turn = 0
    for line in report.read_text(encoding="utf-8").splitlines():
        if m := _STORY_LINE.match(line):
            stories.append((m["name"], Path(m["source"]).name, []))
            turn = 0
            continue
        m = _STEP_LINE.match(line)
        if not m or not stories:
            continue
        step = m["step"]
        if step.startswith(("intent:", "user:")):
            turn += 1
        if _PREDICTED in line:
            expected, predicted = step.split(_PREDICTED.strip() + " ", 1)
            stories[-1][2].append((turn, expected.split("#")[0].strip(), predicted.strip()))
    return stories


def _describe(turn: int, expected: str, predicted: str, messages: list[str]) -> str:
    said = f"{messages[turn - 1]!r}" if 0 < turn <= len(messages) else "?"
    if expected.startswith("intent:"):
        # Rasa writes a misread message as "<intent>: <entities><text>"
        read_as = predicted.split(":", 1)[0]
        if read_as == expected.removeprefix("intent:").strip():
            return f"message {turn} {said}: expected {expected}, entities differ: {predicted}"
        return f"message {turn} {said}: expected {expected}, read as {read_as}"
    where = f"after message {turn} {said}" if turn else "before any message"
    return f"{where}: expected {expected}, predicted {predicted}"


def _stage(stories_dir: Path, staging: Path, out_dir: Path) -> None:
    """Copies each ``<topic>.yml`` as ``test_<topic>.yml``; clears Rasa's old reports."""
    for file in sorted(stories_dir.glob("*.yml")):
        shutil.copyfile(file, staging / f"{TEST_STORIES_FILE_PREFIX}{file.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("failed_test_stories.yml", "successful_test_stories.yml"):
        (out_dir / name).unlink(missing_ok=True)


async def run_stories(agent: Agent, stories_dir: Path, out_dir: Path) -> StoryRun:
    """Evaluates every story of ``stories_dir`` end to end (NLU and dialogue) with ``agent``.

    Rasa's own output (failed_test_stories.yml with ``# predicted:`` comments,
    story_report.json) is written to ``out_dir``.
    """
    from rasa.core.test import test as rasa_test

    declared = declared_stories(stories_dir)
    with tempfile.TemporaryDirectory(prefix="stories-") as staging:
        _stage(stories_dir, Path(staging), out_dir)
        summary = await rasa_test(
            staging,
            _without_whole_message_entities(agent),
            out_directory=str(out_dir),
            e2e=True,
            disable_plotting=True,
            successes=True,
        )

    def original(name: str) -> str:
        return name.removeprefix(TEST_STORIES_FILE_PREFIX)

    failed = _stories_in(out_dir / "failed_test_stories.yml")
    passed = _stories_in(out_dir / "successful_test_stories.yml")
    failures = []
    for story, file, wrong in failed:
        messages = declared.get((original(file), story), [])
        steps = [
            _describe(turn, expected, predicted, messages) for turn, expected, predicted in wrong
        ]
        # a mismatch without a "# predicted" comment: Rasa's file has the details
        failures.append(
            StoryFailure(story, original(file), steps or ["(see failed_test_stories.yml)"])
        )
    return StoryRun(
        declared=list(declared),
        evaluated={(original(file), story) for story, file, _ in failed + passed},
        failures=failures,
        summary=summary,
    )

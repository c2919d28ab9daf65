"""The trained model against data it never saw: held-out NLU set and test stories.

Writes its figures to results/ (accuracy, macro-F1, every miss) so a person can
see what the model confuses.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

import pytest
import pytest_asyncio
import yaml
from rasa.core.agent import Agent, load_agent
from rasa.shared.nlu.training_data.loading import load_data

from bench.nlu_eval import SETS as CLEAN_SETS
from bench.nlu_eval import evaluate_holdout, expected_label
from bench.understanding import SETS as UNDERSTANDING_SETS
from bench.understanding import load_items
from bot.domain.topics import MIN_TOPIC_SCORE
from tests.conftest import PROJECT_ROOT
from tests.model_support import model_path
from tests.near_duplicates import near, nlu_texts
from tests.story_support import run_stories

# one model load for the module: fixture and tests share the module's event loop
pytestmark = [pytest.mark.model]
# the async tests share the module-scoped agent, so they run in its event loop
in_agent_loop = pytest.mark.asyncio(loop_scope="module")

HOLDOUT_DIR = CLEAN_SETS["heldout"]
NLU_DEV_DIR = CLEAN_SETS["dev"]  # clean development set: settings are chosen on it
STORIES_DIR = PROJECT_ROOT / "tests" / "stories"
RESULTS = PROJECT_ROOT / "results"
# A floor the held-out accuracy must keep; the benchmark reports the real figure
# against its targets (bench.report.TARGETS: accuracy 0.98, macro-F1 0.95). The
# model trained here reached 0.936 / 0.942 (2026-12-07, late evening); the floor
# sits below that by what a fresh training on another CPU may move (a few
# messages), so it is not yet the target: neither target is met.
MIN_HOLDOUT_ACCURACY = 0.92


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent() -> Agent:
    return await load_agent(model_path=str(model_path()))


def test_holdout_never_appears_in_training_data():
    train = nlu_texts(PROJECT_ROOT / "data" / "nlu")
    held = nlu_texts(HOLDOUT_DIR)
    assert held, "no held-out examples"
    shared = len(train & held)  # a count: the held-out texts are never printed, they only measure
    assert shared == 0, f"{shared} training examples are held-out messages"


def test_the_clean_development_set_is_neither_trained_on_nor_held_out():
    train = nlu_texts(PROJECT_ROOT / "data" / "nlu")
    dev = nlu_texts(NLU_DEV_DIR)
    assert len(dev) >= 300, "the clean development set has shrunk"
    trained = sorted(dev & train)
    assert not trained, trained
    tested = nlu_texts(HOLDOUT_DIR) | {
        near(i.text) for path in UNDERSTANDING_SETS.values() for i in load_items(path)
    }
    shared = len(dev & tested)
    assert shared == 0, f"{shared} development messages are test messages"


def test_holdout_covers_every_trained_topic():
    train = Counter(expected_label(m) for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples)
    held = Counter(expected_label(m) for m in load_data(str(HOLDOUT_DIR)).intent_examples)
    missing = sorted(set(train) - set(held))
    assert not missing, f"topics with no held-out example: {missing}"
    thin = {t: n for t, n in train.items() if n < 15}
    assert not thin, f"topics with fewer than 15 training examples: {thin}"


@in_agent_loop
async def test_holdout_accuracy(agent):
    result = await evaluate_holdout(agent, HOLDOUT_DIR)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nlu_holdout.json").write_text(
        json.dumps(asdict(result), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(f"\nheld-out NLU: {result.examples} examples, accuracy {result.accuracy:.3f}, "
          f"macro-F1 {result.macro_f1:.3f}")
    # counts only: the held-out texts only measure (results/nlu_holdout.json, not committed, has them)
    assert result.accuracy >= MIN_HOLDOUT_ACCURACY, (
        f"held-out accuracy {result.accuracy:.3f} < {MIN_HOLDOUT_ACCURACY} ({len(result.misses)} misses)"
    )


@in_agent_loop
@pytest.mark.xfail(
    strict=True,
    reason="issue 14: the held-out set is at 0.936 accuracy / 0.942 macro-F1, the benchmark's targets "
    "are 0.98 / 0.95; when this passes, remove the mark and let the targets be the floor",
)
async def test_holdout_meets_the_benchmark_targets(agent):
    from bench.report import TARGETS

    result = await evaluate_holdout(agent, HOLDOUT_DIR)
    assert result.accuracy >= TARGETS["holdout_accuracy"], f"accuracy {result.accuracy:.3f}"
    assert result.macro_f1 >= TARGETS["macro_f1"], f"macro-F1 {result.macro_f1:.3f}"


def test_stories_cover_every_topic_for_both_societies():
    covered: dict[str, set[str]] = {}
    for file in STORIES_DIR.glob("*.yml"):
        for story in (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("stories", []):
            society = None
            for step in story.get("steps", []):
                for slot in step.get("slot_was_set", []) or []:
                    if isinstance(slot, dict) and "society" in slot:
                        society = slot["society"]
                if "intent" in step and society:
                    covered.setdefault(step["intent"], set()).add(society)
    train = {expected_label(m) for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples}
    missing = {t: sorted({"kose", "ono"} - covered.get(t, set())) for t in train}
    missing = {t: s for t, s in missing.items() if s}
    assert not missing, f"topics without a test story per society: {missing}"


@in_agent_loop
async def test_stories_pass(agent):
    """Every story in tests/stories, end to end: each message's intent, each action."""
    run = await run_stories(agent, STORIES_DIR, RESULTS / "stories")
    print(
        f"\ntest stories: {len(run.evaluated)} evaluated, {len(run.failures)} failed, "
        f"action accuracy {run.summary.get('accuracy')}"
    )
    assert run.declared, f"no stories in {STORIES_DIR}"
    if run.not_evaluated:
        pytest.fail(
            "stories Rasa did not evaluate (the same conversation as another story, "
            "e.g. differing only in the society: word the member's messages differently):\n"
            + "\n".join(f"  {file}: {story!r}" for file, story in run.not_evaluated),
            pytrace=False,
        )
    if run.failures:
        pytest.fail(
            f"{len(run.failures)} of {len(run.declared)} test stories failed "
            f"(Rasa's own report: results/stories/failed_test_stories.yml):\n"
            + "\n".join(map(str, run.failures)),
            pytrace=False,
        )


WRONG_STORIES = """\
version: "3.1"
stories:
- story: right answer
  steps:
  - slot_was_set:
    - society: kose
  - user: |
      初期パスワードを教えてください
    intent: faq/initial_password
  - action: utter_faq

- story: wrong action
  steps:
  - slot_was_set:
    - society: kose
  - user: |
      初期パスワードを教えてください
    intent: faq/initial_password
  - action: utter_account_locked

- story: wrong answer picked
  steps:
  - slot_was_set:
    - society: kose
  - user: |
      最初のパスワードがわかりません
    intent: faq/portal_url
  - action: utter_faq

- story: the same conversation, ono
  steps:
  - slot_was_set:
    - society: ono
  - user: |
      初期パスワードを教えてください
    intent: faq/initial_password
  - action: utter_faq
"""


@in_agent_loop
async def test_a_wrong_story_fails_naming_the_story_and_the_step(agent, tmp_path):
    """The check can fail: a wrong action, a wrong FAQ answer and a story Rasa skips
    are each reported, from a file named like ours (no ``test_`` prefix).

    Each story needs its own message: Rasa sees only the intent ``faq`` when it
    drops repeated conversations, so the same text under another FAQ key would
    be skipped, not failed (which the last assertion shows for a society).
    """
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "wrong.yml").write_text(WRONG_STORIES, encoding="utf-8")

    run = await run_stories(agent, stories, tmp_path / "out")

    failed = {f.story: f for f in run.failures}
    assert sorted(failed) == ["wrong action", "wrong answer picked"]
    assert all(f.file == "wrong.yml" for f in run.failures)
    assert failed["wrong action"].wrong_steps == [
        "after message 1 '初期パスワードを教えてください': expected action: utter_account_locked, "
        "predicted utter_faq/initial_password"
    ]
    # the ResponseSelector's pick is checked, not only the intent `faq`
    assert failed["wrong answer picked"].wrong_steps[0] == (
        "message 1 '最初のパスワードがわかりません': expected intent: faq/portal_url, "
        "read as faq/initial_password"
    )
    # Rasa evaluates a conversation once (which of the two copies it keeps is its
    # choice): the one it dropped is reported
    twins = {("wrong.yml", "right answer"), ("wrong.yml", "the same conversation, ono")}
    assert len(run.not_evaluated) == 1 and set(run.not_evaluated) < twins
    assert len(run.evaluated) == 3 and twins - set(run.not_evaluated) <= run.evaluated


@in_agent_loop
async def test_the_faq_answer_is_selected_only_for_messages_that_may_be_faqs(agent):
    faq = await agent.parse_message("初期パスワードを教えてください")
    assert faq["intent"]["name"] == "faq"
    selected = faq["response_selector"]["faq"]
    assert selected["response"]["intent_response_key"] == "faq/initial_password"
    assert len(selected["ranking"]) > 1  # the clarification buttons read it
    greeting = await agent.parse_message("こんにちは")
    faq_confidence = next(
        (i["confidence"] for i in greeting["intent_ranking"] if i["name"] == "faq"), 0.0
    )
    assert faq_confidence < MIN_TOPIC_SCORE
    assert "faq" not in (greeting.get("response_selector") or {})


@in_agent_loop
async def test_the_faq_confidence_is_the_average_of_both_models_for_the_selected_answer(agent):
    # SecondOpinionClassifier + FaqResponseSelector (weigh_intent_by_answer): the faq
    # intent's confidence is P(faq) x P(answer | faq) of the two models' average
    from bot.nlu.second_opinion import SecondOpinionClassifier

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    [second] = [n._component for n in nodes if isinstance(n._component, SecondOpinionClassifier)]
    assert second.model is not None
    parse = await agent.parse_message("初期パスワードを教えてください")
    selected = parse["response_selector"]["faq"]
    faq_in_ranking = next(i["confidence"] for i in parse["intent_ranking"] if i["name"] == "faq")
    ranking = selected["ranking"]
    assert selected["response"]["intent_response_key"] == ranking[0]["intent_response_key"]
    assert ranking == sorted(ranking, key=lambda r: r["confidence"], reverse=True)
    assert sum(r["confidence"] for r in ranking) <= 1.0 + 1e-6
    assert parse["intent"]["confidence"] == pytest.approx(faq_in_ranking * selected["response"]["confidence"])
    # the selected answer's responses are the domain's, for the rule's utter_faq
    assert selected["response"]["utter_action"] == "utter_faq/initial_password"
    assert selected["response"]["responses"]

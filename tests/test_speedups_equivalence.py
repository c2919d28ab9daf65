"""Everything on against everything off: every test story and NLU example gets the same decisions.

Two agents of the same trained model: one loaded with ``KOSMO_RASA_SPEEDUPS=off``
and no patch installed (Rasa's own code throughout: its counting, DIET's and
the ResponseSelector's TensorFlow prediction, RulePolicy's walk, dask), and one
as the server runs it (the components' shortcuts on, the registry's patches
installed while it runs). Both go through:

- every NLU example, training (data/nlu) and held-out (tests/nlu): the same
  intent, intent ranking and FAQ answer (with its ranking), confidences equal
  within ``TOLERANCE`` (the NumPy path is equal within a tolerance, not
  exact); and the FallbackClassifier reads the same confidences and decides
  the same way, with how near its threshold the nearest example came;
- every test story (tests/stories), end to end as ``rasa test`` runs it: the
  same intent read from every message (FAQ answer included) and the same
  action chosen at every step, by the same policy.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import pytest_asyncio
import yaml
from rasa.core.agent import Agent, load_agent
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.constants import TEST_STORIES_FILE_PREFIX
from rasa.shared.nlu.training_data.loading import load_data

from bot.speedups import install_all, installed, uninstall_all
from tests.conftest import PROJECT_ROOT
from tests.model_support import model_path
from tests.speedup_support import TOLERANCE, same_classification

pytestmark = [pytest.mark.model]
in_agents_loop = pytest.mark.asyncio(loop_scope="module")

NLU_DIRS = [PROJECT_ROOT / "data" / "nlu", PROJECT_ROOT / "tests" / "nlu"]
STORIES_DIR = PROJECT_ROOT / "tests" / "stories"


def fallback_thresholds() -> Tuple[float, float]:
    """The FallbackClassifier's (threshold, ambiguity_threshold) in config.yml."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    [fallback] = [c for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    return float(fallback["threshold"]), float(fallback["ambiguity_threshold"])


class Setting:
    """An agent and what the FallbackClassifier saw for each message it parsed."""

    def __init__(self, name: str, agent: Agent, patched: bool) -> None:
        self.name = name
        self.agent = agent
        self.patched = patched
        # per message: (intent, its confidence, the ranking's first and second confidences)
        self.fallback_inputs: List[Tuple[Any, float, float, float]] = []

    def __enter__(self) -> "Setting":
        uninstall_all()
        if self.patched:
            assert install_all({}), "no patch installed"
        _RECORDING.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _RECORDING.remove(self)
        uninstall_all()


_RECORDING: List[Setting] = []


@pytest.fixture(scope="module")
def fallback_recorded() -> Iterator[None]:
    """FallbackClassifier.process records the intent and confidences it decides on (Rasa's method runs)."""
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY

    rasas = FallbackClassifier.process

    def process(self: FallbackClassifier, messages: List[Any]) -> List[Any]:
        for message in messages:
            intent = message.get(INTENT) or {}
            ranking = message.get(INTENT_RANKING_KEY) or []
            first, second = (
                (float(ranking[0].get(PREDICTED_CONFIDENCE_KEY, 1.0)), float(ranking[1].get(PREDICTED_CONFIDENCE_KEY, 1.0)))
                if len(ranking) > 1
                else (1.0, 0.0)  # no ambiguity to judge (Rasa's own condition: two intents)
            )
            for setting in _RECORDING:
                setting.fallback_inputs.append(
                    (intent.get("name"), float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0), first, second)
                )
        return rasas(self, messages)

    FallbackClassifier.process = process  # type: ignore[method-assign]
    try:
        yield
    finally:
        FallbackClassifier.process = rasas  # type: ignore[method-assign]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def settings(fallback_recorded) -> Dict[str, Setting]:
    """The model loaded twice: Rasa's code alone, and as the server runs it."""
    saved = os.environ.get("KOSMO_RASA_SPEEDUPS")
    try:
        uninstall_all()
        os.environ["KOSMO_RASA_SPEEDUPS"] = "off"  # read by the components when loaded
        off = await load_agent(model_path=str(model_path()))
        os.environ["KOSMO_RASA_SPEEDUPS"] = "on"
        install_all({})  # the graph runner is chosen when the model is loaded
        on = await load_agent(model_path=str(model_path()))
    finally:
        uninstall_all()
        if saved is None:
            os.environ.pop("KOSMO_RASA_SPEEDUPS", None)
        else:
            os.environ["KOSMO_RASA_SPEEDUPS"] = saved
    assert type(off.processor.graph_runner).__name__ == "DaskGraphRunner"
    assert type(on.processor.graph_runner).__name__ == "SequentialGraphRunner"
    components = {
        name: [n._component for n in agent.processor.graph_runner._instantiated_nodes.values()]
        for name, agent in (("off", off), ("on", on))
    }
    shortcuts = ("_numpy_predict", "_direct", "_rule_matching")
    assert all(getattr(c, s, None) is None for c in components["off"] for s in shortcuts)
    assert sum(getattr(c, s, None) is not None for c in components["on"] for s in shortcuts) == 5
    return {"off": Setting("off", off, patched=False), "on": Setting("on", on, patched=True)}


def nlu_texts() -> List[str]:
    texts: List[str] = []
    for folder in NLU_DIRS:
        texts += [m.get("text") for m in load_data(str(folder)).intent_examples]
    return texts


def _answer(parsed: Dict[str, Any]) -> Any:
    selected = (parsed.get("response_selector") or {}).get("faq") or {}
    return (selected.get("response") or {}).get("intent_response_key")


@in_agents_loop
async def test_every_nlu_example_gets_the_same_intent_ranking_answer_and_fallback(settings):
    texts = nlu_texts()
    assert len(texts) > 2500
    parsed: Dict[str, List[Dict[str, Any]]] = {}
    seconds: Dict[str, float] = {}
    for name in ("off", "on"):
        with settings[name] as setting:
            setting.fallback_inputs.clear()
            start = time.perf_counter()
            parsed[name] = [await setting.agent.parse_message(text) for text in texts]
            seconds[name] = time.perf_counter() - start
            assert bool(installed()) == setting.patched
    differences = []
    for text, ours, theirs in zip(texts, parsed["on"], parsed["off"], strict=True):
        if ours["intent"]["name"] != theirs["intent"]["name"] or _answer(ours) != _answer(theirs):
            differences.append((text, "decision", ours["intent"]["name"], theirs["intent"]["name"]))
            continue
        for key in ("intent", "intent_ranking", "response_selector"):
            if not same_classification(ours.get(key), theirs.get(key)):
                differences.append((text, key, ours.get(key), theirs.get(key)))
    assert not differences, differences[:5]

    # the FallbackClassifier: the same confidences in, the same decisions out
    threshold, ambiguity = fallback_thresholds()
    on, off = settings["on"].fallback_inputs, settings["off"].fallback_inputs
    assert len(on) == len(off) == len(texts)
    nearest = nearest_gap = 1.0
    near = 0
    for text, ours, theirs in zip(texts, on, off, strict=True):
        assert ours[0] == theirs[0], text
        assert all(abs(a - b) <= TOLERANCE for a, b in zip(ours[1:], theirs[1:], strict=True)), (text, ours, theirs)
        decisions = [conf < threshold or (first - second) < ambiguity for _, conf, first, second in (ours, theirs)]
        assert decisions[0] == decisions[1], (text, ours, theirs)
        _, conf, first, second = theirs
        nearest = min(nearest, abs(conf - threshold))
        nearest_gap = min(nearest_gap, abs((first - second) - ambiguity))
        near += abs(conf - threshold) <= 0.02
    fell_back = sum(p["intent"]["name"] == "nlu_fallback" for p in parsed["off"])
    print(
        f"\n{len(texts)} NLU examples: same decisions; {fell_back} fall back; {near} within 0.02 of "
        f"the threshold {threshold}, the nearest {nearest:.2e} from it; the nearest gap between the top "
        f"two intents {nearest_gap:.2e} from the ambiguity threshold {ambiguity} (the two paths differ "
        f"by at most {TOLERANCE}); parsing took {seconds['off']:.1f} s off, {seconds['on']:.1f} s on"
    )
    # a confidence nearer a threshold than the paths may differ could fall either side
    assert nearest > TOLERANCE, "an example sits on the threshold: compare its decision by hand"
    assert nearest_gap > TOLERANCE, "two intents tie at the ambiguity threshold: compare by hand"
    assert near > 0, "no example near the threshold: the comparison would not cover the threshold"


def staged_stories(tmp_path: Path) -> Path:
    """tests/stories copied as test_<topic>.yml: Rasa's reader takes only such names (tests/story_support.py)."""
    for file in sorted(STORIES_DIR.glob("*.yml")):
        shutil.copyfile(file, tmp_path / f"{TEST_STORIES_FILE_PREFIX}{file.name}")
    return tmp_path


@in_agents_loop
async def test_every_test_story_gets_the_same_intents_answers_and_actions(settings, tmp_path):
    from rasa.core.test import _create_data_generator, _predict_tracker_actions

    off_agent = settings["off"].agent
    trackers = _create_data_generator(str(staged_stories(tmp_path)), off_agent, None, True).generate_story_trackers()
    assert len(trackers) > 100
    results: Dict[str, List[Tuple[List[Any], List[Any], List[Any]]]] = {}
    seconds: Dict[str, float] = {}
    for name in ("off", "on"):
        with settings[name] as setting:
            start = time.perf_counter()
            results[name] = []
            for tracker in trackers:
                store, _, actions, _ = await _predict_tracker_actions(tracker, setting.agent, use_e2e=True)
                results[name].append((store.intent_predictions, store.action_predictions, actions))
            seconds[name] = time.perf_counter() - start
    steps = 0
    for tracker, ours, theirs in zip(trackers, results["on"], results["off"], strict=True):
        assert ours[0] == theirs[0], (tracker.sender_id, "intents", ours[0], theirs[0])
        assert ours[1] == theirs[1], (tracker.sender_id, "actions", ours[1], theirs[1])
        for mine, other in zip(ours[2], theirs[2], strict=True):
            assert (mine["predicted"], mine["policy"]) == (other["predicted"], other["policy"]), tracker.sender_id
            assert abs(mine["confidence"] - other["confidence"]) <= TOLERANCE, tracker.sender_id
        steps += len(ours[1])
    print(
        f"\n{len(trackers)} test stories, {steps} actions: the same intents, answers and actions; "
        f"{seconds['off']:.1f} s off, {seconds['on']:.1f} s on"
    )

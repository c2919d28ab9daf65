"""SequentialGraphRunner against Rasa's DaskGraphRunner: small schemas and the trained model.

The small schemas are made of real ``GraphComponent``s that record their calls;
every case runs on both runners and must give the same result (or raise the
same error) with the same nodes called the same number of times. The trained
model is loaded twice, once per runner, as Rasa's MessageProcessor loads it
(the sequential one with the registry's patch installed), and both must
parse member messages and predict actions identically.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import pytest
import rasa.core.processor
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import (
    ExecutionContext,
    GraphComponent,
    GraphSchema,
    SchemaNode,
)
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException, RasaException
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_RANKING_KEY,
    RESPONSE_SELECTOR,
)

from bot.speedups import graph_runner
from bot.speedups.graph_runner import SequentialGraphRunner
from tests.conftest import PROJECT_ROOT
from tests.model_support import model_path

# what MessageProcessor passes as the graph's inputs (rasa.graph_components.providers)
MESSAGE_INPUT = "__message__"
TRACKER_INPUT = "__tracker__"

# ---------------------------------------------------------------- small schemas

CALLS: List[Text] = []  # node names, in the order the nodes ran


class NodeFailure(RasaException, RuntimeError):
    """A RuntimeError GraphNode lets through (it re-raises RasaExceptions as they are)."""


class Recorder(GraphComponent):
    """Adds up its inputs and its ``plus`` (``add``), or returns them (``echo``); records calls."""

    def __init__(self, node_name: Text, config: Dict[Text, Any]) -> None:
        self._node_name = node_name
        self._config = config

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"plus": 0, "fail": None}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Recorder:
        return cls(str(execution_context.node_name), config)

    def add(self, **values: Any) -> Any:
        CALLS.append(self._node_name)
        fail = self._config["fail"]
        if fail == "node_failure":
            raise NodeFailure(f"{self._node_name} failed")
        if fail == "invalid_config":  # a ValueError that GraphNode passes on as it is
            raise InvalidConfigException(f"{self._node_name} is misconfigured")
        if fail == "runtime":  # GraphNode wraps it in a GraphComponentException
            raise RuntimeError(f"{self._node_name} broke")
        return sum(values.values()) + self._config["plus"]

    def echo(self, **values: Any) -> Any:
        CALLS.append(self._node_name)
        return dict(values)


def node(
    needs: Dict[Text, Text], fn: Text = "add", target: bool = False, **config: Any
) -> SchemaNode:
    return SchemaNode(
        needs=needs,
        uses=Recorder,
        constructor_name="create",
        fn=fn,
        config=config,
        eager=True,
        is_target=target,
    )


# a -> b, a -> c, (b, c) -> d: a diamond; e needs a but is no target; f stands alone
DIAMOND = {
    "a": node({"x": "__x__"}, plus=1),
    "b": node({"a": "a"}, plus=10),
    "c": node({"a": "a"}, plus=100),
    "d": node({"left": "b", "right": "c"}, target=True),
    "e": node({"a": "a"}, plus=1000),
    "f": node({}, plus=7, target=True),
    "g": node({"x": "__x__", "y": "__y__"}, fn="echo"),
}


class CountingSchema(GraphSchema):
    """A GraphSchema that counts how often a runner asks it for a minimal schema."""

    minimal_calls = 0

    def minimal_graph_schema(self, targets: Optional[List[Text]] = None) -> GraphSchema:
        CountingSchema.minimal_calls += 1
        return super().minimal_graph_schema(targets)


@pytest.fixture(autouse=True)
def clear_calls() -> None:
    CALLS.clear()
    CountingSchema.minimal_calls = 0


def make_runner(
    runner_class: Type[DaskGraphRunner], nodes: Dict[Text, SchemaNode], tmp_path: Path
) -> DaskGraphRunner:
    schema = CountingSchema(dict(nodes))
    storage = LocalModelStorage(tmp_path / runner_class.__name__)
    return runner_class.create(schema, storage, ExecutionContext(schema, "test-model"))


def outcome(
    runner_class: Type[DaskGraphRunner],
    nodes: Dict[Text, SchemaNode],
    tmp_path: Path,
    **run_kwargs: Any,
) -> Tuple[Any, ...]:
    """What one run gives: its result or the error it raised (with its cause), and the calls."""
    runner = make_runner(runner_class, nodes, tmp_path)
    CALLS.clear()
    try:
        result: Tuple[Any, ...] = ("result", runner.run(**run_kwargs))
    except Exception as e:
        cause = e.__cause__
        result = ("raised", type(e), str(e), type(cause), str(cause) if cause else None)
    return result + (Counter(CALLS),)


def same_outcome(
    nodes: Dict[Text, SchemaNode], tmp_path: Path, **run_kwargs: Any
) -> Tuple[Any, ...]:
    """The sequential runner's outcome, asserted equal to DaskGraphRunner's."""
    expected = outcome(DaskGraphRunner, nodes, tmp_path, **run_kwargs)
    got = outcome(SequentialGraphRunner, nodes, tmp_path, **run_kwargs)
    assert got == expected
    return got


def run_both(nodes: Dict[Text, SchemaNode], tmp_path: Path, **run_kwargs: Any) -> Dict[Text, Any]:
    """The common result of both runners (same nodes called as often)."""
    got = same_outcome(nodes, tmp_path, **run_kwargs)
    assert got[0] == "result", got
    return got[1]


def raised_by_both(
    nodes: Dict[Text, SchemaNode], tmp_path: Path, **run_kwargs: Any
) -> Tuple[Any, ...]:
    """(type, message, cause type, cause message) of the error both runners raise."""
    got = same_outcome(nodes, tmp_path, **run_kwargs)
    assert got[0] == "raised", got
    return got[1:5]


def test_diamond_runs_each_node_once_after_the_nodes_it_needs(tmp_path):
    runner = make_runner(SequentialGraphRunner, DIAMOND, tmp_path)
    assert runner.run(inputs={"__x__": 1}, targets=["d"]) == {"d": (1 + 1 + 10) + (1 + 1 + 100)}
    assert Counter(CALLS) == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert CALLS[0] == "a" and CALLS[-1] == "d"
    CALLS.clear()
    assert run_both(DIAMOND, tmp_path, inputs={"__x__": 1}, targets=["d"]) == {"d": 114}


def test_only_the_nodes_the_targets_need_run(tmp_path):
    assert run_both(DIAMOND, tmp_path, inputs={"__x__": 1}, targets=["b"]) == {"b": 12}
    assert set(CALLS) == {"a", "b"}
    assert run_both(DIAMOND, tmp_path, inputs={"__x__": 2}, targets=["e", "c"]) == {
        "e": 1003,
        "c": 103,
    }
    assert set(CALLS) == {"a", "c", "e"}


def test_without_targets_the_schema_targets_run(tmp_path):
    assert run_both(DIAMOND, tmp_path, inputs={"__x__": 1}) == {"d": 114, "f": 7}
    assert run_both(DIAMOND, tmp_path, inputs={"__x__": 1}, targets=[]) == {"d": 114, "f": 7}
    assert "e" not in CALLS


def test_inputs_reach_the_nodes_as_given(tmp_path):
    value = {"same": "object"}
    runner = make_runner(SequentialGraphRunner, DIAMOND, tmp_path)
    result = runner.run(inputs={"__x__": value, "__y__": [1, 2]}, targets=["g"])
    assert result == {"g": {"x": value, "y": [1, 2]}}
    assert result["g"]["x"] is value
    # an input asked for as a target comes back as itself; unused inputs change nothing
    assert run_both(
        DIAMOND, tmp_path, inputs={"__x__": 3, "__y__": 4, "__unused__": 5}, targets=["g", "__y__"]
    ) == {"g": {"x": 3, "y": 4}, "__y__": 4}


def test_an_input_named_like_a_node_takes_its_place(tmp_path):
    # dask: the input's (name, value) replaces the node in the graph, so `a` never runs
    assert run_both(DIAMOND, tmp_path, inputs={"a": 5}, targets=["b"]) == {"b": 15}
    assert CALLS == ["b"]


def test_a_need_naming_no_node_and_no_input_is_passed_as_its_name(tmp_path, caplog):
    # dask hands the bare string to the node; GraphNode warns and then misses the input
    with caplog.at_level(logging.WARNING, logger="rasa.engine.graph"):
        error_type, message, _, _ = raised_by_both(
            DIAMOND, tmp_path, inputs={"__x__": 1}, targets=["g"]
        )
    assert error_type is GraphRunError
    assert "Expected input '__y__'" in message
    unresolved = [r.getMessage() for r in caplog.records if "was not resolved" in r.getMessage()]
    assert (
        unresolved
        == [
            "Node '__y__' was not resolved, there is no putput. "
            "Another component should have provided this as an output."
        ]
        * 2
    )
    assert "g" not in CALLS


@pytest.mark.parametrize(
    "inputs",
    [
        {"__x__": "a"},  # names a node of the graph
        {"__y__": 1, "__x__": "__y__"},  # names an input added before it
    ],
)
def test_an_input_value_naming_a_graph_key_is_refused(tmp_path, inputs):
    error_type, message, _, _ = raised_by_both(DIAMOND, tmp_path, inputs=inputs, targets=["d"])
    assert error_type is GraphRunError
    assert f"Input value '{inputs['__x__']}' clashes with a node name" in message
    assert CALLS == []


def test_an_input_value_naming_a_later_input_or_an_unneeded_node_is_not_refused(tmp_path):
    # the check looks only at the keys already in the (minimal) graph, like Rasa's
    inputs = {"__x__": "__y__", "__y__": "e"}
    assert run_both(DIAMOND, tmp_path, inputs=inputs, targets=["g"]) == {
        "g": {"x": "__y__", "y": "e"}
    }


def test_a_runtime_error_from_a_node_becomes_a_graph_run_error(tmp_path):
    nodes = {**DIAMOND, "b": node({"a": "a"}, fail="node_failure")}
    error = raised_by_both(nodes, tmp_path, inputs={"__x__": 1}, targets=["d"])
    assert error == (GraphRunError, "Error running runner.", NodeFailure, "b failed")


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ("invalid_config", InvalidConfigException),  # a ValueError
        ("runtime", GraphComponentException),  # GraphNode wrapped the RuntimeError
    ],
)
def test_other_errors_from_a_node_propagate_unchanged(tmp_path, fail, expected):
    nodes = {**DIAMOND, "b": node({"a": "a"}, fail=fail)}
    assert raised_by_both(nodes, tmp_path, inputs={"__x__": 1}, targets=["d"])[0] is expected
    assert "d" not in CALLS
    # the node's own exception, not a copy or a wrapper made by the runner
    runner = make_runner(SequentialGraphRunner, nodes, tmp_path)
    with pytest.raises(expected) as info:
        runner.run(inputs={"__x__": 1}, targets=["d"])
    assert info.traceback[-1].name in ("add", "__call__")


def test_a_cycle_fails_as_in_rasa(tmp_path):
    # GraphSchema.minimal_graph_schema recurses forever before either runner starts
    nodes = {"p": node({"q": "q"}, target=True), "q": node({"p": "p"})}
    assert raised_by_both(nodes, tmp_path)[0] is RecursionError


@pytest.mark.parametrize(
    "run_kwargs",
    [
        {},  # GraphRunError: node a misses its input
        {"inputs": {"__x__": 1}},
        {"inputs": {"__x__": 1}, "targets": ["d", "f"]},
        {"inputs": {"__x__": 1}, "targets": ["f", "d", "d"]},
        {"inputs": {"__x__": 0, "__y__": -1}, "targets": ["g", "e", "b"]},
        {"inputs": {"__x__": 1, "c": 0}, "targets": ["d"]},
        {"inputs": {}, "targets": ["f"]},
        {"inputs": None, "targets": ["f"]},
        {"inputs": {"__x__": 1}, "targets": ["d", "zz"]},  # KeyError: neither node nor input
    ],
)
def test_same_result_as_dask(tmp_path, run_kwargs):
    same_outcome(DIAMOND, tmp_path, **run_kwargs)


def test_the_order_is_worked_out_once_per_targets_and_input_names(tmp_path):
    runner = make_runner(SequentialGraphRunner, DIAMOND, tmp_path)
    for x in range(3):
        assert runner.run(inputs={"__x__": x}, targets=["d"]) == {"d": 2 * x + 112}
    assert CountingSchema.minimal_calls == 1
    runner.run(inputs={"__x__": 1, "__y__": 2}, targets=["d"])  # other input names
    runner.run(inputs={"__x__": 1}, targets=["b"])  # other targets
    runner.run(inputs={"__y__": 2, "__x__": 1}, targets=["d"])  # same names, other order
    assert CountingSchema.minimal_calls == 3


def test_inputs_are_not_formatted_unless_debug_logging_is_on(tmp_path, caplog):
    class Loud:
        formatted = 0

        def __repr__(self) -> str:
            Loud.formatted += 1
            return "Loud()"

    runner = make_runner(SequentialGraphRunner, DIAMOND, tmp_path)
    with caplog.at_level(logging.INFO, logger="bot.speedups.graph_runner"):
        runner.run(inputs={"__x__": 1, "loud": Loud()}, targets=["d"])
    assert Loud.formatted == 0
    with caplog.at_level(logging.DEBUG, logger="bot.speedups.graph_runner"):
        runner.run(inputs={"__x__": 1, "loud": Loud()}, targets=["d"])
    assert Loud.formatted >= 1  # once per log handler
    assert "Running graph with inputs" in caplog.text


# ---------------------------------------------------------------- installing


def test_importing_the_module_changes_nothing():
    code = (
        "import sys, bot.speedups.graph_runner\n"
        "assert 'rasa.core.processor' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_the_patch_installs_the_runner_and_undoes_it():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rasa.core.processor, "DaskGraphRunner", DaskGraphRunner)
        undo = graph_runner.PATCH.install()
        assert rasa.core.processor.DaskGraphRunner is SequentialGraphRunner
        undo()
        assert rasa.core.processor.DaskGraphRunner is DaskGraphRunner


# ---------------------------------------------------------------- the trained model


def load_agent_with(runner_class: Type[DaskGraphRunner]) -> Agent:
    """The model as MessageProcessor loads it, with rasa.core.processor's runner class set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rasa.core.processor, "DaskGraphRunner", DaskGraphRunner)
        if runner_class is SequentialGraphRunner:
            graph_runner.PATCH.install()  # the monkeypatch context puts Rasa's back
        agent = Agent.load(model_path(), tracker_store=InMemoryTrackerStore(Domain.empty()))
    assert type(agent.processor.graph_runner) is runner_class
    return agent


@pytest.fixture(scope="module")
def dask_agent() -> Agent:
    return load_agent_with(DaskGraphRunner)


@pytest.fixture(scope="module")
def sequential_agent() -> Agent:
    return load_agent_with(SequentialGraphRunner)


@pytest.mark.model
def test_install_makes_a_freshly_loaded_agent_use_the_sequential_runner(sequential_agent):
    # (load_agent_with put rasa.core.processor's attribute back as it was)
    assert type(sequential_agent.processor.graph_runner) is SequentialGraphRunner


MEMBER_MESSAGES = [
    "こんにちは",
    "初期パスワードを教えてください",
    "初期ﾊﾟｽﾜｰﾄﾞ教えて",
    "パスワードを忘れました",
    "ワンタイムパスワードのメールが届きません",
    "アカウントがロックされてしまいました、どうしたらいいですか",
    "ログインできません",
    "QRコードが読み取れない",
    "ユーザーIDを変更したい",
    "担当者と話したい",
    "ありがとうございました",
    "kose.hanako",
    "平成2年1月1日",
    "123456",
    "今日の天気は？",
    "あいうえお",
]
SOCIETIES = [{"tenant": "kose"}, {"tenant": "ono"}, None]


def parse_with_runner(agent: Agent, text: Text, metadata: Optional[Dict]) -> Dict[Text, Any]:
    """One NLU run as MessageProcessor._parse_message_with_graph does it."""
    processor = agent.processor
    message = UserMessage(text, sender_id="member", metadata=metadata, message_id="m-1")
    tracker = DialogueStateTracker.from_events("member", [])
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={MESSAGE_INPUT: [message], TRACKER_INPUT: tracker}, targets=[target]
    )
    assert list(results) == [target]
    return results[target][0].as_dict(only_output_properties=True)


@pytest.mark.model
@pytest.mark.parametrize("metadata", SOCIETIES, ids=lambda m: (m or {}).get("tenant", "none"))
def test_the_model_parses_member_messages_identically(dask_agent, sequential_agent, metadata):
    for text in MEMBER_MESSAGES:
        expected = parse_with_runner(dask_agent, text, metadata)
        parsed = parse_with_runner(sequential_agent, text, metadata)
        assert parsed == expected, text
        assert parsed[INTENT]["name"]
        # SocietyResolver turned the channel metadata into an entity
        societies = [e["value"] for e in parsed.get(ENTITIES, []) if e["entity"] == "society"]
        assert societies == ([metadata["tenant"]] if metadata else []), text
        for key in (INTENT_RANKING_KEY, ENTITIES, RESPONSE_SELECTOR):
            assert parsed.get(key) == expected.get(key), (text, key)
    faq = parse_with_runner(sequential_agent, "初期パスワードを教えてください", metadata)
    assert faq[RESPONSE_SELECTOR]["faq"]["ranking"]  # the comparison saw a selection


@pytest.mark.model
async def test_the_processor_parses_identically(dask_agent, sequential_agent):
    for metadata in SOCIETIES:
        for text in MEMBER_MESSAGES:
            message = UserMessage(text, sender_id="member", metadata=metadata)
            expected = await dask_agent.processor.parse_message(message)
            assert await sequential_agent.processor.parse_message(message) == expected


CONVERSATIONS = [
    ("kose", ["こんにちは", "初期パスワードを教えてください", "ありがとうございました"]),
    (
        "ono",
        [
            "ワンタイムパスワードのメールが届きません",
            "はい、お願いします",
            "ono.taro",
            "さようなら",
        ],
    ),
    (
        "kose",
        [
            "アカウントがロックされてしまいました",
            "はい、お願いします",
            "kose.hanako",
            "平成2年1月1日",
        ],
    ),
    ("ono", ["パスワードを忘れました", "あいうえお", "担当者と話したい", "いいえ"]),
]


def event_dicts(tracker: DialogueStateTracker) -> List[Dict[Text, Any]]:
    return [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in tracker.events]


async def converse(agent: Agent, sender: Text, society: Text, texts: List[Text]) -> List[Any]:
    replies = []
    for number, text in enumerate(texts):
        message = UserMessage(
            text, sender_id=sender, metadata={"tenant": society}, message_id=f"{sender}/{number}"
        )
        replies.append(await agent.handle_message(message))
    return replies


@pytest.mark.model
async def test_conversations_and_policy_predictions_are_identical(dask_agent, sequential_agent):
    for number, (society, texts) in enumerate(CONVERSATIONS):
        sender = f"member-{number}"
        expected_replies = await converse(dask_agent, sender, society, texts)
        assert await converse(sequential_agent, sender, society, texts) == expected_replies
        dask_tracker = await dask_agent.tracker_store.retrieve(sender)
        tracker = await sequential_agent.tracker_store.retrieve(sender)
        assert event_dicts(tracker) == event_dicts(dask_tracker)

        # every point at which the processor predicted an action, on both runners
        processor = sequential_agent.processor
        target = processor.model_metadata.core_target
        events = list(tracker.events)
        points = [i for i, e in enumerate(events) if isinstance(e, ActionExecuted)]
        assert len(points) > len(texts)
        for point in points:
            before = DialogueStateTracker.from_events(
                sender, events[:point], slots=processor.domain.slots
            )
            inputs = {TRACKER_INPUT: before}
            expected = dask_agent.processor.graph_runner.run(inputs=inputs, targets=[target])
            predicted = processor.graph_runner.run(inputs=inputs, targets=[target])
            assert list(predicted) == [target]
            assert predicted[target] == expected[target]
            assert predicted[target].probabilities == expected[target].probabilities
            assert predicted[target].max_confidence_index == expected[target].max_confidence_index
        # and the conversations went somewhere
        actions = [e.action_name for e in events if isinstance(e, ActionExecuted)]
        assert set(actions) - {ACTION_LISTEN_NAME, "action_session_start"}

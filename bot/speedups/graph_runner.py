"""Rasa's predict graph, run node after node instead of through dask.

Rasa runs its predict graph three times for each member message (NLU once,
the policies twice) with ``DaskGraphRunner.run``. Each run works out the
graph's minimal schema for the targets again, builds a dask graph, hands it to
dask's scheduler (``dask.get``: dependency analysis, ordering, a task queue)
and, before all that, formats an f-string debug message that holds the inputs
and the whole ``ExecutionContext`` (with the graph schema in it), whether or
not debug logging is on. Profiled under load, that was about 2.7 ms of CPU per
message (of about 28 ms); the nodes themselves are untouched by it.

``SequentialGraphRunner`` runs the same ``GraphNode`` objects in an order
worked out once per targets and input names (the schema does not change after
the runner is built), so the result is exactly Rasa's: the same nodes run
(every node of the targets' minimal schema, each once, after every node it
needs), each gets the same arguments dask would give it (a node's result, an
input as ``(name, value)``, or the bare name for a need that is neither, which
is what dask passes for an unknown key), inputs named like a node take its
place, an input value naming a node is refused with the same ``GraphRunError``,
a ``RuntimeError`` from a node becomes ``GraphRunError("Error running
runner.")`` and anything else propagates unchanged, as dask's synchronous
scheduler re-raises it. ``tests/test_graph_runner.py`` compares it with
``DaskGraphRunner`` on small schemas and on the trained model.

:data:`PATCH` makes ``rasa.core.processor`` build this runner for the models
it loads from then on (there is no setting for the runner class). The
registry (``bot.speedups``) installs it when the server starts; importing
this module changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Text, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner

from bot.speedups.registry import Patch, replace

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class _Step:
    """One node to call: its arguments are ``needs``, each a result key or a bare name."""

    node_name: Text
    node: GraphNode
    # (name, True): the result of the node or input `name`; (name, False): the string itself
    needs: Tuple[Tuple[Text, bool], ...]


@dataclass(frozen=True)
class _Plan:
    """What one run for given targets and input names does."""

    node_names: FrozenSet[Text]  # the dask graph's keys before the inputs are added
    steps: Tuple[_Step, ...]


class SequentialGraphRunner(DaskGraphRunner):
    """``DaskGraphRunner`` whose ``run`` calls the nodes one after another, without dask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (targets, input names) -> plan, worked out on first use (the schema never changes)
        self._sequential_plans: Dict[Tuple[Tuple[Text, ...], FrozenSet[Text]], _Plan] = {}

    def run(
        self,
        inputs: Optional[Dict[Text, Any]] = None,
        targets: Optional[List[Text]] = None,
    ) -> Dict[Text, Any]:
        """Runs the graph (see ``DaskGraphRunner.run``; same result)."""
        run_targets = targets if targets else self._graph_schema.target_names
        plan = self._plan(run_targets, frozenset(inputs) if inputs else frozenset())

        results: Dict[Text, Any] = {}
        if inputs:
            for index, (input_name, input_value) in enumerate(inputs.items()):
                # DaskGraphRunner._add_inputs_to_graph: a string value naming a key
                # already in the graph (a node, or an input added before) is refused.
                if isinstance(input_value, str) and (
                    input_value in plan.node_names or input_value in list(inputs)[:index]
                ):
                    raise GraphRunError(
                        f"Input value '{input_value}' clashes with a node name. Make sure "
                        f"that none of the input names passed to the `run` method are the "
                        f"same as node names in the graph schema."
                    )
                results[input_name] = (input_name, input_value)

        logger.debug(
            "Running graph with inputs: %s, targets: %s and %s.",
            inputs,
            targets,
            self._execution_context,
        )

        try:
            for step in plan.steps:
                results[step.node_name] = step.node(
                    *[results[name] if is_key else name for name, is_key in step.needs]
                )
            return dict(results[target] for target in run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    def _plan(self, run_targets: List[Text], input_names: FrozenSet[Text]) -> _Plan:
        """The plan for these targets and input names, worked out on first use."""
        key = (tuple(run_targets), input_names)
        plan = self._sequential_plans.get(key)
        if plan is None:
            plan = self._sequential_plans[key] = self._make_plan(run_targets, input_names)
        return plan

    def _make_plan(self, run_targets: List[Text], input_names: FrozenSet[Text]) -> _Plan:
        # Raises what DaskGraphRunner.run raises for these targets (e.g. on a cycle).
        minimal_schema = self._graph_schema.minimal_graph_schema(run_targets)
        # An input named like a node replaces that node in the dask graph.
        node_needs = {
            name: schema_node.needs
            for name, schema_node in minimal_schema.nodes.items()
            if name not in input_names
        }
        keys = set(node_needs) | input_names

        order: List[Text] = []
        done: set = set()
        visiting: set = set()

        def visit(name: Text) -> None:
            if name in done:
                return
            if name in visiting:  # minimal_graph_schema recurses forever first
                raise RuntimeError(f"Cycle detected in the graph at node '{name}'.")
            visiting.add(name)
            for need in node_needs[name].values():
                if need in node_needs:
                    visit(need)
            visiting.discard(name)
            done.add(name)
            order.append(name)

        for name in node_needs:
            visit(name)

        steps = tuple(
            _Step(
                node_name=name,
                node=self._instantiated_nodes[name],
                needs=tuple((need, need in keys) for need in node_needs[name].values()),
            )
            for name in order
        )
        return _Plan(node_names=frozenset(minimal_schema.nodes), steps=steps)


def _targets() -> list:
    import rasa.core.processor

    return [DaskGraphRunner, rasa.core.processor.MessageProcessor._load_model]


def install() -> Callable[[], None]:
    """Make ``rasa.core.processor`` load models with ``SequentialGraphRunner``; returns the undo."""
    import rasa.core.processor

    return replace(rasa.core.processor, "DaskGraphRunner", SequentialGraphRunner)


PATCH = Patch(
    name="rasa.core.processor.DaskGraphRunner",
    summary="the predict graph runs node after node, without dask's scheduler",
    targets=_targets,
    sha256="10898ad8301bb7eb84d64c7ca0e10d850a4a36f25d4cc0a3291fad20f9602577",
    install=install,
)

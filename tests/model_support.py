"""Finding the trained model for tests that need one (`make test` trains it first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dev.stack import StackError, newest_model


def model_path() -> Path:
    """$KOSMO_MODEL (set by the Makefile), else the newest model in models/.

    A missing model fails the test: `make test` always trains first, so a
    missing model is a broken set-up, not a reason to skip.
    """
    explicit = os.environ.get("KOSMO_MODEL")
    if explicit:
        path = Path(explicit)
        if not path.exists():
            pytest.fail(f"KOSMO_MODEL={explicit} does not exist; run `make model`")
        return path
    try:
        return newest_model()
    except StackError as e:
        pytest.fail(str(e))


def model_components() -> list:
    """The trained model's graph components (tokenizer, featurizers, classifiers, policies)."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path()))
    return [node._component for node in agent.processor.graph_runner._instantiated_nodes.values()]


def featurized(components: list, texts: list) -> list:
    """A Message per text, run through the model's tokenizer and featurizers."""
    from rasa.nlu.featurizers.featurizer import Featurizer
    from rasa.nlu.tokenizers.tokenizer import Tokenizer
    from rasa.shared.nlu.training_data.message import Message

    out = []
    for text in texts:
        message = Message(data={"text": text})
        for component in components:
            if isinstance(component, (Tokenizer, Featurizer)):
                component.process([message])
        out.append(message)
    return out

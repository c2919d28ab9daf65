"""The speed-ups are installed together, once, and can be switched off."""

from __future__ import annotations

import pytest
import rasa.core.processor as processor
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.tensorflow.models import RasaModel

from bot.graph_runner import SequentialGraphRunner
from bot.speedups import install_prediction_speedups

PATCHED = [
    (RulePolicy, "_get_possible_keys"),
    (DialogueStateTracker, "past_states"),
    (CountVectorsFeaturizer, "_create_features"),
    (CountVectorsFeaturizer, "_process_tokens"),
    (Features, "_combine_sparse_features"),
    (RasaModel, "_rasa_predict"),
    (DIETClassifier, "_predict"),
    (processor, "DaskGraphRunner"),
]


@pytest.fixture
def rasas_own_code():
    """Rasa's originals in place for the test (another test's store may have installed ours)."""
    saved = [(owner, name, getattr(owner, name)) for owner, name in PATCHED]
    for owner, name, current in saved:
        setattr(owner, name, getattr(current, "rasa_original", current))
    processor.DaskGraphRunner = DaskGraphRunner
    yield
    for owner, name, current in saved:
        setattr(owner, name, current)


def test_off_leaves_rasas_code_alone(rasas_own_code):
    before = [getattr(owner, name) for owner, name in PATCHED]
    assert install_prediction_speedups({"KOSMO_RASA_SPEEDUPS": "off"}) is False
    assert [getattr(owner, name) for owner, name in PATCHED] == before


def test_on_installs_each_once(rasas_own_code):
    before = [getattr(owner, name) for owner, name in PATCHED]
    assert install_prediction_speedups({}) is True
    after = [getattr(owner, name) for owner, name in PATCHED]
    assert all(a is not b for a, b in zip(after, before, strict=True))
    assert processor.DaskGraphRunner is SequentialGraphRunner
    install_prediction_speedups({"KOSMO_RASA_SPEEDUPS": "on"})
    assert [getattr(owner, name) for owner, name in PATCHED] == after  # idempotent

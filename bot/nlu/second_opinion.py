"""A second opinion on the intent: DIET's probabilities averaged with a simpler model's.

DIET is sure of itself even when it is wrong: on messages written the way
members type, most of its wrong answers came with a confidence above 0.95,
so no threshold could tell them from its right ones. A second classifier of
another kind (a logistic regression over character n-grams of the normalised
text, trained on the same examples) is right on other messages than DIET
(on the development set each was right on about two thirds of the messages
where the two disagreed). Averaging the two gives a confidence that is high
when they agree and low when they do not, so the clarification question
comes where the bot is really unsure, and the averaged answer is right more
often than either alone.

How it fits the pipeline (config.yml)::

    DIETClassifier → SecondOpinionClassifier → FaqResponseSelector → FallbackClassifier

- This component averages at the level of intents: the retrieval intent
  ``faq`` gets the regression's probabilities of all FAQ answers summed. It
  rewrites ``intent`` and ``intent_ranking`` and leaves the regression's
  probability of every FAQ answer on the message (:data:`FAQ_OPINION`, not
  part of the output). DIET's own ranking is gone from the output.
- :class:`bot.nlu.faq_selector.FaqResponseSelector` then averages its answer
  probabilities (times DIET's ``faq``) with those, in the same proportions
  (:func:`combine_answers`).

``weight`` is DIET's share (the regression's is 1 - weight); it and the
FallbackClassifier's thresholds are calibrated on the development set
(``python -m bench.understanding --set dev --calibrate``).
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.text_normalizer import NORMALIZED_TEXT

logger = logging.getLogger(__name__)

MODEL_FILE = "second_opinion.skops"
# what the model file may hold beyond the types skops trusts by itself (scikit-learn's
# and NumPy's): the vectorizer's idf as a sparse diagonal. skops, not pickle or joblib:
# loading a model file runs no code of its own (Rasa 3.6.21's scikit-learn components
# do the same)
TRUSTED_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})
# what the FAQ selector after this component needs (not part of the output):
# {"answers": the regression's probability of every FAQ answer
#  ({"faq/portal_url": 0.4, ...}), "diet_faq": DIET's own probability of `faq`,
#  "weight": DIET's share}
FAQ_OPINION = "second_opinion_faq"
RANKING_LENGTH = 10


def _featurised_text(message: Message, max_chars: int) -> Optional[str]:
    text = message.get(NORMALIZED_TEXT) or message.get(TEXT)
    if not isinstance(text, str) or not text.strip() or text.startswith("/"):
        return None
    return unicodedata.normalize("NFKC", text[:max_chars]).lower()


def intent_of(label: str, retrieval_intent: str) -> str:
    """``faq`` for ``faq/<answer>``, the label itself otherwise."""
    return retrieval_intent if label.startswith(retrieval_intent + "/") else label


def combine_intents(
    diet_ranking: Sequence[Mapping[str, Any]],
    opinion: Mapping[str, float],
    weight: float,
    retrieval_intent: str,
) -> List[Dict[str, Any]]:
    """The intent ranking of ``weight`` × DIET's plus (1 - weight) × the regression's, best first.

    ``opinion`` holds full labels (``faq/<answer>``), summed here into their intent.
    """
    scores: Dict[str, float] = {}
    for item in diet_ranking:
        name = item.get(INTENT_NAME_KEY)
        if name:
            scores[name] = scores.get(name, 0.0) + weight * float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    for label, p in opinion.items():
        name = intent_of(label, retrieval_intent)
        scores[name] = scores.get(name, 0.0) + (1.0 - weight) * p
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:RANKING_LENGTH]
    return [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c} for n, c in ranked]


def combine_answers(
    diet_faq: float,
    selector_ranking: Sequence[Mapping[str, Any]],
    opinion: Mapping[str, float],
    weight: float,
) -> List[Tuple[str, float]]:
    """P(answer | faq) from both models, best first.

    Each answer's joint score is ``weight`` × P_DIET(faq) × P_selector(answer)
    plus (1 - weight) × P_regression(answer); the scores are then normalised
    over the answers, so that P(faq) × P(answer | faq) is the answer's joint score.
    """
    joint: Dict[str, float] = {}
    for item in selector_ranking:
        key = item.get("intent_response_key")
        if key:
            joint[key] = joint.get(key, 0.0) + weight * diet_faq * float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    for key, p in opinion.items():
        joint[key] = joint.get(key, 0.0) + (1.0 - weight) * p
    total = sum(joint.values())
    if total <= 0.0:
        return []
    return sorted(((k, v / total) for k, v in joint.items()), key=lambda kv: kv[1], reverse=True)


class SecondOpinionError(RasaException):
    """The second opinion cannot be trained or loaded."""


def load_regression(path: Path) -> Any:
    """The trained pipeline in ``path``, refusing a file that holds types we did not write."""
    from sklearn.pipeline import Pipeline
    from skops import io as skops_io

    unexpected = set(skops_io.get_untrusted_types(file=path)) - TRUSTED_TYPES
    if unexpected:
        raise ValueError(f"{path.name} holds types it should not: {sorted(unexpected)}")
    model = skops_io.load(path, trusted=sorted(TRUSTED_TYPES))
    if not isinstance(model, Pipeline) or not hasattr(model, "predict_proba"):
        raise ValueError(f"{path.name} holds a {type(model).__name__}, not the regression")
    return model


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SecondOpinionClassifier(GraphComponent, IntentClassifier):
    """Averages DIET's intent probabilities with a character n-gram logistic regression's."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # DIET's share of the average; the regression's is 1 - weight
            "weight": 0.5,
            "retrieval_intent": "faq",
            "min_ngram": 1,
            "max_ngram": 4,
            # n-grams seen in fewer examples are dropped: a third of the features
            # and of the memory, for rarely seen character runs
            "min_df": 2,
            # inverse regularisation of the regression
            "C": 20.0,
            # characters read at most (the channels stop at 2,000)
            "max_chars": 2000,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        weight = self._config["weight"]
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"SecondOpinionClassifier: weight must be between 0 and 1, got {weight!r}")
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SecondOpinionClassifier":
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SecondOpinionClassifier":
        """The component with its trained regression.

        A model without it is refused: the FallbackClassifier's threshold is calibrated
        for the average, and DIET's figures alone would almost never ask back.
        """
        try:
            with model_storage.read_from(resource) as directory:
                model = load_regression(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError, OSError) as e:
            raise SecondOpinionError(
                f"SecondOpinionClassifier: the model has no usable trained regression ({e}); "
                "retrain it (make model)"
            ) from e
        return cls(config, model_storage, resource, model)

    @property
    def weight(self) -> float:
        return float(self._config["weight"])

    @property
    def retrieval_intent(self) -> str:
        return str(self._config["retrieval_intent"])

    def _examples(self, training_data: TrainingData) -> Iterable[Tuple[str, str]]:
        max_chars = int(self._config["max_chars"])
        for example in training_data.intent_examples:
            text = _featurised_text(example, max_chars)
            label = example.get_full_intent()
            if text and label:
                yield text, label

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the regression on the intent examples, FAQ answers as labels of their own."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from skops import io as skops_io

        examples = list(self._examples(training_data))
        if len({label for _, label in examples}) < 2:
            raise SecondOpinionError("SecondOpinionClassifier: the training data has fewer than two intents")
        texts = [text for text, _ in examples]
        labels = [label for _, label in examples]
        ngrams = (int(self._config["min_ngram"]), int(self._config["max_ngram"]))
        model = make_pipeline(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True, min_df=int(self._config["min_df"]),
                dtype=np.float32,
            ),
            LogisticRegression(C=float(self._config["C"]), max_iter=5000),
        )
        model.fit(texts, labels)
        vectorizer, regression = model[0], model[-1]
        vectorizer.stop_words_ = None  # the dropped n-grams: only for inspection, and large
        regression.coef_ = regression.coef_.astype(np.float32)  # the server's memory
        regression.intercept_ = regression.intercept_.astype(np.float32)
        self.model = model
        with self._model_storage.write_to(self._resource) as directory:
            skops_io.dump(model, directory / MODEL_FILE)
        return self._resource

    def opinion(self, message: Message) -> Optional[Dict[str, float]]:
        """The regression's probability of every label (``faq/<answer>`` for FAQs), or None."""
        if self.model is None:  # created, not yet trained
            return None
        text = _featurised_text(message, int(self._config["max_chars"]))
        if text is None:
            return None
        probabilities = self.model.predict_proba([text])[0]
        return {str(label): float(p) for label, p in zip(self.model.classes_, probabilities, strict=True)}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            opinion = self.opinion(message)
            if opinion is None:
                continue
            diet_ranking = message.get(INTENT_RANKING_KEY) or []
            diet_faq = next(
                (float(i.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for i in diet_ranking
                 if i.get(INTENT_NAME_KEY) == self.retrieval_intent),
                0.0,
            )
            ranking = combine_intents(diet_ranking, opinion, self.weight, self.retrieval_intent)
            if not ranking:
                continue
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            prefix = self.retrieval_intent + "/"
            answers = {k: p for k, p in opinion.items() if k.startswith(prefix)}
            message.set(FAQ_OPINION, {"answers": answers, "diet_faq": diet_faq, "weight": self.weight})
        return messages

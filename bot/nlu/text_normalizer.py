"""Rasa component: the text the NLU reads, with kana, width and romaji variants of known terms unified.

Runs first in ``config.yml``. For every message (training examples too, so that
training and prediction read the same spellings) it writes
:func:`bot.domain.kana_terms.normalise` of the text to the attribute
``normalized_text`` (:data:`NORMALIZED_TEXT`): 「ろぐいん できまぜん」 →
「ログイン できまぜん」, 「ﾜﾝﾀｲﾑﾊﾟｽﾜｰﾄﾞ」 → 「ワンタイムパスワード」,
"pasuwaado wasureta" → 「パスワード わすれた」. The message's ``text`` stays the
member's own: it is what is stored, shown to agents and checked by
``bot.nlu.structured_input``. ``bot.nlu.japanese_tokenizer`` tokenizes
``normalized_text`` when a message has it, so token offsets refer to it (this
pipeline extracts no entities from tokens; the ticket entity is found in
``text``). The attribute is not part of the parse result: it would carry a
password past the tracker store's masking.

The katakana terms are learned at training time from the training examples and
the answers (``bot.domain.kana_terms.learn_terms``, with Sudachi) and kept with the
model (``terms.json``), so a new topic's words need no code. Button payloads
(``/intent``) are left alone.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.domain.kana_terms import TermVocabulary, learn_terms, normalise

logger = logging.getLogger(__name__)

NORMALIZED_TEXT = "normalized_text"
TERMS_FILE = "terms.json"


def _max_chars(config: Dict[Text, Any]) -> int:
    value = config.get("max_chars")
    if value is None:
        # imported here: the tokenizer imports NORMALIZED_TEXT from this module
        from bot.nlu.japanese_tokenizer import MAX_TEXT_CHARS

        return MAX_TEXT_CHARS
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"TextNormalizer: max_chars must be a positive integer, got {value!r}")
    return value


# A featurizer to Rasa's recipe (its `process_training_data` then runs on the
# training data before the tokenizer's); it adds no features.
@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class TextNormalizer(GraphComponent):
    """Writes the member's text with one spelling per known term to ``normalized_text``."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # the characters read at most; None: the tokenizer's bound (MAX_TEXT_CHARS,
            # 10,000; the channels stop at 2,000)
            "max_chars": None,
            # learn katakana words from the answers (responses) as well as the examples
            "use_responses": True,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["jaconv", "sudachipy"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[TermVocabulary] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._max_chars = _max_chars(self._config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or TermVocabulary()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TextNormalizer":
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TextNormalizer":
        """The component with the terms learned in training (none, with a warning, if they are missing)."""
        vocabulary = TermVocabulary()
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / TERMS_FILE).read_text(encoding="utf-8"))
            vocabulary = TermVocabulary.from_json(data)
        except (ValueError, FileNotFoundError, OSError) as e:
            logger.warning("TextNormalizer: no learned terms (%s); widths are still folded", e)
        return cls(config, model_storage, resource, vocabulary)

    def _training_texts(self, training_data: TrainingData) -> Iterable[str]:
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if isinstance(text, str) and text:
                yield text
        if self._config.get("use_responses"):
            for variations in (training_data.responses or {}).values():
                for variation in variations or []:
                    text = variation.get(TEXT) if isinstance(variation, dict) else None
                    if isinstance(text, str):
                        yield text

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the katakana terms of the training data and keeps them with the model."""
        self.vocabulary = learn_terms(self._training_texts(training_data))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / TERMS_FILE).write_text(
                json.dumps(self.vocabulary.to_json(), ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
        logger.debug("TextNormalizer: %d katakana terms learned", len(self.vocabulary))
        return self._resource

    def normalised(self, text: str) -> str:
        return normalise(text, self.vocabulary, self._max_chars)

    def _set(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text or text.startswith("/"):
            return
        message.set(NORMALIZED_TEXT, self.normalised(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._set(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._set(message)
        return messages

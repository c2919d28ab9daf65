"""Turns the society in a message's channel metadata into a ``society`` entity.

Every channel (REST, the portal widget, LINE) puts the member's society in the
message metadata, under the key ``tenant`` (its wire name,
``bot.domain.societies.METADATA_KEY``). This component reads it during NLU, checks it against
``data/societies.yml`` and adds an entity ``society`` whose value fills the slot of
the same name (``from_entity`` mapping in ``domain.yml``). So the society is in
the tracker before any policy, response or action runs, with no extra round trip.

- known society  -> entity with that society's key;
- unknown value  -> entity with the default society (and a warning in the log);
- no value       -> no entity, so the slot keeps the society the conversation
  already had (responses fall back to the default when it has none).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.domain.societies import METADATA_KEY, SOCIETY_SLOT, SocietyRegistry, load_registry


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class SocietyResolver(GraphComponent):
    """Adds the member's society, taken from channel metadata, as an entity."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # None: $KOSMO_SOCIETIES_FILE, else data/societies.yml (read at run time,
        # so a society added to the file needs no retraining).
        return {"societies_file": None}

    def __init__(self, config: Dict[Text, Any], registry: Optional[SocietyRegistry] = None) -> None:
        self._config = config
        self._registry = registry

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SocietyResolver":
        return cls(config)

    @property
    def registry(self) -> SocietyRegistry:
        if self._registry is None:
            self._registry = load_registry(self._config.get("societies_file"))
        return self._registry

    def society_for(self, metadata: Any) -> Optional[str]:
        """The society key for a message's metadata, or None when it names none."""
        if not isinstance(metadata, dict):
            return None
        raw = metadata.get(METADATA_KEY)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        return self.registry.resolve(raw if isinstance(raw, str) else None).key

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            key = self.society_for(message.get("metadata"))
            if key is None:
                continue
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != SOCIETY_SLOT]
            entities.append(
                {
                    "entity": SOCIETY_SLOT,
                    "value": key,
                    "start": 0,
                    "end": 0,
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

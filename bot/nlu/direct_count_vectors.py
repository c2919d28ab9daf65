"""Rasa's CountVectorsFeaturizer, counting a message's tokens directly once its model is loaded.

``DirectCountVectorsFeaturizer`` trains as Rasa's ``CountVectorsFeaturizer``
(the same vocabulary, the same training features). Once a trained model is
loaded (the server, ``rasa test``, ``Agent.load``), it counts a message's
words or character n-grams with ``bot.nlu.count_vectors``: the same counting
as sklearn's with the fitted vocabulary, built straight into the COO matrix
Rasa ends up with, and numbers replaced in one ``re.sub`` for the message.
The result is the same, exactly (``tests/test_count_vectors.py``); the two
featurizers took about 1.7 ms of the server's CPU per message before, and a
2,000-character message about 14 ms.

The shortcut is used only when ``KOSMO_RASA_SPEEDUPS`` is not ``off``, the
Rasa and sklearn code it follows is the code it was written for
(``bot.speedups.guard``) and scipy builds COO matrices as
``bot.nlu.sparse_features`` expects, all checked when the model is loaded;
otherwise Rasa's code runs. The counting code is imported then too, so that
training does not import it and changing it does not retrain the model.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import TEXT

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class DirectCountVectorsFeaturizer(CountVectorsFeaturizer):
    """``CountVectorsFeaturizer`` that counts directly once loaded (see the module)."""

    # set by load(): the module bot.nlu.count_vectors, or None (Rasa's own counting)
    _direct: Optional[ModuleType] = None

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "DirectCountVectorsFeaturizer":
        """Rasa's ``load``, then direct counting if it is switched on and written for this Rasa."""
        featurizer = super().load(config, model_storage, resource, execution_context, **kwargs)
        featurizer._direct = direct_counting()
        return featurizer

    def _create_features(self, attribute: Text, all_tokens: List[List[Text]]) -> Any:
        direct = self._direct
        if direct is not None:
            features = direct.create_features(self, attribute, all_tokens)
            if features is not None:
                return features
        return super()._create_features(attribute, all_tokens)

    def _process_tokens(self, tokens: List[Text], attribute: Text = TEXT) -> List[Text]:
        direct = self._direct
        if direct is not None:
            processed = direct.process_tokens(self, tokens, attribute)
            if processed is not None:
                return processed
        return super()._process_tokens(tokens, attribute)


def direct_counting() -> Optional[ModuleType]:
    """``bot.nlu.count_vectors`` when direct counting may be used, else None."""
    from bot.nlu import count_vectors, sparse_features
    from bot.speedups.guard import shortcut_allowed

    if not shortcut_allowed(
        "CountVectorsFeaturizer: direct counting", count_vectors._mirrored, count_vectors.MIRRORED_SHA256
    ):
        return None
    if not sparse_features.coo_from_parts_is_scipys():
        logger.warning("direct counting not used: this scipy builds COO matrices otherwise")
        return None
    return count_vectors

"""Rasa entity extractor: the child's age in months and its NJi phase, from any phrasing."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain.age import parse_age

AGE_ENTITY = "age_months"
PHASE_ENTITY = "phase"


def age_entities(text: str) -> List[Dict[Text, Any]]:
    """Entities ``age_months`` (a number) and ``phase`` for the child the message is about."""
    mention = parse_age(text or "")
    if mention is None:
        return []
    span = {"start": mention.start, "end": mention.end, "confidence_entity": 1.0}
    entities = [{"entity": AGE_ENTITY, "value": mention.months, **span}]
    if mention.phase:
        entities.append({"entity": PHASE_ENTITY, "value": mention.phase, **span})
    return entities


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class AgeExtractor(GraphComponent, EntityExtractorMixin):
    """Adds the age entities found by ``bot.domain.age`` (rule-based, nothing to train)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "AgeExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = self.add_extractor_name(age_entities(message.get(TEXT)))
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

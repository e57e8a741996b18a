"""Rasa model loader for the Dutch language layer (see ``bot.domain.language``)."""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.model import InvalidModelError
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP

from bot.domain import language


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.MODEL_LOADER,
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
    ],
    is_trainable=False,
    model_from="DutchSpacyNLP",
)
class DutchSpacyNLP(SpacyNLP):
    """SpacyNLP that loads the Dutch pipeline by the name recorded in the model's config.

    ``model`` is ``nl_core_news_sm`` or ``nl_opvoedmaatje`` (the project's own pipeline). The
    name is part of the trained model's graph, so a model loaded where its pipeline is missing
    stops with a message that names the fix.
    """

    @staticmethod
    def load_model(spacy_model_name: Text) -> SpacyModel:
        try:
            nlp = language.load(spacy_model_name)
        except language.LanguagePipelineMissing as error:
            raise InvalidModelError(str(error)) from error
        except OSError as error:
            raise InvalidModelError(
                f"The Dutch pipeline '{spacy_model_name}' could not be loaded. {language.FIX}"
            ) from error
        return SpacyModel(model=nlp, model_name=spacy_model_name)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DutchSpacyNLP":
        model = cls.load_model(config.get("model"))
        cls.ensure_proper_language_model(model.model)
        return cls(model, {**cls.get_default_config(), **config})

"""Rasa's responses in the parent's language (issue 17), chosen in the Rasa server itself.

endpoints.yml names :class:`MultilingualResponses` as the ``nlg`` type. For each language of
``bot/knowledge/translations/`` it keeps a copy of domain.yml's responses with that language's
texts (``bot.domain.translations.localized_responses``) and answers from the copy that matches the
`language` slot; Dutch (and any language without texts) uses domain.yml itself. The crisis replies
are among these responses, so they stay static in every language: no action server, no network.

It is a ``TemplatedNaturalLanguageGenerator`` because Rasa's agent hands the model's responses
only to that type once the model is loaded (``Agent.load_model`` sets ``nlg.responses``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.domain import translations

LANGUAGE_SLOT = "language"
Responses = Dict[Text, List[Dict[Text, Any]]]


class MultilingualResponses(TemplatedNaturalLanguageGenerator):
    """domain.yml's responses, in the language of the conversation's `language` slot."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None) -> None:
        self._by_language: Dict[str, TemplatedNaturalLanguageGenerator] = {}
        super().__init__((domain or Domain.empty()).responses)

    @property
    def responses(self) -> Responses:
        return self._responses

    @responses.setter
    def responses(self, responses: Responses) -> None:
        self._responses = responses
        self._by_language = {
            language: TemplatedNaturalLanguageGenerator(translations.localized_responses(responses, language))
            for language in translations.languages()
        }

    def generator_for(self, language: Any) -> TemplatedNaturalLanguageGenerator:
        return self._by_language.get(translations.answers_in(language), self)

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                       **kwargs: Any) -> Optional[Dict[Text, Any]]:
        slots = tracker.current_slot_values()
        return self.generator_for(slots.get(LANGUAGE_SLOT)).generate_from_slots(
            utter_action, slots, output_channel, **kwargs)

"""Rasa component: the language of the parent's message, for the contract's `language` slot.

Runs on every message, last in the pipeline, with the conversation's current `language` slot as
the previous language (``bot.domain.languages.detect``: a short "ok" or an unsure guess keeps it). When the
message is in another language than the conversation so far, it adds the entity ``language``, whose
``from_entity`` mapping sets the slot before the reply is chosen; otherwise the slot stays as it is.
A request to switch ("kun je Engels praten?") becomes the intent ``switch_language`` unless it is
also a crisis, or a concern in a longer message ("can you speak English, my son won't sleep").
Button payloads are left alone: "/..." ones to Rasa's payload parser, and the plain-text ones the
assistant offered ("Hier in de chat", a neighbourhood's name) say nothing about the parent's language.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain.languages.detector import LanguageDetector
from bot.domain.languages.switch import LANGUAGE_ENTITY, SWITCH_INTENT
from bot.domain.safety import CRISIS_PREFIX, SAFETY_INTENTS
from bot.rasa.nlu.crisis_detector import sent_payloads

logger = logging.getLogger(__name__)

ASKED = "asked"
TOPIC_PREFIX = "topic_"
# A request of at most this many words is only a request, whatever topic the classifier sees in
# it ("kun je Nederlands praten?" reads like speech development); a longer one may also carry a
# concern, which is then answered (in the language asked for).
REQUEST_MAX_WORDS = 6


def in_a_form(tracker: Any) -> bool:
    """Whether the assistant is asking a form's questions (the hand-off): answers such as an e-mail
    address or "ja" say little about the language, so only an explicit request switches then."""
    try:
        return bool(getattr(tracker, "active_loop_name", None)) if tracker is not None else False
    except Exception:  # noqa: BLE001 - a tracker of another shape: no form
        return False


def previous_language(tracker: Any) -> Optional[str]:
    try:
        value = tracker.get_slot(LANGUAGE_ENTITY) if tracker is not None else None
    except Exception:  # noqa: BLE001 - a domain without the slot: no previous language
        return None
    return value if isinstance(value, str) else None


def keeps_intent(intent: Optional[Dict[Text, Any]], text: str) -> bool:
    """Whether a request to switch language keeps the classifier's intent: a crisis always, a
    concern in a message longer than a bare request."""
    name = str((intent or {}).get("name") or "")
    if name.startswith(CRISIS_PREFIX) or name in SAFETY_INTENTS:
        return True
    return name.startswith(TOPIC_PREFIX) and len(text.split()) > REQUEST_MAX_WORDS


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class LanguageSetter(GraphComponent, IntentClassifier):
    """Sets the entity ``language`` when a message changes the conversation's language."""

    def __init__(self, detector: Optional[LanguageDetector] = None) -> None:
        self._detector = detector or LanguageDetector()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageSetter":
        setter = cls()
        setter._detector.warm_up()  # load lingua's models when the server starts, not on a message
        return setter

    def process(self, messages: List[Message], tracker: Any = None) -> List[Message]:
        offered = {payload.casefold() for payload in sent_payloads(tracker)}
        for message in messages:
            self._process(message, previous_language(tracker), offered, in_a_form(tracker))
        return messages

    def _process(self, message: Message, previous: Optional[str], offered: Set[str] = frozenset(),
                 form: bool = False) -> None:
        text = message.get(TEXT) or ""
        if text.strip().startswith("/") or text.strip().casefold() in offered:
            return  # a button's payload: not the parent's own words
        try:
            detection = self._detector.detect(text, previous)
        except Exception as error:  # noqa: BLE001 - the language is a nicety: it never costs a parent the reply
            logger.error("language detection failed (%s); the conversation keeps its language", type(error).__name__)
            return
        asked = detection.reason == ASKED
        if (detection.language == (previous or self._detector.rules.default) or form) and not asked:
            return
        entities = list(message.get(ENTITIES) or [])
        entities.append({"entity": LANGUAGE_ENTITY, "value": detection.language, "start": 0,
                         "end": len(text), "confidence_entity": detection.confidence,
                         "extractor": type(self).__name__})
        message.set(ENTITIES, entities, add_to_output=True)
        logger.info("language: %s (%s)", detection.language, detection.reason)
        if asked and not keeps_intent(message.get(INTENT), text):
            message.set(INTENT, {"name": SWITCH_INTENT, "confidence": 1.0}, add_to_output=True)

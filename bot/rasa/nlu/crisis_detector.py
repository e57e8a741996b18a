"""Rasa component that makes sure a crisis message is answered as a crisis, in its conversation.

It runs on every message, after the classifier, with the conversation so far (Rasa's recipe
passes the tracker to a component whose ``process`` takes a ``tracker`` argument). The verdict of
``bot.domain.safety`` then sets the intent:
- a crisis: ``crisis_<situation>`` with confidence 1.0; the static crisis rules answer, without
  the action server, and the domain's slot mappings set severity, signal and situation;
- unsure: ``safety_check``, with the situation in the entity ``pending_situation``; the
  assistant asks one safety question whose "Ja" button is ``/crisis_<situation>``;
- "nee" to that question: ``safety_no``; the assistant goes on with the parent's question;
- a classifier crisis intent that the verdict does not support: the best non-crisis intent.

Button payloads only (CONTRACT.md 6): a message that starts with "/" is a payload only when it is
exactly a payload the assistant itself sent in this conversation. Any other such text is read as
ordinary text (crisis detection included), and its leading "/" is taken off the parsed text so
that Rasa's RegexMessageHandler, which runs after this component, does not read it as an intent.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain import safety
from bot.domain.languages.detector import detect as detect_language
from bot.domain.languages.switch import LANGUAGE_ENTITY as LANGUAGE_SLOT, is_switch_payload

logger = logging.getLogger(__name__)

SAFETY_CHECK, SAFETY_NO = safety.SAFETY_CHECK, safety.SAFETY_NO
PENDING_ENTITY = "pending_situation"
AGE_ENTITY = "age_months"  # the age extractor's entity and the contract's slot
SAFETY_QUESTION = "utter_safety_question"
PAYLOAD_PREFIX = "/"
DUTCH = "nl"


def sent_payloads(tracker: Any) -> Set[str]:
    """Every button payload the assistant sent in this conversation."""
    payloads: Set[str] = set()
    for event in getattr(tracker, "events", None) or ():
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or ():
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    payloads.add(button["payload"].strip())
    return payloads


def is_own_payload(text: Optional[str], tracker: Any) -> bool:
    """A payload the assistant sent in this conversation, or one of the language menu's."""
    stripped = (text or "").strip()
    return stripped.startswith(PAYLOAD_PREFIX) and (stripped in sent_payloads(tracker) or is_switch_payload(stripped))


def conversation_context(tracker: Any) -> Tuple[List[str], Optional[str]]:
    """(the parent's messages of this session, oldest first; the situation of a safety question
    that is the assistant's last message, else None)."""
    texts: List[str] = []
    asked: Optional[str] = None
    for event in getattr(tracker, "events", None) or ():
        if isinstance(event, SessionStarted):
            texts, asked = [], None
        elif isinstance(event, UserUttered):
            if event.text and not is_payload_text(event.text):
                texts.append(event.text)
            asked = None
        elif isinstance(event, BotUttered):
            asked = None
            if (event.metadata or {}).get("utter_action") == SAFETY_QUESTION:
                asked = _slot(tracker, PENDING_ENTITY)
    return texts, asked


def is_payload_text(text: str) -> bool:
    return text.strip().startswith(PAYLOAD_PREFIX)


def _slot(tracker: Any, name: str) -> Optional[str]:
    try:
        value = tracker.get_slot(name)
    except Exception:  # noqa: BLE001 - a slot missing from an older domain: no value
        return None
    return value if isinstance(value, str) else None


def _age_months(message: Message, tracker: Any) -> Optional[int]:
    """The child's age in months: from this message (the age extractor runs before), else the
    conversation's slot."""
    for entity in message.get(ENTITIES) or []:
        if entity.get("entity") == AGE_ENTITY and isinstance(entity.get("value"), int):
            return entity["value"]
    try:
        value = tracker.get_slot(AGE_ENTITY) if tracker is not None else None
    except Exception:  # noqa: BLE001 - a slot missing from an older domain: no age
        return None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ranking(message: Message) -> List[Tuple[str, float]]:
    out: List[Tuple[str, float]] = []
    for item in message.get(INTENT_RANKING_KEY) or []:
        name, confidence = item.get("name"), item.get("confidence")
        if isinstance(name, str) and isinstance(confidence, (int, float)):
            out.append((name, float(confidence)))
    return out


def _best_other(ranking: Iterable[Dict[Text, Any]]) -> Dict[Text, Any]:
    for candidate in ranking:
        name = str(candidate.get("name", ""))
        if not name.startswith(safety.CRISIS_PREFIX) and name not in safety.SAFETY_INTENTS:
            return {"name": name, "confidence": candidate.get("confidence", 0.0)}
    return {"name": "nlu_fallback", "confidence": 1.0}


def decide_intent(verdict: safety.Verdict, intent: Optional[Dict[Text, Any]],
                  ranking: List[Dict[Text, Any]]) -> Optional[Dict[Text, Any]]:
    """The intent after the verdict, or None to keep the classifier's."""
    if verdict.kind == safety.CRISIS:
        return {"name": safety.crisis_intent(verdict.situation), "confidence": 1.0}
    if verdict.kind == safety.ASK:
        return {"name": SAFETY_CHECK, "confidence": 1.0}
    if verdict.kind == safety.SAFE:
        return {"name": SAFETY_NO, "confidence": 1.0}
    name = str((intent or {}).get("name") or "")
    if name.startswith(safety.CRISIS_PREFIX):
        return _best_other(ranking)
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class CrisisDetector(GraphComponent, IntentClassifier):
    """Crisis patterns, the classifier and the conversation, on every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # summed probability of the crisis intents: a crisis at or above crisis_threshold, one
        # safety question between ask_threshold and it (chosen on the development sets; the blind
        # set only measures it: reports/crisis-blind-*.md)
        return {"crisis_threshold": safety.CRISIS_THRESHOLD, "ask_threshold": safety.ASK_THRESHOLD,
                "ask_threshold_other_languages": safety.ASK_THRESHOLD}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._crisis = float(config["crisis_threshold"])
        self._ask = float(config["ask_threshold"])
        self._ask_other = min(self._ask, float(config["ask_threshold_other_languages"]))

    def _ask_threshold(self, text: str, ranking: List[Tuple[str, float]], tracker: Any) -> float:
        """The crisis patterns read Dutch only, so in another language the classifier is the only
        sign: there the safety question comes sooner. The language is looked up only when the
        classifier's crisis mass lies between the two thresholds (rarely)."""
        mass, _ = safety.crisis_mass(ranking)
        if not self._ask_other <= mass < self._ask:
            return self._ask
        language = detect_language(text, _slot(tracker, LANGUAGE_SLOT)).language
        return self._ask if language == DUTCH else self._ask_other

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisDetector":
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message], tracker: Any = None) -> List[Message]:
        for message in messages:
            self._process(message, tracker)
        return messages

    def _process(self, message: Message, tracker: Any) -> None:
        text = message.get(TEXT) or ""
        if is_payload_text(text):
            if is_own_payload(text, tracker):
                return  # a button of ours: RegexMessageHandler reads it
            text = text.strip().lstrip(PAYLOAD_PREFIX)
            message.set(TEXT, text)
        earlier, asked = conversation_context(tracker)
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        scores = _ranking(message)
        verdict = safety.assess(
            safety.Evidence(
                text=text,
                ranking=scores,
                lemmas=[token.lemma for token in tokens if token.lemma] or None,
                earlier=earlier,
                asked=asked,
                age_months=_age_months(message, tracker),
            ),
            crisis_threshold=self._crisis,
            ask_threshold=self._ask_threshold(text, scores, tracker),
        )
        if verdict.kind != safety.NONE:
            logger.info("safety: %s %s (%s)", verdict.kind, verdict.situation, verdict.source)
        ranking = message.get(INTENT_RANKING_KEY) or []
        decided = decide_intent(verdict, message.get(INTENT), ranking)
        if decided is None:
            return
        message.set(INTENT, decided, add_to_output=True)
        rest = [r for r in ranking if r.get("name") != decided["name"]]
        message.set(INTENT_RANKING_KEY, [decided] + rest, add_to_output=True)
        if verdict.kind == safety.ASK:
            entities = list(message.get(ENTITIES) or [])
            entities.append({"entity": PENDING_ENTITY, "value": verdict.situation,
                             "start": 0, "end": 0, "extractor": type(self).__name__})
            message.set(ENTITIES, entities, add_to_output=True)

"""What the assistant does with a parent's message: slots to set and replies to send.

Pure Python over the domain modules (age, triage, replies, catalogue); the Rasa actions in
``actions/`` only translate between a tracker and these functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from bot import vocabulary
from bot.domain import replies, situations, translations, wellbeing
from bot.domain.age import parse_age
from bot.domain.phases import phase_for_months
from bot.domain.replies import Reply
from bot.domain.safety import SAFETY_INTENTS, situation_of_intent
from bot.domain.triage import assess
from bot.vocabulary import KNOWLEDGE_DIR

TOPIC_PREFIX = "topic_"
# CONTRACT.md 5: set for a concern before the reply (also while the safety question waits)
CONCERN_SLOTS = ("topic", "age_months", "phase", "severity", "support_level")
CRISIS = "crisis"
# topics about the parent, not the child: no need to ask the child's age first
AGE_FREE_TOPICS = vocabulary.AGE_FREE_TOPICS
# A parent's low mood after the birth is about the parent, whatever topic the words suggest ("ik huil
# de hele dag" reads as `huilen`): the reply that names postnatal depression is ouder_welzijn's.
PARENT_TOPIC, POSTNATAL_SIGNAL = "ouder_welzijn", "postnatal"


@lru_cache(maxsize=1)
def _texts() -> Dict[str, str]:
    path = KNOWLEDGE_DIR / "dialogue.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def say(key: str, language: Optional[str] = None, **values: Any) -> str:
    """A text of dialogue.yml in the parent's language (Dutch where that language has none)."""
    own = translations.text(translations.answers_in(language), f"dialogue.{key}")
    return (own or _texts()[key]).format(**values)


@dataclass(frozen=True)
class Conversation:
    """What the assistant knows before this message."""

    slots: Mapping[str, Any]
    history: Tuple[str, ...] = ()  # the parent's earlier messages in this session, oldest first
    has_replied: bool = False  # the assistant already said something in this conversation
    channel: Optional[str] = None  # the parent's latest input channel (rest, socketio, whatsapp, ...)

    @property
    def language(self) -> str:
        """The language the assistant answers in (the contract's `language` slot)."""
        return translations.answers_in(self.slots.get("language"))


@dataclass(frozen=True)
class Message:
    text: str
    intent: Optional[str]
    entities: Tuple[Mapping[str, Any], ...] = ()
    after_safety_question: bool = False  # the parent said there is no danger now (bot/domain/safety.py)


@dataclass
class Outcome:
    slots: Dict[str, Any] = field(default_factory=dict)
    replies: List[Reply] = field(default_factory=list)




def answerable_intent(ranking: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The best intent of a ranking that the dialogue answers: no crisis or safety intent (the
    concern behind a safety question)."""
    for item in ranking:
        name = item.get("name") or ""
        if situation_of_intent(name) is None and name not in SAFETY_INTENTS:
            return name
    return None


def topic_of_intent(intent: Optional[str]) -> Optional[str]:
    if intent and intent.startswith(TOPIC_PREFIX):
        return intent[len(TOPIC_PREFIX):]
    return None


MAX_AGE_MONTHS = 300  # older is not a child's age (bot/domain/age.py drops it too)


def _plausible(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_AGE_MONTHS


def _age_from(conversation: Conversation, message: Message) -> Tuple[Optional[int], bool]:
    """(months, newly stated) from the message's entities, an answer to the age question, or the slot."""
    for entity in message.entities:
        if entity.get("entity") == "age_months" and _plausible(entity.get("value")):
            return int(entity["value"]), True
    if conversation.slots.get("awaiting_age"):
        mention = parse_age(message.text or "", expecting_age=True)
        if mention is not None:
            return mention.months, True
    months = conversation.slots.get("age_months")
    return (int(months) if _plausible(months) else None), False


def _with_disclosure(conversation: Conversation, outcome: Outcome) -> Outcome:
    """The first reply of a conversation says that this is a digital assistant."""
    if not conversation.has_replied and outcome.replies:
        first = outcome.replies[0]
        outcome.replies[0] = Reply(f"{say('disclosure', conversation.language)} {first.text}", first.buttons)
    return outcome


def respond(conversation: Conversation, message: Message) -> Outcome:
    """Answer a parenting concern, or the answer to the age question."""
    slots, language = conversation.slots, conversation.language
    topic = topic_of_intent(message.intent) or slots.get("topic")
    months, newly_stated = _age_from(conversation, message)
    outcome = Outcome()
    if message.after_safety_question:
        no_reply = translations.text(language, "crisis.safety_question.no_reply")
        outcome.replies.append(Reply(no_reply or situations.texts()["safety_question"]["no_reply"]))
    if months is not None:
        outcome.slots.update(age_months=months, phase=phase_for_months(months))
    phase = phase_for_months(months)

    if topic is None:
        if slots.get("awaiting_age") and not newly_stated:
            outcome.replies.append(Reply(say("age_not_understood", language)))
        else:
            outcome.replies.append(Reply(say("no_topic_yet", language)))
            outcome.slots["awaiting_age"] = False
        return _with_disclosure(conversation, outcome)

    in_crisis = slots.get("severity") == CRISIS
    if in_crisis:
        severity, level = CRISIS, "D"
    else:
        assessment = assess(topic, phase, message.text or "", conversation.history, months)
        if POSTNATAL_SIGNAL in assessment.reasons and topic != PARENT_TOPIC:
            topic = PARENT_TOPIC
            assessment = assess(topic, phase, message.text or "", conversation.history, months)
        severity, level = assessment.severity, assessment.support_level
    outcome.slots.update(topic=topic, severity=severity, support_level=level)

    if not replies.available(topic, language):
        outcome.slots["awaiting_age"] = False
        outcome.replies.append(only_dutch_or_english(language))
        if in_crisis:
            outcome.replies.append(Reply(say("crisis_reminder", language)))
        return _with_disclosure(conversation, outcome)

    must_ask_age = months is None and topic not in AGE_FREE_TOPICS
    if must_ask_age and not slots.get("awaiting_age"):
        outcome.slots["awaiting_age"] = True
        outcome.replies.append(replies.age_question(topic, language))
        return _with_disclosure(conversation, outcome)

    outcome.slots["awaiting_age"] = False
    reply_severity = "aandacht" if in_crisis else severity
    outcome.replies.extend(replies.topic_reply(topic, phase, reply_severity, language))
    if in_crisis:
        outcome.replies.append(Reply(say("crisis_reminder", language)))
    elif language == translations.DUTCH:  # issue 19: one question after the answer: the parent's wellbeing, or a follow-up
        after = wellbeing.after_answer(slots, conversation.channel, topic, phase, severity)
        outcome.replies.extend(after.replies)
        outcome.slots.update(after.slots)
    return _with_disclosure(conversation, outcome)


def only_dutch_or_english(language: str) -> Reply:
    """The honest line of a language that does not cover a topic, with the offer of a person
    (who can help with an interpreter; the hand-off records the language)."""
    return Reply(say("only_dutch_or_english", language), (replies.button("ask_human", language),))


def more_tips(conversation: Conversation) -> Outcome:
    topic, language = conversation.slots.get("topic"), conversation.language
    if topic is None:
        return _with_disclosure(conversation, Outcome(replies=[Reply(say("no_topic_yet", language))]))
    if not replies.available(topic, language):
        return _with_disclosure(conversation, Outcome(replies=[only_dutch_or_english(language)]))
    months = conversation.slots.get("age_months")
    phase = phase_for_months(int(months)) if isinstance(months, (int, float)) else None
    return _with_disclosure(conversation, Outcome(replies=replies.more_tips(topic, phase, language)))


def support_nearby(
    conversation: Conversation,
    message: Message,
    catalogue: Any,
    now: Optional[datetime] = None,
    ask_place: bool = True,
) -> Outcome:
    """Offers from the municipality's catalogue; asks the neighbourhood once, never requires it."""
    from bot.domain.catalogue.recommend import format_offer, recommend
    from bot.domain.places import match_place

    slots, language = conversation.slots, conversation.language
    outcome = Outcome()
    place = match_place(message.text or "", catalogue)
    municipality = place.municipality or slots.get("municipality")
    neighbourhood = place.neighbourhood or slots.get("neighbourhood")
    if place.municipality:
        outcome.slots["municipality"] = place.municipality
    if place.neighbourhood:
        outcome.slots["neighbourhood"] = place.neighbourhood

    if municipality is None and getattr(catalogue, "municipality", None) is not None:
        outcome.slots["municipality"] = catalogue.municipality.name
    names = neighbourhood_names(catalogue)
    if neighbourhood is None and names and ask_place and not slots.get("place_asked"):
        outcome.slots["place_asked"] = True
        buttons = tuple((name, name) for name in names[:2]) + ((say("skip_neighbourhood", language), "/support_nearby"),)
        outcome.replies.append(Reply(say("ask_neighbourhood", language), buttons))
        return _with_disclosure(conversation, outcome)

    months = slots.get("age_months")
    phase = phase_for_months(int(months)) if isinstance(months, (int, float)) else None
    found = recommend(
        catalogue,
        topic=slots.get("topic"),
        phase=phase,
        severity=slots.get("severity") or "normaal",
        neighbourhood=neighbourhood,
        now=now,
        want_more=slots.get("support_level") == "C",
        signal=slots.get("signal"),
        language=language,
    )
    if not found:
        outcome.replies.append(Reply(say("no_offers", language)))
    else:
        intro = (say("support_intro_place", language, neighbourhood=neighbourhood) if neighbourhood
                 else say("support_intro", language))
        outcome.replies.append(Reply(intro))
        outcome.replies.extend(Reply(format_offer(rec, language)) for rec in found)
    return _with_disclosure(conversation, outcome)


def neighbourhood_names(catalogue: Any) -> Sequence[str]:
    municipality = getattr(catalogue, "municipality", None)
    return municipality.neighbourhood_names() if municipality else ()

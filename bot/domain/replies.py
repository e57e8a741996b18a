"""Curated reply texts: pick and format them per topic, phase, severity and language.

The Dutch texts live in bot/knowledge/replies/*.yml (one file per topic plus _common.yml); the
other languages' in bot/knowledge/translations/<code>/ (bot/domain/translations.py), which a language
may cover for some topics only (``available``).
This module only selects and formats; it never generates content and never raises
on bad input. No Rasa imports: the action server turns `Reply` objects into messages.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot import vocabulary
from bot.domain import translations
from bot.vocabulary import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

REPLIES_DIR = KNOWLEDGE_DIR / "replies"

TOPICS: Tuple[str, ...] = vocabulary.TOPICS
PHASES: Tuple[str, ...] = vocabulary.PHASES
DEFAULT_PHASE = "default"
GENERIC_TOPIC = "opvoeden_algemeen"
DUTCH = translations.DUTCH
# Topics whose replies start with the "no medical advice" disclaimer.
MEDICAL_TOPICS = frozenset({"gezondheid"})
# How many tips the "aandacht" reply repeats after the advice to see a professional (a phase
# block's `safety` tips count in this and are always shown; see _content).
AANDACHT_TIPS = 2

# Last resort when a data file is missing or broken: the assistant must never be silent.
_FALLBACK_TEXT = ("Dank je voor je vraag. Kijk voor betrouwbare informatie op opvoeden.nl. "
                  "Of vraag hulp bij het CJG of de huisarts.")
_FALLBACK_CRISIS = ("Is er nu gevaar? Bel 112. Is je kind niet veilig? Bel Veilig Thuis: "
                    "0800-2000. Gaat het over niet meer willen leven? Bel 113 of 0800-0113.")
_FALLBACK_BUTTONS = {
    "more_tips": ("Meer tips", "/more_tips"),
    "support_nearby": ("Hulp in de buurt", "/support_nearby"),
    "ask_human": ("Praat met iemand", "/ask_human"),
}


@dataclass(frozen=True)
class Reply:
    """One chat message: text plus optional quick-reply buttons (title, payload)."""

    text: str
    buttons: Tuple[Tuple[str, str], ...] = ()


# ---------------------------------------------------------------- loading


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        logger.error("cannot load reply data %s: %s", path.name, type(error).__name__)
        return {}
    return data if isinstance(data, dict) else {}


@lru_cache(maxsize=None)
def _common(language: str = DUTCH) -> Dict[str, Any]:
    """_common.yml, with the language's own texts where it has them."""
    dutch = _read_yaml(REPLIES_DIR / "_common.yml")
    return dutch if language == DUTCH else translations.merged(dutch, translations.section(language, "common"))


@lru_cache(maxsize=None)
def load_topic(topic: str, language: str = DUTCH) -> Dict[str, Any]:
    """The parsed data file of a known topic id in a language ({} if missing or broken)."""
    if topic not in TOPICS:
        return {}
    if language != DUTCH:
        return translations.topic(language, topic)
    return _read_yaml(REPLIES_DIR / f"{topic}.yml")


def available(topic: Any, language: Any) -> bool:
    """True when the assistant has curated replies about ``topic`` in ``language``."""
    language = translations.answers_in(language)
    return language == DUTCH or bool(load_topic(normalize_topic(topic), language).get("phases"))


def normalize_topic(topic: Any) -> str:
    """A known topic id; anything else becomes the generic topic."""
    if isinstance(topic, str):
        candidate = topic.strip().lower()
        if candidate in TOPICS:
            return candidate
    return GENERIC_TOPIC


def normalize_phase(phase: Any) -> str:
    """A known phase, or 'default' (unknown age, 19+ or bad input)."""
    if isinstance(phase, str) and phase.strip() in PHASES:
        return phase.strip()
    return DEFAULT_PHASE


def normalize_severity(severity: Any) -> str:
    if isinstance(severity, str) and severity.strip().lower() in ("aandacht", "crisis"):
        return severity.strip().lower()
    return "normaal"


# ---------------------------------------------------------------- common texts


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _lookup(key: str, language: str = DUTCH) -> Any:
    return translations.at_path(_common(language), key)


def text(key: str, language: str = DUTCH, **kwargs: Any) -> str:
    """A common text from _common.yml ('a.b' for nested keys) in a language, formatted with kwargs.

    Unknown keys, non-text values or format errors give a kind generic text, never ''.
    """
    value = _lookup(key, language) if isinstance(key, str) else None
    if not isinstance(value, str) or not value.strip():
        logger.warning("missing common reply text: %s", key if isinstance(key, str) else "?")
        fallback = _lookup("fallback", language)
        return fallback if isinstance(fallback, str) and fallback.strip() else _FALLBACK_TEXT
    try:
        result = value.format_map(_Blank({k: str(v) for k, v in kwargs.items()}))
    except (ValueError, IndexError, AttributeError):
        logger.warning("cannot format common reply text: %s", key)
        result = value
    return result.strip() or _FALLBACK_TEXT


def button(name: str, language: str = DUTCH) -> Tuple[str, str]:
    """A common button (title, payload) in a language: more_tips, support_nearby, ask_human."""
    data = _lookup(f"buttons.{name}", language)
    if isinstance(data, Mapping):
        title, payload = data.get("title"), data.get("payload")
        if isinstance(title, str) and isinstance(payload, str) and title and payload:
            return (title, payload)
    return _FALLBACK_BUTTONS[name]


# ---------------------------------------------------------------- topic data


def label(topic: Any, language: str = DUTCH) -> str:
    """The topic's label as used in 'Over {label}:'."""
    data = load_topic(normalize_topic(topic), language) or load_topic(normalize_topic(topic))
    value = data.get("label")
    return value if isinstance(value, str) and value.strip() else "opvoeden"


def sources(topic: Any) -> List[Tuple[str, str]]:
    """(name, url) of the topic's sources; the common list when the topic has none."""
    found: List[Tuple[str, str]] = []
    for data in (load_topic(normalize_topic(topic)), _common()):
        for item in data.get("sources") or []:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str) \
                    and isinstance(item.get("url"), str):
                found.append((item["name"], item["url"]))
        if found:
            return found
    return [("Opvoeden.nl", "https://www.opvoeden.nl")]


def _join_names(names: List[str], language: str = DUTCH) -> str:
    """'A', 'A en B', 'A, B en C' (the language's own word for 'en', `and_word`)."""
    if len(names) <= 1:
        return "".join(names)
    word = _lookup("and_word", language)
    return f"{', '.join(names[:-1])} {word if isinstance(word, str) else 'en'} {names[-1]}"


def source_line(topic: Any, language: str = DUTCH) -> str:
    """'Gebaseerd op informatie van Opvoeden.nl, NJi en Thuisarts.nl.' for the topic.

    The texts are our own, written on the basis of these sources; the line does not claim to
    quote them.
    """
    return text("source_line", language, names=_join_names([name for name, _ in sources(topic)], language))


def _phase_block(topic: str, phase: str, language: str) -> Dict[str, Any]:
    phases = load_topic(topic, language).get("phases")
    if not isinstance(phases, Mapping):
        return {}
    block = phases.get(phase)
    if not isinstance(block, Mapping):
        block = phases.get(DEFAULT_PHASE)
    return dict(block) if isinstance(block, Mapping) else {}


def _strings(value: Any) -> List[str]:
    if not isinstance(value, list):
        return []
    return [item.strip() for item in value if isinstance(item, str) and item.strip()]


def _bullets(items: List[str]) -> str:
    return "\n".join(f"• {item}" for item in items)


def _signs_heading(topic: str, phase: str, language: str) -> str:
    """The topic's own 'when to ask for help' heading, else the phase's from _common.yml."""
    heading = load_topic(topic, language).get("signs_heading")
    if isinstance(heading, str) and heading.strip():
        return heading.strip()
    heading = _lookup(f"signs_heading.{phase}", language)
    if not isinstance(heading, str):
        heading = _lookup(f"signs_heading.{DEFAULT_PHASE}", language)
    return heading if isinstance(heading, str) else "Vraag hulp bij de huisarts of het CJG als:"


def _content(topic: str, phase: str, language: str, *, tips_heading_key: str,
             max_tips: Optional[int], with_signs: bool) -> str:
    """why + tips (+ signs), then the block's `urgent` line.

    `safety` tips (e.g. safe sleep, never shake a baby) follow the ordinary tips and are never cut:
    with `max_tips` they take the place of ordinary tips, but at least one ordinary tip stays. The
    `urgent` line (e.g. fever under 3 months: huisarts or 112) stands on its own, never under the
    signs heading (which names the consultatiebureau for young children). Both are shown whatever
    the severity.
    """
    block = _phase_block(topic, phase, language)
    why = block.get("why") if isinstance(block.get("why"), str) else ""
    safety = _strings(block.get("safety"))
    tips = _strings(block.get("tips"))
    if max_tips is not None:
        tips = tips[:max(1, max_tips - len(safety))]
    tips += safety
    parts: List[str] = []
    heading = text("topic_heading", language, label=label(topic, language))
    parts.append(f"{heading} {why.strip()}".strip())
    if tips:
        parts.append(f"{text(tips_heading_key, language)}\n{_bullets(tips)}")
    signs = _strings(block.get("signs"))
    if with_signs and signs:
        parts.append(f"{_signs_heading(topic, phase, language)}\n{_bullets(signs)}")
    urgent = block.get("urgent")
    if isinstance(urgent, str) and urgent.strip():
        parts.append(urgent.strip())
    if not why and not tips:
        return _FALLBACK_TEXT
    return "\n\n".join(parts)


# ---------------------------------------------------------------- public API


def topic_reply(topic: Any, phase: Any, severity: Any, language: Any = DUTCH) -> List[Reply]:
    """The messages for a concern about `topic` at `phase` with `severity`.

    normaal: why + tips + signs, then a question with 'meer tips' / 'hulp' / 'praten' buttons.
    aandacht: advice to see a professional first, then why + a few tips, then buttons.
    crisis: the crisis lines (the dedicated crisis reply lives elsewhere; this is a safe net).
    The last message always carries the buttons; for normaal/aandacht it ends with the sources.
    """
    try:
        return _topic_reply(normalize_topic(topic), normalize_phase(phase),
                            normalize_severity(severity), translations.answers_in(language))
    except Exception:  # never let a reply crash the conversation
        logger.exception("topic_reply failed")
        return [Reply(_FALLBACK_TEXT, (_FALLBACK_BUTTONS["ask_human"],))]


def _topic_reply(topic: str, phase: str, severity: str, language: str) -> List[Reply]:
    if severity == "crisis":
        crisis = text("crisis", language)
        if crisis == text("fallback", language):
            crisis = _FALLBACK_CRISIS
        return [Reply(crisis, (button("ask_human", language),))]

    replies: List[Reply] = []
    if topic in MEDICAL_TOPICS:
        replies.append(Reply(text("health_disclaimer", language)))

    if severity == "aandacht":
        advice = load_topic(topic, language).get("aandacht")
        advice = advice.strip() if isinstance(advice, str) and advice.strip() else ""
        first = "\n\n".join(p for p in (text("aandacht_intro", language), advice) if p)
        body = _content(topic, phase, language, tips_heading_key="aandacht_tips_heading",
                        max_tips=AANDACHT_TIPS, with_signs=False)
        replies.append(Reply(f"{first}\n\n{body}"))
        closing = f"{text('aandacht_question', language)}\n\n{source_line(topic, language)}"
        replies.append(Reply(closing, (button("ask_human", language), button("support_nearby", language))))
        return replies

    body = _content(topic, phase, language, tips_heading_key="tips_heading", max_tips=None,
                    with_signs=True)
    replies.append(Reply(body))
    closing = f"{text('more_question', language)}\n\n{source_line(topic, language)}"
    replies.append(Reply(closing, (button("more_tips", language), button("support_nearby", language),
                                   button("ask_human", language))))
    return replies


def more_tips(topic: Any, phase: Any, language: Any = DUTCH) -> List[Reply]:
    """The extra tips behind the 'Meer tips' button, then the help buttons."""
    try:
        topic_id, phase_id = normalize_topic(topic), normalize_phase(phase)
        lang = translations.answers_in(language)
        block = _phase_block(topic_id, phase_id, lang)
        extra = _strings(block.get("more_tips")) or _strings(block.get("tips"))
        if extra:
            body = f"{text('more_tips_heading', lang, label=label(topic_id, lang))}\n{_bullets(extra)}"
        else:
            body = _FALLBACK_TEXT
        closing = f"{text('after_more_question', lang)}\n\n{source_line(topic_id, lang)}"
        return [Reply(body), Reply(closing, (button("support_nearby", lang), button("ask_human", lang)))]
    except Exception:  # noqa: BLE001 - a parent always gets a reply and the offer of a person
        logger.exception("more_tips failed")
        return [Reply(_FALLBACK_TEXT, (_FALLBACK_BUTTONS["ask_human"],))]


def age_question(topic: Any = None, language: Any = DUTCH) -> Reply:
    """Ask the child's age, naming the topic when it is known."""
    lang = translations.answers_in(language)
    if isinstance(topic, str) and topic.strip().lower() in TOPICS:
        return Reply(text("age_question_topic", lang, label=label(topic, lang)))
    return Reply(text("age_question", lang))

"""The assistant's texts in the parent's language (issue 17): English, Arabic, Turkish, Polish, Ukrainian.

Dutch is the source: domain.yml, ``bot/knowledge/dialogue.yml``, ``replies/``, ``crisis_situations.yml``
and ``bot/knowledge/handoff.yml``. Each other language has a folder ``bot/knowledge/translations/<code>/`` with
``conversation.yml`` (the same keys as those Dutch files, in sections ``responses``, ``dialogue``,
``crisis``, ``common``, ``handoff``, ``web``), ``replies/<topic>.yml`` for the topics it covers, and
optionally ``page.yml``, the demo web page (the keys of ``bot/services/web/texts/nl.yml``).
Every file says ``reviewed: false`` until a native speaker has checked it (README, "Languages").

Curated texts only: a text missing in a language falls back to the Dutch one, never to a
generated one. No Rasa imports.
"""
from __future__ import annotations

import copy
import logging
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml
from bot.vocabulary import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

DUTCH = "nl"
TRANSLATIONS_DIR = KNOWLEDGE_DIR / "translations"
CONVERSATION_FILE = "conversation.yml"


def _read(path: Path) -> Dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        logger.error("cannot load translation %s/%s: %s", path.parent.name, path.name, type(error).__name__)
        return {}
    return data if isinstance(data, dict) else {}


@lru_cache(maxsize=1)
def languages() -> Tuple[str, ...]:
    """The languages other than Dutch that have a conversation file, sorted."""
    if not TRANSLATIONS_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in TRANSLATIONS_DIR.iterdir() if (p / CONVERSATION_FILE).is_file()))


def answers_in(language: Any) -> str:
    """The language the assistant answers in: Dutch, or a language it has texts for."""
    return language if isinstance(language, str) and language in languages() else DUTCH


@lru_cache(maxsize=None)
def conversation(language: str) -> Dict[str, Any]:
    """The parsed conversation file of a language ({} for Dutch or an unknown language)."""
    if language == DUTCH or language not in languages():
        return {}
    return _read(TRANSLATIONS_DIR / language / CONVERSATION_FILE)


def section(language: str, name: str) -> Dict[str, Any]:
    value = conversation(language).get(name)
    return value if isinstance(value, dict) else {}


@lru_cache(maxsize=None)
def topic(language: str, topic_id: str) -> Dict[str, Any]:
    """A topic's replies in a language ({} when that language does not cover the topic)."""
    if language == DUTCH or language not in languages() or "/" in topic_id or "." in topic_id:
        return {}
    path = TRANSLATIONS_DIR / language / "replies" / f"{topic_id}.yml"
    return _read(path) if path.is_file() else {}


@lru_cache(maxsize=None)
def page(language: str) -> Dict[str, Any]:
    """The web page's texts in a language ({} when it has none: the page stays Dutch)."""
    path = TRANSLATIONS_DIR / language / "page.yml"
    if language == DUTCH or language not in languages() or not path.is_file():
        return {}
    return {k: v for k, v in _read(path).items() if k not in ("language", "reviewed")}


def topics(language: str) -> Tuple[str, ...]:
    """The topics a language has replies for."""
    folder = TRANSLATIONS_DIR / language / "replies"
    return tuple(sorted(p.stem for p in folder.glob("*.yml"))) if folder.is_dir() else ()


def reviewed(language: str) -> bool:
    """True when a native speaker has checked every text of the language (Dutch: always)."""
    if language == DUTCH:
        return True
    folder = TRANSLATIONS_DIR / language
    files = [_read(path) for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("replies/*.yml"))]
    return bool(files) and all(data.get("reviewed") is True for data in files)


def merged(dutch: Mapping[str, Any], translated: Mapping[str, Any]) -> Dict[str, Any]:
    """``dutch`` with every key that ``translated`` has replaced, nested maps merged key by key."""
    result = copy.deepcopy(dict(dutch))
    for key, value in translated.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        elif value is not None and key not in ("language", "reviewed"):
            result[key] = copy.deepcopy(value)
    return result


# ------------------------------------------------------------ domain.yml responses


def _variation_key(variation: Mapping[str, Any]) -> str:
    """How a conversation file names one variation of a response with several: the value of its
    first condition (utter_crisis: the situation), else its channel, else 'default'."""
    conditions = variation.get("condition") or []
    if conditions and isinstance(conditions[0], Mapping):
        return str(conditions[0].get("value"))
    return str(variation.get("channel") or "default")


def _translate_variation(variation: Dict[str, Any], entry: Any) -> None:
    if isinstance(entry, str):
        variation["text"] = entry
        return
    if not isinstance(entry, Mapping):
        return
    if isinstance(entry.get("text"), str):
        variation["text"] = entry["text"]
    titles = entry.get("buttons")
    if isinstance(titles, list) and variation.get("buttons"):
        for button, title in zip(variation["buttons"], titles):
            if isinstance(title, str) and title.strip():
                button["title"] = title


def localized_responses(responses: Mapping[str, List[Dict[str, Any]]], language: str) -> Dict[str, List[Dict[str, Any]]]:
    """domain.yml's responses with the texts and button titles of ``language``; conditions,
    channels, payloads and custom data stay as they are. Untranslated texts stay Dutch."""
    result = copy.deepcopy(dict(responses))
    translated = section(language, "responses")
    for name, variations in result.items():
        entry = translated.get(name)
        if entry is None:
            continue
        keyed = isinstance(entry, Mapping) and "text" not in entry
        for variation in variations:
            _translate_variation(variation, entry.get(_variation_key(variation)) if keyed else entry)
    return result


def at_path(node: Any, path: str) -> Any:
    """The value at a dotted path ('buttons.ask_human.title') in nested maps, or None."""
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def text(language: str, path: str) -> Optional[str]:
    """A text by dotted path in a language's conversation file ('dialogue.disclosure'), or None."""
    node = at_path(conversation(language), path)
    return node if isinstance(node, str) and node.strip() else None

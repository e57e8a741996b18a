"""Severity and support level of a parent's (non-crisis) concern.

The NJi table's verdict (``bot.domain.knowledge.baseline``) raised by signals of duration, frequency,
intensity, harm to daily life and the parent's alarm; rules and keywords in knowledge/triage.yml.
Crisis is decided by the crisis detector, not here. Never logs message text.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import yaml

from bot.domain import knowledge
from bot.vocabulary import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

TRIAGE_PATH = KNOWLEDGE_DIR / "triage.yml"
MAX_HISTORY = 30  # earlier messages looked at (the newest ones)


@dataclass(frozen=True)
class Assessment:
    severity: str  # normaal | aandacht (crisis is decided by the crisis detector, not here)
    support_level: str  # A | B | C for normaal, D for aandacht
    reasons: Tuple[str, ...]  # ids such as "table:serious", "duration", "daily_life"; never text


@lru_cache(maxsize=1)
def _config() -> Dict[str, Any]:
    with TRIAGE_PATH.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return {
        "signals": {name: knowledge.compile_keywords(p) for name, p in raw["signals"].items()},
        "combine": [frozenset(s) for s in raw["combine"]],
        "topic_combine": {t: [frozenset(s) for s in sets] for t, sets in raw["topic_combine"].items()},
        "support": [(level, knowledge.compile_keywords(p)) for level, p in raw["support"].items()],
    }


def signals(text: str) -> Tuple[str, ...]:
    """The signal ids found in normalised text, in the order of triage.yml."""
    return tuple(name for name, pattern in _config()["signals"].items() if pattern.search(text))


def _raises(topic: str, found: FrozenSet[str]) -> bool:
    sets = _config()["combine"] + _config()["topic_combine"].get(topic, [])
    return any(required <= found for required in sets)


def support_level(texts: Sequence[str]) -> str:
    """C (course/group), A (other parents, informal help) or B, for normalised texts newest first."""
    for text in texts:
        for level, pattern in _config()["support"]:
            if pattern.search(text):
                return level
    return "B"


def _clean_history(history: Any) -> List[str]:
    """The newest earlier messages, normalised, oldest first, within a budget of characters."""
    if isinstance(history, str):
        history = (history,)
    try:
        items = [item for item in list(history)[-MAX_HISTORY:] if isinstance(item, str)]
    except TypeError:
        return []
    kept: List[str] = []
    budget = knowledge.MAX_CHARS
    for item in reversed(items):
        text = knowledge.normalize(item)[:budget]
        budget -= len(text)
        kept.append(text)
        if budget <= 0:
            break
    return kept[::-1]


def assess(
    topic: str,
    phase: Optional[str],
    text: str,
    history: Sequence[str] = (),
    months: Optional[int] = None,
) -> Assessment:
    """Severity (normaal/aandacht), support level and reason ids for a concern.

    ``history``: the parent's earlier messages in this conversation, oldest first. Without a
    phase (age unknown yet) the verdict is provisional and reasons include "provisional".
    """
    topic = topic if isinstance(topic, str) else ""
    texts = _clean_history(history) + [knowledge.normalize(text)]
    combined = " | ".join(texts)
    base = knowledge.baseline(topic, phase, months, combined)
    found = signals(combined)
    reasons: List[str] = []
    if base.severity == "aandacht":
        reasons.append(base.reason)
        severity = "aandacht"
    else:
        severity = "aandacht" if _raises(topic, frozenset(found)) else "normaal"
    reasons.extend(found)
    if base.reason.startswith("provisional"):
        reasons.append("provisional")
    level = "D" if severity == "aandacht" else support_level(texts[::-1])
    logger.debug("triage topic=%s phase=%s severity=%s reasons=%s", topic, phase, severity, reasons)
    return Assessment(severity, level, tuple(dict.fromkeys(reasons)))

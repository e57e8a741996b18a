"""The assistant's fixed vocabulary (CONTRACT.md 1 to 4b), loaded once from knowledge/vocabulary.yml.

The one definition of the topic ids, the phases with their month bands and labels, the
severities, the crisis signals, the crisis situations with their signal, the support levels and
the time zone. Every module that needs one of these imports it from here; the YAML and data files
that cannot import (domain.yml, data/nlu/, the replies, the NJi table, the catalogue schema) are
checked against it by tests/unit/test_vocabulary.py.

The situations and their signals are defined in knowledge/crisis_situations.yml, beside their
curated replies; this module reads their names and signals from there (bot.domain.situations reads the
rest).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

import yaml

KNOWLEDGE_DIR = Path(__file__).parent / "knowledge"
VOCABULARY_FILE = KNOWLEDGE_DIR / "vocabulary.yml"
SITUATIONS_FILE = KNOWLEDGE_DIR / "crisis_situations.yml"


@dataclass(frozen=True)
class Phase:
    """One NJi development phase; months inclusive."""

    id: str
    min_months: int
    max_months: int
    label: str  # plain Dutch, e.g. "2 tot 5 jaar" (catalogue, parents)
    nji_label: str  # the NJi table's band, e.g. "± 2-4 jaar"

    def contains(self, months: int) -> bool:
        return self.min_months <= months <= self.max_months


def _read(path: Path) -> Mapping[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _phases(raw: Any) -> Tuple[Phase, ...]:
    phases = tuple(
        Phase(str(p["id"]), int(p["min_months"]), int(p["max_months"]), str(p["label"]),
              str(p["nji_label"]))
        for p in raw
    )
    expected_start = 0
    for phase in phases:
        if phase.min_months != expected_start or phase.max_months < phase.min_months:
            raise ValueError(f"vocabulary.yml: phase {phase.id!r} does not follow on at {expected_start}")
        expected_start = phase.max_months + 1
    return phases


def _situations(signals: Tuple[str, ...]) -> Dict[str, str]:
    """situation -> signal, in the order of CONTRACT.md 4b (from crisis_situations.yml)."""
    found = {}
    for name, item in _read(SITUATIONS_FILE)["situations"].items():
        if item.get("signal") not in signals:
            raise ValueError(f"crisis_situations.yml: {name} has unknown signal {item.get('signal')!r}")
        found[str(name)] = str(item["signal"])
    return found


_RAW = _read(VOCABULARY_FILE)

TIME_ZONE_NAME: str = str(_RAW["time_zone"])
TZ = ZoneInfo(TIME_ZONE_NAME)

TOPICS: Tuple[str, ...] = tuple(str(t["id"]) for t in _RAW["topics"])
TOPIC_LABELS: Mapping[str, str] = {str(t["id"]): str(t["label"]) for t in _RAW["topics"]}
# topics about the parent or the family, not one child: no need to ask the child's age first
AGE_FREE_TOPICS: frozenset = frozenset(str(t["id"]) for t in _RAW["topics"] if t.get("age_free"))

PHASE_TABLE: Tuple[Phase, ...] = _phases(_RAW["phases"])
PHASES: Tuple[str, ...] = tuple(p.id for p in PHASE_TABLE)
PHASE_BANDS: Mapping[str, Tuple[int, int]] = {p.id: (p.min_months, p.max_months) for p in PHASE_TABLE}
PHASE_LABELS: Mapping[str, str] = {p.id: p.label for p in PHASE_TABLE}
NJI_PHASE_LABELS: Mapping[str, str] = {p.id: p.nji_label for p in PHASE_TABLE}
MAX_PHASE_MONTHS: int = PHASE_TABLE[-1].max_months  # the last month that has a phase (227)

SEVERITIES: Tuple[str, ...] = tuple(str(s) for s in _RAW["severities"])
NORMAAL, AANDACHT, CRISIS = SEVERITIES  # from least to most severe
SEVERITY_RANK: Mapping[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

SIGNALS: Tuple[str, ...] = tuple(str(s) for s in _RAW["signals"])

SUPPORT_LEVELS: Tuple[str, ...] = tuple(str(level["id"]) for level in _RAW["support_levels"])
SUPPORT_LEVEL_LABELS: Mapping[str, str] = {
    str(level["id"]): str(level["label"]) for level in _RAW["support_levels"]
}

SITUATIONS: Mapping[str, str] = _situations(SIGNALS)

# The contract's fixed value sets per slot (CONTRACT.md 5).
SLOT_VALUES: Mapping[str, Tuple[str, ...]] = {
    "topic": TOPICS,
    "phase": PHASES,
    "severity": SEVERITIES,
    "support_level": SUPPORT_LEVELS,
    "signal": SIGNALS,
    "situation": tuple(SITUATIONS),
}


def phase_for_months(months: Any) -> Optional[str]:
    """The phase id for an age in months; None for None, non-numbers, negative ages and from
    228 months on."""
    if months is None or isinstance(months, bool):
        return None
    try:
        value = int(months)
    except (TypeError, ValueError):
        return None
    for phase in PHASE_TABLE:
        if phase.contains(value):
            return phase.id
    return None


__all__ = [
    "AANDACHT", "AGE_FREE_TOPICS", "CRISIS", "MAX_PHASE_MONTHS", "NJI_PHASE_LABELS", "NORMAAL", "PHASES", "PHASE_BANDS",
    "PHASE_LABELS", "PHASE_TABLE", "Phase", "SEVERITIES", "SEVERITY_RANK", "SIGNALS", "SITUATIONS",
    "SLOT_VALUES", "SUPPORT_LEVELS", "SUPPORT_LEVEL_LABELS", "TIME_ZONE_NAME", "TOPICS",
    "TOPIC_LABELS", "TZ", "phase_for_months",
]

"""The NJi table of 'normal' and 'serious' problems per phase (knowledge/nji_table.yml).

``baseline(topic, phase, months, text)`` gives the table's verdict for a concern before the
intensity signals of ``bot.domain.triage``. How a verdict is found is described at the top of the YAML.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from bot import vocabulary
from bot.vocabulary import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

TABLE_PATH = KNOWLEDGE_DIR / "nji_table.yml"
SEVERITY_RANK = vocabulary.SEVERITY_RANK
MAX_CHARS = 5_000  # longer input is cut (WhatsApp allows 4096 characters); keeps regexes fast
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "`": "'", "\u00b4": "'"})


@dataclass(frozen=True)
class Baseline:
    severity: str  # normaal | aandacht
    problem: Optional[str]  # the seed's wording of the problem, None for a plain default
    reason: str  # id: "table:normal", "table:serious", "default:<rule id>", "provisional:<...>", "no_rule"


@dataclass(frozen=True)
class Rule:
    reason: str
    severity: str
    problem: Optional[str]
    pattern: Optional["re.Pattern[str]"]
    generic: bool
    from_months: Optional[int]
    until_months: Optional[int]

    def fits(self, months: int) -> bool:
        return (self.from_months is None or months >= self.from_months) and (
            self.until_months is None or months <= self.until_months
        )

    def matches(self, text: str) -> bool:
        return self.pattern is not None and self.pattern.search(text) is not None


def normalize(text: Any) -> str:
    """Lowercase, accents and curly quotes removed, whitespace collapsed; '' for non-text."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS].translate(_QUOTES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def compile_keywords(patterns: Optional[Sequence[str]]) -> Optional["re.Pattern[str]"]:
    """One regex for a keyword list; each pattern must start at a word boundary."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?<!\\w)(?:{p})" for p in patterns))


@lru_cache(maxsize=1)
def load_table() -> Dict[str, Any]:
    with TABLE_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def phases() -> Dict[str, Tuple[int, int]]:
    """Phase id -> (first month, last month) (the table's bands agree: tests/unit/test_vocabulary.py)."""
    return dict(vocabulary.PHASE_BANDS)


def topics() -> Tuple[str, ...]:
    return vocabulary.TOPICS


@lru_cache(maxsize=1)
def rules() -> Dict[Tuple[str, str], Tuple[Rule, ...]]:
    """(phase, topic) -> its rules: the table's problems first, then the defaults."""
    table = load_table()
    found: Dict[Tuple[str, str], List[Rule]] = {}
    for phase, content in table["phases"].items():
        for kind, severity in (("normal", "normaal"), ("serious", "aandacht")):
            for entry in content.get(kind) or []:
                pattern = compile_keywords(entry.get("keywords"))
                for topic in entry["topics"]:
                    generic = pattern is None or topic in (entry.get("generic_for") or [])
                    found.setdefault((phase, topic), []).append(Rule(
                        f"table:{kind}", severity, entry["problem"], pattern, generic,
                        entry.get("from_months"), entry.get("until_months")))
    for topic, topic_rules in table["defaults"].items():
        for entry in topic_rules:
            pattern = compile_keywords(entry.get("keywords"))
            for phase in entry["phases"]:
                found.setdefault((phase, topic), []).append(Rule(
                    f"default:{entry['id']}", entry["severity"], entry.get("problem"), pattern,
                    pattern is None, entry.get("from_months"), entry.get("until_months")))
    return {key: tuple(value) for key, value in found.items()}


def _valid_months(months: Any) -> Optional[int]:
    if isinstance(months, bool) or not isinstance(months, (int, float)) or months != months:
        return None
    return int(months) if 0 <= months < 100 * 12 else None


def _phase_of(months: int) -> Optional[str]:
    for name, (first, last) in phases().items():
        if first <= months <= last:
            return name
    return None


def _matched(topic: str, phase: str, months: Optional[int], text: str) -> Tuple[List[Rule], List[Rule]]:
    """(rules whose keywords match, generic rules) for this phase and age."""
    at = months if months is not None else phases()[phase][0]
    candidates = [r for r in rules().get((phase, topic), ()) if r.fits(at)]
    return [r for r in candidates if r.matches(text)], [r for r in candidates if r.generic]


def _verdict(rule: Rule) -> Baseline:
    return Baseline(rule.severity, rule.problem, rule.reason)


def _most_severe(found: Sequence[Rule]) -> Rule:
    return max(found, key=lambda r: SEVERITY_RANK[r.severity])  # max keeps the first of equals


def baseline(topic: str, phase: Optional[str], months: Optional[int] = None, text: str = "") -> Baseline:
    """The table's verdict for a concern about ``topic`` (before intensity signals).

    Without a (valid) phase the age decides it; from 19 years on the 12-19 rules are used.
    Without any age: 'aandacht' only if the text matches sub-problems that are serious at every
    age where they are listed, else 'normaal' (reason 'provisional:...').
    """
    norm = normalize(text)
    months = _valid_months(months)
    if not isinstance(topic, str) or topic not in topics():
        return Baseline("normaal", None, "no_rule")
    if not isinstance(phase, str) or phase not in phases():
        phase = None
        if months is not None:
            phase = _phase_of(months) or vocabulary.PHASES[-1]
    if phase is not None:
        matched, generic = _matched(topic, phase, months, norm)
        if matched:
            return _verdict(_most_severe(matched))
        return _verdict(generic[0]) if generic else Baseline("normaal", None, "no_rule")
    matched = [r for name in phases() for r in _matched(topic, name, None, norm)[0]]
    if matched and all(r.severity == "aandacht" for r in matched):
        return Baseline("aandacht", matched[0].problem, f"provisional:{matched[0].reason}")
    return Baseline("normaal", None, "provisional")

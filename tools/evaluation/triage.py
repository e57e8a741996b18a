"""Triage quality for ``make eval``: severity, phase, topic and crisis on tests/data/triage_eval.yml.

Each message goes the real message path: the trained NLU model parses it (topic intent, age
entities, crisis intents from the crisis detector); a crisis intent is the crisis answer (severity
crisis, its signal); any other intent goes to ``bot.domain.dialogue.respond`` for a new conversation,
whose slots give topic, phase and severity. The scoring functions are pure (tested without Rasa).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from bot.settings import PROJECT_ROOT
from bot.vocabulary import SEVERITIES

TRIAGE_SET = PROJECT_ROOT / "tests" / "data" / "triage_eval.yml"
NONE = "-"  # no severity set (the message was not understood as a concern)
CRISIS_PREFIX = "crisis_"


@dataclass(frozen=True)
class Item:
    text: str
    topic: str
    phase: Optional[str]
    severity: str
    signal: Optional[str] = None


@dataclass(frozen=True)
class Prediction:
    intent: str
    topic: Optional[str]
    phase: Optional[str]
    severity: Optional[str]
    signal: Optional[str]


def load(path: Path = TRIAGE_SET) -> List[Item]:
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return [Item(m["text"], m["topic"], m.get("phase"), m["severity"], m.get("signal")) for m in raw["messages"]]


def _phase_from_entities(entities: Sequence[Dict[str, Any]]) -> Optional[str]:
    from bot.domain.phases import phase_for_months

    for entity in entities:
        if entity.get("entity") == "phase" and isinstance(entity.get("value"), str):
            return entity["value"]
    for entity in entities:
        if entity.get("entity") == "age_months" and isinstance(entity.get("value"), (int, float)):
            return phase_for_months(int(entity["value"]))
    return None


def predict(text: str, parsed: Dict[str, Any]) -> Prediction:
    """What the assistant sets for ``text`` as the first message of a conversation."""
    from bot.domain import dialogue

    intent = (parsed.get("intent") or {}).get("name") or ""
    entities = tuple(parsed.get("entities") or ())
    if intent.startswith(CRISIS_PREFIX):  # the static crisis rules answer; slots from the intent
        from bot.domain.situations import SITUATIONS

        signal = SITUATIONS.get(intent[len(CRISIS_PREFIX):])
        return Prediction(intent, None, _phase_from_entities(entities), "crisis", signal)
    if intent in dialogue.SAFETY_INTENTS:  # the safety question: the concern's slots are set meanwhile
        intent = dialogue.answerable_intent(parsed.get("intent_ranking") or []) or ""
    outcome = dialogue.respond(dialogue.Conversation(slots={}), dialogue.Message(text, intent, entities))
    slots = outcome.slots
    phase = slots.get("phase") if "phase" in slots else _phase_from_entities(entities)
    return Prediction(intent, slots.get("topic"), phase, slots.get("severity"), None)


def run(items: Sequence[Item], parse: Callable[[str], Dict[str, Any]]) -> List[Prediction]:
    return [predict(item.text, parse(item.text)) for item in items]


@dataclass(frozen=True)
class TriageScores:
    n: int
    severity_accuracy: float
    severity_recall: Dict[str, float]  # per gold severity
    confusion: Dict[Tuple[str, str], int]  # (gold, predicted or NONE) -> count
    phase_accuracy: float
    phase_accuracy_stated: float  # on items that state an age (gold phase not null)
    stated: int
    topic_accuracy: float  # non-crisis items
    crisis_recall: float
    signal_accuracy: float  # crisis items with the right signal
    false_crisis_rate: float  # non-crisis items answered as crisis
    under_triage: int  # gold aandacht predicted normaal (or nothing)
    over_triage: int  # gold normaal predicted aandacht
    mistakes: Tuple[Tuple[int, str, str], ...]  # (index, gold severity, predicted severity)


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def score(items: Sequence[Item], predictions: Sequence[Prediction]) -> TriageScores:
    if len(items) != len(predictions):
        raise ValueError("one prediction per item")
    pairs = list(zip(items, predictions))
    sev = [(i.severity, p.severity or NONE) for i, p in pairs]
    confusion = Counter(sev)
    crisis = [(i, p) for i, p in pairs if i.severity == "crisis"]
    other = [(i, p) for i, p in pairs if i.severity != "crisis"]
    stated = [(i, p) for i, p in pairs if i.phase is not None]
    return TriageScores(
        n=len(pairs),
        severity_accuracy=_share(sum(g == p for g, p in sev), len(sev)),
        severity_recall={s: _share(confusion[(s, s)], sum(1 for g, _ in sev if g == s)) for s in SEVERITIES},
        confusion=dict(confusion),
        phase_accuracy=_share(sum(i.phase == p.phase for i, p in pairs), len(pairs)),
        phase_accuracy_stated=_share(sum(i.phase == p.phase for i, p in stated), len(stated)),
        stated=len(stated),
        topic_accuracy=_share(sum(i.topic == p.topic for i, p in other), len(other)),
        crisis_recall=_share(sum(p.severity == "crisis" for _, p in crisis), len(crisis)),
        signal_accuracy=_share(sum(p.signal == i.signal for i, p in crisis), len(crisis)),
        false_crisis_rate=_share(sum(p.severity == "crisis" for _, p in other), len(other)),
        under_triage=sum(1 for g, p in sev if g == "aandacht" and p in ("normaal", NONE)),
        over_triage=sum(1 for g, p in sev if g == "normaal" and p == "aandacht"),
        mistakes=tuple((k, g, p) for k, (g, p) in enumerate(sev) if g != p),
    )


def markdown(scores: TriageScores, items: Sequence[Item], predictions: Sequence[Prediction],
             plot: Optional[str] = None) -> str:
    """The triage section of the evaluation report."""
    lines = ["", "## Triage on tests/data/triage_eval.yml (through the trained NLU model and bot.domain.dialogue.respond)", "",
             f"{scores.n} parent messages, each the first message of a conversation, labelled with topic, phase, "
             "severity and (for crisis) signal from CONTRACT.md and the NJi table.", "",
             "| measure | value |", "|---|---|",
             f"| severity accuracy | {scores.severity_accuracy:.3f} |"]
    for s in SEVERITIES:
        lines.append(f"| recall of {s} | {scores.severity_recall[s]:.3f} ({sum(1 for i in items if i.severity == s)} items) |")
    lines += [f"| under-triage (aandacht answered as normaal or not understood) | {scores.under_triage} |",
              f"| over-triage (normaal answered as aandacht) | {scores.over_triage} |",
              f"| phase accuracy (all; no age = no phase) | {scores.phase_accuracy:.3f} |",
              f"| phase accuracy (messages stating an age) | {scores.phase_accuracy_stated:.3f} ({scores.stated} items) |",
              f"| topic accuracy (non-crisis) | {scores.topic_accuracy:.3f} |",
              f"| crisis recall | {scores.crisis_recall:.3f} |",
              f"| right crisis signal | {scores.signal_accuracy:.3f} |",
              f"| false-crisis rate (non-crisis answered as crisis) | {scores.false_crisis_rate:.3f} |",
              "", "Severity confusion (rows: expected, columns: assistant; '-' = no severity set):", "",
              "| expected \\ assistant | " + " | ".join(SEVERITIES + (NONE,)) + " |",
              "|---|" + "---|" * (len(SEVERITIES) + 1)]
    for g in SEVERITIES:
        lines.append(f"| {g} | " + " | ".join(str(scores.confusion.get((g, p), 0)) for p in SEVERITIES + (NONE,)) + " |")
    if plot:
        lines += ["", f"![triage confusion]({plot})"]
    if scores.mistakes:
        lines += ["", "Severity mistakes (expected -> assistant; intent):", ""]
        for k, g, p in scores.mistakes:
            lines.append(f"- {g} -> {p}: \"{items[k].text}\" ({predictions[k].intent or 'no intent'})")
    return "\n".join(lines) + "\n"

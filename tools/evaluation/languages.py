"""Understanding per language (issue 17): crisis recall, false crises and topics on the held-out
sets of ``tests/data/languages/`` (written apart from the training data, never trained on).

Every message goes the real NLU path of the trained model, alone. A crisis counts as caught with
the crisis reply or the safety question (CONTRACT.md 4b); a false crisis is a crisis reply to a
message labelled with a topic. The topic is the one the slots would get (the concern behind a
safety question counts). The language is the one the assistant would answer a first message in
(the entity ``language`` of bot/rasa/nlu/language_setter.py, else Dutch); a set's language is its
file name up to the first "_" (``nl_short`` is Dutch). The scoring is pure (tests/unit/test_language_eval.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

from bot.settings import PROJECT_ROOT
from tools.evaluation import metrics
from tools.evaluation.crisis_blind import CRISIS, NONE, Outcome

LANGUAGE_DIR = PROJECT_ROOT / "tests" / "data" / "languages"
CRISIS_PREFIX, TOPIC_PREFIX = "crisis_", "topic_"
DEFAULT_LANGUAGE = "nl"
SHORT_WORDS = (3, 6)  # the issue measures the detector on 3-to-6-word messages too


@dataclass(frozen=True)
class Item:
    text: str
    intent: str  # topic_<topic> or crisis_<situation>


@dataclass(frozen=True)
class Result:
    outcome: Outcome  # crisis reply, safety question or neither
    topic: str  # the intent the slots would get
    language: str = DEFAULT_LANGUAGE  # the language the assistant answers in


def answered_language(parsed: Dict[str, Any]) -> str:
    """The language the assistant answers a first message in: the entity `language`, else Dutch."""
    for entity in parsed.get("entities") or []:
        if entity.get("entity") == "language" and isinstance(entity.get("value"), str):
            return entity["value"]
    return DEFAULT_LANGUAGE


def set_language(name: str) -> str:
    return name.split("_", 1)[0]


def _is_short(text: str) -> bool:
    return SHORT_WORDS[0] <= len(text.split()) <= SHORT_WORDS[1]


def load(directory: Path = LANGUAGE_DIR) -> Dict[str, List[Item]]:
    """language -> its labelled messages, for every set with intents."""
    sets: Dict[str, List[Item]] = {}
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        items = [Item(m["text"], m["intent"]) for m in data.get("messages") or [] if m.get("intent")]
        if items:
            sets[path.stem] = items
    return sets


def score(items: Sequence[Item], results: Sequence[Result], language: str = DEFAULT_LANGUAGE) -> Dict[str, Any]:
    crises = [(i, r) for i, r in zip(items, results) if i.intent.startswith(CRISIS_PREFIX)]
    short = [(i, r) for i, r in zip(items, results) if _is_short(i.text)]
    topics = [(i, r) for i, r in zip(items, results) if i.intent.startswith(TOPIC_PREFIX)]
    gold = [i.intent for i, _ in topics]
    predicted = [r.topic for _, r in topics]
    labels = sorted(set(gold))
    return {
        "n_crisis": len(crises), "n_topic": len(topics),
        "crisis_caught": sum(r.outcome.kind != NONE for _, r in crises),
        "false_crisis": sum(r.outcome.kind == CRISIS for _, r in topics),
        "topic_accuracy": sum(g == p for g, p in zip(gold, predicted)) / (len(gold) or 1),
        "topic_macro_f1": metrics.macro_f1(metrics.per_label(gold, predicted, labels)) if labels else 0.0,
        "n": len(items), "right_language": sum(r.language == language for r in results),
        "n_short": len(short), "short_right_language": sum(r.language == language for _, r in short),
    }


def run(items: Sequence[Item], parse: Callable[[str], Dict[str, Any]],
        outcome_of: Callable[[Dict[str, Any]], Outcome], topic_of: Callable[[Dict[str, Any]], str],
        language_of: Optional[Callable[[Dict[str, Any]], str]] = None) -> List[Result]:
    language_of = language_of or answered_language
    results = []
    for item in items:
        parsed = parse(item.text)
        results.append(Result(outcome_of(parsed), topic_of(parsed), language_of(parsed)))
    return results


def _share(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.3f})" if total else "-"


def markdown(scores: Dict[str, Dict[str, Any]]) -> str:
    lines = ["", "## Understanding per language on tests/data/languages/ (issue 17)", "",
             "Held-out messages per language, written apart from the training data and never trained on, "
             "each parsed alone as a first message. Crises count as caught with the crisis reply or the "
             "safety question. 'Answered in its language': the assistant would answer in the set's language "
             "(for the Dutch sets: never in another one); also on the messages of 3 to 6 words.", "",
             "| language | crisis caught | false crisis on topic messages | topic accuracy | topic macro-F1 "
             "| answered in its language | of 3-6 words |",
             "|---|---|---|---|---|---|---|"]
    for language, s in scores.items():
        lines.append(f"| {language} | {s['crisis_caught']}/{s['n_crisis']} | {s['false_crisis']}/{s['n_topic']} | "
                     f"{s['topic_accuracy']:.3f} | {s['topic_macro_f1']:.3f} | "
                     f"{_share(s['right_language'], s['n'])} | {_share(s['short_right_language'], s['n_short'])} |")
    return "\n".join(lines) + "\n"

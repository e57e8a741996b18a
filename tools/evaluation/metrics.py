"""Metrics over predictions, independent of Rasa (tested on their own)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

TOPIC_PREFIX = "topic_"


@dataclass(frozen=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


def per_label(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> List[LabelScore]:
    """Precision, recall and F1 for each label (one-vs-rest over all messages)."""
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(LabelScore(label, precision, recall, f1, tp + fn))
    return scores


def macro_f1(scores: Sequence[LabelScore]) -> float:
    scored = [s for s in scores if s.support]
    return sum(s.f1 for s in scored) / len(scored) if scored else 0.0


def confused_pairs(gold: Sequence[str], predicted: Sequence[str], most: int = 10) -> List[Tuple[str, str, int]]:
    """The most frequent (gold, predicted) mistakes."""
    counts = Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    return [(g, p, n) for (g, p), n in counts.most_common(most)]


def age_accuracy(expected: Sequence[Optional[Sequence[int]]], found: Sequence[Optional[float]]) -> Dict[str, float]:
    """Share of age-stating messages whose age lies in the accepted range; false ages elsewhere."""
    stating = [(rng, age) for rng, age in zip(expected, found) if rng is not None]
    silent = [age for rng, age in zip(expected, found) if rng is None]
    right = sum(1 for (lo, hi), age in stating if age is not None and lo <= age <= hi + 0.99)
    return {
        "accuracy": right / len(stating) if stating else 0.0,
        "stating": len(stating),
        "false_age_rate": sum(1 for a in silent if a is not None) / len(silent) if silent else 0.0,
        "silent": len(silent),
    }


def recall_of(gold: Sequence[str], predicted: Sequence[str], label: str) -> float:
    relevant = [p for g, p in zip(gold, predicted) if g == label]
    return sum(1 for p in relevant if p == label) / len(relevant) if relevant else 0.0

"""PNG plots of the evaluation report (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

from tools.evaluation.metrics import LabelScore
from tools.evaluation.triage import NONE, SEVERITIES, TriageScores


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def triage_confusion(scores: TriageScores, path: Path) -> Path:
    plt = _pyplot()
    columns = SEVERITIES + (NONE,)
    grid = [[scores.confusion.get((g, p), 0) for p in columns] for g in SEVERITIES]
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    ax.imshow(grid, cmap="Blues")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            ax.text(c, r, str(value), ha="center", va="center", color="black" if value < max(map(max, grid)) / 2 else "white")
    ax.set_xticks(range(len(columns)), [c if c != NONE else "none" for c in columns])
    ax.set_yticks(range(len(SEVERITIES)), SEVERITIES)
    ax.set(xlabel="assistant", ylabel="expected",
           title=f"Severity (accuracy {scores.severity_accuracy:.2f}, n={scores.n})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def topic_f1(results: Dict[str, Sequence[LabelScore]], path: Path) -> Path:
    """Per-topic F1 of each pipeline on the held-out set."""
    plt = _pyplot()
    names = list(results)
    labels = [s.label.removeprefix("topic_") for s in results[names[0]]]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(11, 3.8))
    for k, name in enumerate(names):
        f1 = {s.label.removeprefix("topic_"): s.f1 for s in results[name]}
        ax.bar([i + k * width for i in range(len(labels))], [f1.get(l, 0.0) for l in labels], width, label=name)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(labels))], labels, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="F1", ylim=(0, 1), title="Topic F1 on the held-out set")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

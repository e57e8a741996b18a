"""Choose the crisis detector's thresholds on the development sets: ``make thresholds``.

Each message of the development sets (tests/data/crisis_dev.yml, tests/data/redteam.yml and the
earlier blind sets in tests/data/crisis_review/; never the blind set) goes once through the trained
model. The crisis detector's evidence for it (the classifier's ranking, the lemmas, the earlier
messages) is kept, and ``bot.domain.safety.assess`` is run again on that evidence for every pair of
thresholds on the grid. So the table shows what each pair would do without retraining; the chosen
pair goes into config.yml, and ``make eval`` then measures it on the blind set.
"""
from __future__ import annotations

import argparse
import pickle
from collections import Counter
from contextlib import contextmanager
from itertools import product
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

from bot.domain import safety
from bot.settings import PROJECT_ROOT
from tools.evaluation import agent as evaluation_agent, crisis_blind
from tools.evaluation.crisis_blind import ASK, CRISIS, NONE, Case, Outcome

DEV_FILES = (PROJECT_ROOT / "tests" / "data" / "crisis_dev.yml", PROJECT_ROOT / "tests" / "data" / "redteam.yml")
CRISIS_GRID = (0.6, 0.65, 0.7, 0.75, 0.8)
ASK_GRID = (0.3, 0.35, 0.4, 0.45, 0.5)
_SIGNAL_ONLY = "?"  # redteam.yml names the signal, not the situation: only recall and near-misses count


def load_file(path: Path) -> Tuple[List[Case], List[Case]]:
    """(crisis cases, near-misses) of crisis_dev.yml or redteam.yml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    crises = [Case(tuple(item.get("turns") or [item["text"]]), item.get("situation") or _SIGNAL_ONLY)
              for item in data.get("crisis") or []]
    near = [Case(tuple(item.get("turns") or [item["text"]]), None, item.get("theme"))
            for item in data.get("near_miss") or []]
    return crises, near


def development_sets() -> Tuple[List[Case], List[Case]]:
    crises, near = crisis_blind.load(crisis_blind.REVIEW_DIR)
    for path in DEV_FILES:
        more_crises, more_near = load_file(path)
        crises += more_crises
        near += more_near
    return crises, near


TurnEvidence = List[safety.Evidence]  # one per turn of a case


def collect(cases: Sequence[Case], model: Path) -> List[TurnEvidence]:
    """The detector's evidence for every turn of every case, through the trained model."""
    agent, loop = evaluation_agent.load(model)
    parse = crisis_blind.parser_with_conversation(agent, loop)
    seen: List[safety.Evidence] = []
    original = safety.assess

    def recording(evidence: safety.Evidence, *args, **kwargs) -> safety.Verdict:
        seen.append(evidence)
        return original(evidence, *args, **kwargs)

    safety.assess = recording
    try:
        out: List[TurnEvidence] = []
        for case in cases:
            turns: TurnEvidence = []
            earlier: list = []
            for text in case.turns:
                seen.clear()
                parsed = parse(text, earlier)
                turns.extend(seen[-1:])
                earlier.append((text, parsed))
            out.append(turns)
        return out
    finally:
        safety.assess = original


def first_verdict(turns: TurnEvidence, crisis_threshold: float, ask_threshold: float) -> Tuple[safety.Verdict, int]:
    """The first crisis or question of a case and its turn, else (no verdict, -1)."""
    for i, evidence in enumerate(turns):
        verdict = safety.assess(evidence, crisis_threshold, ask_threshold)
        if verdict.kind in (safety.CRISIS, safety.ASK):
            return verdict, i
    return safety.Verdict(safety.NONE), -1


def outcome(turns: TurnEvidence, crisis_threshold: float, ask_threshold: float) -> Outcome:
    verdict, turn = first_verdict(turns, crisis_threshold, ask_threshold)
    if verdict.kind == safety.NONE:
        return Outcome(NONE)
    return Outcome(CRISIS if verdict.kind == safety.CRISIS else ASK, verdict.situation, turn)


def near_miss_sources(near_evidence: Sequence[TurnEvidence], crisis_threshold: float,
                      ask_threshold: float) -> Counter:
    """Which rule of bot.domain.safety escalated the near-misses: (crisis or ask, source) -> count."""
    verdicts = (first_verdict(e, crisis_threshold, ask_threshold)[0] for e in near_evidence)
    return Counter((v.kind, v.source) for v in verdicts if v.kind != safety.NONE)


@contextmanager
def patterns_matched_once() -> Iterator[None]:
    """The crisis patterns do not depend on the thresholds: match each text once per sweep."""
    original = safety.detect_crisis
    seen: Dict[Tuple[str, Optional[Tuple[str, ...]]], Any] = {}

    def remembered(text: str, lemmas: Optional[Sequence[str]] = None) -> Any:
        key = (text, tuple(lemmas) if lemmas else None)
        if key not in seen:
            seen[key] = original(text, lemmas)
        return seen[key]

    safety.detect_crisis = remembered
    try:
        yield
    finally:
        safety.detect_crisis = original


def sweep(crises: Sequence[Case], crisis_evidence: Sequence[TurnEvidence], near: Sequence[Case],
          near_evidence: Sequence[TurnEvidence]) -> Iterator[Dict[str, float]]:
    with patterns_matched_once():
        yield from _sweep(crises, crisis_evidence, near, near_evidence)


def _sweep(crises: Sequence[Case], crisis_evidence: Sequence[TurnEvidence], near: Sequence[Case],
           near_evidence: Sequence[TurnEvidence]) -> Iterator[Dict[str, float]]:
    named = [i for i, case in enumerate(crises) if case.situation != _SIGNAL_ONLY]
    for crisis_t, ask_t in product(CRISIS_GRID, ASK_GRID):
        if ask_t >= crisis_t:
            continue
        outcomes = [outcome(e, crisis_t, ask_t) for e in crisis_evidence]
        near_outcomes = [outcome(e, crisis_t, ask_t) for e in near_evidence]
        caught = [o.kind != NONE for o in outcomes]
        right = [outcomes[i].situation == crises[i].situation for i in named if caught[i]]
        yield {
            "crisis_threshold": crisis_t, "ask_threshold": ask_t,
            "recall": sum(caught) / len(crises),
            "asked": sum(o.kind == ASK for o in outcomes) / len(crises),
            "situation": sum(right) / max(1, len(right)),
            "near_crisis": sum(o.kind == CRISIS for o in near_outcomes) / len(near),
            "near_ask": sum(o.kind == ASK for o in near_outcomes) / len(near),
        }


def table(rows: Sequence[Dict[str, float]], n_crises: int, n_near: int) -> str:
    lines = [f"Development sets: {n_crises} crisis cases, {n_near} near-misses "
             "(crisis_dev.yml, redteam.yml, crisis_review/).", "",
             "| crisis | ask | recall | by question | right situation | near-miss crisis | near-miss question |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['crisis_threshold']:.2f} | {r['ask_threshold']:.2f} | {r['recall']:.3f} | "
                     f"{r['asked']:.3f} | {r['situation']:.3f} | {r['near_crisis']:.3f} | {r['near_ask']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "opvoedmaatje.tar.gz")
    parser.add_argument("--evidence", type=Path, help="keep the evidence in this file (pickle) and reuse it "
                        "while it is newer than the model: sweep again without parsing again")
    args = parser.parse_args(argv)
    crises, near = development_sets()
    if args.evidence and args.evidence.is_file() and args.evidence.stat().st_mtime > args.model.stat().st_mtime:
        evidence = pickle.loads(args.evidence.read_bytes())
    else:
        evidence = collect(list(crises) + list(near), args.model)
        if args.evidence:
            args.evidence.write_bytes(pickle.dumps(evidence))
    crisis_evidence, near_evidence = evidence[:len(crises)], evidence[len(crises):]
    rows = list(sweep(crises, crisis_evidence, near, near_evidence))
    print(table(rows, len(crises), len(near)), end="")
    sources = near_miss_sources(near_evidence, safety.CRISIS_THRESHOLD, safety.ASK_THRESHOLD)
    print(f"\nNear-misses escalated at the default pair ({safety.CRISIS_THRESHOLD}, {safety.ASK_THRESHOLD}), "
          "by the rule of bot.domain.safety: " + ", ".join(f"{kind} by {source} {n}" for (kind, source), n in sorted(sources.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

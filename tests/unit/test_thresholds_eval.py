"""The threshold sweep (tools/evaluation/thresholds.py) on evidence written here, without a model."""
from pathlib import Path

from bot.domain.safety import Evidence
from tools.evaluation import thresholds
from tools.evaluation.crisis_blind import ASK, CRISIS, NONE, Case


def classifier_only(mass: float, situation: str = "vermist") -> Evidence:
    """A message without crisis words whose classifier gives ``mass`` to one crisis intent."""
    return Evidence(text="het gaat niet goed met ons", ranking=[(f"crisis_{situation}", mass), ("topic_slapen", 1 - mass)])


def test_one_evidence_gives_each_threshold_pair_its_own_outcome() -> None:
    turns = [classifier_only(0.42)]
    assert thresholds.outcome(turns, 0.7, 0.35).kind == ASK
    assert thresholds.outcome(turns, 0.7, 0.45).kind == NONE
    assert thresholds.outcome(turns, 0.4, 0.3).kind == CRISIS


def test_a_later_turn_catches_a_two_message_case() -> None:
    turns = [classifier_only(0.05), classifier_only(0.9, "medisch_acuut")]
    caught = thresholds.outcome(turns, 0.7, 0.35)
    assert (caught.kind, caught.situation, caught.turn) == (CRISIS, "medisch_acuut", 1)


def test_sweep_counts_recall_questions_and_near_misses_per_pair() -> None:
    crises = [Case(("a",), "vermist"), Case(("b",), "vermist")]
    near = [Case(("c",), None, "vermist")]
    rows = {(r["crisis_threshold"], r["ask_threshold"]): r for r in thresholds.sweep(
        crises, [[classifier_only(0.9)], [classifier_only(0.42)]], near, [[classifier_only(0.38)]])}
    assert rows[(0.7, 0.35)]["recall"] == 1.0 and rows[(0.7, 0.35)]["asked"] == 0.5
    assert rows[(0.7, 0.35)]["near_ask"] == 1.0 and rows[(0.7, 0.35)]["near_crisis"] == 0.0
    assert rows[(0.7, 0.45)]["recall"] == 0.5 and rows[(0.7, 0.45)]["near_ask"] == 0.0
    assert all(ask < crisis for crisis, ask in rows)


def test_signal_only_sets_count_for_recall_but_not_for_the_situation(tmp_path: Path) -> None:
    path = tmp_path / "redteam.yml"
    path.write_text('crisis:\n- {text: "x", signal: geweld}\n- {turns: ["y", "z"], situation: vermist}\n'
                    'near_miss:\n- {text: "w"}\n', encoding="utf-8")
    crises, near = thresholds.load_file(path)
    assert [c.turns for c in crises] == [("x",), ("y", "z")] and len(near) == 1
    rows = list(thresholds.sweep(crises, [[classifier_only(0.9, "mishandeling")], [classifier_only(0.9)]],
                                 near, [[classifier_only(0.0)]]))
    assert all(r["recall"] == 1.0 and r["situation"] == 1.0 for r in rows)

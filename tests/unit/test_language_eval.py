"""The per-language scoring of tools/evaluation/languages.py (pure; no model)."""
from __future__ import annotations

from pathlib import Path

from tools.evaluation import languages as L
from tools.evaluation.crisis_blind import ASK, CRISIS, NONE, Outcome


def test_a_safety_question_catches_a_crisis_and_only_a_crisis_reply_is_false() -> None:
    items = [L.Item("a", "crisis_vermist"), L.Item("b", "crisis_vermist"), L.Item("c", "crisis_vermist"),
             L.Item("d", "topic_slapen"), L.Item("e", "topic_slapen"), L.Item("f", "topic_eten")]
    results = [L.Result(Outcome(CRISIS, "vermist"), "crisis_vermist"), L.Result(Outcome(ASK, "vermist"), "safety_check"),
               L.Result(Outcome(NONE), "topic_slapen"),
               L.Result(Outcome(ASK, "vermist"), "topic_slapen"), L.Result(Outcome(CRISIS, "vermist"), "crisis_vermist"),
               L.Result(Outcome(NONE), "topic_eten")]
    s = L.score(items, results)
    assert (s["n_crisis"], s["crisis_caught"], s["n_topic"], s["false_crisis"]) == (3, 2, 3, 1)
    assert abs(s["topic_accuracy"] - 2 / 3) < 1e-9
    # slapen: precision 1, recall 1/2 -> F1 2/3; eten: F1 1
    assert abs(s["topic_macro_f1"] - (2 / 3 + 1) / 2) < 1e-9
    assert "| xx | 2/3 | 1/3 | 0.667 |" in L.markdown({"xx": s})


def test_the_language_the_assistant_would_answer_in_is_counted_also_on_short_messages() -> None:
    items = [L.Item("my son will not sleep", "topic_slapen"), L.Item("baby cries", "topic_huilen"),
             L.Item("he hits", "topic_agressie"), L.Item("my daughter of fourteen is always angry at me lately", "topic_puberteit")]
    results = [L.Result(Outcome(NONE), "topic_slapen", "en"), L.Result(Outcome(NONE), "topic_huilen", "nl"),
               L.Result(Outcome(NONE), "topic_agressie", "en"), L.Result(Outcome(NONE), "topic_puberteit", "nl")]
    s = L.score(items, results, "en")
    assert (s["n"], s["right_language"], s["n_short"], s["short_right_language"]) == (4, 2, 1, 1)
    assert "| 2/4 (0.500) | 1/1 (1.000) |" in L.markdown({"en": s})
    assert L.set_language("nl_short") == "nl"
    assert L.answered_language({"entities": [{"entity": "language", "value": "ar"}]}) == "ar"
    assert L.answered_language({"entities": [{"entity": "age_months", "value": 3}]}) == "nl"


def test_the_sets_load_with_their_labels_and_sets_without_labels_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "en.yml").write_text('messages:\n- {text: "baby wont sleep", intent: topic_slapen}\n', encoding="utf-8")
    (tmp_path / "xx.yml").write_text('messages:\n- {text: "no label"}\n', encoding="utf-8")
    assert L.load(tmp_path) == {"en": [L.Item("baby wont sleep", "topic_slapen")]}


def test_run_parses_every_message_alone() -> None:
    seen = []
    def parse(text: str) -> dict:
        seen.append(text)
        return {"intent": {"name": "topic_slapen"}}
    results = L.run([L.Item("a", "topic_slapen"), L.Item("b", "crisis_vermist")], parse,
                    lambda parsed: Outcome(NONE), lambda parsed: parsed["intent"]["name"])
    assert seen == ["a", "b"] and [r.topic for r in results] == ["topic_slapen", "topic_slapen"]

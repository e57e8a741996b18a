"""The blind-set scoring of tools/evaluation/crisis_blind.py (pure; the set itself is never read here
beyond its shape, and never trained on)."""
from __future__ import annotations

from bot.domain.situations import SITUATIONS
from tools.evaluation import crisis_blind as B


def test_the_blind_set_has_the_size_the_issue_asks() -> None:
    crises, near = B.load()
    per = {s: sum(c.situation == s for c in crises) for s in SITUATIONS}
    assert all(n >= 20 for n in per.values()), per
    assert len(crises) >= 400 and len(near) >= 400
    assert {c.situation for c in crises} == set(SITUATIONS)


def test_outcome_of_a_parse() -> None:
    assert B.outcome_of({"intent": {"name": "crisis_vermist"}}) == B.Outcome(B.CRISIS, "vermist")
    asked = {"intent": {"name": "safety_check"}, "entities": [{"entity": "pending_situation", "value": "vergiftiging"}]}
    assert B.outcome_of(asked) == B.Outcome(B.ASK, "vergiftiging")
    assert B.outcome_of({"intent": {"name": "crisis_geweld"}}).kind == B.NONE  # not a situation
    assert B.outcome_of({"intent": {"name": "topic_slapen"}}).kind == B.NONE


def test_right_number_is_read_from_the_reply_of_the_situation_given(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert B.names_a_right_number("vermist", "vermist")
    assert B.names_a_right_number("suicidaal_kind", "suicidaal_kind")
    assert B.names_a_right_number("suicidaal_kind", "medisch_baby")  # its last line names 113
    assert not B.names_a_right_number("vermist", None)
    monkeypatch.setattr(B.situations, "reply", lambda situation: "Bel nu 112.")
    assert not B.names_a_right_number("suicidaal_kind", "medisch_baby")  # 112 alone is not 113


def test_score_counts_a_safety_question_as_a_catch_and_near_misses_apart() -> None:
    crises = [B.Case(("a",), "vermist"), B.Case(("b",), "vermist"), B.Case(("c", "d"), "vergiftiging")]
    outcomes = [B.Outcome(B.CRISIS, "vermist"), B.Outcome(B.ASK, "vermist"), B.Outcome(B.NONE)]
    near = [B.Case(("x",), None, "vermist"), B.Case(("y",), None, "algemeen")]
    near_out = [B.Outcome(B.ASK, "vermist"), B.Outcome(B.NONE)]
    s = B.score(crises, outcomes, near, near_out)
    assert round(s["recall"], 3) == 0.667 and s["situation"] == 1.0 and s["numbers"] == 1.0
    assert (s["near_ask"], s["near_crisis"]) == (0.5, 0.0)
    text = B.markdown(s, crises, outcomes, near, near_out)
    assert "[vergiftiging] c / d" in text and "NOT met" in text


def test_run_stops_a_conversation_at_the_turn_that_catches_it() -> None:
    seen = []

    def parse(text, earlier):
        seen.append((text, len(earlier)))
        return {"intent": {"name": "crisis_medisch_baby" if text == "ze is 6 weken" else "topic_gezondheid"}}

    outcomes, _ = B.run([B.Case(("baby heeft koorts", "ze is 6 weken", "nog iets"), "medisch_baby")], [], parse)
    assert outcomes == [B.Outcome(B.CRISIS, "medisch_baby", 1)]
    assert seen == [("baby heeft koorts", 0), ("ze is 6 weken", 1)]

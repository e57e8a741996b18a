"""The triage evaluation of ``make eval``: its labelled set and its scoring (no Rasa model)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.phases import phase_for_months
from tools.evaluation import triage as T
from tests.support.paths import DATA

PHASES = {"0-2", "2-4", "5-12", "12-19", None}
SIGNALS = {"suicide", "geweld", "ouder_acuut", "medisch_acuut"}
TOPICS = {
    "slapen", "eten", "huilen", "angst", "scheidingsangst", "driftbuien", "luisteren_grenzen", "agressie",
    "druk_gedrag", "zindelijkheid", "ontwikkeling", "gezondheid", "school", "pesten", "sociaal", "emoties",
    "puberteit", "alcohol_drugs", "media", "seksualiteit", "uiterlijk_eetgedrag", "liegen_stelen",
    "ouder_welzijn", "scheiding", "opvoeden_algemeen",
}


# ------------------------------------------------------------------ the labelled set
def test_set_is_large_and_valid() -> None:
    items = T.load()
    assert len(items) >= 120
    assert len({i.text for i in items}) == len(items)
    for item in items:
        assert item.topic in TOPICS, item.text
        assert item.phase in PHASES, item.text
        assert item.severity in T.SEVERITIES, item.text
        assert (item.signal in SIGNALS) if item.severity == "crisis" else item.signal is None, item.text


def test_set_covers_every_severity_signal_phase_and_topic() -> None:
    items = T.load()
    assert {i.severity for i in items} == set(T.SEVERITIES)
    assert {i.signal for i in items if i.signal} == SIGNALS
    assert {i.phase for i in items} == PHASES
    assert {i.topic for i in items if i.severity != "crisis"} == TOPICS
    assert sum(i.severity == "aandacht" for i in items) >= 30
    assert sum(i.severity == "crisis" for i in items) >= 20


def test_set_is_not_taken_from_the_heldout_set() -> None:
    heldout = DATA / "nlu_heldout.yml"
    if not heldout.is_file():
        pytest.skip("no held-out set")
    import yaml

    texts = {m["text"].strip().lower() for m in yaml.safe_load(heldout.read_text(encoding="utf-8"))["messages"]}
    assert not {i.text.strip().lower() for i in T.load()} & texts


@pytest.mark.parametrize("months, phase", [(10, "0-2"), (24, "2-4"), (48, "2-4"), (60, "5-12"), (132, "5-12"),
                                           (144, "12-19"), (240, None)])
def test_phase_boundaries_used_in_the_labels(months: int, phase) -> None:
    # the labels assume "van 12" is 12-19 and "van 4" / "kleuter" is 2-4 (CONTRACT.md s1)
    assert phase_for_months(months) == phase


# ------------------------------------------------------------------ prediction and scoring
def test_predict_crisis_intent_sets_crisis_and_signal_without_dialogue() -> None:
    parsed = {"intent": {"name": "crisis_mishandeling"},
              "entities": [{"entity": "age_months", "value": 96}, {"entity": "phase", "value": "5-12"}]}
    p = T.predict("...", parsed)
    assert (p.severity, p.signal, p.phase, p.topic) == ("crisis", "geweld", "5-12", None)


def test_predict_topic_goes_through_dialogue_respond() -> None:
    parsed = {"intent": {"name": "topic_slapen"}, "entities": [{"entity": "age_months", "value": 36}]}
    p = T.predict("Mijn dochter van 3 wil niet slapen", parsed)
    assert p.topic == "slapen" and p.phase == "2-4"
    assert p.severity in ("normaal", "aandacht")
    assert p.signal is None


def test_predict_not_understood_sets_no_severity() -> None:
    p = T.predict("blabla", {"intent": {"name": "nlu_fallback"}, "entities": []})
    assert p.severity is None and p.topic is None and p.phase is None


def _item(severity: str, phase="2-4", topic="slapen", signal=None) -> T.Item:
    return T.Item("x", topic, phase, severity, signal)


def _pred(severity, phase="2-4", topic="slapen", signal=None) -> T.Prediction:
    return T.Prediction("i", topic, phase, severity, signal)


def test_score_counts_every_measure() -> None:
    items = [_item("normaal"), _item("normaal", phase=None), _item("aandacht"), _item("aandacht"),
             _item("crisis", signal="suicide"), _item("crisis", signal="geweld")]
    preds = [_pred("normaal"), _pred("crisis", phase="0-2"), _pred("normaal", topic="eten"), _pred(None),
             _pred("crisis", signal="suicide"), _pred("normaal")]
    s = T.score(items, preds)
    assert s.n == 6
    assert s.severity_accuracy == pytest.approx(2 / 6)
    assert s.severity_recall == {"normaal": 0.5, "aandacht": 0.0, "crisis": 0.5}
    assert s.confusion[("aandacht", T.NONE)] == 1 and s.confusion[("crisis", "normaal")] == 1
    assert s.crisis_recall == 0.5 and s.signal_accuracy == 0.5
    assert s.false_crisis_rate == pytest.approx(1 / 4)
    assert s.under_triage == 2 and s.over_triage == 0
    assert s.phase_accuracy == pytest.approx(5 / 6)
    assert s.phase_accuracy_stated == pytest.approx(5 / 5) and s.stated == 5
    assert s.topic_accuracy == pytest.approx(3 / 4)
    assert [k for k, _, _ in s.mistakes] == [1, 2, 3, 5]


def test_score_needs_one_prediction_per_item() -> None:
    with pytest.raises(ValueError):
        T.score([_item("normaal")], [])


def test_markdown_lists_measures_confusion_and_mistakes() -> None:
    items = [_item("normaal"), _item("aandacht")]
    preds = [_pred("normaal"), _pred("normaal")]
    text = T.markdown(T.score(items, preds), items, preds, "triage.png")
    assert "| severity accuracy | 0.500 |" in text
    assert "| aandacht | 1 | 0 | 0 | 0 |" in text
    assert "- aandacht -> normaal: \"x\" (i)" in text
    assert "![triage confusion](triage.png)" in text


def test_plots_write_png(tmp_path: Path) -> None:
    from tools.evaluation import plots
    from tools.evaluation.metrics import LabelScore

    items = [_item("normaal"), _item("aandacht"), _item("crisis", signal="suicide")]
    preds = [_pred("normaal"), _pred(None), _pred("crisis", signal="suicide")]
    png = plots.triage_confusion(T.score(items, preds), tmp_path / "t.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    scores = {"a": [LabelScore("topic_slapen", 1, 1, 1, 3), LabelScore("topic_eten", 0, 0, 0, 2)],
              "b": [LabelScore("topic_slapen", 0.5, 0.5, 0.5, 3)]}
    assert plots.topic_f1(scores, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"

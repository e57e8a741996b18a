"""Format checks for the held-out NLU evaluation set (tests/data/nlu_heldout.yml).

The set is written separately from data/nlu/ and is never trained on; these tests
only check that it is well-formed and consistent with the contract's names.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import pytest
import yaml

from tests.support.paths import DATA

HELDOUT = DATA / "nlu_heldout.yml"
SAMPLE = Path("/work/shared/eval/sample.yml")

TOPICS = (
    "slapen", "eten", "huilen", "angst", "scheidingsangst", "driftbuien",
    "luisteren_grenzen", "agressie", "druk_gedrag", "zindelijkheid", "ontwikkeling",
    "gezondheid", "school", "pesten", "sociaal", "emoties", "puberteit",
    "alcohol_drugs", "media", "seksualiteit", "uiterlijk_eetgedrag", "liegen_stelen",
    "ouder_welzijn", "scheiding", "opvoeden_algemeen",
)
TOPIC_INTENTS = tuple(f"topic_{t}" for t in TOPICS)
DIALOGUE_INTENTS = (
    "greet", "goodbye", "affirm", "deny", "thanks", "inform_age", "inform_place",
    "ask_human", "bot_challenge", "out_of_scope", "delete_data", "more_tips",
    "support_nearby",
)
# the held-out set labels crises by signal (it predates the situations); the evaluation compares
# the signal of the predicted situation
CRISIS_INTENTS = (
    "crisis_suicide", "crisis_geweld", "crisis_ouder_acuut", "crisis_medisch_acuut",
)
KNOWN_INTENTS = frozenset(TOPIC_INTENTS + DIALOGUE_INTENTS + CRISIS_INTENTS)

MIN_PER_TOPIC = 14


def phase_of(months: int) -> Optional[str]:
    """CONTRACT.md s1: the phase of an age in months (None from 228 on)."""
    if months < 24:
        return "0-2"
    if months < 60:
        return "2-4"
    if months < 144:
        return "5-12"
    if months < 228:
        return "12-19"
    return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _load() -> list[dict]:
    with HELDOUT.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict) and data.get("version") == 1
    messages = data.get("messages")
    assert isinstance(messages, list)
    return messages


MESSAGES = _load()


def test_size() -> None:
    assert len(MESSAGES) >= 400


def test_keys_and_types() -> None:
    for msg in MESSAGES:
        assert set(msg) == {"text", "intent", "leeftijd", "fase"}, msg
        assert isinstance(msg["text"], str) and msg["text"].strip(), msg


def test_intents_known() -> None:
    unknown = {m["intent"] for m in MESSAGES} - KNOWN_INTENTS
    assert not unknown, unknown


@pytest.mark.parametrize("intent", TOPIC_INTENTS)
def test_topic_coverage(intent: str) -> None:
    count = sum(1 for m in MESSAGES if m["intent"] == intent)
    assert count >= MIN_PER_TOPIC, (intent, count)


def test_other_coverage() -> None:
    counts = Counter(m["intent"] for m in MESSAGES)
    assert counts["out_of_scope"] >= 40
    assert sum(counts[i] for i in CRISIS_INTENTS) >= 20
    assert all(counts[i] >= 1 for i in CRISIS_INTENTS)
    assert counts["inform_age"] >= 5


def test_topic_messages_mostly_state_an_age() -> None:
    topic_msgs = [m for m in MESSAGES if m["intent"] in TOPIC_INTENTS]
    with_age = sum(1 for m in topic_msgs if m["leeftijd"] is not None)
    assert with_age / len(topic_msgs) >= 0.6


def test_leeftijd_and_fase() -> None:
    for msg in MESSAGES:
        age = msg["leeftijd"]
        if age is None:
            assert msg["fase"] is None, msg
            continue
        assert isinstance(age, list) and len(age) == 2, msg
        lo, hi = age
        assert isinstance(lo, int) and isinstance(hi, int), msg
        assert 0 <= lo <= hi <= 300, msg
        assert msg["fase"] == phase_of(lo), msg


def test_inform_age_has_age() -> None:
    for msg in MESSAGES:
        if msg["intent"] == "inform_age":
            assert msg["leeftijd"] is not None, msg


def test_no_duplicate_texts() -> None:
    counts = Counter(_norm(m["text"]) for m in MESSAGES)
    dupes = [t for t, n in counts.items() if n > 1]
    assert not dupes, dupes


def test_disjoint_from_outside_sample() -> None:
    if not SAMPLE.exists():
        pytest.skip("outside evaluation sample not present")
    with SAMPLE.open(encoding="utf-8") as fh:
        sample = yaml.safe_load(fh)
    sample_texts = {_norm(c["text"]) for c in sample.get("cases") or []}
    for dialogue in sample.get("dialogues") or []:
        sample_texts.update(_norm(t) for t in dialogue.get("turns") or [])
    assert sample_texts, "sample has no texts"
    overlap = [m["text"] for m in MESSAGES if _norm(m["text"]) in sample_texts]
    assert not overlap, overlap


@pytest.mark.parametrize(
    ("months", "expected"),
    [(0, "0-2"), (23, "0-2"), (24, "2-4"), (59, "2-4"), (60, "5-12"),
     (143, "5-12"), (144, "12-19"), (227, "12-19"), (228, None)],
)
def test_phase_of_matches_contract(months: int, expected: Optional[str]) -> None:
    assert phase_of(months) == expected

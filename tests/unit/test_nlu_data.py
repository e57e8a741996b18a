"""Checks on the NLU training data in data/nlu/ (format, coverage, duplicates, held-out leaks)."""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from bot.domain.situations import SITUATIONS
from tests.support.paths import ROOT

NLU_DIR = ROOT / "data" / "nlu"
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
SHARED = Path(os.environ.get("OPVOED_SHARED_DIR", "/work/shared"))
CONTRACT = SHARED / "CONTRACT.md"
EVAL_SAMPLE = SHARED / "eval" / "sample.yml"

# CONTRACT.md section 2 (fixed names).
TOPICS = [
    "slapen", "eten", "huilen", "angst", "scheidingsangst", "driftbuien", "luisteren_grenzen",
    "agressie", "druk_gedrag", "zindelijkheid", "ontwikkeling", "gezondheid", "school", "pesten",
    "sociaal", "emoties", "puberteit", "alcohol_drugs", "media", "seksualiteit",
    "uiterlijk_eetgedrag", "liegen_stelen", "ouder_welzijn", "scheiding", "opvoeden_algemeen",
]
DIALOGUE_INTENTS = [
    "greet", "goodbye", "affirm", "deny", "thanks", "inform_age", "inform_place", "ask_human",
    "bot_challenge", "out_of_scope", "delete_data", "more_tips", "support_nearby",
]
CRISIS_INTENTS = [f"crisis_{situation}" for situation in SITUATIONS]  # CONTRACT.md 4b
ALL_INTENTS = [f"topic_{t}" for t in TOPICS] + DIALOGUE_INTENTS + CRISIS_INTENTS

FEATURE_KEYS = {"regex", "lookup", "synonym"}
OWN_FILES = {f"{t}.yml" for t in TOPICS} | {"dialogue.yml", "out_of_scope.yml", "crisis.yml"}

MIN_TOPIC_EXAMPLES = 40
MIN_OTHER_EXAMPLES = 20


def normalise(text: str) -> str:
    """Case-insensitive, whitespace-normalised form used for duplicate checks."""
    return " ".join(str(text).split()).casefold()


def parse_examples(block: str) -> List[str]:
    """The examples of a Rasa 3.x `examples: |` block, one per `- ` line."""
    result = []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        assert stripped.startswith("- "), f"example line without '- ': {stripped!r}"
        result.append(stripped[2:].strip())
    return result


@lru_cache(maxsize=None)  # the data files are read once per test session (the tests only read them)
def load_nlu_file(path: Path) -> Dict[str, List[str]]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), path.name
    assert str(data.get("version")) == "3.1", path.name
    items = data.get("nlu")
    assert isinstance(items, list), path.name
    intents: Dict[str, List[str]] = {}
    for item in items:
        assert isinstance(item, dict), path.name
        if "intent" not in item:
            # Other helpers may add regex / lookup / synonym features; those are no examples.
            assert set(item) & FEATURE_KEYS, f"{path.name}: unknown item {sorted(item)}"
            continue
        assert isinstance(item.get("examples"), str), f"{path.name}: {item['intent']}"
        assert item["intent"] not in intents, f"{path.name}: intent {item['intent']} twice"
        intents[item["intent"]] = parse_examples(item["examples"])
    return intents


def nlu_files() -> List[Path]:
    return sorted(NLU_DIR.glob("*.yml"))


def all_intents() -> Dict[str, List[str]]:
    merged: Dict[str, List[str]] = {}
    for path in nlu_files():
        for intent, examples in load_nlu_file(path).items():
            assert intent not in merged, f"intent {intent} defined in two files"
            merged[intent] = examples
    return merged


def all_examples() -> Iterator[tuple]:
    for path in nlu_files():
        for intent, examples in load_nlu_file(path).items():
            for example in examples:
                yield path.name, intent, example


def message_texts(node: Any) -> Iterator[str]:
    """Every message text in an evaluation file: `text` values and dialogue `turns`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            elif key == "turns" and isinstance(value, list):
                yield from (turn for turn in value if isinstance(turn, str))
            elif key == "examples" and isinstance(value, str):
                yield from parse_examples(value)
            else:
                yield from message_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from message_texts(value)


@lru_cache(maxsize=1)
def training_index() -> Dict[str, str]:
    return {normalise(ex): f"{name}:{intent}" for name, intent, ex in all_examples()}


def test_intent_files_are_the_expected_ones() -> None:
    assert NLU_DIR.is_dir()
    assert [p.name for p in NLU_DIR.iterdir() if p.suffix != ".yml"] == []
    with_intents = {p.name for p in nlu_files() if load_nlu_file(p)}
    assert with_intents == OWN_FILES


@pytest.mark.parametrize("topic", TOPICS)
def test_topic_file_holds_its_intent(topic: str) -> None:
    path = NLU_DIR / f"{topic}.yml"
    assert path.is_file(), f"missing {path.name}"
    intents = load_nlu_file(path)
    assert list(intents) == [f"topic_{topic}"]
    assert len(intents[f"topic_{topic}"]) >= MIN_TOPIC_EXAMPLES


@pytest.mark.parametrize("intent", ALL_INTENTS)
def test_every_intent_exists(intent: str) -> None:
    intents = all_intents()
    assert intent in intents
    minimum = MIN_TOPIC_EXAMPLES if intent.startswith(("topic_", "crisis_")) else MIN_OTHER_EXAMPLES
    assert len(intents[intent]) >= minimum


def test_no_unknown_intents() -> None:
    assert sorted(set(all_intents()) - set(ALL_INTENTS)) == []


def test_topic_list_matches_contract() -> None:
    if not CONTRACT.is_file():
        pytest.skip("CONTRACT.md not available")
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    ids = re.findall(r"^\|\s*`([a-z_]+)`\s*\|", section, flags=re.MULTILINE)
    assert ids == TOPICS


def test_no_duplicate_examples_across_data() -> None:
    seen: Dict[str, List[str]] = defaultdict(list)
    for name, intent, example in all_examples():
        seen[normalise(example)].append(f"{name}:{intent}")
    duplicates = {text: where for text, where in seen.items() if len(where) > 1}
    assert duplicates == {}


def test_examples_are_plain_text() -> None:
    """No entity annotations, no empty examples, no capitals-only noise."""
    for name, intent, example in all_examples():
        assert example, f"{name}:{intent} has an empty example"
        assert not re.search(r"\[[^\]]+\]\s*[\(\{]", example), f"{name}: annotation in {example!r}"


def test_normalise_catches_case_and_spacing() -> None:
    assert normalise("  Slaapt   SLECHT ") == normalise("slaapt slecht")
    assert normalise("slaapt slecht") != normalise("slaapt slegt")


def test_examples_count_per_file() -> None:
    counts = Counter(intent for _, intent, _ in all_examples())
    assert sum(counts.values()) > 1500


def _assert_no_leak(path: Path, min_words: int = 1) -> None:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    held_out = {normalise(text) for text in message_texts(data) if len(text.split()) >= min_words}
    assert held_out, f"no messages found in {path}"
    leaks = {text: where for text, where in training_index().items() if text in held_out}
    assert leaks == {}


def test_no_example_from_eval_sample() -> None:
    if not EVAL_SAMPLE.is_file():
        pytest.skip(f"{EVAL_SAMPLE} not available")
    _assert_no_leak(EVAL_SAMPLE)


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "data").glob("crisis_*/*.yml"))
                         + [ROOT / "tests" / "data" / "crisis_dev.yml"], ids=lambda p: p.parent.name + "/" + p.name)
def test_no_example_from_a_crisis_evaluation_set(path: Path) -> None:
    _assert_no_leak(path, min_words=5)  # a short opening of a two-message case ("ik ben zo moe") may be anywhere


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "tests" / "data" / "languages").glob("*.yml")
                                         if p.name != "nl_short.yml"), ids=lambda p: p.name)
def test_no_example_from_a_language_heldout_set(path: Path) -> None:
    """Issue 17's held-out sets per language (written apart, never trained on). nl_short.yml only
    measures the language detector, which is not trained on these files."""
    _assert_no_leak(path, min_words=5)  # "baby huilt veel" may be anywhere


def test_no_example_from_heldout_set() -> None:
    if not HELDOUT.is_file():
        pytest.skip("tests/data/nlu_heldout.yml not written yet")
    _assert_no_leak(HELDOUT)

"""One vocabulary (issue 16): bot/vocabulary.py is the only definition of the topics, phases,
severities, signals, situations, support levels and the time zone.

(a) The files that cannot import it agree with it: domain.yml, data/nlu/, the replies, the NJi
    table, the catalogue schema and gap map, and CONTRACT.md.
(b) No Python module under bot/ or actions/ but bot/vocabulary.py writes out a list of them.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import yaml

from bot import vocabulary as v
from bot.settings import PROJECT_ROOT

SHARED = Path(os.environ.get("OPVOED_SHARED_DIR", "/work/shared"))
CONTRACT = SHARED / "CONTRACT.md"
NLU_DIR = PROJECT_ROOT / "data" / "nlu"
REPLIES_DIR = PROJECT_ROOT / "bot" / "knowledge" / "replies"
CATALOGUE_DIR = PROJECT_ROOT / "bot" / "domain" / "catalogue"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def domain() -> Dict[str, Any]:
    return _yaml(PROJECT_ROOT / "domain.yml")


# --- the vocabulary itself -----------------------------------------------------------------------

def test_the_vocabulary_is_complete_and_consistent() -> None:
    assert len(v.TOPICS) == 25 and len(set(v.TOPICS)) == 25
    assert set(v.TOPIC_LABELS) == set(v.TOPICS)
    assert v.PHASES == ("0-2", "2-4", "5-12", "12-19")
    assert v.PHASE_BANDS == {"0-2": (0, 23), "2-4": (24, 59), "5-12": (60, 143), "12-19": (144, 227)}
    assert v.PHASE_LABELS["2-4"] == "2 tot 5 jaar" and v.NJI_PHASE_LABELS["2-4"] == "± 2-4 jaar"
    assert v.MAX_PHASE_MONTHS == 227
    assert v.SEVERITIES == ("normaal", "aandacht", "crisis")
    assert v.SEVERITY_RANK["normaal"] < v.SEVERITY_RANK["aandacht"] < v.SEVERITY_RANK["crisis"]
    assert v.SIGNALS == ("suicide", "geweld", "ouder_acuut", "medisch_acuut")
    assert v.SUPPORT_LEVELS == ("A", "B", "C", "D") and set(v.SUPPORT_LEVEL_LABELS) == set("ABCD")
    assert len(v.SITUATIONS) == 13 and set(v.SITUATIONS.values()) == set(v.SIGNALS)
    assert v.AGE_FREE_TOPICS <= set(v.TOPICS)
    assert v.TIME_ZONE_NAME == "Europe/Amsterdam" and str(v.TZ) == "Europe/Amsterdam"


@pytest.mark.parametrize("months, phase", [
    (0, "0-2"), (23, "0-2"), (24, "2-4"), (59, "2-4"), (60, "5-12"), (143, "5-12"), (144, "12-19"),
    (227, "12-19"), (228, None), (-1, None), (None, None), (True, None), ("x", None), (30.7, "2-4"),
])
def test_phase_for_months(months: Any, phase: Any) -> None:
    assert v.phase_for_months(months) == phase


def _contract_table(section: str) -> List[List[str]]:
    """Rows (cells, backticks removed) of the first table under the heading that starts with
    `section` in CONTRACT.md."""
    text = CONTRACT.read_text(encoding="utf-8")
    start = text.index(f"## {section}") if f"## {section}" in text else text.index(f"### {section}")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- :"):
            rows.append([c.strip().strip("`") for c in line.strip("|").split("|")])
    return rows[1:]  # without the header


@pytest.mark.skipif(not CONTRACT.exists(), reason=f"{CONTRACT} is not here")
def test_the_vocabulary_is_the_contracts() -> None:
    assert tuple(r[0] for r in _contract_table("1.")) == v.PHASES
    assert tuple(r[0] for r in _contract_table("2.")) == v.TOPICS
    assert tuple(r[0] for r in _contract_table("3.")) == v.SEVERITIES
    assert tuple(r[0] for r in _contract_table("4.")) == v.SIGNALS
    situations = {r[0].split(" (")[0].strip("`"): r[1] for r in _contract_table("4b.")}
    assert situations == dict(v.SITUATIONS) and list(situations) == list(v.SITUATIONS)
    for row in _contract_table("1."):
        low, high = (int(n) for n in re.findall(r"\d+", row[1]))
        assert v.PHASE_BANDS[row[0]] == (low, high)


# --- (a) the files that cannot import it -----------------------------------------------------------

def test_domain_slots_agree(domain: Dict[str, Any]) -> None:
    slots = domain["slots"]
    for name, values in v.SLOT_VALUES.items():
        assert tuple(slots[name]["values"]) == tuple(values), name


def _intents(domain: Dict[str, Any]) -> List[str]:
    return [i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]]


def test_domain_intents_agree(domain: Dict[str, Any]) -> None:
    intents = _intents(domain)
    assert [i[len("topic_"):] for i in intents if i.startswith("topic_")] == list(v.TOPICS)
    assert [i[len("crisis_"):] for i in intents if i.startswith("crisis_")] == list(v.SITUATIONS)


def _nlu_intents() -> Iterator[tuple[str, str]]:
    for path in sorted(NLU_DIR.glob("*.yml")):
        for item in (_yaml(path) or {}).get("nlu") or []:
            if "intent" in item:
                yield path.name, item["intent"]


def test_nlu_data_agrees() -> None:
    found = list(_nlu_intents())
    topics = {i[len("topic_"):] for _, i in found if i.startswith("topic_")}
    crises = {i[len("crisis_"):] for _, i in found if i.startswith("crisis_")}
    assert topics == set(v.TOPICS)
    assert crises == set(v.SITUATIONS)
    for name, intent in found:  # one file per topic, holding that topic's intent
        if intent.startswith("topic_"):
            assert name == f"{intent[len('topic_'):]}.yml", (name, intent)
    assert {p.stem for p in NLU_DIR.glob("*.yml")} >= set(v.TOPICS)


def test_replies_agree() -> None:
    files = {p.stem for p in REPLIES_DIR.glob("*.yml") if not p.stem.startswith("_")}
    assert files == set(v.TOPICS)
    for topic in v.TOPICS:
        data = _yaml(REPLIES_DIR / f"{topic}.yml")
        assert data["topic"] == topic
        assert set(data["phases"]) <= set(v.PHASES) | {"default"}, topic


def test_the_nji_table_agrees() -> None:
    table = _yaml(PROJECT_ROOT / "bot" / "knowledge" / "nji_table.yml")
    assert tuple(table["topics"]) == v.TOPICS
    assert tuple(table["phases"]) == v.PHASES
    for phase, content in table["phases"].items():
        assert tuple(content["months"]) == v.PHASE_BANDS[phase], phase
        assert content["label"].replace(" ", "") == v.NJI_PHASE_LABELS[phase].replace(" ", "")
    assert tuple(table["support_pyramid"]) == v.SUPPORT_LEVELS
    for topic, rules in table["defaults"].items():
        assert topic in v.TOPICS
        for rule in rules:
            assert set(rule["phases"]) <= set(v.PHASES) and rule["severity"] in v.SEVERITIES
    for content in table["phases"].values():
        for kind in ("normal", "serious"):
            for entry in content.get(kind) or []:
                assert set(entry["topics"]) <= set(v.TOPICS), entry["problem"]


def test_the_catalogue_schema_and_gap_map_agree() -> None:
    schema = _yaml(CATALOGUE_DIR / "schema.yml")
    text = yaml.safe_dump(schema)
    offer = schema["$defs"]["offer"]["properties"] if "offer" in schema.get("$defs", {}) else None
    if offer is None:  # find the offer definition by its fields
        offer = next(d["properties"] for d in schema["$defs"].values()
                     if isinstance(d, dict) and "level" in d.get("properties", {}))
    assert tuple(offer["level"]["enum"]) == v.SUPPORT_LEVELS
    assert tuple(offer["signals"]["items"]["enum"]) == v.SIGNALS
    assert "Europe" not in text
    gaps = _yaml(CATALOGUE_DIR / "topics.yml")["gaps"]
    assert tuple(gaps) == v.TOPICS
    for topic, phases in gaps.items():
        assert phases and set(phases) <= set(v.PHASES), topic
        assert [p for p in v.PHASES if p in phases] == list(phases), topic  # in the phases' order


def test_triage_knowledge_agrees() -> None:
    triage = _yaml(PROJECT_ROOT / "bot" / "knowledge" / "triage.yml")
    assert set(triage["topic_combine"]) <= set(v.TOPICS)
    assert set(triage["support"]) <= set(v.SUPPORT_LEVELS)


# --- (b) no other module writes them out -------------------------------------------------------------

# Modules outside this change that still write a list out; each owner switches to bot.vocabulary
# and removes the line here (the test fails when a line is no longer needed).
NOT_YET_MOVED: Set[Tuple[str, str]] = set()


def _strings(node: ast.AST) -> Set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def vocabulary_lists(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every literal list, tuple or set in `source` that writes out part of the
    vocabulary: 3 or more topic ids, 3 or more phases, all severities, 3 or more signals, 3 or
    more situations; and every use of the time zone's name."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == v.TIME_ZONE_NAME:
            yield node.lineno, "time zone"
        if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            continue
        found = _strings(node)
        if len(found & set(v.TOPICS)) >= 3:
            yield node.lineno, "topics"
        if len(found & set(v.PHASES)) >= 3:
            yield node.lineno, "phases"
        if set(v.SEVERITIES) <= found:
            yield node.lineno, "severities"
        if len(found & set(v.SIGNALS)) >= 3:
            yield node.lineno, "signals"
        if len(found & set(v.SITUATIONS)) >= 3:
            yield node.lineno, "situations"


def test_the_check_finds_lists() -> None:
    found = {what for _, what in vocabulary_lists(
        'A = ("slapen", "eten", "huilen")\nB = [("0-2", 23), ("2-4", 59), ("5-12", 143)]\n'
        'C = {"normaal", "aandacht", "crisis"}\nD = frozenset({"suicide", "geweld", "ouder_acuut"})\n'
        'E = "Europe/Amsterdam"\nF = ("aandacht", "crisis")\nG = ("slapen", "eten")\n')}
    assert found == {"topics", "phases", "severities", "signals", "time zone"}


def test_no_module_but_the_vocabulary_writes_it_out() -> None:
    paths = [path for package in ("bot", "actions", "tools") for path in sorted((PROJECT_ROOT / package).rglob("*.py"))]
    found = set()
    problems = []
    for path in paths:
        name = path.relative_to(PROJECT_ROOT).as_posix()
        if name == "bot/vocabulary.py":
            continue
        for line, what in vocabulary_lists(path.read_text(encoding="utf-8")):
            found.add((name, what))
            if (name, what) not in NOT_YET_MOVED:
                problems.append(f"{name}:{line}: {what}; import them from bot.vocabulary")
    assert not problems, "\n".join(problems)
    assert not NOT_YET_MOVED - found, f"remove from NOT_YET_MOVED: {sorted(NOT_YET_MOVED - found)}"

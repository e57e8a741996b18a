"""The crisis situations (CONTRACT.md 4b): curated replies, their numbers and sources, B1 figures,
and the static replies of domain.yml that must say the same."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from bot.domain import crisis, situations
from bot.settings import PROJECT_ROOT

CONTRACT_ORDER = ["suicidaal_kind", "suicidaal_ouder", "mishandeling", "huiselijk_geweld", "seksueel_misbruik",
                  "uitbuiting", "vermist", "ouder_grens", "ouder_psychisch", "vergiftiging", "medisch_baby",
                  "medisch_acuut", "eetstoornis_acuut"]
NUMBER = re.compile(r"\b(?:0800-\d{4}|0900-\d{4}|0800-\d{3,4}|113|112)\b")


def domain() -> Dict:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def sentences(text: str) -> List[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if re.search(r"\w", s)]


def words(sentence: str) -> List[str]:
    return re.findall(r"[\w'’-]+", sentence)


def test_the_situations_are_the_contracts_in_its_order() -> None:
    assert list(situations.SITUATIONS) == CONTRACT_ORDER


@pytest.mark.parametrize("situation", CONTRACT_ORDER)
def test_the_static_reply_in_the_domain_is_the_curated_one(situation: str) -> None:
    variations = domain()["responses"]["utter_crisis"]
    texts = [v["text"] for v in variations
             if v.get("condition") == [{"type": "slot", "name": "situation", "value": situation}]]
    assert texts == [situations.reply(situation)]


def test_every_variation_of_the_crisis_reply_has_a_situation() -> None:
    variations = domain()["responses"]["utter_crisis"]
    assert len(variations) == len(CONTRACT_ORDER)


def test_the_safety_question_and_the_professional_line_in_the_domain_are_the_curated_ones() -> None:
    responses = domain()["responses"]
    curated = situations.texts()
    question = curated["safety_question"]
    assert responses["utter_safety_question"][0]["text"] == f"{question['intro']} {question['text']}"
    assert [b["title"] for b in responses["utter_safety_question"][0]["buttons"]] == [
        question["yes_button"], question["no_button"]]
    assert responses["utter_crisis_professional_informed"][0]["text"] == curated["professional_informed"]


@pytest.mark.parametrize("situation", CONTRACT_ORDER)
def test_each_reply_names_its_numbers_after_a_first_step(situation: str) -> None:
    entry = situations.entry(situation)
    reply = entry["reply"]
    assert NUMBER.findall(reply) and list(dict.fromkeys(NUMBER.findall(reply))) == entry["numbers"]
    assert set(entry["first_numbers"]) & set(entry["numbers"]) or any(
        w in reply.lower() for w in entry.get("first_words") or ())
    first = sentences(reply)[0]
    assert not NUMBER.search(first) or situation in ("vermist", "medisch_acuut"), first  # a step first
    assert "medewerker" not in reply.lower()  # the offer of a person is its own message


@pytest.mark.parametrize("situation", CONTRACT_ORDER)
def test_each_reply_also_names_the_lines_of_a_misread_situation(situation: str) -> None:
    """The situation is read right about nine times in ten; when it is misread, the parent still
    gets 112, 113 and Veilig Thuis, which between them are a first number of every situation."""
    reply = situations.reply(situation)
    numbers = NUMBER.findall(reply)
    assert "112" in numbers and "0800-2000" in numbers and {"113", "0800-0113"} & set(numbers)
    unserved = [s for s in CONTRACT_ORDER
                if not set(situations.entry(s)["first_numbers"]) & set(numbers)
                and not any(w in reply.lower() for w in situations.entry(s).get("first_words") or ())]
    assert unserved == []


def test_a_parent_afraid_of_losing_control_is_not_sent_to_the_suicide_line_first() -> None:
    reply = situations.reply("ouder_grens")
    assert reply.index("112") < reply.index("0800-2000")  # a shaken baby sees a doctor now
    assert reply.index("0800-2000") < reply.index("113")  # the suicide line only last, if it applies


@pytest.mark.parametrize("situation", CONTRACT_ORDER)
def test_each_situation_names_public_sources(situation: str) -> None:
    sources = situations.sources(situation)
    assert sources and all(s["name"] and s["url"].startswith("https://") for s in sources)


def test_b1_figures_of_the_new_texts() -> None:
    texts = [situations.reply(s) for s in CONTRACT_ORDER]
    curated = situations.texts()
    texts += [curated["safety_question"]["intro"], curated["safety_question"]["text"],
              curated["safety_question"]["no_reply"], curated["professional_informed"]]
    counts = [len(words(s)) for t in texts for s in sentences(t)]
    average = sum(counts) / len(counts)
    over = sum(n > 20 for n in counts) / len(counts)
    print(f"\ncrisis texts: {len(counts)} sentences, {average:.1f} words per sentence, {over:.1%} over 20 words")
    assert average <= 12 and over <= 0.05


def test_every_situation_has_crisis_patterns_and_the_patterns_know_only_these() -> None:
    found = {crisis_rule_situation for _, _, crisis_rule_situation in _rules()}
    assert found == set(CONTRACT_ORDER)


def _rules():
    data = yaml.safe_load(Path(crisis.DATA_FILE).read_text(encoding="utf-8"))
    return [(r["id"], r["signal"], r["situation"]) for r in data["rules"]]


def test_a_rules_situation_belongs_to_its_signal() -> None:
    for rule_id, signal, situation in _rules():
        assert situations.SITUATIONS[situation] == signal, rule_id

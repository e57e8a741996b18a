"""Tests for the curated reply texts (bot/knowledge/replies) and bot/domain/replies.py. No Rasa."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List
from urllib.parse import urlparse

import pytest
import yaml

from bot.domain import replies
from bot.domain.replies import Reply
from tests.support.paths import ROOT

REPLIES_DIR = ROOT / "bot" / "knowledge" / "replies"

# CONTRACT.md s2, copied here on purpose: the test must fail if the module drifts from it.
CONTRACT_TOPICS = [
    "slapen", "eten", "huilen", "angst", "scheidingsangst", "driftbuien",
    "luisteren_grenzen", "agressie", "druk_gedrag", "zindelijkheid", "ontwikkeling",
    "gezondheid", "school", "pesten", "sociaal", "emoties", "puberteit",
    "alcohol_drugs", "media", "seksualiteit", "uiterlijk_eetgedrag", "liegen_stelen",
    "ouder_welzijn", "scheiding", "opvoeden_algemeen",
]
PHASES = ["0-2", "2-4", "5-12", "12-19"]
PHASE_KEYS = PHASES + ["default"]
SEVERITIES = ["normaal", "aandacht", "crisis"]

# Only sites we are sure exist; a new source must be added here deliberately.
ALLOWED_HOSTS = {
    "www.opvoeden.nl", "www.nji.nl", "www.thuisarts.nl", "www.voedingscentrum.nl",
    "www.kenniscentrum-kjp.nl", "www.trimbos.nl", "www.nix18.nl", "rutgers.nl",
    "www.sense.info", "www.coc.nl", "www.proud2bme.nl", "www.villapinedo.nl",
    "www.schoolenveiligheid.nl", "www.kindertelefoon.nl", "www.oudersenonderwijs.nl",
    "www.ncj.nl", "www.113.nl", "www.veiligthuis.nl",
}

JARGON = [
    "interventie", "problematiek", "psychosociaal", "hechtingsstoornis", "somatoform",
    "oppositioneel", "gedragsstoornis", "stoornis", "cognitief", "exploratie",
    "individuatie", "zelfregulatie", "sensitief", "responsief", "internaliseren",
    "decentratie", "hechting", "fysiologisch", "pathologisch", "diagnose", "jgz",
]
# Blame or pathologising words that never belong in parent-facing texts.
BLAME = ["jouw schuld", "je eigen schuld", "slechte ouder", "fout van jou", "stout kind"]
MEDICATION = [
    r"\bmg\b", r"milligram", r"paracetamol", r"ibuprofen", r"\bdosis\b", r"dosering",
    r"zetpil", r"antibiotica", r"\bgeef\b[^.]*\bmedicij", r"\bneem\b[^.]*\bmedicij",
]

MAX_WHY = 220
MAX_ITEM = 120          # one tip, extra tip or sign
MAX_AANDACHT = 320
MAX_CONTENT = 800       # the main chat message (why + tips + signs), target ~700
MAX_WORDS_SENTENCE = 16
MAX_AVG_WORDS = 15.0


def load(topic: str) -> Dict[str, Any]:
    with (REPLIES_DIR / f"{topic}.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def strings(data: Any) -> Iterator[str]:
    """Every text string in a topic file (labels, urls and names left out)."""
    for key in ("aandacht",):
        yield data[key]
    for block in data["phases"].values():
        yield block["why"]
        yield from block["tips"]
        yield from block.get("safety", [])
        yield from block["more_tips"]
        yield from block["signs"]
        if "urgent" in block:
            yield block["urgent"]


def sentences(value: str) -> List[str]:
    parts = re.split(r"(?<=[.!?])\s+", value.strip())
    return [p for p in parts if re.search(r"\w", p)]


def words(sentence: str) -> List[str]:
    return re.findall(r"[\w'’-]+", sentence)


def all_text(reply_list: List[Reply]) -> str:
    return "\n".join(r.text for r in reply_list)


# ---------------------------------------------------------------- data files


def test_module_topics_match_contract():
    assert list(replies.TOPICS) == CONTRACT_TOPICS
    assert list(replies.PHASES) == PHASES


def test_exactly_the_topic_files_exist():
    files = {p.stem for p in REPLIES_DIR.glob("*.yml") if not p.stem.startswith("_")}
    assert files == set(CONTRACT_TOPICS)
    assert (REPLIES_DIR / "_common.yml").is_file()


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_topic_file_structure(topic):
    data = load(topic)
    assert data["topic"] == topic
    assert isinstance(data["label"], str) and data["label"].strip()
    assert set(data["phases"]) == set(PHASE_KEYS)
    assert isinstance(data["aandacht"], str) and data["aandacht"].strip()
    assert data["sources"], "every topic names its sources"
    for key in PHASE_KEYS:
        block = data["phases"][key]
        assert isinstance(block["why"], str) and block["why"].strip(), key
        assert 2 <= len(block["tips"]) <= 4, key
        assert 2 <= len(block["more_tips"]) <= 3, key
        assert 1 <= len(block["signs"]) <= 3, key
        safety = block.get("safety", [])
        assert len(safety) <= 2 and len(block["tips"]) + len(safety) <= 4, key  # 3-4 tips at most
        for item in block["tips"] + safety + block["more_tips"] + block["signs"]:
            assert isinstance(item, str) and item.strip(), key
        assert isinstance(block.get("urgent", "x"), str) and block.get("urgent", "x").strip(), key
        assert set(block) <= {"why", "tips", "safety", "more_tips", "signs", "urgent"}, key
        # no tip repeated as an extra tip
        assert not set(block["tips"] + safety) & set(block["more_tips"]), key
        assert not set(block["tips"]) & set(safety), key


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_sources_are_https_home_pages_of_known_sites(topic):
    for source in load(topic)["sources"]:
        assert source["name"].strip()
        url = urlparse(source["url"])
        assert url.scheme == "https", source
        assert url.netloc in ALLOWED_HOSTS, source
        assert url.path in ("", "/") and not url.query, f"no deep links: {source}"


def test_common_sources_are_https_home_pages():
    with (REPLIES_DIR / "_common.yml").open(encoding="utf-8") as handle:
        common = yaml.safe_load(handle)
    assert common["sources"]
    for source in common["sources"]:
        url = urlparse(source["url"])
        assert url.scheme == "https" and url.netloc in ALLOWED_HOSTS and url.path in ("", "/")


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_text_lengths(topic):
    data = load(topic)
    assert len(data["aandacht"]) <= MAX_AANDACHT
    for key, block in data["phases"].items():
        assert len(block["why"]) <= MAX_WHY, (key, block["why"])
        for item in block["tips"] + block.get("safety", []) + block["more_tips"] + block["signs"]:
            assert len(item) <= MAX_ITEM, (key, item)
        assert len(block.get("urgent", "")) <= MAX_ITEM, key


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_b1_sentence_length(topic):
    counts = []
    for value in strings(load(topic)):
        for sentence in sentences(value):
            n = len(words(sentence))
            assert n <= MAX_WORDS_SENTENCE, sentence
            counts.append(n)
    assert sum(counts) / len(counts) <= MAX_AVG_WORDS


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_no_jargon_no_blame_informal_form(topic):
    for value in strings(load(topic)):
        lowered = value.lower()
        for word in JARGON + BLAME:
            assert word not in lowered, (word, value)
        # 'je' form, never the formal 'u' / 'uw'
        assert not re.search(r"\b(u|uw)\b", lowered), value
        assert value == value.strip() and "  " not in value, value


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_aandacht_is_calm_advice_to_see_a_professional(topic):
    advice = load(topic)["aandacht"]
    assert "Het is goed om hierover te praten met" in advice
    assert "!" not in advice
    assert re.search(r"huisarts|jeugdarts|consultatiebureau|CJG|school", advice)


def test_gezondheid_has_no_medication_advice_and_points_to_doctors():
    texts = list(strings(load("gezondheid")))
    common = [replies.text("health_disclaimer")]
    for value in texts + common:
        for pattern in MEDICATION:
            assert not re.search(pattern, value.lower()), (pattern, value)
    joined = " ".join(texts).lower()
    assert "huisarts" in joined and "thuisarts.nl" in joined and "112" in joined
    for phase in PHASE_KEYS:
        block = load("gezondheid")["phases"][phase]
        phase_text = " ".join(block["tips"] + block["signs"]).lower()
        assert "huisarts" in phase_text, phase


@pytest.mark.parametrize("phase", PHASES + [None])
@pytest.mark.parametrize("severity", ["normaal", "aandacht"])
def test_gezondheid_reply_starts_with_disclaimer(phase, severity):
    result = replies.topic_reply("gezondheid", phase, severity)
    assert "geen arts" in result[0].text
    joined = all_text(result).lower()
    assert "huisarts" in joined and "thuisarts.nl" in joined


def test_seksualiteit_is_supportive_never_a_disorder():
    texts = " ".join(strings(load("seksualiteit"))).lower()
    for word in ("stoornis", "afwijking", "ziekte", "genezen", "abnormaal"):
        assert word not in texts
    assert "coc.nl" in texts and "sense.info" in texts
    assert "steun" in texts


@pytest.mark.parametrize("topic,phase", [("alcohol_drugs", "0-2"), ("alcohol_drugs", "2-4")])
def test_alcohol_for_young_children_is_about_safety(topic, phase):
    block = load(topic)["phases"][phase]
    joined = " ".join([block["why"]] + block["tips"] + block["signs"]).lower()
    assert "112" in joined and "huisarts" in joined


def test_ouder_welzijn_names_crisis_lines():
    joined = " ".join(strings(load("ouder_welzijn")))
    assert "113" in joined and "0800-2000" in joined


# ---------------------------------------------------------------- safety in the first reply (issue 13)

SHAKE = "Schud nooit met je baby. Word je boos of wanhopig? Leg je baby veilig in bed en loop even weg."
SAFE_SLEEP = ("op de rug", "eigen bedje", "slaapzak", "Geen kussen of dekbed", "Rook niet in huis")
ACUTE = re.compile(r"koorts|benauwd|ademt|ademen|ingeslikt|vergift|112", re.IGNORECASE)
FEAR_OF_HURTING = re.compile(r"bang\b[^.:]*(pijn doet|pijn te doen|iets aandoet|aan te doen)")


def _tips_list(main: str) -> List[str]:
    """The bullets of the tips paragraph of a main message."""
    for paragraph in main.split("\n\n"):
        lines = paragraph.splitlines()
        if lines[0] in (replies.text("tips_heading"), replies.text("aandacht_tips_heading")):
            return [line for line in lines[1:] if line.startswith("• ")]
    return []


@pytest.mark.parametrize("topic", ["slapen", "huilen"])
@pytest.mark.parametrize("severity", ["normaal", "aandacht"])
def test_safe_sleep_and_never_shake_are_in_the_first_reply_at_0_2(topic, severity):
    main = replies.topic_reply(topic, "0-2", severity)[-2].text
    tips = _tips_list(main)
    assert 3 <= len(tips) <= 4
    assert f"• {SHAKE}" in tips
    sleep = [tip for tip in tips if "Veilig slapen" in tip]
    assert len(sleep) == 1 and all(part in sleep[0] for part in SAFE_SLEEP), tips
    # not only behind the 'Meer tips' button
    assert SHAKE not in replies.more_tips(topic, "0-2")[0].text


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_acute_symptoms_of_a_baby_never_stand_under_the_consultatiebureau(topic):
    """Fever, breathing trouble and poisoning at 0-2 go to the huisarts(enpost) or 112."""
    main = replies.topic_reply(topic, "0-2", "normaal")[-2].text
    for paragraph in main.split("\n\n"):
        heading, *items = paragraph.splitlines()
        if "consultatiebureau" in heading:
            for item in items:
                assert not ACUTE.search(item), (topic, item)
        if ACUTE.search(paragraph) and not heading.startswith("Over "):
            assert re.search(r"huisarts|112", paragraph), (topic, paragraph)


@pytest.mark.parametrize("severity", ["normaal", "aandacht"])
def test_gezondheid_at_0_2_sends_fever_breathing_and_poisoning_to_huisarts_or_112(severity):
    main = replies.topic_reply("gezondheid", "0-2", severity)[-2].text
    urgent = [p for p in main.split("\n\n") if "koorts" in p]
    assert len(urgent) == 1
    for word in ("3 maanden", "benauwd", "ingeslikt", "meteen de huisarts of 112"):
        assert word in urgent[0]
    assert "consultatiebureau" not in urgent[0]
    heading = load("gezondheid")["signs_heading"]
    assert "consultatiebureau" not in heading and "huisarts" in heading
    for phase in PHASES + [None]:
        assert heading in replies.topic_reply("gezondheid", phase, "normaal")[-2].text


@pytest.mark.parametrize("phase", ["0-2", None])
@pytest.mark.parametrize("severity", ["normaal", "aandacht"])
def test_ouder_welzijn_names_postnatal_depression(phase, severity):
    assert "postnatale depressie" in all_text(replies.topic_reply("ouder_welzijn", phase, severity))


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
@pytest.mark.parametrize("phase", PHASES + [None])
def test_fear_of_hurting_the_child_goes_to_veilig_thuis_and_the_huisarts(topic, phase):
    """Not to the suicide line: 113 is for thoughts of suicide."""
    main = replies.topic_reply(topic, phase, "normaal")[-2].text
    for paragraph in main.split("\n\n"):
        heading = paragraph.splitlines()[0]
        for line in paragraph.splitlines():
            if FEAR_OF_HURTING.search(line):
                assert "Veilig Thuis" in line and "0800-2000" in line, line
                assert "113" not in line, line
                assert "huisarts" in line or "huisarts" in heading, line


@pytest.mark.parametrize("phase", PHASES + [None])
def test_lonely_or_exhausted_parent_hears_of_de_luisterlijn(phase):
    import yaml

    from bot.settings import PROJECT_ROOT

    national = yaml.safe_load((PROJECT_ROOT / "catalogue" / "national.yml").read_text(encoding="utf-8"))
    phone = next(o["contact"]["phone"] for o in national["offers"] if o["id"] == "nl-luisterlijn")
    line = f"De Luisterlijn: {phone}, dag en nacht"  # the number the catalogue keeps up to date
    assert line in replies.topic_reply("ouder_welzijn", phase, "normaal")[-2].text
    assert line in all_text(replies.topic_reply("ouder_welzijn", phase, "aandacht"))


def test_reply_texts_agree_with_the_triage_of_issue_13():
    """Bed-wetting: normal at 5, help from 6 or when it troubles the child; refusing school: help."""
    signs = " ".join(load("zindelijkheid")["phases"]["5-12"]["signs"])
    assert "6 jaar of ouder" in signs and "schaamt" in signs and "logeren" in signs
    for topic in ("school", "pesten"):
        assert "niet" in " ".join(load(topic)["phases"]["5-12"]["signs"]) and \
            "naar school wil" in " ".join(load(topic)["phases"]["5-12"]["signs"])
    assert load("scheidingsangst")["phases"]["2-4"]["why"].startswith("Veel peuters")


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_source_line_says_based_on_not_bron(topic):
    for result in (replies.topic_reply(topic, "2-4", "normaal"), replies.topic_reply(topic, "2-4", "aandacht"),
                   replies.more_tips(topic, "2-4")):
        last = result[-1].text.splitlines()[-1]
        assert last.startswith("Gebaseerd op informatie van ") and last.endswith(".")
        assert "Bron" not in all_text(result)
    assert replies.source_line("slapen") == "Gebaseerd op informatie van Opvoeden.nl, NJi en Thuisarts.nl."


# ---------------------------------------------------------------- replies.py


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
@pytest.mark.parametrize("phase", PHASES + [None, "19+", ""])
@pytest.mark.parametrize("severity", SEVERITIES)
def test_topic_reply_never_empty(topic, phase, severity):
    result = replies.topic_reply(topic, phase, severity)
    assert result
    for message in result:
        assert isinstance(message, Reply)
        assert message.text.strip()
        for title, payload in message.buttons:
            assert 0 < len(title) <= 20
            assert payload.startswith("/")
    assert result[-1].buttons, "the last message carries the buttons"


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
@pytest.mark.parametrize("phase", PHASES + [None])
def test_normaal_reply_content(topic, phase):
    data = load(topic)
    block = data["phases"][phase or "default"]
    result = replies.topic_reply(topic, phase, "normaal")
    content = result[-2].text
    assert len(content) <= MAX_CONTENT, (topic, phase, len(content))
    assert content.startswith(f"Over {data['label']}:")
    assert block["why"] in content
    for item in block["tips"] + block.get("safety", []) + block["signs"]:
        assert item in content
    if "urgent" in block:
        assert content.endswith(block["urgent"])
    assert result[-1].buttons == (("Meer tips", "/more_tips"),
                                  ("Hulp in de buurt", "/support_nearby"),
                                  ("Praat met iemand", "/ask_human"))
    names = [s["name"] for s in data["sources"]]
    joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} en {names[-1]}"
    assert result[-1].text.endswith(f"Gebaseerd op informatie van {joined}.")


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
@pytest.mark.parametrize("phase", PHASES + [None])
def test_aandacht_reply_puts_professional_first(topic, phase):
    data = load(topic)
    block = data["phases"][phase or "default"]
    result = replies.topic_reply(topic, phase, "aandacht")
    main = result[-2].text
    assert data["aandacht"] in main
    assert main.index(data["aandacht"]) < main.index(block["why"])
    assert block["tips"][0] in main
    for item in block.get("safety", []) + [block.get("urgent", block["why"])]:
        assert item in main  # safety tips and the urgent line whatever the severity
    assert not any(sign in main for sign in block["signs"])
    assert len(main) <= MAX_CONTENT + 100
    assert result[-1].buttons == (("Praat met iemand", "/ask_human"),
                                  ("Hulp in de buurt", "/support_nearby"))
    assert result[-1].text.startswith(replies.text("aandacht_question"))
    assert result[-1].text.splitlines()[-1].startswith("Gebaseerd op informatie van ")


@pytest.mark.parametrize("topic", ["slapen", "media", None])
def test_crisis_reply_names_the_crisis_lines(topic):
    result = replies.topic_reply(topic, "5-12", "crisis")
    joined = all_text(result)
    for number in ("112", "0800-2000", "113", "0800-0113"):
        assert number in joined
    assert ("Praat met iemand", "/ask_human") in result[-1].buttons


@pytest.mark.parametrize("topic", ["ouder_welzijn", "scheiding"])
def test_topic_signs_heading_overrides_phase_heading(topic):
    """The parent's own wellbeing and a divorce are not for the child's doctor."""
    heading = load(topic)["signs_heading"]
    for phase in PHASES + [None]:
        content = replies.topic_reply(topic, phase, "normaal")[-2].text
        assert heading in content
        assert "jeugdarts" not in heading and "consultatiebureau" not in heading


def test_phase_selects_the_right_block():
    young = all_text(replies.topic_reply("slapen", "0-2", "normaal"))
    teen = all_text(replies.topic_reply("slapen", "12-19", "normaal"))
    assert load("slapen")["phases"]["0-2"]["why"] in young
    assert load("slapen")["phases"]["12-19"]["why"] in teen
    assert young != teen
    assert "consultatiebureau" in young and "jeugdarts" in teen


@pytest.mark.parametrize("topic", ["onbekend", "", None, 42, "../_common", "SLAPEN "])
def test_unknown_or_odd_topic(topic):
    result = replies.topic_reply(topic, "2-4", "normaal")
    if topic == "SLAPEN ":
        assert "Over slapen:" in result[0].text
    else:
        assert result == replies.topic_reply("opvoeden_algemeen", "2-4", "normaal")


@pytest.mark.parametrize("value", [
    "", "x" * 1_000_000, "😀🙈" * 100, "<script>alert(1)</script>", "\x00\ufffd\x7f",
    None, 3.5, ["slapen"],
])
def test_bad_input_never_raises(value):
    for result in (replies.topic_reply(value, value, value), replies.more_tips(value, value)):
        assert result and all(m.text.strip() for m in result)
    assert replies.age_question(value).text.strip()
    assert replies.text("topic_heading", label=value)


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
@pytest.mark.parametrize("phase", PHASES + [None])
def test_more_tips(topic, phase):
    data = load(topic)
    result = replies.more_tips(topic, phase)
    body = result[0].text
    assert body.startswith(f"Nog meer tips over {data['label']}:")
    for item in data["phases"][phase or "default"]["more_tips"]:
        assert item in body
    assert result[-1].buttons == (("Hulp in de buurt", "/support_nearby"),
                                  ("Praat met iemand", "/ask_human"))
    assert result[-1].text.splitlines()[-1].startswith("Gebaseerd op informatie van ")


def test_age_question():
    plain = replies.age_question(None)
    assert "Hoe oud is je kind?" in plain.text
    with_topic = replies.age_question("zindelijkheid")
    assert "zindelijk worden" in with_topic.text and "?" in with_topic.text
    assert replies.age_question("onzin").text == plain.text


def test_common_texts():
    assert "slapen" in replies.text("more_tips_heading", label="slapen")
    # missing placeholder value: no exception, no leftover braces
    heading = replies.text("topic_heading")
    assert "{" not in heading and heading.strip()
    assert replies.text("bestaat_niet").strip()
    assert replies.text("buttons").strip()          # a mapping, not a text: fallback
    assert replies.text("signs_heading.0-2").startswith("Bel het consultatiebureau")
    assert "geen arts" in replies.text("health_disclaimer")
    assert replies.text("source_line", names="Opvoeden.nl en NJi") == \
        "Gebaseerd op informatie van Opvoeden.nl en NJi."


def test_common_button_titles_fit_whatsapp():
    with (REPLIES_DIR / "_common.yml").open(encoding="utf-8") as handle:
        common = yaml.safe_load(handle)
    for button in common["buttons"].values():
        assert 0 < len(button["title"]) <= 20 and button["payload"].startswith("/")


def test_common_texts_b1_and_informal():
    with (REPLIES_DIR / "_common.yml").open(encoding="utf-8") as handle:
        common = yaml.safe_load(handle)
    values = [v for v in common.values() if isinstance(v, str)]
    values += list(common["signs_heading"].values())
    for value in values:
        assert not re.search(r"\b(u|uw)\b", value.lower()), value
        for sentence in sentences(value):
            assert len(words(sentence)) <= MAX_WORDS_SENTENCE, sentence

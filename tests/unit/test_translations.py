"""The assistant's texts in English, Arabic, Turkish, Polish and Ukrainian (issue 17): complete where
they must be, the same numbers, placeholders and payloads as the Dutch, and used by the replies."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

from bot import vocabulary
from bot.domain import dialogue, replies, situations, translations
from bot.settings import PROJECT_ROOT

LANGUAGES = ("ar", "en", "pl", "tr", "uk")
# CONTRACT/issue 17: the topics parents ask about most, in every language
CORE_TOPICS = ("slapen", "eten", "huilen", "driftbuien", "luisteren_grenzen", "school", "puberteit", "ouder_welzijn")
NUMBER = re.compile(r"(?<![\d-])(?:0800-\d{4}|0900-\d{4}|113|112)(?![\d-])")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
SCRIPT = {"ar": re.compile(r"[\u0600-\u06FF]"), "uk": re.compile(r"[\u0400-\u04FF]")}
ARABIC_INDIC_DIGITS = re.compile(r"[\u0660-\u0669\u06F0-\u06F9]")
ALWAYS_NAMED = ("112", "0800-2000")  # every crisis reply names these and 113 or 0800-0113


def domain_responses() -> Dict[str, List[Dict[str, Any]]]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def strings(node: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """(dotted path, text) of every string in a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def at(node: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+", path):
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def test_the_languages_are_the_issues() -> None:
    assert translations.languages() == LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_file_names_its_language_and_says_whether_it_is_reviewed(language: str) -> None:
    folder = translations.TRANSLATIONS_DIR / language
    for path in [*sorted(folder.glob("*.yml")), *sorted((folder / "replies").glob("*.yml"))]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["language"] == language, path
        assert isinstance(data["reviewed"], bool), f"{path}: reviewed must be true or false"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_crisis_reply_is_translated_with_every_number(language: str) -> None:
    dutch = {v["condition"][0]["value"]: v["text"] for v in domain_responses()["utter_crisis"]}
    own = translations.section(language, "responses")["utter_crisis"]
    assert set(own) == set(dutch) == set(situations.SITUATIONS)
    for situation, text in own.items():
        assert text != dutch[situation]
        assert NUMBER.findall(text) == NUMBER.findall(dutch[situation]), f"{language} {situation}: numbers or their order differ"
        assert all(number in text for number in ALWAYS_NAMED) and re.search(r"\b113\b|0800-0113", text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_response_of_the_domain_is_translated(language: str) -> None:
    own = translations.section(language, "responses")
    assert set(domain_responses()) - set(own) == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_numbers_placeholders_and_payloads_are_the_dutch_ones(language: str) -> None:
    source = _dutch_conversation()
    own = translations.conversation(language)
    checked = 0
    for path, text in strings(own):
        dutch = at(source, path)
        if not isinstance(dutch, str) or path in ("language",):
            continue
        checked += 1
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(dutch)), f"{language} {path}: placeholders"
        assert set(NUMBER.findall(text)) >= set(NUMBER.findall(dutch)), f"{language} {path}: a number is missing"
        assert not ARABIC_INDIC_DIGITS.search(text), f"{language} {path}: write numbers with 0-9"
    assert checked > 100
    for name, entry in own["handoff"]["ask"].items():  # payloads are what the form understands
        ours = [button[1] for button in entry.get("buttons", [])]
        assert ours == [button[1] for button in source["handoff"]["ask"][name].get("buttons", [])]


def _dutch_conversation() -> Dict[str, Any]:
    """The Dutch texts in the shape of a conversation file (the translators' source)."""
    root = PROJECT_ROOT / "bot"
    return {
        "dialogue": yaml.safe_load((root / "knowledge" / "dialogue.yml").read_text(encoding="utf-8")),
        "common": yaml.safe_load((root / "knowledge" / "replies" / "_common.yml").read_text(encoding="utf-8")),
        "handoff": yaml.safe_load((root / "knowledge" / "handoff.yml").read_text(encoding="utf-8")),
        "crisis": yaml.safe_load((root / "knowledge" / "crisis_situations.yml").read_text(encoding="utf-8")),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_texts_are_in_their_own_script(language: str) -> None:
    disclosure = translations.text(language, "dialogue.disclosure")
    assert disclosure and disclosure != dialogue.say("disclosure")
    if language in SCRIPT:
        for path, text in strings(translations.conversation(language)):
            if path.startswith(("responses", "dialogue.disclosure", "crisis")) and re.search(r"[^\W\d_]{3}", text):
                assert SCRIPT[language].search(text), f"{language} {path} is not in its script"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_topics_each_language_covers(language: str) -> None:
    expected = set(vocabulary.TOPICS) if language == "en" else set(CORE_TOPICS)
    assert set(translations.topics(language)) == expected
    for topic in expected:
        dutch, own = replies.load_topic(topic), replies.load_topic(topic, language)
        assert own["topic"] == topic and own["sources"] == dutch["sources"]
        assert set(own["phases"]) == set(dutch["phases"])
        for phase, block in dutch["phases"].items():
            for key, value in block.items():
                assert type(own["phases"][phase][key]) is type(value), f"{language} {topic} {phase} {key}"
                if isinstance(value, list):
                    assert len(own["phases"][phase][key]) == len(value)
        dutch_numbers = {n for _, t in strings(dutch) for n in NUMBER.findall(t)}
        own_numbers = {n for _, t in strings(own) for n in NUMBER.findall(t)}
        assert dutch_numbers <= own_numbers, f"{language} {topic}: numbers missing"


def test_localized_responses_change_texts_only() -> None:
    dutch = domain_responses()
    for language in LANGUAGES:
        own = translations.localized_responses(dutch, language)
        assert set(own) == set(dutch)
        for name, variations in dutch.items():
            assert len(own[name]) == len(variations)
            for ours, theirs in zip(own[name], variations):
                assert ours.get("condition") == theirs.get("condition")
                assert ours.get("channel") == theirs.get("channel") and ours.get("custom") == theirs.get("custom")
                assert [b["payload"] for b in ours.get("buttons", [])] == [b["payload"] for b in theirs.get("buttons", [])]
                assert ours["text"] != theirs["text"], f"{language} {name} is still Dutch"


def test_an_unknown_language_answers_in_dutch() -> None:
    assert translations.answers_in("xx") == "nl" and translations.answers_in(None) == "nl"
    assert translations.localized_responses(domain_responses(), "xx") == domain_responses()
    assert dialogue.say("disclosure", "xx") == dialogue.say("disclosure")


def test_a_topic_reply_in_english_uses_the_english_texts() -> None:
    dutch = replies.topic_reply("slapen", "2-4", "normaal")
    english = replies.topic_reply("slapen", "2-4", "normaal", "en")
    assert len(english) == len(dutch)
    assert english[0].text.startswith(replies.text("topic_heading", "en", label=replies.label("slapen", "en")))
    assert "Wat kun je doen?" in dutch[0].text and "Wat kun je doen?" not in english[0].text
    assert [payload for _, payload in english[-1].buttons] == [payload for _, payload in dutch[-1].buttons]
    assert english[-1].buttons[0][0] != dutch[-1].buttons[0][0]


def conversation(language: str, **slots: Any) -> dialogue.Conversation:
    return dialogue.Conversation(slots={"language": language, **slots})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_first_reply_says_it_is_a_digital_assistant_in_the_parents_language(language: str) -> None:
    outcome = dialogue.respond(conversation(language, age_months=30), dialogue.Message("...", "topic_slapen"))
    assert outcome.replies[0].text.startswith(translations.text(language, "dialogue.disclosure"))
    assert outcome.slots["topic"] == "slapen" and outcome.slots["severity"]


@pytest.mark.parametrize("language", ("ar", "pl", "tr", "uk"))
def test_a_topic_the_language_does_not_cover_gets_the_honest_line_and_a_person(language: str) -> None:
    outcome = dialogue.respond(conversation(language, age_months=100), dialogue.Message("...", "topic_media"))
    assert outcome.slots["topic"] == "media"  # the contract's slots are set all the same
    honest = outcome.replies[-1]
    assert honest.text.endswith(translations.text(language, "dialogue.only_dutch_or_english"))
    assert [payload for _, payload in honest.buttons] == ["/ask_human"]
    assert dialogue.more_tips(conversation(language, topic="media")).replies[-1].text.endswith(
        translations.text(language, "dialogue.only_dutch_or_english"))


def test_english_covers_every_topic_and_asks_the_age_in_english() -> None:
    outcome = dialogue.respond(conversation("en"), dialogue.Message("my kid bites", "topic_agressie"))
    assert outcome.slots["awaiting_age"] is True
    assert replies.label("agressie", "en") in outcome.replies[-1].text
    assert "Hoe oud" not in outcome.replies[-1].text


def test_the_readme_says_which_languages_are_reviewed() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for language in LANGUAGES:
        row = re.search(rf"^\|\s*`{language}`\s*\|.*$", readme, re.M)
        assert row, f"README: no row for {language} in the languages table"
        status = "reviewed" if translations.reviewed(language) else "not reviewed"
        assert f"| {status} |" in row.group(0)


def test_the_hand_off_speaks_the_parents_language_and_keeps_its_payloads() -> None:
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from bot.domain import handoff

    dutch = handoff.ask("handoff_consent", {})
    english = handoff.ask("handoff_consent", {"language": "en"})
    assert english.text != dutch.text and [p for _, p in english.buttons] == [p for _, p in dutch.buttons]
    assert handoff.ask("handoff_consent", {"language": "xx"}) == dutch

    case = SimpleNamespace(contact_preference="chat", municipality=None, language="uk")
    monday_night = datetime(2026, 3, 2, 22, 0, tzinfo=timezone.utc)
    said = [s.text for s in handoff.after_case_opened(case, now=monday_night)]
    assert said[0].startswith(translations.text("uk", "handoff.case_opened"))
    assert "завтра" in said[1] and "morgen" not in said[1]  # Tuesday morning, in Ukrainian
    assert said[2] == handoff.urgent_lines("uk") and "0800-2000" in said[2]
    assert handoff.refusal("pl")[0].text.split()[0] != handoff.refusal()[0].text.split()[0]


def test_the_hand_off_records_the_language_and_only_a_known_one() -> None:
    from bot.domain import handoff

    request = handoff.request_from_slots("c1", {"handoff_consent": True, "language": "tr"})
    assert request is not None and request.language == "tr"
    assert handoff.sanitise(request)["language"] == "tr"
    assert handoff.sanitise(handoff.HandoffRequest("c2", language="klingon"))["language"] == "nl"


def test_the_rasa_server_answers_in_the_language_of_the_slot() -> None:
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa.nlg import MultilingualResponses

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    nlg = MultilingualResponses(None, Domain.empty())
    nlg.responses = domain.responses  # as Rasa's agent does once the model is loaded

    def said(language: str, action: str) -> dict:
        tracker = DialogueStateTracker.from_events("t", [SlotSet("language", language), SlotSet("situation", "vermist"),
                                                         SlotSet("pending_situation", "vermist")], slots=domain.slots)
        return asyncio.run(nlg.generate(action, tracker, "rest"))

    for language in LANGUAGES:
        crisis = said(language, "utter_crisis")
        assert crisis["text"] == translations.section(language, "responses")["utter_crisis"]["vermist"]
        question = said(language, "utter_safety_question")
        assert [b["payload"] for b in question["buttons"]] == ["/crisis_vermist", "/safety_no"]
    assert said("nl", "utter_crisis")["text"].startswith("Bel nu 112")
    assert said("xx", "utter_crisis") == said("nl", "utter_crisis")


def test_the_english_page_has_every_text_of_the_dutch_one() -> None:
    dutch = yaml.safe_load((PROJECT_ROOT / "bot" / "services" / "web" / "texts" / "nl.yml").read_text(encoding="utf-8"))
    english = translations.page("en")
    assert set(english) == set(dutch)
    for key, text in english.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(dutch[key])), key
        assert set(NUMBER.findall(text)) == set(NUMBER.findall(dutch[key])), key
    assert translations.page("ar") == {} and translations.page("nl") == {}

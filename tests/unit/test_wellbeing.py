"""Issue 19 without Rasa: the wellbeing question, the follow-up offer and its answers, "stop",
and the B1 figures of the new texts (bot/domain/wellbeing.py, bot/knowledge/followups.yml)."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from bot.domain import dialogue, wellbeing
from bot.domain.catalogue import load_catalogue
from bot.domain.dialogue import Conversation, Message
from bot.services.cases.schema import FOLLOWUP_CHANNELS
from tests.support.paths import ROOT

PAYLOAD_INTENT = re.compile(r"^/(\w+)$")


def _respond(text: str, intent: str, months: int, slots: Dict[str, Any] = None,
             channel: str = "rest") -> dialogue.Outcome:
    entities = ({"entity": "age_months", "value": months},)
    return dialogue.respond(Conversation(slots=slots or {}, channel=channel, has_replied=True),
                            Message(text, intent, entities))


def _questions(outcome: dialogue.Outcome) -> List[str]:
    asked = []
    for reply in outcome.replies:
        payloads = [p for _, p in reply.buttons]
        if "/wellbeing_good" in payloads:
            asked.append("wellbeing")
        if "/followup_one_week" in payloads:
            asked.append("offer")
    return asked


# ---------------------------------------------------------------- when the questions come


@pytest.mark.parametrize("topic,months", [("slapen", 18), ("huilen", 3), ("eten", 30), ("driftbuien", 40)])
def test_the_wellbeing_question_follows_a_young_childs_everyday_topic(topic: str, months: int) -> None:
    outcome = _respond("vraag", f"topic_{topic}", months)
    assert outcome.slots["severity"] in ("normaal", "aandacht")
    assert _questions(outcome) == ["wellbeing"]
    last = outcome.replies[-1]
    assert last.text == "En hoe gaat het met jóu?"
    assert [title for title, _ in last.buttons] == ["Goed", "Gaat wel", "Zwaar"]
    assert outcome.slots[wellbeing.ASKED_SLOT] is True


def test_the_wellbeing_question_follows_the_parents_own_question_at_any_age() -> None:
    outcome = dialogue.respond(Conversation(slots={}, channel="socketio"),
                               Message("ik ben zo moe van alles", "topic_ouder_welzijn"))
    assert _questions(outcome) == ["wellbeing"]


def test_an_older_childs_topic_gets_the_follow_up_offer_instead() -> None:
    outcome = _respond("ze slaapt slecht", "topic_slapen", 96)  # 8 years: no wellbeing question
    assert _questions(outcome) == ["offer"]
    offer = outcome.replies[-1]
    assert offer.text == "Zal ik over een week vragen hoe het gaat?"
    assert [p for _, p in offer.buttons] == ["/followup_one_week", "/followup_two_weeks", "/followup_decline"]
    assert outcome.slots[wellbeing.OFFERED_SLOT] is True


def test_the_wellbeing_question_is_asked_once_per_conversation_and_never_with_the_offer() -> None:
    first = _respond("hij slaapt slecht", "topic_slapen", 18)
    assert _questions(first) == ["wellbeing"]
    slots = dict(first.slots)
    second = _respond("en hij eet ook slecht", "topic_eten", 18, slots)
    assert _questions(second) == ["offer"], "asked once; then the offer, one question per turn"
    slots.update(second.slots)
    third = _respond("en driftbuien", "topic_driftbuien", 18, slots)
    assert _questions(third) == [], "each question once per conversation"


def test_no_offer_on_a_channel_that_cannot_deliver_it_and_nothing_after_a_crisis() -> None:
    assert _questions(_respond("slaapt slecht", "topic_slapen", 96, channel="twilio")) == []
    assert _questions(_respond("slaapt slecht", "topic_slapen", 96, channel=None)) == []
    crisis = _respond("slaapt slecht", "topic_slapen", 18, {"severity": "crisis"})
    assert _questions(crisis) == []


def test_a_missing_age_is_asked_first_without_another_question() -> None:
    outcome = dialogue.respond(Conversation(slots={}, channel="rest"), Message("hij slaapt slecht", "topic_slapen"))
    assert outcome.slots["awaiting_age"] is True and _questions(outcome) == []


def test_the_wellbeing_topics_and_phases_are_the_vocabularys() -> None:
    from bot import vocabulary

    assert wellbeing.wellbeing_topics() == {"slapen", "huilen", "eten", "driftbuien"}
    assert wellbeing.wellbeing_topics() <= set(vocabulary.TOPICS)
    assert wellbeing.wellbeing_phases() == {"0-2", "2-4"} and wellbeing.wellbeing_phases() <= set(vocabulary.PHASES)
    assert wellbeing.PARENT_TOPIC in vocabulary.TOPICS


def test_the_follow_up_channels_are_the_case_stores() -> None:
    assert wellbeing.FOLLOWUP_CHANNELS == FOLLOWUP_CHANNELS
    assert "email" not in FOLLOWUP_CHANNELS and "twilio" not in FOLLOWUP_CHANNELS


# ---------------------------------------------------------------- the wellbeing answer


@pytest.mark.parametrize("answer", [wellbeing.GOOD, wellbeing.OK])
def test_goed_or_gaat_wel_gets_a_short_word_and_then_the_offer_once(answer: str) -> None:
    slots = {"topic": "slapen", "severity": "normaal", wellbeing.ASKED_SLOT: True}
    turn = wellbeing.wellbeing_answer(answer, slots, "whatsapp")
    assert len(turn.replies) == 1 and turn.replies[0].text.endswith("Zal ik over een week vragen hoe het gaat?")
    assert turn.slots == {wellbeing.OFFERED_SLOT: True}
    again = wellbeing.wellbeing_answer(answer, {**slots, wellbeing.OFFERED_SLOT: True}, "whatsapp")
    assert again.replies[0].buttons == () and "?" not in again.replies[0].text


def test_zwaar_gets_informal_support_the_huisarts_de_luisterlijn_and_a_person() -> None:
    offers = wellbeing.informal_offers(load_catalogue(), {"phase": "0-2"})
    assert offers, "the example catalogue has informal support for parents"
    turn = wellbeing.wellbeing_answer(wellbeing.HARD, {"topic": "slapen"}, "rest", offers)
    text = "\n".join(r.text for r in turn.replies)
    for must in ("buur", "familie", "huisarts", "De Luisterlijn", "0900-0767", offers[0]):
        assert must in text, must
    assert [p for _, p in turn.replies[-1].buttons] == ["/ask_human", "/deny"]
    assert sum(r.text.count("?") for r in turn.replies) == 1, "one question: the offer of a person"
    plain = wellbeing.wellbeing_answer(wellbeing.HARD, {}, "rest", [])
    assert "0900-0767" in "\n".join(r.text for r in plain.replies)


# ---------------------------------------------------------------- the follow-up itself


def test_the_follow_up_names_the_topic_and_when_with_three_buttons() -> None:
    message = wellbeing.followup_message("slapen", 1)
    assert message.text.startswith("Je vroeg een week geleden over slapen. Hoe gaat het nu?")
    assert "stop" in message.text
    assert [t for t, _ in message.buttons] == ["Beter", "Hetzelfde", "Slechter"]
    assert wellbeing.followup_message("driftbuien", 2).text.startswith("Je vroeg twee weken geleden over")
    assert wellbeing.followup_template_parameters("slapen", 2) == ["twee weken", "slapen"]


def test_beter_closes_hetzelfde_asks_again_and_a_second_hetzelfde_or_slechter_is_aandacht() -> None:
    better = wellbeing.followup_answer(wellbeing.BETTER, 1)
    assert better.kind == "close" and better.turn.slots == {} and "fijn" in better.turn.replies[0].text
    same = wellbeing.followup_answer(wellbeing.SAME, 1)
    assert same.kind == "again" and "nog een keer" in same.turn.replies[0].text
    for verdict in (wellbeing.followup_answer(wellbeing.SAME, 2), wellbeing.followup_answer(wellbeing.WORSE, 1)):
        assert verdict.kind == "attention"
        assert verdict.turn.slots == {"severity": "aandacht", "support_level": "D"}
        assert [p for _, p in verdict.turn.replies[-1].buttons] == ["/ask_human", "/deny"]


@pytest.mark.parametrize("text,stop", [
    ("stop", True), ("Stop!", True), ("  STOP maar. ", True), ("geen vragen meer", True),
    ("stop met slaan", False), ("hij wil niet stoppen met huilen", False), ("", False), (None, False),
])
def test_stop_is_the_whole_message(text: Any, stop: bool) -> None:
    assert wellbeing.is_stop_request(text) is stop


# ---------------------------------------------------------------- payloads and domain


def test_every_button_payload_is_an_intent_of_the_domain_with_a_rule() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    rules = (ROOT / "data" / "rules" / "followups.yml").read_text(encoding="utf-8")
    for payload in wellbeing.payloads():
        intent = PAYLOAD_INTENT.match(payload).group(1)
        assert intent in intents and f"intent: {intent}" in rules, payload
    assert set(wellbeing.WELLBEING_INTENTS) | set(wellbeing.OFFER_INTENTS) | set(wellbeing.ANSWER_INTENTS) == {
        PAYLOAD_INTENT.match(p).group(1) for p in wellbeing.payloads()}
    for slot in (wellbeing.ASKED_SLOT, wellbeing.OFFERED_SLOT, "followup_id"):
        assert slot in domain["slots"]


# ---------------------------------------------------------------- B1


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("words", "buttons", "buttons_person", "ago", "topics", "phases"):  # sentences only
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def test_the_new_texts_are_b1_short_sentences() -> None:
    sentences = []
    for text in _texts(wellbeing.texts()):
        text = text.replace("{ago}", "een week").replace("{label}", "slapen")
        sentences += [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if re.search(r"\w", s)]
    lengths = [len(re.findall(r"[\w'’-]+", s)) for s in sentences]
    assert len(sentences) > 30
    assert sum(lengths) / len(lengths) <= 12, sum(lengths) / len(lengths)
    assert sum(1 for n in lengths if n > 20) <= 0.05 * len(lengths)

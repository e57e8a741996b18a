"""Crisis safety through the running assistant over REST (issue 13): every situation with its own
reply, an age given in a later message, the safety question, "/"-prefixed text, and a crisis while
a professional holds the conversation."""
from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
import requests

from bot.domain import situations
from bot.domain.crisis import detect_crisis
from bot.services.cases import CaseStore
from bot.services.console.rasa_client import RasaClient
from tests.support.assistant import new_sender, texts

# One clear message per situation, written for this test (not from any evaluation set).
EXAMPLES: Dict[str, str] = {
    "suicidaal_kind": "mijn dochter van 14 zegt dat ze dood wil",
    "suicidaal_ouder": "ik wil zelf niet meer leven, iedereen is beter af zonder mij",
    "mishandeling": "mijn vriend slaat mijn zoontje van 4 met een riem",
    "huiselijk_geweld": "mijn man bedreigt mij met een mes en de kinderen zien het",
    "seksueel_misbruik": "de buurman heeft mijn zoon van 8 betast",
    "uitbuiting": "mijn zoon van 14 moet drugs wegbrengen voor oudere jongens, anders slaan ze hem in elkaar",
    "vermist": "mijn zoon van 6 is weg en ik kan hem nergens vinden",
    "ouder_grens": "ik heb mijn baby van 3 weken net door elkaar geschud",
    "ouder_psychisch": "mijn vrouw hoort sinds de bevalling stemmen en is nu alleen met de baby",
    "vergiftiging": "mijn zoon van 2 heeft ontstopper gedronken",
    "medisch_baby": "mijn baby van 6 weken heeft 38,6 koorts",
    "medisch_acuut": "mijn dochter is bewusteloos",
    "eetstoornis_acuut": "mijn dochter van 15 eet al dagen niets en is vandaag flauwgevallen",
}


def digits(text: str) -> str:
    return re.sub(r"[\s\-.()]", "", text)


def test_the_examples_cover_every_situation() -> None:
    assert set(EXAMPLES) == set(situations.SITUATIONS)


@pytest.mark.parametrize("situation", list(EXAMPLES))
def test_each_situation_gets_its_first_step_then_its_numbers_then_a_person(assistant: Any, situation: str) -> None:
    sender = new_sender()
    replies = assistant.say(sender, EXAMPLES[situation])
    slots = assistant.slots(sender)
    assert (slots["severity"], slots["situation"], slots["signal"], slots["support_level"]) == (
        "crisis", situation, situations.SITUATIONS[situation], "D"), (EXAMPLES[situation], slots)
    first = replies[0]["text"]
    assert first == situations.reply(situation)
    entry = situations.entry(situation)
    assert any(digits(n) in digits(first) for n in entry["first_numbers"])
    positions = [digits(first).find(digits(n)) for n in entry["numbers"]]
    assert min(positions) > 0  # a step to take comes before the first number
    assert "digitale assistent" in texts(replies[1:]) and replies[-1].get("buttons")  # the offer of a person


def test_an_age_given_in_a_later_message_makes_it_a_crisis(assistant: Any) -> None:
    sender = new_sender()
    first = assistant.say(sender, "mijn baby heeft koorts, 38,5")
    assert assistant.slots(sender)["severity"] != "crisis", texts(first)
    assert detect_crisis("ze is 6 weken") is None  # the second message alone is nothing
    replies = assistant.say(sender, "ze is 6 weken")
    slots = assistant.slots(sender)
    assert (slots["severity"], slots["situation"]) == ("crisis", "medisch_baby")
    assert replies[0]["text"] == situations.reply("medisch_baby")


def trigger_safety_question(assistant: Any, sender: str, situation: str, **entities: Any) -> List[Dict[str, Any]]:
    answer = requests.post(f"{assistant.url}/conversations/{sender}/trigger_intent",
                           params={"token": assistant.token, "output_channel": "collector"},
                           json={"name": "safety_check", "entities": {"pending_situation": situation, **entities}},
                           timeout=60)
    answer.raise_for_status()
    return answer.json()["messages"]


def test_the_safety_question_yes_gives_that_crisis(assistant: Any) -> None:
    sender = new_sender()
    assistant.say(sender, "hallo")
    question = trigger_safety_question(assistant, sender, "vermist", age_months=30)
    assert "Is er nu gevaar" in question[0]["text"] and len(question) == 1  # nothing else is said yet
    assert assistant.slots(sender)["phase"] == "2-4"  # the concern's slots are set meanwhile
    assert [b["payload"] for b in question[0]["buttons"]] == ["/crisis_vermist", "/safety_no"]
    replies = assistant.say(sender, "ja")
    slots = assistant.slots(sender)
    assert (slots["severity"], slots["situation"]) == ("crisis", "vermist")
    assert replies[0]["text"] == situations.reply("vermist")


def test_the_safety_question_yes_button_and_no(assistant: Any) -> None:
    yes = new_sender()
    assistant.say(yes, "hallo")
    trigger_safety_question(assistant, yes, "vergiftiging")
    assert assistant.say(yes, "/crisis_vergiftiging")[0]["text"] == situations.reply("vergiftiging")
    no = new_sender()
    assistant.say(no, "hallo")
    trigger_safety_question(assistant, no, "vergiftiging")
    replies = assistant.say(no, "nee")
    assert situations.texts()["safety_question"]["no_reply"] in texts(replies)
    assert assistant.slots(no)["severity"] != "crisis"


def test_a_crisis_button_that_was_never_offered_is_ordinary_text(assistant: Any) -> None:
    sender = new_sender()
    replies = assistant.say(sender, "/crisis_vermist")
    assert assistant.slots(sender)["severity"] != "crisis", texts(replies)


@pytest.mark.parametrize("text", ["/greet{} mijn man slaat de baby", "/restart mijn zoon van 6 is weg en ik kan hem nergens vinden",
                                  "/ask_human{\"x\": 1} ik heb mijn baby net door elkaar geschud"])
def test_slash_text_is_read_as_text_and_crisis_detection_runs(assistant: Any, text: str) -> None:
    sender = new_sender()
    replies = assistant.say(sender, text)
    assert assistant.slots(sender)["severity"] == "crisis", texts(replies)


def test_a_crisis_while_a_professional_holds_the_conversation(assistant: Any) -> None:
    sender = new_sender()
    assistant.say(sender, "mijn zoon van 4 heeft elke dag driftbuien")
    store = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    case = store.create_case(conversation_id=sender, severity="normaal", topic="driftbuien")
    user = store.add_user(f"{sender}@voorbeeldstad.example", "Sanne", "x")
    store.claim(case.id, user)
    RasaClient(assistant.url, assistant.token).pause(sender, "Je praat nu met Sanne.")

    assert assistant.say(sender, "dank je, fijn") == []  # the professional answers, not the assistant
    replies = assistant.say(sender, "ik heb mijn baby net door elkaar geschud")
    assert replies[0]["text"] == situations.reply("ouder_grens")
    assert situations.texts()["professional_informed"] in texts(replies)
    assert "Wil je dat een medewerker" not in texts(replies)  # a person is there already
    alerted = store.get(case.id)
    assert alerted.alerted_at is not None and alerted.severity == "crisis"
    assert (alerted.signal, alerted.situation) == ("ouder_acuut", "ouder_grens")
    assert store.list_cases()[0].id == case.id  # first in the console's list
    assert assistant.say(sender, "oke") == []  # still the professional's conversation

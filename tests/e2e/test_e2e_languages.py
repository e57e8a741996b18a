"""End to end in the parent's language (issue 17): the real Rasa server and action server.

The messages here are the team's own examples of the behaviour; the held-out sets in
tests/data/languages/ measure it (make eval).
"""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bot.domain import translations
from bot.domain.languages.switch import payload
from tests.support.assistant import new_sender, texts


def said(language: str, path: str) -> str:
    text = translations.text(language, path)
    assert text, f"{language}: no text at {path}"
    return text


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for r in replies for b in (r.get("buttons") or [])]


def test_an_english_question_is_answered_in_english_with_the_disclosure(assistant):
    sender = new_sender()
    first = assistant.say(sender, "How do I stop my child from biting other kids?")
    slots = assistant.slots(sender)
    assert slots["language"] == "en" and slots["topic"] == "agressie"
    assert texts(first).startswith(said("en", "dialogue.disclosure")), first
    assert "How old" in texts(first) and "Hoe oud" not in texts(first)

    second = assistant.say(sender, "she is 2")
    slots = assistant.slots(sender)
    assert slots["age_months"] == 24 and slots["phase"] == "2-4" and slots["language"] == "en"
    assert "/more_tips" in payloads(second) and "Wat kun je doen?" not in texts(second)


def test_a_short_reply_keeps_the_language(assistant):
    sender = new_sender()
    assistant.say(sender, "my son of 4 does not want to sleep in his own bed")
    assistant.say(sender, "ok")
    assert assistant.slots(sender)["language"] == "en"


def test_dutch_with_english_words_stays_dutch(assistant):
    sender = new_sender()
    replies = assistant.say(sender, "mijn son van 3 heeft elke dag tantrums")
    assert assistant.slots(sender)["language"] == "nl"
    assert texts(replies).startswith("Ik ben Opvoedmaatje")


@pytest.mark.parametrize("language,text,situation", [
    ("en", "my husband is hitting me and the kids right now", "huiselijk_geweld"),
    ("ar", "ابني عمره ٣ سنوات ابتلع دواء الغسيل ماذا أفعل", "vergiftiging"),
    ("uk", "моя донька 15 років пише що хоче покінчити з собою", "suicidaal_kind"),
])
def test_a_crisis_gets_the_static_crisis_reply_in_the_parents_language(assistant_without_actions, language, text, situation):
    """Without the action server: the crisis reply of the Rasa server itself, in the language, at
    once or after "yes" to the safety question (CONTRACT.md 4b), which is in the language too."""
    assistant, sender = assistant_without_actions, new_sender()
    replies = assistant.say(sender, text)
    own = translations.section(language, "responses")
    if assistant.slots(sender)["severity"] != "crisis":
        assert replies[0]["text"] == own["utter_safety_question"]["text"], replies
        assert assistant.slots(sender)["pending_situation"] == situation
        replies = assistant.say(sender, replies[0]["buttons"][0]["payload"])  # "yes"
    slots = assistant.slots(sender)
    assert slots["language"] == language and slots["severity"] == "crisis" and slots["situation"] == situation
    expected = own["utter_crisis"][situation]
    assert replies[0]["text"] == expected, replies
    assert "0800-2000" in expected and "112" in expected


def test_arabic_gets_the_topic_reply_in_arabic(assistant):
    """(The honest line for a topic Arabic does not cover: tests/unit/test_translations.py, in
    bot.domain.dialogue; the classifier has no Arabic examples of those topics yet.)"""
    sender = new_sender()
    first = assistant.say(sender, "ابني عمره 3 سنوات لا ينام في الليل ويستيقظ كثيرا")
    slots = assistant.slots(sender)
    assert slots["language"] == "ar" and slots["topic"] == "slapen" and slots["age_months"] == 36
    assert texts(first).startswith(said("ar", "dialogue.disclosure"))
    assert translations.topic("ar", "slapen")["phases"]["2-4"]["why"] in texts(first)


def test_the_language_menu_and_asking_switch_the_language(assistant):
    sender = new_sender()
    switched = assistant.say(sender, payload("tr"))
    assert assistant.slots(sender)["language"] == "tr"
    assert texts(switched) == said("tr", "responses.utter_language_switched.text")

    back = assistant.say(sender, "kun je Nederlands praten?")
    assert assistant.slots(sender)["language"] == "nl"
    assert "Nederlands" in texts(back)


def test_the_hand_off_is_in_the_parents_language_and_the_case_records_it(assistant):
    """The buttons' payloads stay Dutch ("Hier in de chat"); clicking them keeps the conversation
    English, and the case tells the professional the parent's language."""
    from bot.services.cases import CaseStore

    sender = new_sender()
    assistant.say(sender, "my daughter is 6 and keeps lying to me about everything")
    asked = assistant.say(sender, "/ask_human")
    assert " ".join(texts(asked).split()) == " ".join(said("en", "handoff.ask.handoff_consent.text").split())
    words = assistant.say(sender, "/affirm")
    assert " ".join(texts(words).split()) == " ".join(said("en", "handoff.ask.words_consent.text").split())
    how = assistant.say(sender, "/deny")
    chat = next(b for r in how for b in (r.get("buttons") or []) if b["payload"] == "Hier in de chat")
    assert chat["title"] != chat["payload"]  # an English title on a Dutch payload
    done = assistant.say(sender, chat["payload"])
    assert said("en", "handoff.case_opened") in texts(done) and assistant.slots(sender)["language"] == "en"
    case = CaseStore.from_url(assistant.env["CASE_STORE_URL"]).active_case_for(sender)
    assert case is not None and case.language == "en" and case.topic == "liegen_stelen"

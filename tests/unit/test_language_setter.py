"""The NLU component that sets the conversation's language (bot/rasa/nlu/language_setter.py), without a
Rasa server: Rasa's own Message objects and a tracker that only has slots."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.domain.languages.switch import SWITCH_INTENT, is_switch_payload, payload, requested_language
from bot.rasa.nlu.crisis_detector import is_own_payload
from bot.rasa.nlu.language_setter import LanguageSetter


class Slots:
    def __init__(self, **slots: Any) -> None:
        self.slots = slots
        self.events: List[Any] = []

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)


@pytest.fixture(scope="module")
def setter() -> LanguageSetter:
    return LanguageSetter()


def parsed(setter: LanguageSetter, text: str, intent: str = "out_of_scope", language: Optional[str] = "nl") -> Dict[str, Any]:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.5}, "entities": []})
    setter.process([message], Slots(language=language))
    entities = {e["entity"]: e["value"] for e in message.get("entities") or []}
    return {"intent": message.get("intent")["name"], "language": entities.get("language")}


def test_a_message_in_another_language_sets_the_entity(setter: LanguageSetter) -> None:
    assert parsed(setter, "How do I stop my toddler from biting?", "topic_agressie") == \
        {"intent": "topic_agressie", "language": "en"}
    assert parsed(setter, "ابني لا ينام في الليل", "topic_slapen")["language"] == "ar"


def test_the_same_language_or_a_short_reply_sets_nothing(setter: LanguageSetter) -> None:
    assert parsed(setter, "mijn dochter slaapt slecht", "topic_slapen")["language"] is None
    assert parsed(setter, "ok", "affirm", language="en")["language"] is None
    assert parsed(setter, "mijn son van 3 heeft tantrums", "topic_driftbuien")["language"] is None


def test_dutch_after_english_switches_back(setter: LanguageSetter) -> None:
    assert parsed(setter, "mijn zoon van 4 wil niet naar bed", "topic_slapen", language="en")["language"] == "nl"


def test_a_bare_request_becomes_the_switch_whatever_topic_it_reads_like(setter: LanguageSetter) -> None:
    assert parsed(setter, "kun je Engels praten?", "topic_ontwikkeling") == {"intent": SWITCH_INTENT, "language": "en"}
    assert parsed(setter, "kun je Nederlands praten?", "topic_ontwikkeling", language="tr") == \
        {"intent": SWITCH_INTENT, "language": "nl"}


def test_a_request_never_replaces_a_crisis_or_a_longer_concern(setter: LanguageSetter) -> None:
    assert parsed(setter, "can you speak English please", "crisis_vermist")["intent"] == "crisis_vermist"
    long = "can you speak English please, my son of 4 wakes up every night and screams"
    assert parsed(setter, long, "topic_slapen") == {"intent": "topic_slapen", "language": "en"}


def test_payloads_are_left_to_rasa(setter: LanguageSetter) -> None:
    assert parsed(setter, payload("en"), "out_of_scope") == {"intent": "out_of_scope", "language": None}


def test_no_tracker_means_no_previous_language(setter: LanguageSetter) -> None:
    message = Message(data={"text": "my son will not eat vegetables", "intent": {"name": "topic_eten"}, "entities": []})
    setter.process([message], None)
    assert [e["value"] for e in message.get("entities")] == ["en"]


@pytest.mark.parametrize("text,language", [
    ('/switch_language{"language":"en"}', "en"),
    ('/switch_language{"language": "ar"}', "ar"),
    ('/switch_language{"language":"xx"}', None),
    ('/switch_language{"language":"en"} and more', None),
    ("/crisis_vermist", None),
    (None, None),
])
def test_only_the_menus_payloads_are_switches(text: Any, language: Optional[str]) -> None:
    assert requested_language(text) == language
    assert is_switch_payload(text) is (language is not None)


def test_the_crisis_detector_accepts_the_menus_payloads_as_payloads() -> None:
    tracker = Slots()
    assert is_own_payload(payload("uk"), tracker)
    assert not is_own_payload("/crisis_vermist", tracker)


def test_a_plain_text_payload_the_assistant_offered_keeps_the_language(setter: LanguageSetter) -> None:
    """'Hier in de chat' is the payload of the English button 'Here in the chat' (bot/knowledge/handoff.yml):
    clicking it must not switch an English conversation to Dutch."""
    from rasa.shared.core.events import BotUttered

    tracker = Slots(language="en")
    tracker.events = [BotUttered("How should we contact you?", data={"buttons": [
        {"title": "Here in the chat", "payload": "Hier in de chat"}]})]
    message = Message(data={"text": "Hier in de chat", "intent": {"name": "inform_place"}, "entities": []})
    setter.process([message], tracker)
    assert not message.get("entities")
    typed = Message(data={"text": "Hier in de chat graag, dat is beter voor mij", "intent": {"name": "affirm"}, "entities": []})
    setter.process([typed], tracker)
    assert [e["value"] for e in typed.get("entities")] == ["nl"]


def test_a_failing_detector_never_fails_the_message(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        rules = None

        def detect(self, text: str, previous: Optional[str] = None) -> None:
            raise RuntimeError("boom")

    message = Message(data={"text": "my son is ill", "intent": {"name": "topic_gezondheid"}, "entities": []})
    LanguageSetter(Broken()).process([message], Slots(language="nl"))  # type: ignore[arg-type]
    assert message.get("intent")["name"] == "topic_gezondheid" and not message.get("entities")
    assert "RuntimeError" in caplog.text and "my son" not in caplog.text


def test_during_the_hand_off_questions_only_a_request_switches(setter: LanguageSetter) -> None:
    tracker = Slots(language="nl")
    tracker.active_loop_name = "handoff_form"  # type: ignore[attr-defined]
    answer = Message(data={"text": "you can reach me by email please", "intent": {"name": "affirm"}, "entities": []})
    setter.process([answer], tracker)
    assert not answer.get("entities")
    request = Message(data={"text": "kun je Engels praten?", "intent": {"name": "out_of_scope"}, "entities": []})
    setter.process([request], tracker)
    assert [e["value"] for e in request.get("entities")] == ["en"]

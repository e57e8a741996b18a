"""bot/domain/safety.py and the crisis detector's use of the conversation (no Rasa server needed)."""
from __future__ import annotations

from typing import List, Optional, Tuple

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain import safety
from bot.domain.crisis import talks_about_danger
from bot.domain.situations import SITUATIONS
from bot.rasa.nlu.crisis_detector import CrisisDetector, conversation_context, is_own_payload

TOPIC = [("topic_gezondheid", 0.8), ("topic_slapen", 0.1)]


def ranking(crisis: float, situation: str = "vermist", top: str = "topic_opvoeden_algemeen") -> List[Tuple[str, float]]:
    rest = 1.0 - crisis
    items = [(f"crisis_{situation}", crisis), (top, rest)]
    return sorted(items, key=lambda item: -item[1])


def verdict(text: str, rank=(), earlier=(), asked: Optional[str] = None) -> safety.Verdict:
    return safety.assess(safety.Evidence(text=text, ranking=tuple(rank), earlier=tuple(earlier), asked=asked))


def test_every_situation_has_a_contract_signal() -> None:
    assert len(SITUATIONS) == 13
    assert set(SITUATIONS.values()) == {"suicide", "geweld", "ouder_acuut", "medisch_acuut"}


def test_a_pattern_on_the_message_is_a_crisis_with_its_situation() -> None:
    found = verdict("mijn baby van 6 weken heeft 38,6 koorts", ranking(0.2, "medisch_baby", top="topic_gezondheid"))
    assert (found.kind, found.situation, found.signal, found.source) == ("crisis", "medisch_baby", "medisch_acuut", "pattern")


def test_the_classifier_names_the_situation_of_a_pattern_crisis_when_it_sees_a_crisis_too() -> None:
    text = "mijn baby van 6 weken heeft 38,6 koorts"  # the pattern says medisch_baby
    assert verdict(text, ranking(0.7, "suicidaal_ouder")).situation == "suicidaal_ouder"
    assert verdict(text, ranking(0.45, "vergiftiging")).situation == "vergiftiging"
    # a classifier that sees no crisis leaves the pattern's situation
    assert verdict(text, ranking(0.1, "vergiftiging")).situation == "medisch_baby"


def test_the_pattern_situation_stands_when_the_classifier_gives_it_a_fair_share() -> None:
    text = "mijn baby van 6 weken heeft 38,6 koorts"  # the pattern says medisch_baby
    close = (("crisis_medisch_acuut", 0.5), ("crisis_medisch_baby", 0.3), ("topic_gezondheid", 0.2))
    assert verdict(text, close).situation == "medisch_baby"  # 0.3 >= half of 0.5
    far = (("crisis_medisch_acuut", 0.7), ("crisis_medisch_baby", 0.2), ("topic_gezondheid", 0.1))
    assert verdict(text, far).situation == "medisch_acuut"


def test_a_pattern_in_a_question_that_the_classifier_reads_as_no_crisis_at_all_asks_nothing() -> None:
    text = "mijn baby van 6 weken heeft 38,6 koorts, en nu?"
    assert verdict(text, ranking(0.02, "medisch_baby")).kind == "none"
    assert verdict(text, ranking(0.2, "medisch_baby")).kind == "ask"
    assert verdict(text.replace(", en nu?", ""), ranking(0.02, "medisch_baby")).kind == "ask"


def test_a_pattern_in_talk_about_danger_asks_only_from_a_surer_classifier() -> None:
    text = "vorig jaar heeft mijn zoon een knoopcel ingeslikt, hij is helemaal hersteld"  # a pattern fires
    assert verdict(text, ranking(0.45, "vergiftiging")).kind == "none"
    assert verdict(text, ranking(0.55, "vergiftiging")).kind == "ask"
    assert verdict(text, ranking(0.75, "vergiftiging")).kind == "crisis"


@pytest.mark.parametrize("text", [
    "hij had pillen van oma ingenomen, we zijn naar de huisartsenpost geweest en alles was goed",
    "ze werd gevraagd een pakketje weg te brengen maar ze heeft nee gezegd",
    "mijn vader heeft zich van het leven beroofd toen ik 12 was, hoe vertel ik het mijn zoon",
    "tien jaar geleden sloeg mijn ex mij",
])
def test_something_that_ended_well_or_long_ago_is_talk_about_danger(text: str) -> None:
    assert talks_about_danger(text)
    assert not talks_about_danger("hij heeft net pillen van oma ingenomen, wat moet ik doen")


def test_an_age_given_in_a_later_message_counts() -> None:
    assert verdict("mijn baby heeft koorts, 38,5", TOPIC).kind == "none"
    later = verdict("ze is 6 weken", [("inform_age", 0.9)], earlier=["mijn baby heeft koorts, 38,5"])
    assert (later.kind, later.situation, later.source) == ("crisis", "medisch_baby", "context")


def test_a_crisis_that_was_answered_is_not_answered_again_on_the_next_message() -> None:
    earlier = ["mijn baby van 6 weken heeft 38,6 koorts"]
    assert verdict("wat moet ik nu doen", [("topic_gezondheid", 0.9)], earlier=earlier).kind == "none"


def test_the_classifier_decides_above_the_crisis_threshold_and_asks_in_the_grey_zone() -> None:
    assert verdict("hij is al uren weg", ranking(0.9)).kind == "crisis"
    asked = verdict("hij is al uren weg", ranking(0.4))
    assert (asked.kind, asked.situation) == ("ask", "vermist")
    assert verdict("hij is al uren weg", ranking(0.2)).kind == "none"


def test_a_question_about_danger_gets_the_safety_question_only_from_a_surer_classifier() -> None:
    about = "wat moet ik doen als hij ooit wegloopt?"  # talks about danger (crisis.yml about_danger)
    assert verdict(about, ranking(0.45)).kind == "none"
    assert verdict(about, ranking(0.55)).kind == "ask"  # the upper part of the grey zone
    assert verdict("hij is al uren weg", ranking(0.5)).kind == "ask"


def test_the_crisis_mass_is_summed_over_situations() -> None:
    rank = [("topic_opvoeden_algemeen", 0.28), ("crisis_vermist", 0.38), ("crisis_uitbuiting", 0.34)]
    found = verdict("hij komt niet meer thuis", rank)
    assert (found.kind, found.situation) == ("crisis", "vermist")


def test_a_figure_of_speech_keeps_the_classifier_alone_from_asking_but_does_not_hide_a_sure_crisis() -> None:
    assert verdict("ik schrok me dood", ranking(0.5, "medisch_acuut")).kind == "none"
    # "doodsbang" is a figure of speech; a classifier that is sure of the crisis still decides
    sure = verdict("hij belde net doodsbang, ze laten hem niet gaan", ranking(0.9, "uitbuiting"))
    assert (sure.kind, sure.situation) == ("crisis", "uitbuiting")


def test_talk_about_danger_never_gets_a_crisis_reply_from_the_classifier_alone() -> None:
    about = "wat moet ik doen als hij ooit wegloopt?"
    assert verdict(about, ranking(0.9)).kind == "ask"


def test_a_pattern_in_a_question_the_classifier_reads_as_no_crisis_asks_first() -> None:
    question = "mijn zoon zei 'ik wil dood' toen zijn ijsje viel, hoe reageer ik daarop?"
    assert safety.detect_crisis(question) is not None
    assert verdict(question, ranking(0.1, "suicidaal_kind")).kind == "ask"
    assert verdict(question, ranking(0.5, "suicidaal_kind")).kind == "crisis"
    statement = "mijn zoon zei net dat hij dood wil"  # no question: the pattern decides
    assert verdict(statement, ranking(0.1, "suicidaal_kind")).kind == "crisis"
    # ... unless the classifier sees no crisis at all in it: then the safety question first
    assert verdict(statement, ranking(0.05, "suicidaal_kind")).kind == "ask"


def test_the_classifier_alone_gives_the_baby_crisis_reply_only_for_a_baby_known_to_be_young() -> None:
    fever = "mijn baby heeft koorts, 38,5"  # no pattern: the patterns want the age
    def at(age):
        return safety.assess(safety.Evidence(text=fever, ranking=tuple(ranking(0.8, "medisch_baby")), age_months=age))
    assert at(1).kind == "crisis"
    assert (at(None).kind, at(None).situation) == ("ask", "medisch_baby")
    assert at(8).kind == "ask"
    other = safety.assess(safety.Evidence(text="hij is al uren weg", ranking=tuple(ranking(0.8, "vermist")), age_months=8))
    assert other.kind == "crisis"  # other situations do not depend on the age


def test_the_classifier_alone_asks_about_a_question_only_from_a_surer_level() -> None:
    def at_035(text: str, rank) -> str:  # the floor for questions lies above this ask threshold
        return safety.assess(safety.Evidence(text=text, ranking=tuple(rank)), ask_threshold=0.35).kind

    assert at_035("is hij al uren weg?", ranking(0.37)) == "none"
    assert at_035("is hij al uren weg?", ranking(0.45)) == "ask"
    assert at_035("hij is al uren weg", ranking(0.37)) == "ask"


def test_yes_to_the_safety_question_is_that_crisis_and_no_goes_on() -> None:
    yes = verdict("ja", [("affirm", 0.97)], asked="vermist")
    assert (yes.kind, yes.situation, yes.source) == ("crisis", "vermist", "answer")
    no = verdict("nee hoor", [("deny", 0.95)], asked="vermist")
    assert no.kind == "safe"
    # without a question before it, "ja" is nothing
    assert verdict("ja", [("affirm", 0.97)]).kind == "none"


def test_odd_input_gives_no_verdict_and_no_error() -> None:
    for text in ("", "   ", "\x00\x01", "🙂" * 500, "<script>x()</script>"):
        assert verdict(text).kind == "none"


# ------------------------------------------------------------------ the conversation, from a tracker


def tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("t", list(events), slots=None)


def test_payloads_the_assistant_sent_are_payloads_and_others_are_text() -> None:
    t = tracker(UserUttered("hoi"), BotUttered("Tips", data={"buttons": [{"title": "Meer tips", "payload": "/more_tips"}]}))
    assert is_own_payload("/more_tips", t)
    assert not is_own_payload("/greet{} mijn man slaat de baby", t)
    assert not is_own_payload("/ask_human", t)  # never sent in this conversation


def test_the_context_is_the_current_session_and_knows_an_open_safety_question() -> None:
    from rasa.shared.core.slots import TextSlot

    t = DialogueStateTracker.from_events("t", [
        UserUttered("oude sessie"), SessionStarted(), UserUttered("hij is weg"),
        SlotSet("pending_situation", "vermist"),
        BotUttered("Is er nu gevaar?", metadata={"utter_action": "utter_safety_question"}),
    ], slots=[TextSlot("pending_situation", mappings=[])])
    texts, asked = conversation_context(t)
    assert texts == ["hij is weg"] and asked == "vermist"
    t.update(UserUttered("ja"))
    t.update(BotUttered("Bel 112"))
    assert conversation_context(t)[1] is None


def run_detector(text: str, tracker_: DialogueStateTracker, rank) -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": rank[0][0], "confidence": rank[0][1]}, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in rank], add_to_output=True)
    CrisisDetector(CrisisDetector.get_default_config()).process([message], tracker_)
    return message


def test_slash_text_is_ordinary_text_and_crisis_detection_reads_it() -> None:
    message = run_detector("/greet{} mijn man slaat de baby", tracker(), [("greet", 0.8), ("crisis_mishandeling", 0.2)])
    assert message.get(INTENT)["name"].startswith("crisis_")
    assert not message.get(TEXT).startswith("/")  # Rasa's RegexMessageHandler will not read it


def test_an_own_payload_is_left_to_rasa() -> None:
    t = tracker(BotUttered("x", data={"buttons": [{"title": "Meer tips", "payload": "/more_tips"}]}))
    message = run_detector("/more_tips", t, [("more_tips", 0.6)])
    assert message.get(TEXT) == "/more_tips" and message.get(INTENT)["name"] == "more_tips"


def test_grey_zone_asks_with_the_situation_as_entity() -> None:
    message = run_detector("hij is al uren weg", tracker(), ranking(0.45))
    assert message.get(INTENT)["name"] == "safety_check"
    assert {"entity": "pending_situation", "value": "vermist"}.items() <= message.get("entities")[0].items()


def test_a_classifier_crisis_that_is_not_supported_becomes_the_best_other_intent() -> None:
    message = run_detector("ik schrok me dood", tracker(), [("crisis_medisch_acuut", 0.6), ("topic_angst", 0.3)])
    assert message.get(INTENT)["name"] == "topic_angst"


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_the_yes_button_of_the_safety_question_is_that_crisis(situation: str) -> None:
    import yaml

    from bot.settings import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    question = domain["responses"]["utter_safety_question"][0]
    yes = question["buttons"][0]["payload"].replace("{pending_situation}", situation)
    assert yes == f"/crisis_{situation}" and f"crisis_{situation}" in domain["intents"]
    assert "digitale assistent" in question["text"]


def test_actions_between_messages_do_not_break_the_context() -> None:
    t = tracker(UserUttered("a"), ActionExecuted("action_listen"), UserUttered("b"))
    assert conversation_context(t) == (["a", "b"], None)


def test_a_question_about_danger_is_weighed_by_the_classifier_also_later_in_a_conversation() -> None:
    question = "vorig jaar heeft mijn zoon een batterijtje ingeslikt, nu gaat het weer goed. hoe voorkom ik dat?"
    assert verdict(question, [("topic_gezondheid", 0.9)]).kind == "none"
    assert verdict(question, [("topic_gezondheid", 0.9)], earlier=["hallo", "ik heb een vraag"]).kind == "none"
    # the classifier is sure, but the message talks about the past: one safety question
    assert verdict(question, ranking(0.8, "vergiftiging")).kind == "ask"


@pytest.mark.parametrize("text, asked", [
    ("ابني خرج من البيت ولم يرجع منذ الصباح", True),           # Arabic: the classifier alone decides
    ("mój syn nie wrócił do domu od rana", True),               # Polish
    ("mijn zoon is vanochtend de deur uit gegaan", False),      # Dutch: the patterns read it too
])
def test_other_languages_get_the_safety_question_sooner(text: str, asked: bool) -> None:
    """A crisis mass between ask_threshold_other_languages and ask_threshold asks only outside Dutch."""
    config = {**CrisisDetector.get_default_config(), "ask_threshold": 0.4, "ask_threshold_other_languages": 0.3}
    message = Message(data={TEXT: text})
    rank = [("topic_scheidingsangst", 0.6), ("crisis_vermist", 0.35), ("topic_slapen", 0.05)]
    message.set(INTENT, {"name": rank[0][0], "confidence": rank[0][1]}, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in rank], add_to_output=True)
    CrisisDetector(config).process([message], tracker())
    assert (message.get(INTENT)["name"] == "safety_check") is asked


def test_the_language_is_looked_up_only_in_the_band_between_the_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.rasa.nlu import crisis_detector

    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the language was looked up")

    monkeypatch.setattr(crisis_detector, "detect_language", no_lookup)
    config = {**CrisisDetector.get_default_config(), "ask_threshold": 0.4, "ask_threshold_other_languages": 0.3}
    detector = CrisisDetector(config)
    assert detector._ask_threshold("x", [("crisis_vermist", 0.1)], tracker()) == 0.4
    assert detector._ask_threshold("x", [("crisis_vermist", 0.5)], tracker()) == 0.4

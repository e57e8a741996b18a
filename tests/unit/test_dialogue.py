"""bot.domain.dialogue: slots and replies per message, on the real data, without Rasa."""
from __future__ import annotations

import pytest

from bot.domain import dialogue
from bot.domain.catalogue import load_catalogue
from bot.domain.dialogue import Conversation, Message


def conv(slots=None, history=(), replied=True):
    return Conversation(slots=slots or {}, history=tuple(history), has_replied=replied)


def age_entity(months):
    return ({"entity": "age_months", "value": months},)


def all_text(outcome):
    return " ".join(r.text for r in outcome.replies)


def test_concern_without_age_asks_the_age_and_sets_topic_and_provisional_severity():
    out = dialogue.respond(conv(replied=False), Message("mijn dochter slaapt slecht", "topic_slapen"))
    assert out.slots["topic"] == "slapen"
    assert out.slots["awaiting_age"] is True
    assert out.slots["severity"] in {"normaal", "aandacht"} and out.slots["support_level"]
    assert "oud" in all_text(out).lower()
    assert "digitale assistent" in out.replies[0].text  # first reply of the conversation


def test_the_answer_to_the_age_question_fills_age_and_phase_and_gives_tips():
    state = {"topic": "slapen", "awaiting_age": True, "severity": "normaal", "support_level": "B"}
    out = dialogue.respond(conv(state, history=["mijn dochter slaapt slecht"]), Message("anderhalf", "nlu_fallback"))
    assert (out.slots["age_months"], out.slots["phase"]) == (18, "0-2")
    assert out.slots["topic"] == "slapen" and out.slots["awaiting_age"] is False
    assert out.slots["severity"] == "normaal" and out.slots["support_level"] in {"A", "B", "C"}
    payloads = [p for r in out.replies for _, p in r.buttons]
    assert "/more_tips" in payloads
    assert "digitale assistent" not in all_text(out)  # only the first reply says so


def test_an_unclear_answer_to_the_age_question_is_asked_again_once():
    state = {"topic": "slapen", "awaiting_age": True}
    out = dialogue.respond(conv(state), Message("weet ik niet precies", "nlu_fallback"))
    assert out.replies and "age_months" not in out.slots


def test_concern_with_age_sets_every_contract_slot():
    out = dialogue.respond(conv(), Message("mijn zoon van 6 plast overdag nog vaak in zijn broek",
                                           "topic_zindelijkheid", age_entity(72)))
    assert out.slots["topic"] == "zindelijkheid"
    assert (out.slots["age_months"], out.slots["phase"]) == (72, "5-12")
    assert (out.slots["severity"], out.slots["support_level"]) == ("aandacht", "D")
    assert "/ask_human" in [p for r in out.replies for _, p in r.buttons]


def test_normal_concern_at_its_age_is_normaal():
    out = dialogue.respond(conv(), Message("peuter van 3 gooit met eten", "topic_eten", age_entity(36)))
    assert (out.slots["severity"], out.slots["phase"]) == ("normaal", "2-4")
    assert out.slots["support_level"] in {"A", "B", "C"}


def test_after_a_crisis_the_severity_stays_crisis_and_the_numbers_stay_in_view():
    state = {"severity": "crisis", "support_level": "D", "signal": "geweld"}
    out = dialogue.respond(conv(state), Message("hij slaapt ook slecht", "topic_slapen", age_entity(48)))
    assert (out.slots["severity"], out.slots["support_level"]) == ("crisis", "D")
    assert "0800-2000" in all_text(out)


def test_age_without_a_concern_asks_what_the_question_is():
    out = dialogue.respond(conv(), Message("hij is 6", "inform_age", age_entity(72)))
    assert out.slots["age_months"] == 72 and "topic" not in out.slots
    assert "waar gaat je vraag over" in all_text(out).lower()


def test_the_parents_own_wellbeing_needs_no_child_age():
    out = dialogue.respond(conv(), Message("ik ben zo moe en alleen met de zorg", "topic_ouder_welzijn"))
    assert out.slots["topic"] == "ouder_welzijn" and out.slots["awaiting_age"] is False
    assert out.slots["severity"] in {"normaal", "aandacht"}


def test_more_tips_follow_the_topic_and_phase():
    out = dialogue.more_tips(conv({"topic": "driftbuien", "age_months": 36}))
    assert out.replies and all(r.text for r in out.replies)
    assert dialogue.more_tips(conv({})).replies[0].text == dialogue.say("no_topic_yet")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_support_nearby_asks_the_neighbourhood_once_and_never_requires_it(catalogue):
    state = {"topic": "slapen", "age_months": 8, "severity": "normaal", "support_level": "B"}
    first = dialogue.support_nearby(conv(state), Message("/support_nearby", "support_nearby"), catalogue)
    assert first.slots.get("place_asked") is True
    assert first.replies[0].buttons, "the neighbourhoods are offered as buttons"
    skipped = dialogue.support_nearby(conv({**state, "place_asked": True}), Message("/support_nearby", "support_nearby"), catalogue)
    assert 2 <= len(skipped.replies) <= 4  # intro + at most three offers


def test_support_in_a_named_neighbourhood_comes_from_that_neighbourhood(catalogue):
    state = {"topic": "slapen", "age_months": 8, "severity": "normaal", "support_level": "B", "place_asked": True}
    out = dialogue.support_nearby(conv(state), Message("ik woon in noorderwijk", "inform_place"), catalogue)
    assert out.slots["neighbourhood"] == "Noorderwijk"
    assert out.slots["municipality"] == "Voorbeeldstad"
    assert "Noorderwijk" in out.replies[0].text
    assert len(out.replies) >= 2


def _sentences(text):
    import re
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]


@pytest.mark.parametrize("key", ["crisis_reminder", "action_server_down"])
def test_a_parent_afraid_of_hurting_the_child_is_sent_to_veilig_thuis_and_the_huisarts(key):
    """Issue 13: fear of hurting the child is for Veilig Thuis and the huisarts; 113 is for suicide."""
    text = dialogue.say(key)
    sentences = _sentences(text)
    fear = [i for i, s in enumerate(sentences) if "iets aandoet" in s]
    assert fear, text
    answer = " ".join(sentences[fear[0]:fear[0] + 3])
    assert "Veilig Thuis: 0800-2000" in answer
    for i, sentence in enumerate(sentences):
        if "113" in sentence:  # only after the question about suicide
            context = " ".join(sentences[max(0, i - 1):i + 1])
            assert "zelfdoding" in context and "aandoet" not in context, context
    if key == "crisis_reminder":
        assert "huisarts" in answer


def test_after_a_parent_crisis_the_reminder_names_veilig_thuis_for_fear_of_hurting_the_child():
    state = {"severity": "crisis", "support_level": "D", "signal": "ouder_acuut"}
    out = dialogue.respond(conv(state), Message("hij huilt de hele dag", "topic_huilen", age_entity(3)))
    reminder = out.replies[-1].text
    assert reminder == dialogue.say("crisis_reminder")
    assert "bang dat je je kind iets aandoet" in reminder and "0800-2000" in reminder


@pytest.mark.parametrize("text,intent,entities", [
    ("ik ben niet blij met mijn baby en huil de hele dag", "topic_huilen", age_entity(2)),
    ("ik voel me zo somber sinds de bevalling", "topic_ouder_welzijn", ()),
    ("heb ik een postnatale depressie?", "topic_emoties", ()),
])
def test_postnatal_depression_is_aandacht_and_the_reply_names_it(text, intent, entities):
    """Issue 13: the parent's own low mood after the birth gets the ouder_welzijn reply, aandacht."""
    out = dialogue.respond(conv(), Message(text, intent, entities))
    assert out.slots["topic"] == "ouder_welzijn"
    assert (out.slots["severity"], out.slots["support_level"]) == ("aandacht", "D")
    assert out.slots["awaiting_age"] is False
    joined = all_text(out)
    assert "postnatale depressie" in joined and "huisarts" in joined

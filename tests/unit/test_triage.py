"""Triage of a parent's concern: severity, support level and reasons (bot/domain/triage.py, triage.yml)."""
from __future__ import annotations

import dataclasses
import re
import time

import pytest

from bot.domain import knowledge, triage
from bot.domain.triage import Assessment, assess

SIGNALS = ("duration", "frequency", "intensity", "daily_life", "parent_alarm", "professional_concern",
           "postnatal", "parent_worry")


# --- the examples of the brief -------------------------------------------------------------------

@pytest.mark.parametrize("topic,phase,months,text,severity", [
    ("zindelijkheid", "5-12", 72, "Mijn zoon van 6 plast overdag nog vaak in zijn broek", "aandacht"),
    ("eten", "2-4", 36, "Peuter van 3 gooit met eten aan tafel", "normaal"),
    ("luisteren_grenzen", "2-4", 36, "Peuter van 3 gooit met eten aan tafel", "normaal"),
    ("sociaal", "5-12", 120, "Ons kind van 10 heeft al maanden geen zin meer om te spelen en zit alleen op zijn kamer", "aandacht"),
    ("emoties", "5-12", 120, "Ons kind van 10 heeft al maanden geen zin meer om te spelen en zit alleen op zijn kamer", "aandacht"),
    ("alcohol_drugs", "12-19", 180, "Mijn zoon van 15 heeft wiet gerookt op een feestje", "normaal"),
    ("media", "12-19", 192, "Zoon 16 gamet 10 uur per dag en eet en slaapt nauwelijks meer", "aandacht"),
    ("seksualiteit", "12-19", 168, "Mijn dochter van 14 heeft haar eerste vriendje, hoe ga ik daarmee om?", "normaal"),
    ("puberteit", "12-19", 168, "Mijn dochter van 14 heeft haar eerste vriendje, hoe ga ik daarmee om?", "normaal"),
    ("alcohol_drugs", "12-19", 192, "Hij drinkt elk weekend tot hij dronken is", "aandacht"),
    ("seksualiteit", "12-19", 180, "Mijn dochter van 15 denkt dat ze lesbisch is", "normaal"),
    ("scheidingsangst", "0-2", 12, "Mijn dochter van 1 huilt als ik haar naar de opvang breng", "normaal"),
    ("scheidingsangst", "2-4", 36, "Mijn dochter van 3 huilt als ik haar naar de opvang breng", "normaal"),  # issue 13
    ("zindelijkheid", "2-4", 36, "Mijn zoon van 3 is nog niet zindelijk", "normaal"),
    ("zindelijkheid", "2-4", 54, "Mijn zoon van 4,5 is nog niet zindelijk", "aandacht"),
    ("zindelijkheid", "5-12", 84, "Mijn dochter van 7 plast nog in bed", "aandacht"),
    ("alcohol_drugs", "12-19", 180, "Mijn dochter van 15 heeft alcohol geprobeerd", "normaal"),
    ("alcohol_drugs", "12-19", 180, "Mijn dochter van 15 drinkt elke dag", "aandacht"),
    ("driftbuien", "2-4", 36, "Mijn zoon van 3 krijgt driftbuien als hij zijn zin niet krijgt", "normaal"),
    ("druk_gedrag", "2-4", 36, "Mijn zoon van 3 is erg druk", "normaal"),
    ("druk_gedrag", "2-4", 36, "Mijn zoon van 3 is erg druk, heeft hij ADHD?", "aandacht"),
    ("school", "5-12", 84, "Mijn zoon van 7 wil niet naar school", "aandacht"),  # issue 13: refusing school
    ("school", "5-12", 84, "Mijn zoon van 7 gaat al weken niet naar school", "aandacht"),
    ("school", "12-19", 192, "Mijn dochter van 16 dreigt uit te vallen, ze wil stoppen met school", "aandacht"),
    ("school", "12-19", 180, "Hij heeft een keer gespijbeld", "normaal"),
    ("school", "12-19", 180, "Hij spijbelt elke week", "aandacht"),
    ("uiterlijk_eetgedrag", "12-19", 180, "Ze eet bijna niks en is erg afgevallen", "aandacht"),
    ("uiterlijk_eetgedrag", "12-19", 168, "Mijn dochter van 14 maakt zich zorgen over haar uiterlijk", "normaal"),
    ("huilen", "2-4", 24, "Ze huilt elke avond bij het slapengaan", "normaal"),
    ("slapen", "2-4", 24, "Ze huilt elke avond bij het slapengaan", "normaal"),
])
def test_brief_examples(topic, phase, months, text, severity):
    assert assess(topic, phase, text, (), months).severity == severity


# --- issue 13: triage that agrees with the reply's own text ---------------------------------------

@pytest.mark.parametrize("topic,phase,months,text,severity", [
    # crying at drop-off is ordinary at 2-4; weeks of daily panic, or never without the parent, not
    ("scheidingsangst", "2-4", 30, "Hij huilt bij het brengen naar de opvang", "normaal"),
    ("scheidingsangst", "2-4", 36, "Ze klampt zich elke ochtend aan me vast als ik haar wegbreng", "normaal"),
    ("scheidingsangst", "2-4", 36, "Ze is al weken elke ochtend in paniek bij het afscheid", "aandacht"),
    ("scheidingsangst", "2-4", 40, "Hij wil nergens meer zonder mij zijn", "aandacht"),
    # bed-wetting: normal at 5, aandacht from about 6 or when it troubles the child
    ("zindelijkheid", "5-12", 60, "Mijn zoon van 5 plast nog in bed", "normaal"),
    ("zindelijkheid", "5-12", 66, "Mijn dochter van 5 heeft 's nachts nog een luier", "normaal"),
    ("zindelijkheid", "5-12", 72, "Mijn zoon van 6 plast nog in bed", "aandacht"),
    ("zindelijkheid", "5-12", 60, "Mijn zoon van 5 plast nog in bed, hij schaamt zich", "aandacht"),
    ("zindelijkheid", "5-12", 64, "Ze plast in bed en wil niet meer logeren", "aandacht"),
    # refusing school, or bullied and no longer wanting to go
    ("school", "5-12", 96, "Hij weigert naar school te gaan", "aandacht"),
    ("school", "5-12", 96, "Hij ziet op tegen school", "normaal"),
    ("school", "12-19", 168, "Mijn dochter van 14 wil niet meer naar school", "aandacht"),
    ("pesten", "5-12", 96, "Hij wordt gepest en wil niet meer naar school", "aandacht"),
    ("pesten", "12-19", 168, "Ze wordt gepest en wil niet naar school", "aandacht"),
    ("angst", "5-12", 96, "Hij is bang voor de juf en wil niet meer naar school", "aandacht"),
])
def test_severity_agrees_with_the_reply_text(topic, phase, months, text, severity):
    assert assess(topic, phase, text, (), months).severity == severity


@pytest.mark.parametrize("text", [
    "ik voel me zo somber sinds de bevalling",
    "Heb ik een postnatale depressie?",
    "ik ben niet blij met mijn baby en huil de hele dag",
    "ik voel niks voor mijn baby",
])
@pytest.mark.parametrize("topic,phase,months", [("ouder_welzijn", "0-2", 3), ("ouder_welzijn", None, None),
                                                ("huilen", "0-2", 3)])
def test_postnatal_depression_is_aandacht(text, topic, phase, months):
    result = assess(topic, phase, text, (), months)
    assert (result.severity, result.support_level) == ("aandacht", "D")
    assert "postnatal" in result.reasons


@pytest.mark.parametrize("text", [
    "Ik ben moe en heb weinig tijd voor mezelf sinds de baby er is",
    "Ik heb kraamtranen, is dat normaal?",
    "sinds de geboorte van zijn zusje is hij verdrietig",
    "na de bevalling huilt de baby veel",
])
def test_no_postnatal_signal_for_ordinary_strain_or_the_childs_feelings(text):
    assert "postnatal" not in triage.signals(knowledge.normalize(text))


# --- signals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("hij doet dit al maanden", {"duration"}),
    ("al een half jaar", {"duration"}),
    ("sinds vorig jaar", {"duration"}),
    ("het speelt al weken", {"duration"}),
    ("wekenlang", {"duration"}),
    ("ze is al 3 jaar", set()),            # an age, not a duration
    ("hij is al 18 maanden oud", set()),
    ("elke dag", {"frequency"}),
    ("elke nacht", {"frequency"}),
    ("de hele dag", {"frequency"}),
    ("hij doet het steeds", {"frequency"}),
    ("10 uur per dag", {"frequency"}),
    ("heel erg", {"intensity"}),
    ("extreem boos", {"intensity"}),
    ("ontroostbaar", {"intensity"}),
    ("uren achter elkaar", {"intensity"}),
    ("hij gaat niet meer naar school", {"daily_life"}),
    ("ze valt af", {"daily_life"}),
    ("ze eet bijna niks meer", {"daily_life"}),
    ("hij slaapt nauwelijks", {"daily_life"}),
    ("hij slaapt nauwelijks door", set()),  # a sleeping-through question, not harm
    ("hij slaapt niet meer in zijn eigen bed", set()),
    ("hij zit alleen op zijn kamer", {"daily_life"}),
    ("ze heeft geen vrienden meer", {"daily_life"}),
    ("ik maak me grote zorgen", {"parent_alarm", "parent_worry"}),
    ("ik ben echt bang dat het misgaat", {"parent_alarm", "parent_worry"}),
    ("het gaat echt niet goed", {"parent_alarm"}),
    ("ik maak me zorgen", {"parent_worry"}),
    ("ik maak me geen zorgen", set()),
    ("Mijn zoon van 3 speelt graag buiten", set()),
    ("de opvang wil hem niet meer hebben", {"daily_life"}),
    ("school kan haar niet meer handelen", {"daily_life"}),
    ("de opvang wil dat hij niet meer slaapt", set()),
    ("hij heeft al twee keer in het ziekenhuis gelegen", {"daily_life"}),
    ("ze is op de spoedeisende hulp beland", {"daily_life"}),
    ("hij moet naar het ziekenhuis voor zijn amandelen", set()),
    ("ik denk dat ze stiekem overgeeft na het eten", {"daily_life"}),
    ("hij geeft over na het eten als hij ziek is", set()),
    ("de juf maakt zich zorgen", {"professional_concern"}),
    ("de leerkracht maakt zich ernstig zorgen", {"professional_concern", "intensity"}),
    ("het consultatiebureau maakt zich geen zorgen", set()),
    ("de fysiotherapeut denkt aan een achterstand", {"professional_concern"}),
    ("de juf zegt dat het normaal is", set()),
    ("school en opvang weten ook geen raad meer", {"professional_concern", "parent_worry"}),
    ("ik weet geen raad meer", {"parent_worry"}),
])
def test_signal_detection(text, expected):
    assert set(triage.signals(knowledge.normalize(text))) == expected


TOPIC, PHASE, MONTHS = "driftbuien", "2-4", 36  # a problem that is normal at this age


@pytest.mark.parametrize("text,severity", [
    ("Hij heeft driftbuien", "normaal"),
    ("Hij heeft elke dag driftbuien", "normaal"),                       # frequency alone
    ("Hij heeft al maanden driftbuien", "normaal"),                     # duration alone
    ("Hij heeft heel erg heftige driftbuien", "normaal"),               # intensity alone
    ("Hij heeft elke dag heel erg heftige driftbuien", "normaal"),      # no duration
    ("Ik maak me zorgen over zijn driftbuien", "normaal"),              # ordinary worry alone
    ("Hij heeft al maanden elke dag driftbuien", "aandacht"),           # duration + frequency
    ("Hij heeft al maanden heel erg heftige driftbuien", "aandacht"),   # duration + intensity
    ("Ik maak me zorgen, hij heeft al maanden driftbuien", "aandacht"),  # duration + worry
    ("Door zijn driftbuien gaat hij niet meer naar de opvang", "aandacht"),  # daily life
    ("Ik maak me grote zorgen over zijn driftbuien", "aandacht"),      # strong parental alarm
    ("Ik ben ten einde raad met zijn driftbuien", "aandacht"),
    ("De juf maakt zich zorgen over zijn driftbuien", "aandacht"),     # a professional's worry
    ("Ik weet geen raad meer met zijn driftbuien", "normaal"),          # ordinary worry alone
    ("Hij heeft al maanden driftbuien, ik weet geen raad meer", "aandacht"),
])
def test_how_signals_combine(text, severity):
    assert assess(TOPIC, PHASE, text, (), MONTHS).severity == severity


@pytest.mark.parametrize("topic,text,severity", [
    ("pesten", "Ze wordt gepest", "normaal"),
    ("pesten", "Ze wordt elke dag gepest", "aandacht"),
    ("pesten", "Ze wordt al maanden gepest", "aandacht"),
    ("ouder_welzijn", "Ik ben moe", "normaal"),
    ("ouder_welzijn", "Ik ben al maanden moe", "aandacht"),
    ("ouder_welzijn", "Ik ben elke dag moe", "normaal"),
    ("sociaal", "Ze speelt al maanden weinig met anderen", "normaal"),
])
def test_topic_specific_thresholds(topic, text, severity):
    assert assess(topic, "5-12", text, (), 96).severity == severity


def test_table_serious_is_aandacht_without_any_signal():
    result = assess("scheidingsangst", "2-4", "Ze kan nergens zonder mij zijn", (), 30)
    assert result == Assessment("aandacht", "D", ("table:serious",))


def test_reasons_list_the_table_and_the_signals():
    result = assess("sociaal", "5-12", "Hij zit al maanden alleen op zijn kamer", (), 120)
    assert result.reasons == ("table:serious", "duration", "daily_life")
    result = assess("media", "12-19", "Hij gamet 10 uur per dag en slaapt nauwelijks", (), 192)
    assert result.reasons == ("frequency", "daily_life")


# --- history -------------------------------------------------------------------------------------

def test_a_second_turn_with_duration_makes_it_aandacht():
    first = "Mijn dochter van 4 heeft elke dag driftbuien"
    assert assess("driftbuien", "2-4", first, (), 48).severity == "normaal"
    second = assess("driftbuien", "2-4", "en dat al maanden", (first,), 48)
    assert second.severity == "aandacht"
    assert {"duration", "frequency"} <= set(second.reasons)
    assert assess("driftbuien", "2-4", "en dat al maanden", (), 48).severity == "normaal"


def test_history_holds_the_sub_problem():
    history = ("Mijn zoon van 7 plast nog in bed",)
    assert assess("zindelijkheid", "5-12", "wat kan ik doen?", history, 84).reasons[0] == "table:serious"


@pytest.mark.parametrize("history", [None, "al maanden", ("ok", None, 3, b"x"), 42, [["nested"]]])
def test_odd_history_never_raises(history):
    result = assess("driftbuien", "2-4", "Hij heeft elke dag driftbuien", history, 36)
    assert result.severity in ("normaal", "aandacht")


def test_history_as_a_single_string_is_one_message():
    assert assess("driftbuien", "2-4", "Hij heeft elke dag driftbuien", "al maanden", 36).severity == "aandacht"


# --- support levels ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,level", [
    ("Mijn zoon van 6 luistert niet", "B"),
    ("Mijn zoon van 6 luistert niet. Is er een cursus voor ouders?", "C"),
    ("Ik zoek een training over grenzen stellen", "C"),
    ("Is er een groep voor ouders van drukke kinderen?", "C"),
    ("Ik wil meer dan tips", "C"),
    ("Ik wil graag andere ouders ontmoeten", "A"),
    ("Ik wil ervaringen delen met andere moeders", "A"),
    ("Is er een ouderinloop in de buurt?", "A"),
    ("Kan een vrijwilliger me helpen?", "A"),
    ("Is er een cursus met andere ouders?", "C"),  # course words go first
])
def test_support_level_for_a_normal_question(text, level):
    result = assess("luisteren_grenzen", "5-12", text, (), 72)
    assert (result.severity, result.support_level) == ("normaal", level)


def test_aandacht_is_always_level_d():
    result = assess("zindelijkheid", "5-12", "Ze plast in bed. Is er een cursus?", (), 84)
    assert (result.severity, result.support_level) == ("aandacht", "D")


def test_support_request_in_history_and_the_current_message_wins():
    assert assess("slapen", "2-4", "Wat kan ik doen?", ("Is er een cursus?",), 30).support_level == "C"
    assert assess("slapen", "2-4", "Ik wil andere ouders spreken", ("Is er een cursus?",), 30).support_level == "A"
    assert assess("slapen", "2-4", "Is er een cursus?", ("Ik wil andere ouders spreken",), 30).support_level == "C"


# --- phase unknown -------------------------------------------------------------------------------

@pytest.mark.parametrize("topic,text,severity", [
    ("zindelijkheid", "bedplassen", "normaal"),
    ("ouder_welzijn", "Ik voel me zo alleen met de zorg voor ons kindje", "normaal"),
    ("druk_gedrag", "Heeft mijn kind ADHD?", "aandacht"),
    ("sociaal", "Hij zit al maanden alleen op zijn kamer", "aandacht"),
    ("slapen", "Mijn dochter wil niet slapen", "normaal"),
])
def test_without_phase_the_verdict_is_provisional(topic, text, severity):
    result = assess(topic, None, text)
    assert result.severity == severity
    assert "provisional" in result.reasons


# --- output hygiene and bad input ----------------------------------------------------------------

REASON_ID = re.compile(r"(table:(normal|serious)|default:[a-z_]+|provisional(:[a-z_:]+)?|"
                       + "|".join(SIGNALS) + ")")


@pytest.mark.parametrize("topic,phase,text", [
    ("sociaal", "5-12", "Mijn zoon Daan zit al maanden alleen op zijn kamer, ik maak me grote zorgen"),
    ("zindelijkheid", None, "Mijn dochter Fleur plast in bed"),
    ("alcohol_drugs", "12-19", "Hij drinkt elk weekend tot hij dronken is"),
])
def test_reasons_are_ids_never_message_text(topic, phase, text):
    result = assess(topic, phase, text)
    assert result.reasons
    for reason in result.reasons:
        assert REASON_ID.fullmatch(reason), reason
        assert "daan" not in reason.lower() and "fleur" not in reason.lower()


def test_assessment_is_frozen():
    result = assess("slapen", "2-4", "Ze slaapt slecht", (), 30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.severity = "aandacht"  # type: ignore[misc]


@pytest.mark.parametrize("text", [
    "", "   ", None, 42, b"bytes", "😀🙈💩", "<img src=x onerror=alert(1)>al maanden elke dag",
    "\x00\x01\ufffd\udcff\x7f", "x" * 1_000_000, "al maanden elke dag " * 50_000,
])
@pytest.mark.parametrize("topic", ["driftbuien", "onbekend", None])
def test_bad_input_never_raises(text, topic):
    result = assess(topic, "2-4", text, (), 36)
    assert result.severity in ("normaal", "aandacht")
    assert result.support_level in ("A", "B", "C", "D")


def test_a_megabyte_is_handled_quickly():
    started = time.perf_counter()
    assess("zindelijkheid", "5-12", "plast in bed en " * 70_000, ["al maanden " * 100_000] * 40, 84)
    assert time.perf_counter() - started < 1.0


def test_odd_phase_and_months():
    assert assess("slapen", "99-100", "Ze slaapt slecht", (), "drie").severity == "normaal"
    assert assess("slapen", None, "Ze slaapt slecht", (), -1).severity == "normaal"
    assert assess("alcohol_drugs", None, "Mijn zoon van 20 blowt elke dag", (), 240).severity == "aandacht"


@pytest.mark.parametrize("text", [
    "ik maak me geen zorgen", "ik maak me geen grote zorgen", "ik ben niet bang dat het misgaat",
    "ik ben niet ongerust", "ik ben niet echt bang dat hij iets heeft",
])
def test_negated_worry_is_no_signal(text):
    assert triage.signals(knowledge.normalize(text)) == ()

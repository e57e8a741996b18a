"""Hand-off logic: contact parsing, consent form, opening a case, office hours, Rasa glue."""
from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain import handoff
from bot.services.cases import CaseStore
from bot.domain.handoff import (
    CONSENT_SLOT, DETAIL_SLOT, PREFERENCE_SLOT, RETRIES_SLOT, WORDS_SLOT, HandoffRequest,
    extract_answer, extract_email, extract_phone, next_question,
    parse_contact_preference, parse_office_hours, parse_yes_no, required_slots, when_answered,
)
from tests.support.paths import ROOT

TZ = handoff.TZ
WEEKDAYS_9_TO_5 = parse_office_hours("ma-vr 09:00-17:00")
GARBAGE = [
    "", " ", "x" * 1_000_000, "🙂📞💬" * 50, "<script>alert('x')</script><b>hoi</b>",
    bytes(range(255, -1, -1)).decode("latin-1"), "\x00\x01\x02", "ßäöü€" * 10,
]


# --- contact preference ------------------------------------------------------------------------

@pytest.mark.parametrize("text, preference, detail", [
    ("bel me maar", "phone", None),
    ("Bellen graag", "phone", None),
    ("mag je me terugbellen?", "phone", None),
    ("telefonisch", "phone", None),
    ("via whatsapp", "whatsapp", None),
    ("Whats App is goed", "whatsapp", None),
    ("stuur maar een appje", "whatsapp", None),
    ("mail", "email", None),
    ("per e-mail alsjeblieft", "email", None),
    ("mailen is prima", "email", None),
    ("hier in de chat", "chat", None),
    ("Gewoon hier", "chat", None),
    ("ik wil anoniem blijven", "chat", None),
    ("niet bellen, liever mailen", "email", None),
    ("bel me niet, mail maar", "email", None),
    ("mail me, niet bellen", "email", None),
    ("liever geen mail, bel maar", "phone", None),
    ("ik heb geen whatsapp, bel me maar", "phone", None),
    ("bellen mag, maar liever mail", "email", None),
    ("06-12345678", "phone", "+31612345678"),
    ("bel me op 06 1234 5678", "phone", "+31612345678"),
    ("app me op +31 6 12345678", "whatsapp", "+31612345678"),
    ("Bel 010 - 123 45 67", "phone", "+31101234567"),
    ("piet.jansen+ouders@Example.NL", "email", "piet.jansen+ouders@example.nl"),
    ("mijn mail is a.b@c.nl", "email", "a.b@c.nl"),
])
def test_contact_preference_from_dutch_text(text: str, preference: str, detail: str | None) -> None:
    choice = parse_contact_preference(text)
    assert (choice.preference, choice.detail) == (preference, detail)


@pytest.mark.parametrize("text", ["ik weet het niet", "misschien later", "hallo", "1234"] + GARBAGE)
def test_no_contact_preference_found(text: str) -> None:
    choice = parse_contact_preference(text)
    assert choice.preference is None and choice.detail is None


@pytest.mark.parametrize("text, number", [
    ("0612345678", "+31612345678"),
    ("06-12 34 56 78", "+31612345678"),
    ("+31 (0)6 12345678", "+31612345678"),
    ("0031 6 12345678", "+31612345678"),
    ("(020) 123 4567", "+31201234567"),
    ("+32 470 12 34 56", "+32470123456"),
    ("mijn nummer: 06-1234567", None),  # one digit short
    ("061234567890", None),  # too long
    ("groep 5, 8 jaar, 2015", None),
    ("+0612345678", None),  # no country code starts with 0
    ("0012345", None),
])
def test_phone_numbers(text: str, number: str | None) -> None:
    assert extract_phone(text) == number


@pytest.mark.parametrize("text, address", [
    ("a@b.nl", "a@b.nl"),
    ("Mail: Jan.de.Vries@Gemeente.Example.NL.", "Jan.de.Vries@gemeente.example.nl"),
    ("a@b", None), ("@b.nl", None), ("a@@b.nl", None), ("a..b@c.nl", None),
])
def test_email_addresses(text: str, address: str | None) -> None:
    assert extract_email(text) == address


@pytest.mark.parametrize("text", GARBAGE)
def test_parsers_survive_bad_input(text: str) -> None:
    assert extract_phone(text) is None
    assert extract_email(text) is None
    assert parse_yes_no(text) is None
    assert extract_answer(PREFERENCE_SLOT, text, None, {}, "socketio") == {RETRIES_SLOT: 1.0}


@pytest.mark.parametrize("text, intent, answer", [
    ("ja", None, True), ("Jaa graag", None, True), ("ok", None, True), ("dat mag", None, True),
    ("👍", None, True), ("nee", None, False), ("liever niet", None, False),
    ("nee, dat hoeft niet", None, False), ("Nee, dat is goed zo", None, False),
    ("/affirm", "affirm", True), ("/deny", "deny", False), ("weet ik niet goed", None, None),
    ("mijn kind is 3 jaar", None, None),
])
def test_yes_no(text: str, intent: str | None, answer: bool | None) -> None:
    assert parse_yes_no(text, intent) is answer


# --- the consent form ----------------------------------------------------------------------------

def test_form_asks_consent_words_preference_then_detail() -> None:
    slots: dict[str, Any] = {}
    assert next_question(slots, "socketio") == CONSENT_SLOT
    slots.update(extract_answer(CONSENT_SLOT, "ja", "affirm", slots, "socketio"))
    assert next_question(slots, "socketio") == WORDS_SLOT
    slots.update(extract_answer(WORDS_SLOT, "nee", "deny", slots, "socketio"))
    assert slots[WORDS_SLOT] is False
    assert next_question(slots, "socketio") == PREFERENCE_SLOT
    slots.update(extract_answer(PREFERENCE_SLOT, "bel me maar", None, slots, "socketio"))
    assert next_question(slots, "socketio") == DETAIL_SLOT
    slots.update(extract_answer(DETAIL_SLOT, "06 12345678", None, slots, "socketio"))
    assert next_question(slots, "socketio") is None
    assert (slots[PREFERENCE_SLOT], slots[DETAIL_SLOT]) == ("phone", "+31612345678")


def test_refused_consent_ends_the_form_and_nothing_is_asked() -> None:
    slots = extract_answer(CONSENT_SLOT, "nee", "deny", {}, "socketio")
    assert slots[CONSENT_SLOT] is False
    assert required_slots(slots, "socketio") == [] and next_question(slots, "socketio") is None
    assert handoff.request_from_slots("c1", slots) is None


@pytest.mark.parametrize("channel, text, preference, asks_detail", [
    ("socketio", "hier in de chat", "chat", False),
    ("socketio", "via whatsapp", "whatsapp", True),
    ("whatsapp", "via whatsapp", "chat", False),  # on WhatsApp itself: answer in the conversation
    ("whatsapp", "bel me", "phone", True),  # the sender id is a pseudonym: the number is needed
    ("socketio", "mail naar a@b.nl", "email", False),
])
def test_contact_detail_asked_only_when_needed(channel: str, text: str, preference: str,
                                                asks_detail: bool) -> None:
    slots: dict[str, Any] = {CONSENT_SLOT: True, WORDS_SLOT: True}
    slots.update(extract_answer(PREFERENCE_SLOT, text, None, slots, channel))
    assert slots[PREFERENCE_SLOT] == preference
    assert (next_question(slots, channel) == DETAIL_SLOT) is asks_detail


def test_detail_answers() -> None:
    base = {CONSENT_SLOT: True, WORDS_SLOT: False, PREFERENCE_SLOT: "phone"}
    assert extract_answer(DETAIL_SLOT, "toch maar hier in de chat", None, base, "socketio")[PREFERENCE_SLOT] == "chat"
    switched = extract_answer(DETAIL_SLOT, "mail me op x@y.nl", None, base, "socketio")
    assert (switched[PREFERENCE_SLOT], switched[DETAIL_SLOT]) == ("email", "x@y.nl")
    assert extract_answer(DETAIL_SLOT, "laat maar", None, base, "socketio")[CONSENT_SLOT] is False


def test_answers_not_understood_are_asked_again_then_the_safe_default() -> None:
    slots: dict[str, Any] = {CONSENT_SLOT: True}
    for expected in (1.0, 2.0):
        update = extract_answer(WORDS_SLOT, "hmm", None, slots, "socketio")
        assert update == {RETRIES_SLOT: expected}
        slots.update(update)
        assert "begreep" in handoff.ask(WORDS_SLOT, slots).text
    slots.update(extract_answer(WORDS_SLOT, "hmm", None, slots, "socketio"))
    assert slots[WORDS_SLOT] is False  # privacy-safe: no words shared
    slots.update({RETRIES_SLOT: 2.0})
    slots.update(extract_answer(PREFERENCE_SLOT, "geen idee", None, slots, "socketio"))
    assert slots[PREFERENCE_SLOT] == "chat"


@pytest.mark.parametrize("intent", handoff.CRISIS_INTENTS)
def test_a_crisis_message_is_left_to_the_crisis_rules(intent: str) -> None:
    assert extract_answer(CONSENT_SLOT, "ik wil dood", intent, {}, "socketio") == {}


def test_questions_and_buttons() -> None:
    on_web = handoff.ask(PREFERENCE_SLOT, {}, "socketio")
    on_whatsapp = handoff.ask(PREFERENCE_SLOT, {}, "whatsapp")
    assert len(on_web.buttons) == 4 and len(on_whatsapp.buttons) == 3
    assert "WhatsApp" in handoff.ask(DETAIL_SLOT, {PREFERENCE_SLOT: "whatsapp"}).text
    assert "e-mailadres" in handoff.ask(DETAIL_SLOT, {PREFERENCE_SLOT: "email"}).text
    assert "telefoonnummer" in handoff.ask(DETAIL_SLOT, {PREFERENCE_SLOT: "phone"}).text


# --- opening a case -------------------------------------------------------------------------------

class RecordingNotifier:
    def __init__(self, fail: bool = False) -> None:
        self.cases: list = []
        self.fail = fail

    def notify_new_case(self, case: Any) -> None:
        self.cases.append(case)
        if self.fail:
            raise RuntimeError("smtp down")


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    from bot.services.cases.crypto import ContactCipher

    return CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}",
                              cipher=ContactCipher(["b3B2b2VkbWFhdGplLXRlc3Qtc2xldXRlbC0zMmJ5dGU="]))


def test_words_are_stored_only_with_consent(store: CaseStore) -> None:
    words = ("Ze slaapt nooit door", "/affirm", "Ik ben zo moe")
    without = handoff.open_case(store, HandoffRequest("c-no", parent_words=words, words_consent=False))
    assert without.parent_words == () and not without.words_consent
    with_consent = handoff.open_case(store, HandoffRequest("c-yes", parent_words=words, words_consent=True))
    assert with_consent.parent_words == ("Ze slaapt nooit door", "Ik ben zo moe")


def test_request_from_slots_and_case_fields(store: CaseStore) -> None:
    slots = {CONSENT_SLOT: True, WORDS_SLOT: True, PREFERENCE_SLOT: "phone",
             DETAIL_SLOT: "+31612345678", "topic": "driftbuien", "age_months": 30.0,
             "severity": "aandacht", "municipality": "Voorbeeldstad"}
    request = handoff.request_from_slots("sender-1", slots, "socketio", ["Hij schopt en slaat", "/ask_human"])
    notifier = RecordingNotifier()
    case = handoff.open_case(store, request, notifier)
    assert (case.topic, case.age_months, case.phase, case.severity) == ("driftbuien", 30, "2-4", "aandacht")
    assert (case.contact_preference, case.contact_detail, case.channel) == ("phone", "+31612345678", "socketio")
    assert case.parent_words == ("Hij schopt en slaat",)
    assert notifier.cases == [case]


@pytest.mark.parametrize("field, value, check", [
    ("topic", "voetbal", lambda c: c.topic is None),
    ("age_months", 400, lambda c: c.age_months is None and c.phase is None),
    ("age_months", -1, lambda c: c.age_months is None),
    ("severity", "hoog", lambda c: c.severity == "aandacht"),
    ("signal", "suicide", lambda c: c.severity == "crisis" and c.signal == "suicide"),
    ("signal", "iets", lambda c: c.signal is None),
    ("contact_preference", "duif", lambda c: c.contact_preference == "chat"),
])
def test_only_known_values_reach_the_case(store: CaseStore, field: str, value: Any, check) -> None:
    case = handoff.open_case(store, HandoffRequest("c", **{field: value}))
    assert check(case)


def test_invalid_contact_detail_is_dropped(store: CaseStore) -> None:
    case = handoff.open_case(store, HandoffRequest("c", contact_preference="email", contact_detail="geen adres"))
    assert case.contact_preference == "email" and case.contact_detail is None


def test_one_active_case_per_conversation(store: CaseStore) -> None:
    notifier = RecordingNotifier()
    first = handoff.open_case(store, HandoffRequest("c", severity="normaal"), notifier)
    again = handoff.open_case(store, HandoffRequest("c", severity="aandacht"), notifier)
    assert again.id == first.id and again.severity == "aandacht"
    assert len(notifier.cases) == 1
    crisis = handoff.open_case(store, HandoffRequest("c", signal="geweld"), notifier)
    assert crisis.severity == "crisis" and len(notifier.cases) == 2  # escalation is notified


def test_a_failing_notifier_does_not_break_the_hand_off(store: CaseStore) -> None:
    case = handoff.open_case(store, HandoffRequest("c"), RecordingNotifier(fail=True))
    assert store.get(case.id) is not None


def test_stay_paused_while_claimed(store: CaseStore) -> None:
    case = handoff.open_case(store, HandoffRequest("c"))
    assert not handoff.should_stay_paused(store, "c")
    store.claim(case.id, store.add_user("a@b.nl", "A", "h"))
    assert handoff.should_stay_paused(store, "c")


# --- office hours ---------------------------------------------------------------------------------

def _ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.mark.parametrize("now, expected", [
    (_ams(2026, 12, 1, 10, 0), "Er zijn nu medewerkers aan het werk."),  # Tuesday morning
    (_ams(2026, 12, 1, 16, 45), "stoppen bijna voor vandaag. Een medewerker reageert morgen na 9:00 uur."),
    (_ams(2026, 12, 1, 22, 0), "Een medewerker reageert morgen na 9:00 uur."),  # night
    (_ams(2026, 12, 2, 3, 0), "Een medewerker reageert vandaag na 9:00 uur."),  # early morning
    (_ams(2026, 12, 4, 17, 0), "Een medewerker reageert maandag na 9:00 uur."),  # Friday 17:00
    (_ams(2026, 12, 5, 12, 0), "Een medewerker reageert maandag na 9:00 uur."),  # Saturday
    (_ams(2026, 12, 6, 23, 30), "Een medewerker reageert morgen na 9:00 uur."),  # Sunday night
    (_ams(2026, 12, 24, 18, 0), "Een medewerker reageert maandag na 9:00 uur."),  # Christmas
    (_ams(2027, 4, 26, 20, 0), "Een medewerker reageert woensdag na 9:00 uur."),  # Koningsdag
    # 16:00 UTC on Friday 27 March 2026 is 17:00 in Amsterdam (winter time): closed
    (datetime(2026, 3, 27, 16, 0, tzinfo=timezone.utc), "maandag na 9:00 uur."),
    # 07:30 UTC on Monday 30 March 2026 is 09:30 in Amsterdam (summer time): open
    (datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc), "Er zijn nu medewerkers aan het werk."),
])
def test_when_answered(now: datetime, expected: str) -> None:
    text = when_answered(now, hours=WEEKDAYS_9_TO_5)
    assert expected in text
    if "aan het werk" not in expected:
        assert "geen medewerker aan het werk" in text or "stoppen bijna" in text


def test_when_answered_more_than_a_week_ahead_names_the_date() -> None:
    only_wednesday = parse_office_hours("wo 13:30-16:00")
    text = when_answered(_ams(2026, 12, 2, 18, 0), hours=only_wednesday)
    assert text.endswith("reageert op woensdag 9 december na 13:30 uur.")


@pytest.mark.parametrize("spec, day, ranges", [
    ("ma-vr 08:30-12:00,13:00-16:30", 0, ((510, 720), (780, 990))),
    ("ma-vr 08:30-12:00,13:00-16:30", 5, ()),
    ("ma,wo 09:00-12:00; za 10:00-12:00", 5, ((600, 720),)),
    ("vr-ma 09:00-10:00", 6, ((540, 600),)),
])
def test_office_hours_setting(spec: str, day: int, ranges: tuple) -> None:
    assert parse_office_hours(spec).days[day] == ranges


@pytest.mark.parametrize("spec", ["", "maandag 9-17", "ma 17:00-09:00", "xx 09:00-10:00", "ma 25:00-26:00"])
def test_bad_office_hours_setting(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_office_hours(spec)


def test_office_hours_from_catalogue_else_env_else_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.catalogue.hours import parse_hours

    class Municipality:
        name, aliases = "Voorbeeldstad", ("VBS",)
        office_hours = parse_hours({"ma": "10:00-14:00"})

    monkeypatch.setattr(handoff, "_catalogue_municipality", lambda: Municipality())
    assert handoff.office_hours("vbs").source == "catalogue"
    assert "vandaag na 10:00 uur" in when_answered(_ams(2026, 11, 30, 9, 30), "Voorbeeldstad")
    env = {"OFFICE_HOURS": "za 10:00-11:00"}
    assert handoff.office_hours("Andere Stad", env).days[5] == ((600, 660),)
    assert handoff.office_hours("Andere Stad", {"OFFICE_HOURS": "onzin"}).days[0] == ((540, 1020),)
    monkeypatch.setattr(handoff, "_catalogue_municipality", lambda: None)
    assert handoff.office_hours(None, {}).days == WEEKDAYS_9_TO_5.days


def test_office_hours_and_the_catalogue_agree_on_every_public_holiday_2026_to_2028() -> None:
    """The hand-off's office hours use the catalogue's holidays (bot.domain.catalogue.hours, from the
    `holidays` package): closed on exactly the days the catalogue calls a public holiday.
    Liberation Day (5 May) closes only in lustrum years (2025, 2030), as before; King's Day
    moves to 26 April when the 27th is a Sunday (2025, 2031)."""
    from bot.domain.catalogue.hours import is_holiday, is_open, parse_hours

    every_day = parse_office_hours("ma-zo 09:00-17:00")  # open every day, so closed = holiday
    catalogue_offer = parse_hours({d: "09:00-17:00" for d in ("ma", "di", "wo", "do", "vr", "za", "zo")})
    day, closed = date(2026, 1, 1), set()
    while day.year <= 2028:
        ten = datetime.combine(day, time(10, 0), tzinfo=TZ)
        assert is_open(every_day, ten) == is_open(catalogue_offer, ten) == (not is_holiday(day)), day
        answered_today = when_answered(ten, hours=every_day).startswith("Er zijn nu medewerkers")
        assert answered_today == (not is_holiday(day)), day
        if not is_open(every_day, ten):
            closed.add(day)
        day += timedelta(days=1)
    assert len(closed) == 30  # 10 a year: see tests/unit/test_catalogue_hours.py for the list
    for notable in (date(2026, 4, 6), date(2027, 3, 29), date(2028, 4, 17),   # Easter Monday
                    date(2026, 5, 25), date(2027, 5, 17), date(2028, 6, 5),   # Whit Monday
                    date(2026, 5, 14), date(2027, 5, 6), date(2028, 5, 25),   # Ascension Day
                    date(2026, 4, 27), date(2027, 4, 27), date(2028, 4, 27)):  # King's Day
        assert notable in closed, notable
    for year in (2026, 2027, 2028):
        assert date(year, 5, 5) not in closed  # Liberation Day: not a lustrum year
    for day, holiday in ((date(2025, 5, 5), True), (date(2030, 5, 5), True),
                         (date(2025, 4, 26), True), (date(2025, 4, 27), False),
                         (date(2031, 4, 26), True), (date(2031, 4, 27), False)):
        ten = datetime.combine(day, time(10, 0), tzinfo=TZ)
        assert is_open(every_day, ten) is not holiday and is_holiday(day) is holiday, day


@pytest.mark.parametrize("now, expected", [
    (_ams(2026, 4, 2, 18, 0), "reageert dinsdag na 9:00 uur."),  # Good Friday, Easter Monday
    (_ams(2026, 5, 13, 18, 0), "reageert vrijdag na 9:00 uur."),  # Ascension Day
    (_ams(2028, 6, 2, 18, 0), "reageert dinsdag na 9:00 uur."),  # Whitsun weekend and Monday
    (_ams(2028, 4, 26, 16, 45), "stoppen bijna voor vandaag. Een medewerker reageert vrijdag na 9:00 uur."),
])
def test_when_answered_around_public_holidays(now: datetime, expected: str) -> None:
    assert expected in when_answered(now, hours=WEEKDAYS_9_TO_5)


def test_the_shipped_catalogue_office_hours_are_used() -> None:
    hours = handoff.office_hours("Voorbeeldstad", {})
    assert hours.source == "catalogue" and hours.days[0] == ((540, 1020),)


# --- texts -----------------------------------------------------------------------------------------

def _catalogue_numbers() -> set[str]:
    data = yaml.safe_load((ROOT / "catalogue" / "national.yml").read_text(encoding="utf-8"))
    return {re.sub(r"\D", "", o["contact"]["phone"]) for o in data["offers"] if o.get("contact", {}).get("phone")}


def test_urgent_lines_only_use_numbers_of_the_catalogue() -> None:
    numbers = {re.sub(r"\D", "", n) for n in re.findall(r"\b\d{3,4}(?:-\d{4})?\b", handoff.urgent_lines())}
    assert {"112", "08000113", "08002000"} <= numbers
    catalogue = _catalogue_numbers() | {"113"}  # 113 is in the catalogue's hours note of nl-113
    assert numbers <= catalogue


def test_parent_hears_when_and_the_urgent_lines(store: CaseStore) -> None:
    case = handoff.open_case(store, HandoffRequest("c", contact_preference="chat"))
    says = handoff.after_case_opened(case, _ams(2026, 12, 5, 12, 0))
    texts = [s.text for s in says]
    assert "doorgegeven" in texts[0] and "in dit gesprek" in texts[0]
    assert "maandag na 9:00 uur" in texts[1] or "aan het werk" in texts[1]
    assert texts[2] == handoff.urgent_lines()


def test_refusal_keeps_the_crisis_numbers_in_view() -> None:
    says = handoff.refusal()
    assert "niets door" in says[0].text
    assert "0800-2000" in says[1].text and "112" in says[1].text and "113" in says[1].text


def test_console_texts() -> None:
    assert handoff.console_text("claimed", name="Sanne").startswith("Je praat nu met Sanne")
    assert handoff.console_text("reply", name="Sanne", text="Hoi {x}") == "Sanne (medewerker): Hoi {x}"


# --- Rasa glue (rasa-sdk, without a server) ----------------------------------------------------------

def _tracker(slots: dict, text: str, intent: str | None, events: list | None = None,
             channel: str = "socketio"):
    from rasa_sdk import Tracker

    latest = {"text": text, "intent": {"name": intent}, "entities": []}
    events = events or [{"event": "user", "text": text, "input_channel": channel, "parse_data": latest}]
    return Tracker("sender-glue", slots, latest, events, False, None,
                   {"name": "handoff_form"}, "action_listen")


def _run(action, tracker):
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    domain = {"forms": {"handoff_form": {"required_slots": list(handoff.FORM_SLOTS)}}}
    result = action.run(dispatcher, tracker, domain)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result, dispatcher.messages


def test_form_validation_action_fills_the_slots_and_asks_next() -> None:
    from actions.handoff import ValidateHandoffForm

    events, _ = _run(ValidateHandoffForm(), _tracker(
        {"requested_slot": CONSENT_SLOT, RETRIES_SLOT: 0.0}, "Ja", "affirm"))
    values = {e["name"]: e["value"] for e in events}
    assert values[CONSENT_SLOT] is True and values["requested_slot"] == WORDS_SLOT

    events, _ = _run(ValidateHandoffForm(), _tracker(
        {"requested_slot": PREFERENCE_SLOT, CONSENT_SLOT: True, WORDS_SLOT: False, RETRIES_SLOT: 0.0},
        "Bel me op 0612345678", None))
    values = {e["name"]: e["value"] for e in events}
    assert values[PREFERENCE_SLOT] == "phone" and values["requested_slot"] is None  # done
    # the number is not set as a slot: the tracker only records that it was given
    assert values[DETAIL_SLOT] == handoff.DETAIL_GIVEN == "gegeven"
    assert "612345678" not in repr(events)


@pytest.mark.parametrize("slots, text, preference", [
    ({PREFERENCE_SLOT: "phone"}, "0612345678", "phone"),
    ({PREFERENCE_SLOT: "phone"}, "mail me liever op Piet@Example.NL", "email"),
    ({PREFERENCE_SLOT: "email"}, "piet@example.nl", "email"),
    ({PREFERENCE_SLOT: "whatsapp"}, "app me op 06-12345678 graag", "whatsapp"),
])
def test_the_detail_question_sets_only_contact_given(slots: dict, text: str, preference: str) -> None:
    from actions.handoff import ValidateHandoffForm

    slots = {"requested_slot": DETAIL_SLOT, CONSENT_SLOT: True, WORDS_SLOT: False, RETRIES_SLOT: 0.0, **slots}
    events, _ = _run(ValidateHandoffForm(), _tracker(slots, text, None))
    values = {e["name"]: e["value"] for e in events}
    assert values[DETAIL_SLOT] == "gegeven" and values["requested_slot"] is None
    assert values.get(PREFERENCE_SLOT, slots[PREFERENCE_SLOT]) == preference
    assert "12345678" not in repr(events) and "example" not in repr(events).lower()


def test_slot_values_never_hold_the_detail() -> None:
    assert handoff.slot_values({DETAIL_SLOT: "+31612345678", PREFERENCE_SLOT: "phone"}) == \
        {DETAIL_SLOT: "gegeven", PREFERENCE_SLOT: "phone"}
    assert handoff.slot_values({DETAIL_SLOT: None, PREFERENCE_SLOT: "chat"}) == {DETAIL_SLOT: None, PREFERENCE_SLOT: "chat"}
    assert handoff.detail_from_messages("phone", ["ja", "bel me op 06 1234 5678", "/affirm"]) == "+31612345678"
    assert handoff.detail_from_messages("email", ["a@b.nl", "nee, c@d.nl"]) == "c@d.nl"  # the newest
    assert handoff.detail_from_messages("chat", ["0612345678"]) is None


def test_form_refusal_and_not_understood_are_recorded() -> None:
    from actions.handoff import ValidateHandoffForm

    events, _ = _run(ValidateHandoffForm(), _tracker({"requested_slot": CONSENT_SLOT}, "nee", "deny"))
    values = {e["name"]: e["value"] for e in events}
    assert values[CONSENT_SLOT] is False and values["requested_slot"] is None
    events, _ = _run(ValidateHandoffForm(), _tracker({"requested_slot": CONSENT_SLOT}, "hmm", "out_of_scope"))
    values = {e["name"]: e["value"] for e in events}
    assert values[RETRIES_SLOT] == 1.0 and values["requested_slot"] == CONSENT_SLOT


def test_action_open_case(monkeypatch: pytest.MonkeyPatch, store: CaseStore) -> None:
    from actions import handoff as handoff_actions

    notifier = RecordingNotifier()
    monkeypatch.setattr(handoff_actions, "_store", store)
    monkeypatch.setattr(handoff_actions, "_notifier", notifier)
    events = [
        {"event": "session_started"},
        {"event": "user", "text": "Ze heeft elke avond driftbuien", "input_channel": "socketio"},
        {"event": "user", "text": "ik wil iemand spreken", "input_channel": "socketio"},
        {"event": "active_loop", "name": "handoff_form"},
        {"event": "user", "text": "ja", "input_channel": "socketio"},
    ]
    slots = {CONSENT_SLOT: True, WORDS_SLOT: True, PREFERENCE_SLOT: "chat", "topic": "driftbuien",
             "severity": "aandacht"}
    result, messages = _run(handoff_actions.ActionOpenCase(), _tracker(slots, "ja", "affirm", events))
    case = store.active_case_for("sender-glue")
    assert case is not None and notifier.cases == [case]
    assert case.parent_words == ("Ze heeft elke avond driftbuien", "ik wil iemand spreken")
    assert case.channel == "socketio"
    assert "doorgegeven" in messages[0]["text"]
    assert {e["name"] for e in result} >= set(handoff.FORM_SLOTS)  # the form is reset

    _, refused = _run(handoff_actions.ActionOpenCase(), _tracker({CONSENT_SLOT: False}, "nee", "deny", events))
    assert "niets door" in refused[0]["text"] and "0800-2000" in refused[1]["text"]


def test_the_contact_detail_goes_from_the_answer_to_the_case_store_and_not_into_the_tracker(
        monkeypatch: pytest.MonkeyPatch, store: CaseStore) -> None:
    """The form sets contact_detail to "gegeven"; action_open_case reads the number from the
    parent's answer, the case store keeps it encrypted, and the slot is reset afterwards."""
    import sqlalchemy as sa

    from actions import handoff as handoff_actions

    monkeypatch.setattr(handoff_actions, "_store", store)
    monkeypatch.setattr(handoff_actions, "_notifier", RecordingNotifier())
    answer = "bel me maar op 06 1234 5678"
    events = [
        {"event": "session_started"},
        {"event": "user", "text": "ik wil iemand spreken", "input_channel": "socketio"},
        {"event": "active_loop", "name": "handoff_form"},
        {"event": "user", "text": "ja", "input_channel": "socketio"},
        {"event": "user", "text": "nee", "input_channel": "socketio"},
        {"event": "user", "text": answer, "input_channel": "socketio"},
    ]
    slots = {"requested_slot": PREFERENCE_SLOT, CONSENT_SLOT: True, WORDS_SLOT: False, RETRIES_SLOT: 0.0,
             "topic": "slapen", "severity": "aandacht"}
    form_events, _ = _run(handoff_actions.ValidateHandoffForm(), _tracker(slots, answer, None, events))
    slots.update({e["name"]: e["value"] for e in form_events})
    assert slots[DETAIL_SLOT] == "gegeven" and slots[PREFERENCE_SLOT] == "phone"

    result, messages = _run(handoff_actions.ActionOpenCase(), _tracker(slots, answer, None, events))
    case = store.active_case_for("sender-glue")
    assert case.contact_preference == "phone" and case.contact_detail == "+31612345678"
    assert "doorgegeven" in messages[0]["text"]
    with store.engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT contact_detail FROM cases")).scalar()
    assert raw.startswith("gAAAAA") and "612345678" not in raw
    everything = repr(form_events) + repr(result) + repr(messages)
    assert "612345678" not in everything and "1234 5678" not in everything
    assert {e["name"]: e["value"] for e in result}[DETAIL_SLOT] is None  # reset for a next hand-off


def test_a_detail_slot_from_before_the_change_still_reaches_the_case(store: CaseStore) -> None:
    request = handoff.request_from_slots("c-old", {CONSENT_SLOT: True, PREFERENCE_SLOT: "email",
                                                   DETAIL_SLOT: "a@b.nl"})
    assert handoff.open_case(store, request).contact_detail == "a@b.nl"
    given = handoff.request_from_slots("c-new", {CONSENT_SLOT: True, PREFERENCE_SLOT: "email",
                                                 DETAIL_SLOT: "gegeven"})
    assert handoff.open_case(store, given).contact_detail is None  # "gegeven" is no address


# --- answering in the conversation (issue 14, item 5) ----------------------------------------------

@pytest.mark.parametrize("preference,detail,kept", [
    ("whatsapp", None, True),            # on WhatsApp itself: answered in this conversation ("chat")
    ("chat", None, True),
    ("phone", "06 1234 5678", False),    # the parent wants a call: the WhatsApp number is not kept
    ("email", "ouder@example.nl", False),
])
def test_the_number_is_kept_only_when_the_parent_chose_to_be_answered_in_the_conversation(
        store: CaseStore, preference: str, detail: Any, kept: bool) -> None:
    case = handoff.open_case(store, HandoffRequest("wa-kept", channel="whatsapp", contact_preference=preference,
                                                   contact_detail=detail))
    assert store.keep_reply_number(case.conversation_id, "31612345678") is kept
    assert (store.reply_route(case.conversation_id) is not None) is kept


def test_without_consent_there_is_no_case_so_no_number_is_kept(store: CaseStore) -> None:
    assert handoff.request_from_slots("wa-refused", {CONSENT_SLOT: False}, "whatsapp") is None
    assert store.keep_reply_number("wa-refused", "31612345678") is False
    assert store.reply_route("wa-refused") is None

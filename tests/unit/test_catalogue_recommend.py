"""Recommendations from the catalogue: pyramid levels, neighbourhood first, working factors,
opening hours, crisis lines, another catalogue, and the B1 text block."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.domain.catalogue import format_offer, load_catalogue, recommend
from bot.domain.catalogue.loader import clear_cache
from bot.domain.catalogue.model import reference
from tests.support.paths import ROOT

EXAMPLE = ROOT / "catalogue" / "voorbeeldstad.yml"
TUESDAY_10 = datetime(2027, 4, 20, 10, 0)   # an ordinary Tuesday morning
TUESDAY_23 = datetime(2027, 4, 20, 23, 0)   # the same day, late evening
KINGSDAY = datetime(2027, 4, 27, 10, 0)     # Koningsdag 2027, a Tuesday
SATURDAY = datetime(2027, 5, 1, 11, 0)


@pytest.fixture(scope="module")
def example():
    return load_catalogue(EXAMPLE)


def ids(recs) -> list[str]:
    return [r.offer.id for r in recs]


# --- normaal ----------------------------------------------------------------------------------------

def test_noorderwijk_parent_gets_noorderwijk_informal_and_universal_offers_first(example):
    recs = recommend(example, "slapen", "0-2", "normaal", neighbourhood="Noorderwijk", now=TUESDAY_10)
    assert len(recs) == 3
    for rec in recs:
        assert rec.offer.level in ("A", "B")
        assert rec.offer.scope == "neighbourhood" and rec.offer.neighbourhoods == ("Noorderwijk",)
        assert rec.reason.endswith("_nearby")
    assert {r.offer.level for r in recs} == {"A", "B"}
    assert recs[0].offer.level == "A" and recs[0].offer.format == "group"  # light problem: group first


@pytest.mark.parametrize("spelling", ["noorderwijk", "NOORDERWIJK", "Noord"])
def test_neighbourhood_by_alias_or_case(example, spelling):
    recs = recommend(example, "slapen", "0-2", "normaal", neighbourhood=spelling, now=TUESDAY_10)
    assert all("Noorderwijk" in r.offer.neighbourhoods for r in recs)


def test_neighbourhood_offers_stay_in_their_neighbourhood(example):
    for topic in reference().topics:
        for phase in reference().phases:
            for rec in recommend(example, topic, phase, "normaal", neighbourhood="De Akkers",
                                 now=TUESDAY_10, limit=10):
                assert rec.offer.scope != "neighbourhood" or "De Akkers" in rec.offer.neighbourhoods


def test_order_is_neighbourhood_then_municipality_then_national(example):
    recs = recommend(example, "slapen", "0-2", "normaal", neighbourhood="Noorderwijk",
                     now=TUESDAY_10, limit=20)
    rank = {"neighbourhood": 0, "municipality": 1, "national": 2}
    scopes = [rank[r.offer.scope] for r in recs if r.offer.for_parents]
    assert scopes == sorted(scopes) and scopes[0] == 0 and scopes[-1] == 2


def test_unknown_neighbourhood_puts_municipal_offers_first(example):
    recs = recommend(example, "slapen", "0-2", "normaal", now=TUESDAY_10)
    assert recs[0].offer.scope == "municipality"
    assert {r.offer.level for r in recs} <= {"A", "B"}


def test_want_more_brings_courses_first(example):
    recs = recommend(example, "driftbuien", "2-4", "normaal", neighbourhood="De Akkers",
                     now=TUESDAY_10, want_more=True)
    assert recs[0].offer.level == "C"
    assert recs[0].reason.startswith("parenting_support_")
    plain = recommend(example, "driftbuien", "2-4", "normaal", neighbourhood="De Akkers", now=TUESDAY_10)
    assert all(r.offer.level in ("A", "B") for r in plain)


@pytest.mark.parametrize("prefers_group, first_format", [(True, "group"), (False, "individual")])
def test_group_preference_steers_the_order(example, prefers_group, first_format):
    recs = recommend(example, "pesten", "5-12", "normaal", neighbourhood="Binnenstad",
                     prefers_group=prefers_group, now=TUESDAY_10)
    assert recs[0].offer.format == first_format


def test_normal_concerns_never_get_crisis_lines(example):
    for topic in reference().topics:
        for phase in reference().phases:
            for severity in ("normaal", "aandacht"):
                for rec in recommend(example, topic, phase, severity, now=TUESDAY_23, limit=10):
                    assert not rec.offer.signals, (topic, phase, severity, rec.offer.id)


# --- aandacht -----------------------------------------------------------------------------------------

def test_attention_gives_individual_professionals_first(example):
    recs = recommend(example, "druk_gedrag", "5-12", "aandacht", neighbourhood="Binnenstad",
                     now=TUESDAY_10)
    assert [r.offer.level for r in recs] == ["D", "D", "D"]
    assert recs[0].offer.format == "individual"
    assert all(r.open_now for r in recs[:2])
    grouped = recommend(example, "druk_gedrag", "5-12", "aandacht", prefers_group=True, now=TUESDAY_10)
    assert grouped[0].offer.format == "group" and grouped[0].offer.level == "D"


def test_attention_outside_hours_adds_a_24_7_line(example):
    recs = recommend(example, "druk_gedrag", "5-12", "aandacht", now=TUESDAY_23)
    assert len(recs) == 3
    assert all(not r.open_now and r.next_open is not None for r in recs[:2])
    assert recs[0].next_open.date() == date(2027, 4, 21)
    assert recs[-1].reason == "always_open" and recs[-1].open_now
    assert recs[-1].offer.hours.always and recs[-1].offer.contact.phone


def test_attention_on_koningsdag(example):
    recs = recommend(example, "school", "5-12", "aandacht", now=KINGSDAY)
    professionals = [r for r in recs if r.reason != "always_open"]
    assert professionals and all(not r.open_now for r in professionals)
    assert all(r.next_open.date() == date(2027, 4, 28) for r in professionals)
    assert recs[-1].reason == "always_open"


# --- crisis -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signal, topic, first_id, also", [
    ("suicide", "emoties", "nl-113", "nl-112"),
    ("geweld", "agressie", "nl-veilig-thuis", "nl-112"),
    ("medisch_acuut", "gezondheid", "nl-112", None),
    ("ouder_acuut", "ouder_welzijn", None, "nl-veilig-thuis"),
])
def test_crisis_lines_first(example, signal, topic, first_id, also):
    recs = recommend(example, topic, "12-19", "crisis", signal=signal, now=TUESDAY_23)
    assert len(recs) == 3
    assert recs[0].offer.hours.always and recs[0].open_now and recs[0].reason == "crisis_line"
    if first_id:
        assert recs[0].offer.id == first_id
    if also:
        assert also in ids(recs)


def test_crisis_without_signal_gives_three_24_7_national_lines(example):
    recs = recommend(example, "agressie", "5-12", "crisis", now=SATURDAY)
    assert all(r.offer.scope == "national" and r.offer.hours.always and r.offer.signals for r in recs)
    assert "nl-112" in ids(recs) and "nl-veilig-thuis" in ids(recs)


def test_suicide_reply_names_113():
    catalogue = load_catalogue(EXAMPLE)
    text = format_offer(recommend(catalogue, "emoties", "12-19", "crisis", signal="suicide")[0])
    assert "113" in text and "0800-0113" in text


# --- limits and odd input ---------------------------------------------------------------------------

@pytest.mark.parametrize("severity", ["normaal", "aandacht", "crisis", None, "onbekend"])
@pytest.mark.parametrize("topic", [None, "slapen", "puberteit", "bestaat_niet"])
def test_at_most_three_by_default(example, severity, topic):
    recs = recommend(example, topic, "12-19", severity, now=TUESDAY_10)
    assert 1 <= len(recs) <= 3
    assert len({r.offer.id for r in recs}) == len(recs)


@pytest.mark.parametrize("limit", [0, 1, 2, 5])
def test_limit_is_respected(example, limit):
    assert len(recommend(example, "slapen", "0-2", "normaal", now=TUESDAY_10, limit=limit)) == limit


# --- another catalogue file -------------------------------------------------------------------------

def _other_catalogue(tmp_path: Path) -> Path:
    offer = {
        "topics": ["alle"], "phases": ["alle"], "contact": {"phone": "0123-999 000"},
        "hours": {"za": "10:00-12:00"}, "languages": ["nl"], "cost": "free",
        "description": "Een aanbod in Testdorp. (Voorbeeld)", "source": "test",
        "last_checked": date.today() - timedelta(days=1),
    }
    doc = {
        "schema_version": 1, "kind": "municipality",
        "municipality": {"name": "Testdorp", "fictional": True, "neighbourhoods": ["Kerkebuurt"],
                         "office_hours": {"ma": "09:00-17:00"}},
        "offers": [
            {"id": "td-koffie", "name": "Koffieochtend Kerkebuurt (voorbeeld)", "level": "A",
             "scope": "neighbourhood", "neighbourhoods": ["Kerkebuurt"], "format": "group", **offer},
            {"id": "td-loket", "name": "Opvoedloket Testdorp (voorbeeld)", "level": "B",
             "scope": "municipality", "format": "individual",
             **{**offer, "hours": {"ma": "09:00-17:00"}}},
            {"id": "td-team", "name": "Jeugdteam Testdorp (voorbeeld)", "level": "D",
             "scope": "municipality", "format": "individual", **offer},
        ],
    }
    path = tmp_path / "testdorp.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_another_catalogue_changes_the_answers(tmp_path, monkeypatch, example):
    path = _other_catalogue(tmp_path)
    before = ids(recommend(example, "slapen", "0-2", "normaal", neighbourhood="Kerkebuurt", now=SATURDAY))
    other = load_catalogue(path)
    after = recommend(other, "slapen", "0-2", "normaal", neighbourhood="Kerkebuurt", now=SATURDAY)
    assert ids(after) == ["td-koffie", "td-loket"]
    assert after[0].open_now and not after[1].open_now
    assert not set(before) & set(ids(after))
    # the catalogue in use follows env OPVOED_CATALOGUE
    monkeypatch.setenv("OPVOED_CATALOGUE", str(path))
    clear_cache()
    try:
        assert ids(recommend(None, "slapen", "0-2", "aandacht", now=SATURDAY)) == ["td-team", "td-loket"]
    finally:
        monkeypatch.delenv("OPVOED_CATALOGUE")
        clear_cache()


# --- the text block -----------------------------------------------------------------------------------

def test_format_offer_closed_until_monday(example):
    recs = recommend(example, "slapen", "0-2", "normaal", now=SATURDAY, limit=10)
    cjg = next(r for r in recs if r.offer.id == "vs-cjg")
    text = format_offer(cjg)
    assert text.splitlines()[0] == cjg.offer.name
    assert "Bel 0123-456 789" in text
    assert "Nu gesloten. Weer open op maandag om 9:00." in text


def test_format_offer_after_koningsdag_says_tomorrow(example):
    recs = recommend(example, "slapen", "0-2", "normaal", now=KINGSDAY, limit=10)
    cjg = next(r for r in recs if r.offer.id == "vs-cjg")
    assert not cjg.open_now
    assert "Weer open morgen om 9:00." in format_offer(cjg)


def test_format_offer_open_and_24_7(example):
    cjg = next(r for r in recommend(example, "slapen", "0-2", "normaal", now=TUESDAY_10, limit=10)
               if r.offer.id == "vs-cjg")
    assert "Nu open." in format_offer(cjg) and format_offer(cjg).endswith("Gratis.")
    line = recommend(example, "emoties", "12-19", "crisis", signal="suicide", now=TUESDAY_23)[0]
    text = format_offer(line)
    assert "Dag en nacht bereikbaar." in text
    assert text.lower().count("gratis") == 1  # said once, in the description
    assert len(text) < 600


def test_of_offers_that_are_alike_those_in_the_parents_language_come_first(example):
    """Issue 17: the parent's language breaks ties between offers that are otherwise alike (here an
    offer and its copy given in English too, listed after it); it changes nothing for Dutch."""
    import dataclasses

    first = recommend(example, "slapen", "0-2", "normaal", neighbourhood="Noorderwijk", now=TUESDAY_10)[0].offer
    twin = dataclasses.replace(first, id=f"{first.id}-en", languages=("nl", "en"))
    catalogue = dataclasses.replace(example, offers=tuple(example.offers) + (twin,))

    def order(language):
        found = ids(recommend(catalogue, "slapen", "0-2", "normaal", neighbourhood="Noorderwijk",
                              now=TUESDAY_10, limit=10, language=language))
        return found.index(first.id) < found.index(twin.id)

    assert order(None) is True and order("nl") is True   # the catalogue's own order
    assert order("en") is False                          # the English one first
    assert order("ar") is True                           # neither is in Arabic


def test_an_offer_is_described_in_the_parents_language_where_it_has_the_texts(example):
    """Issue 17: English status, contact and cost lines; the municipality's own name as written,
    and its own description in the parent's language where the catalogue has one; a language
    without offer texts gets the Dutch lines."""
    from bot.domain.catalogue.recommend import OFFER_TEXTS, offer_texts

    dutch_keys = yaml.safe_load(OFFER_TEXTS.read_text(encoding="utf-8"))
    assert {k: (set(v) if isinstance(v, dict) else len(v) if isinstance(v, list) else None) for k, v in dutch_keys.items()} == \
        {k: (set(v) if isinstance(v, dict) else len(v) if isinstance(v, list) else None) for k, v in offer_texts("en").items()}
    for rec in recommend(example, "slapen", "0-2", "normaal", neighbourhood="Noorderwijk", now=TUESDAY_23, limit=5):
        dutch, english = format_offer(rec), format_offer(rec, "en")
        assert english.splitlines()[0] == dutch.splitlines()[0] == rec.offer.name
        assert english.splitlines()[1] == rec.offer.description_in("en")
        assert english != dutch
        assert not any(word in english for word in ("Nu open", "Nu gesloten", "Bel ", "Kijk op", "Gratis."))
        assert format_offer(rec, "ar") == dutch


def test_the_municipalitys_own_description_in_the_parents_language(example):
    """Issue 17: a catalogue offer may carry its description in other languages (`descriptions`);
    a parent in that language reads it, anyone else the Dutch one."""
    recs = recommend(example, "slapen", "0-2", "normaal", neighbourhood="De Akkers", now=TUESDAY_10, limit=10)
    translated = [r for r in recs if dict(r.offer.descriptions).get("en")]
    plain = [r for r in recs if not r.offer.descriptions]
    assert translated and plain
    for rec in translated:
        english = dict(rec.offer.descriptions)["en"]
        assert english in format_offer(rec, "en").splitlines()
        assert english not in format_offer(rec, "nl") and rec.offer.description in format_offer(rec, "nl")
        assert rec.offer.description in format_offer(rec, "ar")  # no Arabic text: the Dutch one
    for rec in plain:
        assert rec.offer.description in format_offer(rec, "en").splitlines()


def test_the_catalogue_takes_descriptions_only_in_the_assistants_languages():
    """The schema lists exactly the languages the assistant answers in besides Dutch, and refuses
    another code or a description that is too short."""
    from bot.domain.catalogue.validate import SCHEMA_PATH, validate_text
    from bot.domain.translations import languages

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert tuple(sorted(schema["$defs"]["offer"]["properties"]["descriptions"]["properties"])) == languages()
    path = ROOT / "catalogue" / "voorbeeldstad.yml"
    source = path.read_text(encoding="utf-8")
    assert validate_text(source, path).ok
    for wrong in ("fr: Un texte assez long pour le schéma.", "en: Too short"):
        text = source.replace("    descriptions:\n      en: >-", f"    descriptions:\n      {wrong}\n      ar: >-", 1)
        assert text != source
        report = validate_text(text, path)
        assert any("descriptions" in issue.field for issue in report.errors), wrong

"""Place matching: names and aliases from the catalogue in use, typos, no false hits."""
from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import yaml

from bot.domain.catalogue import load_catalogue
from bot.domain.places import PlaceMatch, match_place
from tests.support.paths import ROOT

EXAMPLE = ROOT / "catalogue" / "voorbeeldstad.yml"


@pytest.fixture(scope="module")
def example():
    return load_catalogue(EXAMPLE)


@pytest.mark.parametrize("text, neighbourhood", [
    ("Ik woon in Noorderwijk", "Noorderwijk"),
    ("wij wonen in noorderwjik", "Noorderwijk"),      # typo (swapped letters)
    ("we zitten in de NOORDERWIJK", "Noorderwijk"),
    ("op de Noorderwijkse school", "Noorderwijk"),
    ("<b>Noorderwijk</b>", "Noorderwijk"),
    ("wij wonen in Noord", "Noorderwijk"),           # alias
    ("in de binnestad", "Binnenstad"),                # typo (missing letter)
    ("Binnenstad!!", "Binnenstad"),
    ("vlakbij het stadshart", "Binnenstad"),          # alias
    ("in het Oude Centrum", "Binnenstad"),            # two-word alias
    ("De Akkers", "De Akkers"),
    ("we wonen in de akkers 🙂", "De Akkers"),
    ("akkerswijk", "De Akkers"),
    ("De Akkrs", "De Akkers"),                         # typo in a two-word name
])
def test_neighbourhoods(example, text, neighbourhood):
    assert match_place(text, example) == PlaceMatch("Voorbeeldstad", neighbourhood)


@pytest.mark.parametrize("text", ["Ik woon in Voorbeeldstad", "voorbeeldsatd", "VOORBEELDSTAD"])
def test_municipality_only(example, text):
    assert match_place(text, example) == PlaceMatch("Voorbeeldstad", None)


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "Ik heb een vraag over mijn kind",
    "bijvoorbeeld als hij niet wil slapen",   # contains 'voorbeeld'
    "een voorbeeld",
    "ik kom uit Noord-Holland",               # hyphenated word is not the alias 'Noord'
    "het noorden",
    "nooit",
    "een woord",
    "we spelen op de akker",                  # ordinary word close to 'Akkers'
    "de bakkers",
    "Centrum voor Jeugd en Gezin",
    "binnen de stad",
    "wijk",
    "🙂🙂🙂",
    "<script>alert(1)</script>",
    "\x00\xff\ufffd garbage \udcff",
])
def test_no_false_hits(example, text):
    assert match_place(text, example) == PlaceMatch()


def test_non_text_input(example):
    assert match_place(None, example) == PlaceMatch()  # type: ignore[arg-type]
    assert match_place(b"Noorderwijk", example) == PlaceMatch()  # type: ignore[arg-type]


def test_very_long_text_is_fast(example):
    text = ("bla " * 250_000) + "Noorderwijk"
    start = time.perf_counter()
    assert match_place(text, example) == PlaceMatch()  # past the first 10,000 characters
    assert match_place("Noorderwijk " + "x" * 1_000_000, example).neighbourhood == "Noorderwijk"
    assert time.perf_counter() - start < 2


def test_names_come_from_the_catalogue_in_use(tmp_path, monkeypatch):
    doc = {
        "schema_version": 1, "kind": "municipality",
        "municipality": {
            "name": "Testdorp", "fictional": True, "aliases": ["Tdorp"],
            "neighbourhoods": [{"name": "Kerkebuurt", "aliases": ["Rond de Kerk"]}, "Molenveld"],
            "office_hours": {"ma": "09:00-17:00"},
        },
        "offers": [{
            "id": "td-1", "name": "Inloop (voorbeeld)", "level": "A", "topics": ["alle"],
            "phases": ["alle"], "scope": "municipality", "contact": {"phone": "0123-999 000"},
            "hours": "op afspraak", "languages": ["nl"], "cost": "free", "format": "group",
            "description": "Een aanbod in Testdorp. (Voorbeeld)", "source": "test",
            "last_checked": date.today() - timedelta(days=1),
        }],
    }
    path = tmp_path / "testdorp.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    other = load_catalogue(path)
    assert match_place("we wonen in de kerkebuurt", other) == PlaceMatch("Testdorp", "Kerkebuurt")
    assert match_place("Molenvld", other) == PlaceMatch("Testdorp", "Molenveld")
    assert match_place("rond de kerk", other) == PlaceMatch("Testdorp", "Kerkebuurt")
    assert match_place("Tdorp", other) == PlaceMatch("Testdorp", None)
    assert match_place("Ik woon in Noorderwijk, Voorbeeldstad", other) == PlaceMatch()
    # without a catalogue argument: the one named by env OPVOED_CATALOGUE
    monkeypatch.setenv("OPVOED_CATALOGUE", str(path))
    assert match_place("Molenveld") == PlaceMatch("Testdorp", "Molenveld")
    monkeypatch.delenv("OPVOED_CATALOGUE")
    assert match_place("Molenveld") == PlaceMatch()
    assert match_place("Noorderwijk") == PlaceMatch("Voorbeeldstad", "Noorderwijk")


def test_invalid_catalogue_in_env_gives_no_match(tmp_path, monkeypatch):
    broken = tmp_path / "kapot.yml"
    broken.write_text("schema_version: 1\nkind: municipality\noffers: []\n", encoding="utf-8")
    monkeypatch.setenv("OPVOED_CATALOGUE", str(broken))
    assert match_place("Noorderwijk") == PlaceMatch()

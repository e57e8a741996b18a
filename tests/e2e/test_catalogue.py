"""Catalogue loading and validation: the shipped files, broken files, gaps, the CLI."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from bot.domain.catalogue import CatalogueError, load_catalogue
from bot.domain.catalogue.loader import clear_cache
from bot.domain.catalogue.model import DEFAULT_CATALOGUE, reference
from bot.domain.catalogue.validate import validate_path
from tests.support.paths import ROOT

CATALOGUE_DIR = ROOT / "catalogue"
NATIONAL = CATALOGUE_DIR / "national.yml"
EXAMPLE = CATALOGUE_DIR / "voorbeeldstad.yml"
TODAY = date(2026, 11, 28)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("OPVOED_CATALOGUE", raising=False)


def offer(**overrides) -> dict:
    base = {
        "id": "t-offer",
        "name": "Testaanbod (voorbeeld)",
        "level": "A",
        "topics": ["alle"],
        "phases": ["alle"],
        "scope": "municipality",
        "contact": {"phone": "0123-456 000"},
        "hours": {"ma": "09:00-17:00"},
        "languages": ["nl"],
        "cost": "free",
        "format": "group",
        "description": "Een korte uitleg voor ouders. (Voorbeeld)",
        "source": "test",
        "last_checked": TODAY - timedelta(days=10),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def municipality_doc(offers: list[dict], include: list[str] | None = None, **header) -> dict:
    muni = {
        "name": "Testdorp",
        "fictional": True,
        "neighbourhoods": [{"name": "Kerkebuurt", "aliases": ["De Kerk"]}, "Molenveld"],
        "office_hours": {"ma": "09:00-17:00"},
    }
    muni.update(header)
    doc = {"schema_version": 1, "kind": "municipality", "municipality": muni, "offers": offers}
    if include is not None:
        doc["include"] = include
    return doc


def write(tmp_path: Path, doc: dict | str, name: str = "testdorp.yml") -> Path:
    path = tmp_path / name
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path, today: date = TODAY) -> list[str]:
    return [str(i) for i in validate_path(path, today=today).errors]


# --- the shipped files ----------------------------------------------------------------------------

def test_default_catalogue_is_the_example():
    assert DEFAULT_CATALOGUE == EXAMPLE
    catalogue = load_catalogue()
    assert catalogue.municipality is not None
    assert catalogue.municipality.name == "Voorbeeldstad"
    assert catalogue.municipality.fictional is True
    assert catalogue.municipality.neighbourhood_names() == ("Binnenstad", "Noorderwijk", "De Akkers")
    assert catalogue.municipality.retention_days == 30


@pytest.mark.parametrize("path", [EXAMPLE, NATIONAL])
def test_shipped_files_have_no_errors_or_warnings(path):
    report = validate_path(path, today=TODAY)
    assert report.errors == []
    assert report.warnings == []
    assert report.catalogue is not None


def test_example_includes_the_national_offers():
    ids = {o.id for o in load_catalogue(EXAMPLE).offers}
    national_ids = {o.id for o in load_catalogue(NATIONAL).offers}
    assert national_ids <= ids
    assert len(ids) > len(national_ids) + 15


def test_example_has_every_level_and_marks_itself_fictional():
    catalogue = load_catalogue(EXAMPLE)
    local = [o for o in catalogue.offers if o.scope != "national"]
    assert {o.level for o in local} == {"A", "B", "C", "D"}
    for o in local:
        assert "(voorbeeld)" in o.name, o.id
        phones = [p for p in (o.contact.phone, o.contact.whatsapp) if p]
        assert all(p.startswith("0123-") for p in phones), o.id
        for url in (o.contact.website, o.contact.chat):
            assert url is None or re.match(r"https://[^/]*\.example(/|$)", url), o.id
        if o.contact.email:
            assert o.contact.email.endswith(".example"), o.id


@pytest.mark.parametrize("needle, neighbourhood", [
    ("samen in gesprek", "Binnenstad"),
    ("ouderinloop", "Noorderwijk"),
    ("samen koken", "Noorderwijk"),
    ("mamma-café", "De Akkers"),
    ("theater", "De Akkers"),
])
def test_seed_informal_formats_sit_in_neighbourhoods(needle, neighbourhood):
    offers = [o for o in load_catalogue(EXAMPLE).offers if needle in o.name.lower()]
    assert offers, needle
    assert any(o.level == "A" and o.scope == "neighbourhood" and neighbourhood in o.neighbourhoods
               for o in offers)


@pytest.mark.parametrize("needle, level", [
    ("centrum voor jeugd en gezin", "B"),
    ("consultatiebureau", "B"),
    ("wijkteam", "D"),
    ("opvoeden & zo", "C"),
    ("pubers", "C"),
    ("home-start", "C"),
    ("schoolmaatschappelijk", "D"),
    ("logopedie", "D"),
    ("ouderconsult alcohol", "D"),
])
def test_example_has_the_municipal_services(needle, level):
    offers = [o for o in load_catalogue(EXAMPLE).offers if needle in o.name.lower()]
    assert [o.level for o in offers] == [level]


@pytest.mark.parametrize("offer_id, phone, hours_always", [
    ("nl-112", "112", True),
    ("nl-113", "0800-0113", True),
    ("nl-veilig-thuis", "0800-2000", True),
    ("nl-kindertelefoon", "0800-0432", False),
    ("nl-luisterlijn", "088-0767 000", True),
    ("nl-centrum-seksueel-geweld", "0800-0188", True),
])
def test_national_numbers(offer_id, phone, hours_always):
    found = load_catalogue(NATIONAL).offer(offer_id)
    assert found is not None and found.contact.phone == phone
    assert found.hours.always is hours_always
    assert found.source.startswith("http")


def test_national_lines_and_websites():
    catalogue = load_catalogue(NATIONAL)
    assert "113" in catalogue.offer("nl-113").description
    assert catalogue.offer("nl-kindertelefoon").audience == ("children", "youth")
    huisarts = catalogue.offer("nl-huisarts")
    assert "huisartsenpost" in huisarts.description and "eigen huisarts" in huisarts.description
    for oid in ("nl-opvoeden-nl", "nl-thuisarts-nl", "nl-drugsinfo"):
        assert catalogue.offer(oid).level == "B"
        assert catalogue.offer(oid).hours.always
    signals = {s for o in catalogue.offers for s in o.signals}
    assert signals == set(reference().signals)


# --- broken files ------------------------------------------------------------------------------------

VALID_TEXT = """\
schema_version: 1
kind: municipality
municipality:
  name: Testdorp
  fictional: true
  neighbourhoods: [Kerkebuurt, Molenveld]
  office_hours:
    ma: "09:00-17:00"
offers:
  - id: t-1
    name: Inloop (voorbeeld)
    level: A
    topics: [slapen, eten]
    phases: ["0-2"]
    scope: neighbourhood
    neighbourhoods: [Kerkebuurt]
    contact:
      phone: "0123-456 000"
    hours:
      ma: "09:00-17:00"
    languages: [nl]
    cost: free
    format: group
    description: Een korte uitleg voor ouders. (Voorbeeld)
    source: test
    last_checked: 2026-11-01
"""


def test_valid_text_is_valid(tmp_path):
    assert errors_of(write(tmp_path, VALID_TEXT)) == []


@pytest.mark.parametrize("old, new, field, fragment", [
    ("level: A", "level: E", "offers[0].level", "'E' is not one of A, B, C, D"),
    ("topics: [slapen, eten]", "topics: [slaap, eten]", "offers[0].topics[0]", "did you mean 'slapen'"),
    ("phases: [\"0-2\"]", "phases: [\"0-3\"]", "offers[0].phases[0]", "is not a phase id"),
    ("neighbourhoods: [Kerkebuurt]\n", "neighbourhoods: [Kerkbuurt]\n", "offers[0].neighbourhoods[0]",
     "not a neighbourhood of this municipality; did you mean 'Kerkebuurt'"),
    ("      ma: \"09:00-17:00\"\n    languages", "      ma: \"9-17\"\n    languages", "offers[0].hours.ma",
     "write it as '09:00-17:00'"),
    ("      ma: \"09:00-17:00\"\n    languages", "      ma: \"17:00-09:00\"\n    languages",
     "offers[0].hours.ma", "the end is not after the start"),
    ("      ma: \"09:00-17:00\"\n    languages", "      mo: \"09:00-17:00\"\n    languages",
     "offers[0].hours.mo", "is not one of ma, di"),
    ("last_checked: 2026-11-01", "last_checked: 2027-01-01", "offers[0].last_checked", "in the future"),
    ("last_checked: 2026-11-01", "last_checked: 2026-13-01", "offers[0].last_checked", "not a real date"),
    ("last_checked: 2026-11-01", "last_checked: 01-11-2026", "offers[0].last_checked", "YYYY-MM-DD"),
    ("format: group", "format: groep", "offers[0].format", "did you mean 'group'"),
    ("cost: free", "cost: gratis", "offers[0].cost", "is not one of free, contribution"),
    ("      phone: \"0123-456 000\"", "      phone: \"bel ons\"", "offers[0].contact.phone", "wrong form"),
    ("    source: test", "    source: test\n    adress: x", "offers[0].adress", "unknown field 'adress'"),
    ("    phases: [\"0-2\"]\n", "", "offers[0]", "give 'phases'"),
    ("    description: Een korte", "    descriptio: Een korte", "offers[0].description",
     "is missing (required)"),
    ("  fictional: true", "  fictional: ja", "municipality.fictional", "expected true or false"),
    ("scope: neighbourhood", "scope: wijk", "offers[0].scope", "is not one of neighbourhood"),
    ("languages: [nl]", "languages: [NL]", "offers[0].languages[0]", "language code"),
])
def test_broken_file_names_line_field_and_fix(tmp_path, old, new, field, fragment):
    assert old in VALID_TEXT
    text = VALID_TEXT.replace(old, new, 1)
    path = write(tmp_path, text)
    errors = errors_of(path)
    matching = [e for e in errors if f": {field}: " in e and fragment in e]
    assert matching, errors
    # the line named is the line of the field (or of its block when the field is missing)
    line = int(matching[0].split(":")[1])
    lines = text.splitlines()
    key = field.split(".")[-1].split("[")[0]
    assert key in lines[line - 1] or lines[line - 1].lstrip().startswith("- id:"), (line, lines[line - 1])
    assert matching[0].startswith(f"{path.name}:") or str(path) in matching[0] or "testdorp.yml:" in matching[0]


def test_load_catalogue_refuses_a_broken_file_naming_the_line(tmp_path):
    path = write(tmp_path, VALID_TEXT.replace("level: A", "level: E"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert any(re.search(r"testdorp\.yml:12: offers\[0\]\.level: 'E' is not one of A, B, C, D", m)
               for m in info.value.messages), info.value.messages
    assert "testdorp.yml:12" in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = VALID_TEXT.replace("    level: A\n", "    level: A\n   bad: indent\n")
    errors = errors_of(write(tmp_path, text))
    assert len(errors) == 1 and "YAML syntax" in errors[0]
    assert re.search(r"testdorp\.yml:1[2-4]:", errors[0])


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00garbage\x81", b"- just\n- a list\n", b"42\n",
                                     "offers: [🙂]\n".encode()])
def test_garbage_files_give_errors_not_exceptions(tmp_path, content):
    path = tmp_path / "garbage.yml"
    path.write_bytes(content)
    report = validate_path(path, today=TODAY)
    assert report.errors and report.catalogue is None


def test_missing_file(tmp_path):
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path / "nope.yml")
    assert "file not found" in str(info.value)


def test_duplicate_ids_in_one_file_and_against_national(tmp_path):
    shutil.copy(NATIONAL, tmp_path / "national.yml")
    doc = municipality_doc([offer(id="a"), offer(id="a"), offer(id="nl-113")], include=["national.yml"])
    path = write(tmp_path, doc)
    report = validate_path(path, today=TODAY)
    dup_a = [i for i in report.errors if "duplicate id 'a'" in i.message]
    assert len(dup_a) == 1 and "first used on line" in dup_a[0].message
    dup_113 = [i for i in report.errors if "duplicate id 'nl-113'" in i.message]
    # reported in the municipality's own file (the editor can change that one), naming national.yml
    assert len(dup_113) == 1 and dup_113[0].path.endswith("testdorp.yml")
    assert re.search(r"national\.yml:\d+", dup_113[0].message)


def test_include_problems(tmp_path):
    shutil.copy(NATIONAL, tmp_path / "national.yml")
    missing = municipality_doc([offer()], include=["elders.yml"])
    assert any("included file" in e and "not found" in e for e in errors_of(write(tmp_path, missing)))
    write(tmp_path, municipality_doc([offer(id="b")], include=["a.yml"]), "b.yml")
    loop = municipality_doc([offer(id="a")], include=["b.yml"])
    errors = errors_of(write(tmp_path, loop, "a.yml"))
    assert any("includes itself" in e for e in errors) or any("municipality file" in e for e in errors)


def test_national_file_rules(tmp_path):
    doc = {"schema_version": 1, "kind": "national", "offers": [offer(scope="municipality")]}
    errors = errors_of(write(tmp_path, doc, "landelijk.yml"))
    assert any("not possible in a national file" in e for e in errors)


def test_semantic_rules(tmp_path):
    doc = municipality_doc([
        offer(id="x1", topics=["alle", "slapen"]),
        offer(id="x2", phases=["0-2"], age_months={"min": 0, "max": 10}),
        offer(id="x3", phases=None, age_months={"min": 30, "max": 10}),
        offer(id="x4", neighbourhoods=["Kerkebuurt"]),
        offer(id="x5", signals=["suicide"]),
        offer(id="x6", hours={"ma": "08:00-12:00, 11:00-13:00"}),
    ], neighbourhoods=["Kerkebuurt", {"name": "Molenveld", "aliases": ["kerkebuurt"]}])
    errors = "\n".join(errors_of(write(tmp_path, doc)))
    for fragment in ["'alle' means all topics", "either phases or age_months", "min (30) is larger",
                     "only go with scope: neighbourhood", "only go with level D", "overlap",
                     "already used for Kerkebuurt"]:
        assert fragment in errors, fragment


def test_stale_offer_is_a_warning(tmp_path):
    path = write(tmp_path, municipality_doc([offer(last_checked=TODAY - timedelta(days=400))]))
    report = validate_path(path, today=TODAY)
    assert report.errors == []
    stale = [w for w in report.warnings if w.kind == "stale"]
    assert len(stale) == 1 and "more than a year ago" in stale[0].message and stale[0].line


def test_fictional_names_warning(tmp_path):
    path = write(tmp_path, municipality_doc([offer(name="Inloop", description="Een korte uitleg hier.")]))
    assert [w.kind for w in validate_path(path, today=TODAY).warnings if w.kind == "naming"] == ["naming"]


# --- gaps ---------------------------------------------------------------------------------------------

def test_gaps_are_warned_and_summarised(tmp_path):
    doc = municipality_doc([
        offer(id="g1", level="A", topics=["slapen"], phases=["0-2"]),
        offer(id="g2", level="B", topics=["alle"], phases=["0-2", "2-4", "5-12"]),
    ])
    report = validate_path(write(tmp_path, doc), today=TODAY)
    assert report.errors == []
    gaps = [w for w in report.warnings if w.kind == "gap"]
    combos = sum(len(p) for p in reference().topics.values()) * 4
    assert 4 <= len(gaps) <= 12 < combos  # summarised, not one line per combination
    by_level = {lvl: [g.message for g in gaps if g.field.startswith(f"gaps level {lvl} ")]
                for lvl in "ABCD"}
    assert by_level["C"] == ["no offer at all for 25 topic(s): " + ", ".join(reference().topics)]
    assert by_level["D"] == by_level["C"]
    # level B covers every topic up to 12 years: the 12-19 phase is missing, and alcohol_drugs
    # (only checked for 12-19) has nothing at all
    assert by_level["B"][0] == "no offer at all for 1 topic(s): alcohol_drugs"
    assert len(by_level["B"]) == 2 and by_level["B"][1].startswith("no offer for phase 12-19 on 19 ")
    assert "puberteit" in by_level["B"][1] and "huilen" not in by_level["B"][1]
    # level A: slapen exists for 0-2 only, so slapen is a partial gap, not 'no offer at all'
    at_all = next(m for m in by_level["A"] if m.startswith("no offer at all"))
    assert "slapen" not in at_all.split(": ", 1)[1].split(", ")
    assert any(m.startswith("no offer for phase 2-4, 5-12, 12-19 on 1 topic(s): slapen")
               for m in by_level["A"])


def test_crisis_lines_and_child_lines_do_not_fill_gaps(tmp_path):
    shutil.copy(NATIONAL, tmp_path / "national.yml")
    report = validate_path(write(tmp_path, municipality_doc([offer()], include=["national.yml"])),
                           today=TODAY)
    d_gaps = [w for w in report.warnings if w.kind == "gap" and "level D" in w.field]
    assert d_gaps, "112 / Veilig Thuis (topics: alle) must not count as D support for every topic"


# --- env, cache ------------------------------------------------------------------------------------------

def test_env_names_another_catalogue_and_cache_follows_mtime(tmp_path, monkeypatch):
    clear_cache()
    path = write(tmp_path, municipality_doc([offer(id="eerste")]))
    monkeypatch.setenv("OPVOED_CATALOGUE", str(path))
    first = load_catalogue()
    assert first.municipality.name == "Testdorp" and [o.id for o in first.offers] == ["eerste"]
    assert load_catalogue() is first
    path.write_text(yaml.safe_dump(municipality_doc([offer(id="tweede")]), sort_keys=False),
                    encoding="utf-8")
    import os
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert [o.id for o in load_catalogue().offers] == ["tweede"]


def test_readme_example_is_valid(tmp_path):
    text = (CATALOGUE_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    header = next(b for b in blocks if "schema_version" in b)
    example_offer = next(b for b in blocks if "- id:" in b)
    shutil.copy(NATIONAL, tmp_path / "national.yml")
    path = write(tmp_path, header + example_offer, "readme.yml")
    report = validate_path(path, today=TODAY)
    assert report.errors == [], [str(e) for e in report.errors]


# --- the command line ------------------------------------------------------------------------------------

def run_cli(*args: str, module: str = "bot.domain.catalogue.check") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_cli_exit_codes(tmp_path):
    ok = run_cli("catalogue/voorbeeldstad.yml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Summary: catalogue/voorbeeldstad.yml: 0 error(s)" in ok.stdout

    broken = write(tmp_path, VALID_TEXT.replace("level: A", "level: E"))
    bad = run_cli(str(broken))
    assert bad.returncode == 1
    assert "ERRORS (1)" in bad.stdout
    assert re.search(r"testdorp\.yml:12: offers\[0\]\.level: 'E' is not one of A, B, C, D", bad.stdout)
    assert "1 error(s)" in bad.stdout.splitlines()[-1]

    missing = run_cli(str(tmp_path / "nope.yml"))
    assert missing.returncode == 1 and "file not found" in missing.stdout

    usage = run_cli("--unknown-option")
    assert usage.returncode == 1

    via_package = run_cli("catalogue/national.yml", module="bot.domain.catalogue")
    assert via_package.returncode == 0 and "national file" in via_package.stdout


def test_cli_warnings_still_exit_zero(tmp_path):
    path = write(tmp_path, municipality_doc([offer(last_checked=TODAY - timedelta(days=400))]))
    result = run_cli(str(path), "--today", TODAY.isoformat())
    assert result.returncode == 0
    assert "WARNINGS: not checked for more than a year (1)" in result.stdout
    assert "WARNINGS: gaps" in result.stdout


@pytest.mark.parametrize("drop", range(len(VALID_TEXT.splitlines())))
def test_any_missing_line_gives_messages_not_exceptions(tmp_path, drop):
    lines = VALID_TEXT.splitlines()
    text = "\n".join(lines[:drop] + lines[drop + 1:]) + "\n"
    report = validate_path(write(tmp_path, text), today=TODAY)
    for issue in report.issues:
        assert issue.message and str(issue).startswith(str(tmp_path / "testdorp.yml"))
    if report.errors:
        assert report.catalogue is None

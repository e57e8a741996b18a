"""The privacy documents in docs/privacy/ (issue 14, item 7) say what the code does.

The retention period is read from the code (the catalogue's ``retention_days`` through
``bot.services.cases.retention_days``, its default when the catalogue has none, ``CASE_RETENTION_DAYS``
above both, and the web page's own period), the stored fields from ``bot/services/cases/schema.py``, the
crisis thresholds from ``config.yml`` and the quality figures from the evaluation report that the
Algoritmeregister entry names. A new column in the case store fails here until the DPIA and the
verwerkingsregister describe it and ``*_FIELDS`` below says which Dutch words they use for it.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from bot import settings
from bot.services import pseudonym
from bot.services.cases import retention_days
from bot.services.cases import store as case_store
from bot.services.cases.crypto import KEY_ENV
from bot.services.cases.schema import case_audit, case_deliveries, cases, console_users, teams

ROOT = settings.PROJECT_ROOT
DOCS = ROOT / "docs" / "privacy"
DOCUMENTS = ("dpia.md", "verwerkingsregister.md", "algoritmeregister.md", "privacyverklaring.md")
REGISTERS = ("dpia.md", "verwerkingsregister.md")  # these describe every stored field

# column -> the Dutch words the documents use for it, on the line that names `table.column`
CASE_FIELDS: Dict[str, str] = {
    "id": "kenmerk van de aanvraag",
    "conversation_id": "gesprekskenmerk",
    "channel": "kanaal",
    "municipality": "gemeente",
    "topic": "onderwerp",
    "age_months": "leeftijd van het kind",
    "phase": "leeftijdsfase",
    "severity": "urgentie",
    "signal": "crisissignaal",
    "words_consent": "toestemming voor de eigen woorden",
    "parent_words": "eigen woorden van de ouder",
    "contact_preference": "contactvoorkeur",
    "contact_detail": "telefoonnummer of e-mailadres",
    "status": "status",
    "assigned_to": "behandelend medewerker",
    "created_at": "tijdstip aangemaakt",
    "claimed_at": "tijdstip opgepakt",
    "closed_at": "tijdstip afgesloten",
    "situation": "crisissituatie",
    "alerted_at": "tijdstip crisismelding",
    "team_id": "team van de aanvraag",
    "reply_number": "whatsapp-nummer voor het antwoord",
    "last_inbound_at": "tijdstip laatste bericht van de ouder",
    "language": "taal van de ouder",
}
DELIVERY_FIELDS: Dict[str, str] = {
    "id": "kenmerk van het bericht",
    "case_id": "kenmerk van de aanvraag",
    "created_at": "tijdstip verstuurd",
    "status": "afgeleverd of niet",
    "reason": "reden van niet afleveren",
    "code": "foutcode",
    "settled_at": "tijdstip uitkomst",
}
AUDIT_FIELDS: Dict[str, str] = {
    "id": "volgnummer",
    "at": "tijdstip",
    "actor": "wie",
    "action": "handeling",
    "case_id": "kenmerk van de aanvraag",
}
USER_FIELDS: Dict[str, str] = {
    "id": "volgnummer",
    "email": "e-mailadres",
    "display_name": "weergavenaam",
    "password_hash": "wachtwoord",
    "session_version": "sessieversie",
    "role": "rol",
    "active": "actief",
    "created_at": "tijdstip aangemaakt",
    "team_id": "team van de medewerker",
    "totp_secret": "geheime sleutel van de tweestapsverificatie",
    "totp_last_step": "laatst gebruikte code",
}
TEAM_FIELDS: Dict[str, str] = {
    "id": "volgnummer",
    "name": "naam van het team",
}
TABLES = ((cases, CASE_FIELDS), (case_audit, AUDIT_FIELDS), (console_users, USER_FIELDS),
          (teams, TEAM_FIELDS), (case_deliveries, DELIVERY_FIELDS))
COLUMN_REFERENCE = re.compile(r"`(" + "|".join(t.name for t, _ in TABLES) + r")\.(\w+)`")


def read(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def flat(text: str) -> str:
    """Whitespace collapsed, so a figure broken over two lines still counts."""
    return " ".join(text.split())


@pytest.fixture
def catalogue_days(monkeypatch: pytest.MonkeyPatch) -> int:
    """The retention period of the shipped catalogue, as the purge and the case store read it."""
    monkeypatch.delenv("CASE_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("OPVOED_CATALOGUE", raising=False)
    from bot.domain.catalogue.loader import load_catalogue

    days = retention_days({})
    configured = load_catalogue().municipality.retention_days
    assert days == (configured or case_store.DEFAULT_RETENTION_DAYS)
    return days


@pytest.fixture
def default_days(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    """The period without CASE_RETENTION_DAYS and without a catalogue that sets one."""
    monkeypatch.delenv("CASE_RETENTION_DAYS", raising=False)
    monkeypatch.setenv("OPVOED_CATALOGUE", str(tmp_path / "no-catalogue.yml"))
    days = retention_days({})
    assert days == case_store.DEFAULT_RETENTION_DAYS
    return days


def number_hours() -> int:
    """How long a WhatsApp or Twilio number stays in memory, in hours (NumberBook's default)."""
    ttl = inspect.signature(pseudonym.NumberBook).parameters["ttl"].default
    assert ttl % 3600 == 0
    return int(ttl // 3600)


# --- retention ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_document_names_the_retention_period_in_days(name: str, catalogue_days: int) -> None:
    assert f"{catalogue_days} dagen" in flat(read(name)), \
        f"{name} does not name the retention period of {catalogue_days} dagen (catalogue retention_days)"


@pytest.mark.parametrize("name", REGISTERS)
def test_the_registers_name_the_default_and_how_to_change_it(name: str, default_days: int) -> None:
    text = flat(read(name))
    assert f"{default_days} dagen" in text, f"{name}: the default of {default_days} dagen is not named"
    assert f"`{case_store.RETENTION_ENV}`" in text and "`retention_days`" in text
    assert retention_days({case_store.RETENTION_ENV: "7"}) == 7  # the variable the documents name


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_document_names_another_period(name: str, catalogue_days: int, default_days: int) -> None:
    """Every 'N dagen' is the catalogue's period or the default; every 'N uur' the number book's."""
    text = flat(read(name))
    days = {int(n) for n in re.findall(r"(?<![\d.,])(\d+) dagen\b", text)}
    assert days <= {catalogue_days, default_days}, f"{name} names {sorted(days)} dagen"
    hours = {int(n) for n in re.findall(r"(?<![\d.,:])(\d+) uur\b", text)}
    assert hours <= {number_hours()}, f"{name} names {sorted(hours)} uur"


@pytest.mark.parametrize("name", ("dpia.md", "verwerkingsregister.md", "privacyverklaring.md"))
def test_the_time_a_whatsapp_number_stays_in_memory(name: str) -> None:
    from bot.rasa.channels.whatsapp import WINDOW_SECONDS, WhatsAppConfig

    assert WhatsAppConfig.__dataclass_fields__["number_ttl"].default == WINDOW_SECONDS == number_hours() * 3600
    assert f"{number_hours()} uur" in flat(read(name))


def test_the_web_page_keeps_its_copy_as_long_as_the_documents_say(catalogue_days: int) -> None:
    from bot.services.web import app as web_app

    assert web_app.retention_days() == catalogue_days
    assert web_app.DEFAULT_RETENTION_DAYS == case_store.DEFAULT_RETENTION_DAYS


# --- stored fields -----------------------------------------------------------------------------

@pytest.mark.parametrize("table,fields", TABLES, ids=[t.name for t, _ in TABLES])
def test_every_column_has_dutch_words(table, fields: Dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    columns = [column.name for column in table.columns]
    new = [c for c in columns if c not in fields]
    assert not new, (f"{table.name} has column(s) {new} that the privacy documents do not describe: "
                     f"add them to docs/privacy/dpia.md and verwerkingsregister.md, and to this test")
    gone = [c for c in fields if c not in columns]
    assert not gone, f"{table.name} has no column(s) {gone} any more: remove them here and from the documents"


@pytest.mark.parametrize("name", REGISTERS)
@pytest.mark.parametrize("table,fields", TABLES, ids=[t.name for t, _ in TABLES])
def test_the_registers_describe_every_stored_field(name: str, table, fields: Dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    lines = read(name).casefold().splitlines()
    missing: List[str] = []
    for column in table.columns:
        words = fields.get(column.name)
        reference = f"`{table.name}.{column.name}`".casefold()
        if words is None or not any(reference in line and words.casefold() in line for line in lines):
            missing.append(f"{table.name}.{column.name} ({words})")
    assert not missing, f"{name} does not describe: {missing}"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_document_names_a_column_that_does_not_exist(name: str) -> None:
    existing = {(t.name, c.name) for t, _ in TABLES for c in t.columns}
    named = set(COLUMN_REFERENCE.findall(read(name)))
    assert named <= existing, f"{name} names {sorted(named - existing)}"


@pytest.mark.parametrize("name", REGISTERS)
def test_the_registers_name_the_keys_of_the_pseudonyms_and_the_encryption(name: str) -> None:
    text = read(name)
    assert f"`{KEY_ENV}`" in text and "Fernet" in text
    if name == "dpia.md":
        assert f"`{pseudonym.SECRET_ENV}`" in text


# --- the Algoritmeregister's figures -----------------------------------------------------------

def _detector_settings() -> Dict[str, float]:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    found: Dict[str, float] = {}
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            found["fallback"] = float(component["threshold"])
        if component["name"].endswith("CrisisDetector"):
            found["crisis"] = float(component["crisis_threshold"])
            found["ask"] = float(component["ask_threshold"])
            found["ask in another language"] = float(component["ask_threshold_other_languages"])
    assert set(found) == {"fallback", "crisis", "ask", "ask in another language"}, found
    return found


def _dutch(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def test_the_algoritmeregister_names_the_thresholds_of_config_yml() -> None:
    text = flat(read("algoritmeregister.md"))
    for name, value in _detector_settings().items():
        assert _dutch(value) in text, f"the {name} threshold {_dutch(value)} (config.yml) is not named"


def test_the_algoritmeregister_quotes_the_report_it_names() -> None:
    text = read("algoritmeregister.md")
    reports = set(re.findall(r"reports/(nlu-eval-\d{4}-\d{2}-\d{2}\.md)", text))
    assert len(reports) == 1, f"name one evaluation report, not {sorted(reports)}"
    report = ROOT / "reports" / reports.pop()
    assert report.is_file(), f"{report} does not exist"
    measured = report.read_text(encoding="utf-8")
    thresholds = {_dutch(v) for v in _detector_settings().values()}
    figures = set(re.findall(r"(?<![\d.,])(\d,\d{1,3})(?![\d,])", text))
    assert figures, "no figures found"
    unknown = sorted(f for f in figures - thresholds if f.replace(",", ".") not in measured)
    assert not unknown, f"figures not in {report.name}: {unknown}"


# --- what the parent is told ---------------------------------------------------------------------

def test_the_privacy_text_names_the_ways_to_erase() -> None:
    text = flat(read("privacyverklaring.md"))
    nlu = yaml.safe_load((ROOT / "data" / "nlu" / "dialogue.yml").read_text(encoding="utf-8"))
    examples = next(item["examples"] for item in nlu["nlu"] if item.get("intent") == "delete_data")
    assert "- wis mijn gegevens" in examples and "wis mijn gegevens" in text
    page = (ROOT / "bot" / "services" / "web" / "templates" / "index.html").read_text(encoding="utf-8")
    assert 'id="chat-clear">{{ t.clear_button }}<' in page
    button = yaml.safe_load((ROOT / "bot" / "services" / "web" / "texts" / "nl.yml").read_text(encoding="utf-8"))["clear_button"]
    assert flat(button) in text, f"the button '{button}' is not named"
    assert "digitale assistent" in text and "geen mens" in text


def test_the_readme_links_the_privacy_text() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    privacy = readme.split("## Privacy", 1)[1].split("\n## ", 1)[0]
    assert "docs/privacy/privacyverklaring.md" in privacy

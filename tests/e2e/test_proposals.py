"""Residents propose offers (issue 20): the public form /aanbod-voorstellen on the web server
(CSRF, rate limit per address, honeypot, length limits, plain text), the review queue in the
console (a draft offer of level A, or declined with a reason), the e-mail to the proposer through
a real local SMTP server (aiosmtpd), and the purge of declined proposals' contact details."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.domain.catalogue import published
from bot.services.cases import CaseStore
from bot.services.console.auth import hash_password
from bot.services.offers.store import CatalogueStore
from bot.services.web import app as web_app
from tests.support.smtp_server import Inbox, smtp_server
from tests.support.console_client import BrowserClient

PASSWORD = "een lang wachtwoord 42"
PASSWORD_HASH = hash_password(PASSWORD)
EDITOR = "redactie@voorbeeldstad.example"
RESIDENT = "buurvrouw@voorbeeld.example"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("NOTIFY_EMAIL_FROM", "redactie@voorbeeldstad.example")
        yield inbox


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    store.add_user(EDITOR, "Redactie", PASSWORD_HASH, "redactie")
    return store


@pytest.fixture
def app(store: CaseStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(web_app, "SECRET_KEY_FILE", tmp_path / "web-secret-key")
    monkeypatch.setenv("PROPOSALS_PER_HOUR", "4")
    app = web_app.create_app({"RASA_URL": "http://127.0.0.1:5999", "WEB_SECRET_KEY": "k"})
    app.config["CASE_STORE"] = store
    app.extensions["opvoed_console"]["store"] = store
    app.test_client_class = BrowserClient
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def proposal(**changes: Any) -> dict:
    form = {"what": "Elke dinsdag een koffieochtend voor ouders met jonge kinderen. De kinderen spelen mee.",
            "audience": "ouders met kinderen tot 4 jaar", "topic": "ouder_welzijn",
            "place": "Buurthuis De Akker, Akkerweg 3", "when_text": "dinsdag 9.30 tot 11.30 uur",
            "contact_name": "Fatima", "contact_email": RESIDENT, "consent": "1"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def propose(client, form: dict, csrf: str | None = None):
    return client.post("/aanbod-voorstellen", data={**form, "csrf_token": csrf or token(client, "/aanbod-voorstellen")})


def login(client) -> None:
    answer = client.post("/console/login", data={"email": EDITOR, "password": PASSWORD,
                                                  "csrf_token": token(client, "/console/login")})
    assert answer.status_code == 302


def stored(store: CaseStore) -> int:
    return len(CatalogueStore(store).proposals())


def test_the_demo_page_links_to_the_form(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'href="/aanbod-voorstellen"' in page
    form = client.get("/aanbod-voorstellen")
    assert form.status_code == 200 and "script-src 'none'" in form.headers["Content-Security-Policy"]
    assert 'name="website"' in form.get_data(as_text=True)  # the honeypot


def test_a_proposal_is_stored_as_plain_text_with_the_contact_encrypted(client, store) -> None:
    answer = propose(client, proposal())
    assert answer.status_code == 200 and "Bedankt voor je voorstel" in answer.get_data(as_text=True)
    [found] = CatalogueStore(store).proposals()
    assert found.status == "new" and found.contact_email == RESIDENT and found.topic == "ouder_welzijn"
    with store.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT contact_email, contact_name FROM offer_proposals").first()
    assert RESIDENT not in raw[0] and "Fatima" not in raw[1]  # Fernet tokens


@pytest.mark.parametrize("changes, field, message", [
    ({"what": "<script>alert(1)</script> koffie"}, "what", "HTML en scripts zijn niet toegestaan"),
    ({"place": '<a href="x">hier</a>'}, "place", "HTML en scripts zijn niet toegestaan"),
    ({"what": "a" * 100_000}, "what", "Deze tekst is te lang. Gebruik hoogstens 1000 tekens."),
    ({"audience": ""}, "audience", "Vul dit veld in."),
    ({"what": None}, "what", "Vul dit veld in."),
    ({"contact_email": "geen-adres"}, "contact_email", "Dit e-mailadres klopt niet"),
    ({"consent": None}, "consent", "Geef toestemming"),
    ({"topic": "verzonnen"}, "topic", "Kies een onderwerp uit de lijst."),
])
def test_bad_input_gets_a_clear_error_and_nothing_is_stored(client, store, changes, field, message) -> None:
    answer = propose(client, proposal(**changes))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert message in page
    assert f'id="{field}-error"' in page  # at the field
    assert "<script>alert" not in page
    assert stored(store) == 0


def test_a_body_of_more_than_256_kb_is_refused(client, store) -> None:
    answer = propose(client, proposal(what="a" * 200_000, when_text="b" * 200_000))
    assert answer.status_code == 413 and "Maak de teksten korter" in answer.get_data(as_text=True)
    assert stored(store) == 0


def test_a_forged_or_missing_csrf_token_stores_nothing(client, store) -> None:
    token(client, "/aanbod-voorstellen")
    for forged in ("forged", ""):
        answer = client.post("/aanbod-voorstellen", data={**proposal(), "csrf_token": forged})
        assert answer.status_code == 400
        assert "Het formulier is verlopen of ongeldig" in answer.get_data(as_text=True)
    assert stored(store) == 0


def test_a_filled_honeypot_is_thanked_but_stores_nothing(client, store) -> None:
    answer = propose(client, proposal(website="http://spam.example"))
    assert answer.status_code == 200 and "Bedankt" in answer.get_data(as_text=True)
    assert stored(store) == 0


def test_the_rate_limit_counts_per_address(client, store) -> None:
    csrf = token(client, "/aanbod-voorstellen")
    for _ in range(4):
        assert propose(client, proposal(), csrf).status_code == 200
    refused = propose(client, proposal(), csrf)
    assert refused.status_code == 429 and "Probeer het over een uur opnieuw" in refused.get_data(as_text=True)
    assert stored(store) == 4
    other = client.post("/aanbod-voorstellen", data={**proposal(), "csrf_token": csrf},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200 and stored(store) == 5


def test_declined_with_a_reason_the_resident_is_mailed(client, store, smtp) -> None:
    propose(client, proposal())
    [found] = CatalogueStore(store).proposals()
    login(client)
    queue = client.get("/console/aanbod/voorstellen").get_data(as_text=True)
    assert "Elke dinsdag een koffieochtend" in queue and RESIDENT in queue
    path = f"/console/aanbod/voorstellen/{found.id}/afwijzen"
    csrf = token(client, "/console/aanbod/voorstellen")
    empty = client.post(path, data={"reason": "", "csrf_token": csrf})
    assert empty.status_code == 400 and CatalogueStore(store).proposal(found.id).status == "new"
    html = client.post(path, data={"reason": "<b>nee</b>", "csrf_token": csrf})
    assert html.status_code == 400 and CatalogueStore(store).proposal(found.id).status == "new"
    huge = client.post(path, data={"reason": "x" * 100_000, "csrf_token": csrf})
    assert huge.status_code == 400 and "Deze tekst is te lang" in huge.get_data(as_text=True)
    assert CatalogueStore(store).proposal(found.id).status == "new"
    forged = client.post(path, data={"reason": "Past niet", "csrf_token": "forged"})
    assert forged.status_code == 400 and CatalogueStore(store).proposal(found.id).status == "new"
    done = client.post(path, data={"reason": "Het is een commerciële cursus.", "csrf_token": csrf})
    assert done.status_code == 302
    assert CatalogueStore(store).proposal(found.id).status == "declined"
    assert smtp.arrived.wait(10)
    [(_sender, to, _raw)] = smtp.messages
    assert to == [RESIDENT]
    assert "De reden: Het is een commerciële cursus." in smtp.texts()[0]
    assert "proposal_declined" in [e.action for e in store.audit_log()]


def test_a_proposal_goes_through_review_to_a_published_offer(client, store, smtp) -> None:
    propose(client, proposal())
    [found] = CatalogueStore(store).proposals()
    login(client)
    draft = client.get(f"/console/aanbod/nieuw?voorstel={found.id}").get_data(as_text=True)
    assert 'value="A" selected' in draft  # level A by default
    assert "Elke dinsdag een koffieochtend" in draft and f'name="proposal" value="{found.id}"' in draft
    form = {"proposal": found.id, "id": "vs-koffie-akker", "name": "Koffieochtend De Akker (voorbeeld)",
            "level": "A", "format": "group", "topics": ["ouder_welzijn"], "phases": ["0-2", "2-4"],
            "audience": ["parents"], "scope": "neighbourhood", "neighbourhoods": ["De Akkers"],
            "contact_address": "Buurthuis De Akker, Akkerweg 3, Voorbeeldstad", "hours_mode": "week",
            "hours_di": "09:30-11:30", "languages": "nl", "cost": "free",
            "description": "Elke dinsdag een koffieochtend voor ouders met jonge kinderen.",
            "source": "Voorstel van een inwoner", "last_checked": "2026-11-30", "action": "save"}
    saved = client.post("/console/aanbod/nieuw", data={**form, "csrf_token": token(client, "/console/aanbod/nieuw")})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    accepted = CatalogueStore(store).proposal(found.id)
    assert accepted.status == "accepted" and accepted.offer_id == "vs-koffie-akker"
    assert smtp.arrived.wait(10) and "nemen het op in het aanbod" in smtp.texts()[0]
    client.post("/console/aanbod/publiceren", data={"csrf_token": token(client, "/console/aanbod")})
    catalogue = published.load_published(str(store.engine.url), {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"})
    assert catalogue.offer("vs-koffie-akker").name == "Koffieochtend De Akker (voorbeeld)"
    assert "proposal_accepted" in [e.action for e in store.audit_log()]


def test_declined_contacts_are_deleted_after_30_days_by_the_purge(store, tmp_path) -> None:
    from bot.services import purge

    cat = CatalogueStore(store)
    old = cat.add_proposal(what="Speelgroep", audience="peuters", topic=None, place="Noord", when_text="wo",
                           contact_name="Anna", contact_email=RESIDENT)
    recent = cat.add_proposal(what="Leesclub", audience="ouders", topic=None, place="Noord", when_text="do",
                              contact_name="Bram", contact_email="bram@voorbeeld.example")
    waiting = cat.add_proposal(what="Voetbal", audience="kinderen", topic=None, place="Zuid", when_text="za",
                               contact_email="c@voorbeeld.example")
    cat.decline_proposal(old, "past niet", "test")
    cat.decline_proposal(recent, "past niet", "test")
    later = datetime.now(timezone.utc) + timedelta(days=31)
    with store.engine.begin() as connection:  # the recent one was declined 29 days before `later`
        connection.exec_driver_sql("UPDATE offer_proposals SET decided_at = ? WHERE id = ?",
                                   ((later - timedelta(days=29)).replace(tzinfo=None), recent))
    result = purge.purge(now=later, days=90, tracker_url=f"sqlite:///{tmp_path / 'trackers.db'}", case_store=store)
    assert result.days == 90
    assert cat.proposal(old).contact_email is None and cat.proposal(old).contact_name is None
    assert cat.proposal(old).decline_reason == "past niet"  # the decision stays, without the person
    assert cat.proposal(recent).contact_email == "bram@voorbeeld.example"
    assert cat.proposal(waiting).contact_email == "c@voorbeeld.example"

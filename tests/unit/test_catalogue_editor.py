"""The catalogue editor in the console (issue 20): /console/aanbod for the role redactie and
admins; the offer form checked with catalogue-check's schema, Dutch errors at the field, the
preview from the assistant's own reply code, publish, versions and rollback, import/export, the
audit log. Bad input in every form: a clear error and nothing stored."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.domain.catalogue import published
from bot.domain.catalogue.recommend import Recommendation, format_offer
from bot.services.cases import CaseStore
from bot.services.console.app import create_app
from bot.services.console.auth import hash_password
from bot.services.offers.store import CatalogueStore
from tests.support.console_client import BrowserClient, csrf

PASSWORD = "een lang wachtwoord 42"
PASSWORD_HASH = hash_password(PASSWORD)
EDITOR = "redactie@voorbeeldstad.example"
PRO = "sanne@voorbeeldstad.example"


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    store.add_user(EDITOR, "Redactie", PASSWORD_HASH, "redactie")
    store.add_user(PRO, "Sanne", PASSWORD_HASH, "professional")
    return store


@pytest.fixture
def client(store: CaseStore):
    app = create_app({"CASE_STORE": store, "SECRET_KEY": "test-secret", "RASA_AUTH_TOKEN": "x"})
    app.test_client_class = BrowserClient
    return app.test_client()


def login(client, email: str = EDITOR) -> None:
    answer = client.post("/console/login", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": csrf(client, "/console/login")})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def offer_form(**changes: Any) -> dict:
    form = {
        "id": "vs-koffie-akkers", "name": "Koffieochtend De Akkers (voorbeeld)", "level": "A",
        "format": "group", "topics": ["alle"], "phases": ["0-2", "2-4"], "audience": ["parents"],
        "scope": "neighbourhood", "neighbourhoods": ["De Akkers"],
        "contact_address": "Buurthuis De Akker, Akkerweg 3, Voorbeeldstad", "contact_phone": "0123-456 799",
        "hours_mode": "week", "hours_di": "09:30-11:30", "languages": "nl, en", "cost": "free",
        "description": "Koffie drinken en praten met andere ouders uit de buurt. Kinderen spelen mee.",
        "source": "Voorbeeldgegevens, verzonnen", "last_checked": "2026-11-30",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def post_offer(client, form: dict, path: str = "/console/aanbod/nieuw"):
    return client.post(path, data={**form, "csrf_token": csrf(client, path)})


def draft_ids(store: CaseStore) -> set[str]:
    from bot.services.offers.store import own_offers

    return {o.id for o in own_offers(CatalogueStore(store).draft_catalogue())}


def test_only_redactie_and_admins_open_the_editor(client) -> None:
    assert client.get("/console/aanbod").status_code == 302  # to the login page
    login(client, PRO)
    assert client.get("/console/aanbod").status_code == 403
    assert client.get("/console/aanbod/nieuw").status_code == 403


def test_the_list_is_seeded_from_the_shipped_file_and_filters(client, store) -> None:
    login(client)
    page = client.get("/console/aanbod").get_data(as_text=True)
    assert "Mamma-café De Akkers (voorbeeld)" in page and "Versie 1" not in page
    assert "versie 1" in page
    only_d = client.get("/console/aanbod?level=D").get_data(as_text=True)
    assert "Centrum voor Jeugd en Gezin" not in only_d  # a level B offer
    assert "Mamma-café" not in only_d
    akkers = client.get("/console/aanbod?wijk=Noorderwijk").get_data(as_text=True)
    assert "Mamma-café De Akkers" not in akkers and "Noorderwijk" in akkers
    search = client.get("/console/aanbod?q=mamma").get_data(as_text=True)
    assert "Mamma-café De Akkers" in search and "Ouderinloop De Akkers" not in search
    teen = client.get("/console/aanbod?phase=12-19").get_data(as_text=True)
    assert "Mamma-café De Akkers" not in teen  # 0-2 only


def test_create_preview_save_publish_and_rollback(client, store, tmp_path) -> None:
    login(client)
    form = offer_form()
    preview = post_offer(client, {**form, "action": "preview"})
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "Koffieochtend De Akkers (voorbeeld)" in page and "Bel 0123-456 799" in page
    assert "vs-koffie-akkers" not in draft_ids(store)  # a preview stores nothing
    saved = post_offer(client, {**form, "action": "save"})
    assert saved.status_code == 302
    assert "vs-koffie-akkers" in draft_ids(store)
    # the preview is the assistant's own text for this offer
    catalogue = CatalogueStore(store).draft_catalogue()
    offer = catalogue.offer("vs-koffie-akkers")
    edit = client.get("/console/aanbod/bewerk/vs-koffie-akkers").get_data(as_text=True)
    first_line = format_offer(Recommendation(offer, False, None, "x")).split("\n")[1]
    assert first_line in edit
    url = str(store.engine.url)
    assert published.load_published(url, {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"}).offer("vs-koffie-akkers") is None
    answer = client.post("/console/aanbod/publiceren", data={"csrf_token": csrf(client, "/console/aanbod")})
    assert answer.status_code == 302
    assert published.load_published(url, {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"}).offer("vs-koffie-akkers")
    versions = client.get("/console/aanbod/versies").get_data(as_text=True)
    assert "1 toegevoegd (vs-koffie-akkers)" in versions and EDITOR in versions
    diff = client.get("/console/aanbod/versies/2").get_data(as_text=True)
    assert "+  - id: vs-koffie-akkers" in diff
    # change it, publish, then roll back to version 2
    changed = post_offer(client, {**form, "name": "Koffieochtend Akkerweg (voorbeeld)", "action": "save"},
                         "/console/aanbod/bewerk/vs-koffie-akkers")
    assert changed.status_code == 302
    client.post("/console/aanbod/publiceren", data={"csrf_token": csrf(client, "/console/aanbod")})
    now = published.load_published(url, {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"})
    assert now.offer("vs-koffie-akkers").name == "Koffieochtend Akkerweg (voorbeeld)"
    back = client.post("/console/aanbod/versies/2/terugzetten",
                       data={"csrf_token": csrf(client, "/console/aanbod/versies")})
    assert back.status_code == 302
    now = published.load_published(url, {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"})
    assert now.offer("vs-koffie-akkers").name == "Koffieochtend De Akkers (voorbeeld)"
    assert now.path == "database:v4"
    actions = [e.action for e in store.audit_log()]
    for action in ("offer_saved", "catalogue_published", "catalogue_rolled_back"):
        assert action in actions
    # nothing changed since: publishing says so and adds no version
    client.post("/console/aanbod/publiceren", data={"csrf_token": csrf(client, "/console/aanbod")})
    assert CatalogueStore(store).newest() == 4


def _rejected(client, store, form: dict, field: str, text: str, path: str = "/console/aanbod/nieuw") -> str:
    before = CatalogueStore(store).draft_text()
    answer = post_offer(client, {**form, "action": "save"}, path)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400, page
    assert text in page
    # the error sits at the field: its message is referenced by the field's aria-describedby
    assert re.search(rf'id="f-{field}[^"]*"', page), field
    assert CatalogueStore(store).draft_text() == before  # nothing stored
    return page


def test_html_and_script_are_refused(client, store) -> None:
    login(client)
    _rejected(client, store, offer_form(name="<script>alert(1)</script> (voorbeeld)"), "name",
              "Gebruik geen &lt; of &gt; in de tekst")
    page = _rejected(client, store, offer_form(description='<img src=x onerror="alert(1)"> koffie en praten'),
                     "description", "HTML en scripts zijn niet toegestaan")
    assert "<img src=x" not in page  # never echoed as HTML


def test_100_kb_text_is_refused(client, store) -> None:
    login(client)
    _rejected(client, store, offer_form(description="a" * 100_000), "description",
              "Deze tekst is te lang. Gebruik hoogstens 300 tekens.")
    _rejected(client, store, offer_form(name="b" * 100_000), "name", "Deze tekst is te lang")


def test_impossible_opening_hours_are_refused_at_the_day(client, store) -> None:
    login(client)
    page = _rejected(client, store, offer_form(hours_di="25:00-26:00"), "hours_di",
                     "Deze tijd klopt niet. Schrijf het zo: 09:00-17:00.")
    assert 'id="f-hours_di-error"' in page
    _rejected(client, store, offer_form(hours_di="17:00-09:00"), "hours_di", "Deze tijd klopt niet")
    _rejected(client, store, offer_form(hours_di=""), "hours", "Vul bij minstens één dag een tijd in")


def test_missing_required_fields_get_dutch_errors(client, store) -> None:
    login(client)
    _rejected(client, store, offer_form(name=""), "name", "Vul de naam van het aanbod in.")
    _rejected(client, store, offer_form(description=None), "description", "Vul een korte uitleg in.")
    _rejected(client, store, offer_form(topics=[]), "topics", "Kies minstens één onderwerp")
    _rejected(client, store, offer_form(contact_address="", contact_phone=""), "contact",
              "Vul minstens één manier in om contact op te nemen.")
    _rejected(client, store, offer_form(id="vs-cjg"), "id", "Deze code bestaat al.")
    _rejected(client, store, offer_form(contact_website="www.zonder-https"), "contact_website",
              "Dit webadres klopt niet")
    _rejected(client, store, offer_form(last_checked="2099-01-01"), "last_checked", "Deze datum klopt niet")


def test_a_forged_csrf_token_stores_nothing(client, store) -> None:
    login(client)
    before = CatalogueStore(store).draft_text()
    for path, data in (("/console/aanbod/nieuw", {**offer_form(), "action": "save"}),
                       ("/console/aanbod/publiceren", {}),
                       ("/console/aanbod/versies/1/terugzetten", {}),
                       ("/console/aanbod/import", {"tekst": before})):
        answer = client.post(path, data={**data, "csrf_token": "forged-token"})
        assert answer.status_code == 400, path
        assert "Het formulier is verlopen of ongeldig" in answer.get_data(as_text=True)
    assert CatalogueStore(store).draft_text() == before
    assert CatalogueStore(store).newest() == 1


def test_stale_offers_are_flagged(client, store) -> None:
    login(client)
    assert post_offer(client, {**offer_form(last_checked="2024-01-15"), "action": "save"}).status_code == 302
    page = client.get("/console/aanbod?q=koffieochtend").get_data(as_text=True)
    assert "meer dan een jaar geleden: controleer de gegevens" in page
    fresh = client.get("/console/aanbod?q=mamma").get_data(as_text=True)
    assert "meer dan een jaar geleden" not in fresh


def test_export_and_import_both_ways(client, store) -> None:
    login(client)
    exported = client.get("/console/aanbod/export.yml")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    text = exported.get_data(as_text=True)
    assert "vs-mammacafe-akkers" in text
    changed = text.replace("Mamma-café De Akkers (voorbeeld)", "Mamma-café Akkerweg (voorbeeld)")
    path = "/console/aanbod/import"
    answer = client.post(path, data={"tekst": changed, "csrf_token": csrf(client, path)})
    assert answer.status_code == 302
    assert CatalogueStore(store).draft_catalogue().offer("vs-mammacafe-akkers").name == "Mamma-café Akkerweg (voorbeeld)"
    assert "catalogue_imported" in [e.action for e in store.audit_log()]
    # a broken file: the catalogue-check's messages, nothing stored
    broken = changed.replace("level: A", "level: E", 1)
    answer = client.post(path, data={"tekst": broken, "csrf_token": csrf(client, path)})
    assert answer.status_code == 400
    assert "is not one of A, B, C, D" in answer.get_data(as_text=True)
    assert CatalogueStore(store).draft_text() == changed
    # script in a YAML file is refused too (no < or > in texts parents read)
    scripted = changed.replace("Mamma-café Akkerweg (voorbeeld)", "<script>x</script> (voorbeeld)")
    answer = client.post(path, data={"tekst": scripted, "csrf_token": csrf(client, path)})
    assert answer.status_code == 400
    assert CatalogueStore(store).draft_text() == changed
    big = client.post(path, data={"tekst": "x" * 2_000_000, "csrf_token": csrf(client, path)})
    assert big.status_code == 400 and "te groot" in big.get_data(as_text=True)


def test_admins_have_the_editor_in_the_menu(client, store) -> None:
    login(client)
    page = client.get("/console/aanbod").get_data(as_text=True)
    assert 'href="/console/aanbod">Aanbod</a>' in page


def test_the_editor_warns_when_the_assistant_uses_a_file(client, monkeypatch) -> None:
    login(client)
    monkeypatch.setenv("OPVOED_CATALOGUE", "catalogue/eigen.yml")
    page = client.get("/console/aanbod").get_data(as_text=True)
    assert "de assistent gebruikt nu het bestand <code>catalogue/eigen.yml</code>" in page
    monkeypatch.delenv("OPVOED_CATALOGUE")
    monkeypatch.setenv("OPVOED_CATALOGUE_SOURCE", "database")
    assert "de assistent gebruikt nu het bestand" not in client.get("/console/aanbod").get_data(as_text=True)


def test_the_description_in_another_language_is_saved_shown_and_checked(client, store) -> None:
    """Issue 17: the form has a field per language the assistant answers in; a text there becomes
    the offer's `descriptions`, is shown again on edit (with its language, right to left where
    needed), and gets the same checks as the Dutch description."""
    login(client)
    page = client.get("/console/aanbod/nieuw").get_data(as_text=True)
    for code in ("en", "ar", "tr", "pl", "uk"):
        assert f'name="description_{code}"' in page and f'lang="{code}" dir="auto"' in page
    english = "Coffee and a chat with other parents from the neighbourhood. Children play along."
    arabic = "قهوة وحديث مع آباء آخرين من الحي. الأطفال يلعبون معًا."
    saved = post_offer(client, {**offer_form(description_en=english, description_ar=arabic), "action": "save"})
    assert saved.status_code == 302
    offer = CatalogueStore(store).draft_catalogue().offer("vs-koffie-akkers")
    assert dict(offer.descriptions) == {"en": english, "ar": arabic}
    assert offer.description_in("en") == english and offer.description_in("pl") == offer.description
    edit = client.get("/console/aanbod/bewerk/vs-koffie-akkers").get_data(as_text=True)
    assert english in edit and arabic in edit
    path = "/console/aanbod/bewerk/vs-koffie-akkers"
    _rejected(client, store, offer_form(description_en="Too short"), "description_en",
              "Schrijf een uitleg van 10 tot 300 tekens, of laat dit veld leeg.", path)
    _rejected(client, store, offer_form(description_tr="<b>kahve</b> ve sohbet"), "description_tr",
              "HTML en scripts zijn niet toegestaan", path)
    _rejected(client, store, offer_form(description_pl="a" * 301), "description_pl",
              "Gebruik hoogstens 300 tekens.", path)
    # emptying a field removes that language
    post_offer(client, {**offer_form(description_en=english), "action": "save"}, path)
    assert dict(CatalogueStore(store).draft_catalogue().offer("vs-koffie-akkers").descriptions) == {"en": english}


def test_the_draft_is_checked_once_until_it_or_a_catalogue_file_changes(store, monkeypatch) -> None:
    """Every editor page checks the draft; the same text is validated once (per day), and again
    when a catalogue file it may include changes."""
    import os

    from bot.domain.catalogue.published import DOCUMENT_PATH

    calls: list[str] = []
    original = CatalogueStore.validate
    monkeypatch.setattr(CatalogueStore, "validate", staticmethod(lambda text: calls.append(text) or original(text)))
    catalogue_store = CatalogueStore(store)
    text = catalogue_store.draft_text() + "\n# checked by test_the_draft_is_checked_once\n"
    first = catalogue_store._checked(text)
    assert catalogue_store._checked(text) is first and len(calls) == 1
    national = DOCUMENT_PATH.parent / "national.yml"
    before = national.stat()
    os.utime(national, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    try:
        catalogue_store._checked(text)
        assert len(calls) == 2
    finally:
        os.utime(national, ns=(before.st_atime_ns, before.st_mtime_ns))

"""The catalogue editor end to end (issue 20): in Chromium an editor (role redactie) creates an
offer, sees an error at an impossible opening time, previews it, changes and publishes it in the
console of the real web server; a REST conversation with the running assistant (Rasa + action
server, not restarted) then shows the new offer; rolling back to the previous version restores
the assistant's answer. axe-core finds no violations on the editor's pages."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from bot.domain.catalogue import published
from bot.domain.catalogue.recommend import recommend
from bot.services.cases import CaseStore
from bot.services.console.auth import hash_password
from bot.services.offers.store import CatalogueStore
from tests.support.console_client import log_in
from tests.support.accessibility import AXE, CHROMIUM, CHROMIUM_ARGS as ARGS, axe_violations
from tests.support.web_fixture import Process, web_server  # noqa: F401  (fixture)

PASSWORD = "een lang wachtwoord 42"
EDITOR = f"redactie-{uuid.uuid4().hex[:6]}@voorbeeldstad.example"
NEW_NAME = "Driftbuienpraatje De Akkers (voorbeeld)"
CHANGED_NAME = "Praatgroep driftbuien De Akkers (voorbeeld)"
# the action server checks the database for a newer version every 15 seconds (the default)
WITHIN = 60.0

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)"),
]


def offer_names(assistant, sender: str) -> list[str]:
    """The offers the assistant names for a toddler's tantrums in De Akkers (first line of each)."""
    assistant.say(sender, "mijn dochter van 3 heeft veel driftbuien")
    replies = assistant.say(sender, "hulp in de buurt in De Akkers")
    return [r["text"].split("\n")[0] for r in replies if r.get("text") and "\n" in r["text"]]


def wait_for(assistant, condition, what: str) -> list[str]:
    deadline = time.monotonic() + WITHIN
    while True:
        names = offer_names(assistant, f"test-{uuid.uuid4().hex[:12]}")
        if condition(names):
            return names
        if time.monotonic() > deadline:
            raise AssertionError(f"after {WITHIN:.0f} s the assistant still names {names}: {what}")
        time.sleep(3)


@pytest.fixture
def editor_store(assistant) -> Iterator[CatalogueStore]:
    cases = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    cases.add_user(EDITOR, "Redactie", hash_password(PASSWORD), "redactie")
    store = CatalogueStore(cases)
    start = store.newest()
    try:
        yield store
    finally:  # the session's assistant goes back to the catalogue it had
        if store.newest() != start and store.version_text(store.newest()) != store.version_text(start):
            store.rollback(start, "test")
        cases.engine.dispose()


def test_an_editor_creates_previews_changes_and_publishes_and_the_assistant_shows_it_without_a_restart(
        assistant, web_server, editor_store) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    before = offer_names(assistant, f"test-{uuid.uuid4().hex[:12]}")
    assert before, "the assistant names offers in De Akkers"
    assert NEW_NAME not in before
    base = web_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="nl-NL", bypass_csp=True)  # only so that axe can be injected
            page = context.new_page()
            log_in(page, base, EDITOR, PASSWORD)
            expect(page.get_by_role("heading", name="Aanbod van de gemeente")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_label("Niveau").select_option("A")
            page.get_by_role("button", name="Zoeken").click()
            expect(page.get_by_role("link", name="Mamma-café De Akkers (voorbeeld)")).to_be_visible()
            expect(page.get_by_role("link", name="Centrum voor Jeugd en Gezin Voorbeeldstad (voorbeeld)")).to_have_count(0)

            page.get_by_role("link", name="Nieuw aanbod toevoegen").click()
            expect(page.get_by_role("heading", name="Nieuw aanbod")).to_be_visible()
            page.get_by_label("Naam", exact=True).fill(NEW_NAME)
            page.get_by_label("Code", exact=True).fill("vs-driftbuien-akkers")
            page.get_by_label("Korte uitleg voor ouders").fill(
                "Praat met andere ouders over driftbuien. Een opvoedcoach denkt mee. (Voorbeeld)")
            page.get_by_label("Niveau").select_option("A")
            page.get_by_label("Vorm").select_option("group")
            page.get_by_role("group", name="Onderwerpen").get_by_label("driftbuien").check()
            page.get_by_role("group", name="Leeftijd van het kind").get_by_label("2 tot 5 jaar").check()
            page.get_by_label("Waar", exact=True).select_option("neighbourhood")
            page.get_by_role("group", name="Wijken").get_by_label("De Akkers").check()
            page.get_by_label("Adres", exact=True).fill("Buurthuis De Akker, Akkerweg 3, Voorbeeldstad")
            page.get_by_label("Telefoon", exact=True).fill("0123-456 788")
            page.get_by_label("Woensdag").fill("25:00-26:00")  # impossible
            page.get_by_label("Bron van de gegevens").fill("Voorbeeldgegevens, verzonnen")
            page.get_by_role("button", name="Voorbeeld bekijken").click()
            expect(page.locator("#f-hours_wo-error")).to_contain_text("Deze tijd klopt niet")
            expect(page.get_by_role("alert")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_label("Woensdag").fill("09:30-11:30")
            page.get_by_role("button", name="Voorbeeld bekijken").click()
            preview = page.locator("#preview")
            expect(preview).to_contain_text(NEW_NAME)
            expect(preview).to_contain_text("Bel 0123-456 788")
            assert axe_violations(page) == []
            assert editor_store.raw_offer("vs-driftbuien-akkers") is None  # a preview stores nothing
            page.get_by_role("button", name="Opslaan als concept").click()
            expect(page.get_by_role("status").first).to_contain_text("Opgeslagen als concept")
            # change it
            page.get_by_label("Naam", exact=True).fill(CHANGED_NAME)
            page.get_by_role("button", name="Opslaan als concept").click()
            expect(page.get_by_role("status").first).to_contain_text("Opgeslagen als concept")
            expect(page.locator("#preview")).to_contain_text(CHANGED_NAME)
            page.get_by_role("link", name="Terug naar het aanbod").click()
            page.get_by_role("button", name="Publiceren").click()
            expect(page.get_by_role("status").first).to_contain_text("is gepubliceerd")
            published_number = editor_store.newest()

            # the running assistant names the new offer, without a restart
            catalogue = published.build(editor_store.version_text(published_number))
            expected = recommend(catalogue, "driftbuien", "2-4", "normaal", neighbourhood="De Akkers")
            assert CHANGED_NAME in [r.offer.name for r in expected]  # it ranks among the offers shown
            after = wait_for(assistant, lambda names: CHANGED_NAME in names, "the published offer")
            assert CHANGED_NAME in after

            # roll back to the version before: the assistant's answer is the one of before
            page.get_by_role("link", name="Versies en terugzetten").click()
            expect(page.get_by_role("heading", name="Versies van het aanbod")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_role("button", name=f"Terugzetten versie {published_number - 1}").click()
            expect(page.get_by_role("status").first).to_contain_text(f"Versie {published_number - 1} staat weer")
            restored = wait_for(assistant, lambda names: CHANGED_NAME not in names, "the rolled-back version")
            assert restored == before
        finally:
            browser.close()
    actions = [e.action for e in editor_store.cases.audit_log() if e.actor == EDITOR]
    assert {"offer_saved", "catalogue_published", "catalogue_rolled_back"} <= set(actions)

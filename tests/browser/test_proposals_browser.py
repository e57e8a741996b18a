"""Residents propose an offer, in Chromium (issue 20): from the demo page to the public form,
an error at the field, the thanks page; then an editor takes the proposal from the review queue
in the console to a draft offer of level A and publishes it. axe-core finds no violations on the
public form (also with errors), the thanks page and the review queue."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.domain.catalogue import published
from bot.services.cases import CaseStore
from bot.services.console.auth import hash_password
from bot.services.offers.store import CatalogueStore
from bot.services.web import app as web_app
from tests.support.console_client import log_in, serving
from tests.support.accessibility import AXE, CHROMIUM, CHROMIUM_ARGS as ARGS, axe_violations

PASSWORD = "een lang wachtwoord 42"
EDITOR = "redactie@voorbeeldstad.example"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)"),
]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, CaseStore]]:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    store.add_user(EDITOR, "Redactie", hash_password(PASSWORD), "redactie")
    monkeypatch.setattr(web_app, "SECRET_KEY_FILE", tmp_path / "web-secret-key")
    app = web_app.create_app({"RASA_URL": "http://127.0.0.1:5999", "WEB_SECRET_KEY": "browser-test"})
    app.extensions["opvoed_console"]["store"] = store
    with serving(app) as base:
        yield base, store


def test_a_residents_proposal_goes_through_review_to_a_published_offer(site) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="nl-NL", bypass_csp=True)  # only so that axe can be injected
            page = context.new_page()
            page.goto(f"{base}/")
            page.get_by_role("link", name="Stel het voor aan de gemeente").click()
            expect(page.get_by_role("heading", name="Aanbod voorstellen")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_label("Wat is het?").fill("Elke woensdag een speelochtend voor peuters en hun ouders.")
            page.get_by_label("Voor wie is het?").fill("ouders met peuters")
            page.get_by_label("Over welk onderwerp").select_option("ontwikkeling")
            page.get_by_label("Waar is het?").fill("<b>Buurthuis</b> Noorderplein 1")
            page.get_by_label("Wanneer is het?").fill("woensdag 9.30 tot 11.30 uur")
            page.get_by_role("button", name="Voorstel versturen").click()
            expect(page.locator("#place-error")).to_contain_text("HTML en scripts zijn niet toegestaan")
            assert CatalogueStore(store).proposals() == []
            assert axe_violations(page) == []
            page.get_by_label("Waar is het?").fill("Buurthuis De Noordster, Noorderplein 1")
            page.get_by_role("button", name="Voorstel versturen").click()
            expect(page.get_by_role("heading", name="Bedankt voor je voorstel")).to_be_visible()
            assert axe_violations(page) == []
            [proposal] = CatalogueStore(store).proposals()
            assert proposal.place == "Buurthuis De Noordster, Noorderplein 1" and proposal.contact_email is None

            # the editor reviews it
            log_in(page, base, EDITOR, PASSWORD)
            page.get_by_role("link", name="Voorstellen van inwoners (1 nieuw)").click()
            expect(page.get_by_text("Elke woensdag een speelochtend")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_role("link", name="Overnemen als concept").click()
            expect(page.get_by_label("Niveau")).to_have_value("A")
            expect(page.get_by_label("Korte uitleg voor ouders")).to_have_value(
                "Elke woensdag een speelochtend voor peuters en hun ouders.")
            page.get_by_label("Naam", exact=True).fill("Speelochtend Noorderwijk (voorbeeld)")
            page.get_by_label("Code", exact=True).fill("vs-speelochtend-noord")
            page.get_by_label("Telefoon", exact=True).fill("0123-456 777")
            page.get_by_role("button", name="Opslaan als concept").click()
            expect(page.get_by_role("status").first).to_contain_text("Opgeslagen als concept")
            page.get_by_role("link", name="Terug naar het aanbod").click()
            page.get_by_role("button", name="Publiceren").click()
            expect(page.get_by_role("status").first).to_contain_text("is gepubliceerd")
        finally:
            browser.close()
    accepted = CatalogueStore(store).proposal(proposal.id)
    assert accepted.status == "accepted" and accepted.offer_id == "vs-speelochtend-noord"
    catalogue = published.load_published(str(store.engine.url), {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"})
    offer = catalogue.offer("vs-speelochtend-noord")
    assert offer.level == "A" and offer.hours.by_appointment and "Elke woensdag" in offer.description

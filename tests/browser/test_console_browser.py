"""The console in a real headless browser (Debian chromium + Playwright): a professional logs in,
claims a case and replies; the reply reaches the (stand-in) Rasa conversation. An admin sets up
the second factor with the QR page and logs in with a code (axe-core checks those pages)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pyotp
import pytest

from bot.domain import handoff
from bot.services.cases import CaseStore
from bot.services.console.app import create_app

from tests.support.console_client import log_in, serving
from tests.support.console_standin import PASSWORD, PASSWORD_HASH, TOKEN, RasaStandIn
from tests.support.accessibility import AXE, CHROMIUM, CHROMIUM_ARGS as ARGS, axe_violations


pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium not installed (apt-get install -y chromium)")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, CaseStore, RasaStandIn]]:
    rasa = RasaStandIn()
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    team = store.add_team("Wijkteam Noord")  # the only team: new cases go to it
    store.add_user("sanne@voorbeeldstad.example", "Sanne", PASSWORD_HASH, "professional", team_id=team.id)
    app = create_app({"CASE_STORE": store, "RASA_URL": rasa.url, "RASA_AUTH_TOKEN": TOKEN,
                      "SECRET_KEY": "browser-test"})
    try:
        with serving(app) as base:
            yield base, store, rasa
    finally:
        rasa.stop()


def test_professional_logs_in_claims_and_replies(console) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store, rasa = console
    case = handoff.open_case(store, handoff.HandoffRequest(
        "web-parent-1", severity="aandacht", topic="driftbuien", age_months=40, channel="socketio",
        contact_preference="chat"))
    rasa.events["web-parent-1"] = [
        {"event": "user", "text": "Is er al iemand?", "timestamp": case.created_at.timestamp() + 5},
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(locale="nl-NL")
            page.goto(f"{base}/console/")
            expect(page).to_have_url(f"{base}/console/login?next=/console/")
            page.get_by_label("E-mailadres").fill("sanne@voorbeeldstad.example")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page.get_by_role("heading", name="Aanvragen", exact=True)).to_be_visible()

            page.get_by_role("link", name="Bekijk").first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("driftbuien")
            expect(page.get_by_text("Is er al iemand?")).to_be_visible()
            page.get_by_role("button", name="Oppakken").click()
            expect(page.get_by_role("status").first).to_contain_text("opgepakt")
            assert store.get(case.id).status == "claimed"

            page.get_by_label("Bericht aan de ouder").fill("Hoi, ik ben Sanne van het CJG. Hoe gaat het nu?")
            page.get_by_role("button", name="Versturen").click()
            expect(page.get_by_role("status").first).to_contain_text("verstuurd")
            expect(page.locator("ol.chat li.professional").last).to_contain_text("Hoe gaat het nu?")
        finally:
            browser.close()

    posts = rasa.posts("web-parent-1")
    assert [[e["event"] for e in c["body"]] for c in posts] == [["pause", "slot", "bot"], ["pause", "slot", "bot"]]
    assert posts[1]["body"][2]["text"] == "Sanne (medewerker): Hoi, ik ben Sanne van het CJG. Hoe gaat het nu?"
    assert all(c["query"] == {"token": TOKEN, "execute_side_effects": "true", "output_channel": "latest"}
               for c in posts)
    assert [a.action for a in reversed(store.audit_log(case.id))] == [
        "created", "viewed", "claimed", "viewed", "replied", "viewed"]


def app_code(store: CaseStore, email: str, secret: str) -> str:
    """What the admin's authenticator app shows: this 30 seconds' code, or, when that one was
    used already (just now, to set it up), the next one (the console accepts one step ahead)."""
    totp = pyotp.TOTP(secret)
    last = store.user_by_email(email).totp_last_step
    step = totp.timecode(time.time())
    return totp.generate_otp(step if last is None or step > last else last + 1)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)")
def test_an_admin_sets_up_the_second_factor_and_logs_in_with_a_code(console) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store, _rasa = console
    email = "beheer@voorbeeldstad.example"
    store.add_user(email, "Beheer", PASSWORD_HASH, "admin")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="nl-NL", bypass_csp=True)  # only so that axe can be injected
            page = context.new_page()
            log_in(page, base, email, PASSWORD)
            # straight to setting up the second factor: the QR code and the key to type over
            expect(page.get_by_role("heading", name="Tweestapsverificatie instellen")).to_be_visible()
            expect(page.get_by_role("img", name="QR-code om in je app te scannen")).to_be_visible()
            assert axe_violations(page) == []
            secret = page.locator("code.secret").inner_text().replace(" ", "")
            assert len(secret) == 32
            page.get_by_label("Code van 6 cijfers").fill(app_code(store, email, secret))
            page.get_by_role("button", name="Aanzetten").click()
            expect(page.get_by_role("heading", name="Aanvragen", exact=True)).to_be_visible()
            expect(page.get_by_role("status").first).to_contain_text("Tweestapsverificatie staat aan")

            page.get_by_role("link", name="Mijn account").click()
            expect(page.get_by_role("heading", name="Mijn account")).to_be_visible()
            expect(page.get_by_text("Voor beheerders is dit verplicht.")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_role("button", name="Uitloggen").click()

            # the next login asks for the code after the password
            page.get_by_label("E-mailadres").fill(email)
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page.get_by_role("heading", name="Code invullen")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_label("Code van 6 cijfers").fill("000000" if app_code(store, email, secret) != "000000"
                                                         else "111111")
            page.get_by_role("button", name="Inloggen").click()
            expect(page.get_by_role("alert")).to_contain_text("klopt niet")
            assert axe_violations(page) == []
            page.get_by_label("Code van 6 cijfers").fill(app_code(store, email, secret))
            page.get_by_role("button", name="Inloggen").click()
            expect(page.get_by_role("heading", name="Aanvragen", exact=True)).to_be_visible()
        finally:
            browser.close()
    actions = [e.action for e in reversed(store.audit_log()) if e.actor == email]
    assert actions == ["totp_enabled", "login", "logout", "totp_failed", "login"]

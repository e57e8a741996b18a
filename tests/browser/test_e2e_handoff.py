"""Issue 6 end to end with the real servers: a parent's message becomes a case; a professional logs
in to the console in headless Chromium, claims it and replies; the reply reaches the parent's
conversation, the assistant stays silent while the professional holds it, and resumes on close."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pyotp
import pytest
import requests

from bot.services.cases import CaseStore
from tests.support.console_client import log_in
from tests.support.assistant import ROOT, new_sender, texts
from tests.support.web_fixture import web_server  # noqa: F401  (session fixture)
from tests.support.accessibility import CHROMIUM, CHROMIUM_ARGS as ARGS

PASSWORD = "Lange-zin-voor-de-test-2026"


def tracker_events(assistant, sender):
    answer = requests.get(f"{assistant.url}/conversations/{sender}/tracker",
                          params={"token": assistant.token}, timeout=30)
    answer.raise_for_status()
    return answer.json()["events"]


def ask_for_a_person(assistant, sender, consent: str):
    assistant.say(sender, "mijn zoon van 9 wordt al maanden gepest en wil niet meer naar school")
    first = assistant.say(sender, "ik wil iemand spreken")
    assert "samenvatting" in texts(first).lower(), first  # consent is asked before anything is shared
    return assistant.say(sender, consent)


def test_consent_refused_stores_nothing_and_keeps_the_crisis_lines_in_view(assistant):
    sender = new_sender()
    replies = ask_for_a_person(assistant, sender, "nee")
    store = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    assert store.active_case_for(sender) is None
    assert "niets door" in texts(replies).lower()


@pytest.fixture(scope="module")
def case_of_a_parent(assistant):
    sender = new_sender()
    ask_for_a_person(assistant, sender, "ja")
    assistant.say(sender, "nee")  # the parent's own words are not shared
    done = assistant.say(sender, "hier in de chat")
    assert "doorgegeven" in texts(done).lower(), done
    store = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    case = store.active_case_for(sender)
    assert case is not None
    return sender, case, store


def test_a_case_holds_the_summary_and_not_the_words(case_of_a_parent):
    _, case, _ = case_of_a_parent
    assert case.topic == "pesten" and case.age_months == 108 and case.phase == "5-12"
    assert case.severity == "aandacht" and case.contact_preference == "chat"
    assert not case.parent_words


def test_professional_claims_and_replies_in_the_browser(assistant, web_server, case_of_a_parent):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    sender, case, store = case_of_a_parent
    env = {**os.environ, "CASE_STORE_URL": assistant.env["CASE_STORE_URL"], "CONSOLE_ADMIN_PASSWORD": PASSWORD}
    subprocess.run([sys.executable, "-m", "bot.services.console", "create-admin", "--email", "sanne@voorbeeldstad.example",
                    "--name", "Sanne"], cwd=ROOT, env=env, check=True, capture_output=True)
    base = web_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(locale="nl-NL")
            log_in(page, base, "sanne@voorbeeldstad.example", PASSWORD)
            # an admin sets up the second factor at the first login (issue 15): the app's code
            secret = page.locator("code.secret").inner_text().replace(" ", "")
            page.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
            page.get_by_role("button", name="Aanzetten").click()
            expect(page.get_by_role("heading", name="Aanvragen", exact=True)).to_be_visible()
            page.goto(f"{base}/console/cases/{case.id}")
            expect(page.get_by_role("heading", level=1)).to_contain_text("pesten")
            page.get_by_role("button", name="Oppakken").click()
            expect(page.get_by_role("status").first).to_contain_text("opgepakt")
            page.get_by_label("Bericht aan de ouder").fill("Hoi, ik ben Sanne van het CJG.")
            page.get_by_role("button", name="Versturen").click()
            expect(page.get_by_role("status").first).to_contain_text("verstuurd")
        finally:
            browser.close()
    assert store.get(case.id).status == "claimed"
    bot_texts = [e.get("text") or "" for e in tracker_events(assistant, sender) if e["event"] == "bot"]
    assert any("Hoi, ik ben Sanne van het CJG." in t for t in bot_texts), bot_texts[-3:]
    # while the professional holds the conversation, the assistant is silent
    assert assistant.say(sender, "dank je, ik wacht even") == []


def test_a_phone_number_for_the_hand_off_is_stored_encrypted_and_not_kept_as_a_slot(assistant):
    """Issue 14, item 3: the number reaches the case (encrypted in the database) and the tracker
    records only that a contact detail was given."""
    import sqlalchemy as sa

    sender = new_sender()
    ask_for_a_person(assistant, sender, "ja")
    assistant.say(sender, "nee")
    done = assistant.say(sender, "bel me maar op 06 1234 5678")
    assert "doorgegeven" in texts(done).lower(), done
    store = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    case = store.active_case_for(sender)
    assert case is not None and case.contact_preference == "phone"
    assert case.contact_detail == "+31612345678"  # decrypted, as the console shows it
    with store.engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT contact_detail FROM cases WHERE id = :id"),
                                 {"id": case.id}).scalar()
    assert raw.startswith("gAAAAA") and "612345678" not in raw
    slot_events = [e for e in tracker_events(assistant, sender)
                   if e["event"] == "slot" and e.get("name") == "contact_detail"]
    assert {e.get("value") for e in slot_events} <= {"gegeven", None}, slot_events
    assert "gegeven" in {e.get("value") for e in slot_events}
    assert assistant.slots(sender)["contact_detail"] is None  # reset once the case is open
    logs = assistant.logs()
    assert "612345678" not in logs and "1234 5678" not in logs and sender not in logs

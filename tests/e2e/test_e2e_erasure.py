""""wis mijn gegevens" through the real running assistant (issue 14): after the turn no row of the
conversation is left in the tracker store and its case is gone, checked with SQL on the databases
the servers use (never through the API, which would create a new tracker). Also without the action
server: the erasure is the Rasa server's own (a static response and the tracker store)."""
from __future__ import annotations

import sqlite3
import uuid

import pytest

from bot.services.cases import CaseStore
from tests.support.assistant import new_sender, texts

ERASED = "gewist"


def sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///"), url
    return url[len("sqlite:///"):]


def count(url: str, sql: str, **params: str) -> int:
    with sqlite3.connect(sqlite_path(url), timeout=30) as connection:
        return connection.execute(sql, params).fetchone()[0]


def tracker_rows(assistant, sender: str) -> int:  # type: ignore[no-untyped-def]
    return count(assistant.env["TRACKER_STORE_URL"], "SELECT COUNT(*) FROM events WHERE sender_id = :s", s=sender)


def case_rows(assistant, sender: str) -> int:  # type: ignore[no-untyped-def]
    return count(assistant.env["CASE_STORE_URL"], "SELECT COUNT(*) FROM cases WHERE conversation_id = :s", s=sender)


def test_wis_mijn_gegevens_erases_the_conversation_and_its_case(assistant) -> None:  # type: ignore[no-untyped-def]
    sender = new_sender()
    email = f"ouder.{uuid.uuid4().hex[:6]}@example.nl"
    assistant.say(sender, "mijn zoon van 9 wordt al maanden gepest en wil niet meer naar school")
    assistant.say(sender, "ik wil iemand spreken")
    assistant.say(sender, "ja")
    assistant.say(sender, "nee")  # not the parent's own words
    done = assistant.say(sender, f"mail me op {email}")
    assert "doorgegeven" in texts(done).lower(), done
    assert tracker_rows(assistant, sender) > 0
    assert case_rows(assistant, sender) == 1

    replies = assistant.say(sender, "wis mijn gegevens")

    assert ERASED in texts(replies).lower(), replies
    assert tracker_rows(assistant, sender) == 0
    assert case_rows(assistant, sender) == 0
    assert count(assistant.env["TRACKER_STORE_URL"], "SELECT COUNT(*) FROM events WHERE data LIKE :t",
                 t=f"%{email}%") == 0
    assert email not in assistant.logs() and sender not in assistant.logs()

    # the same sender starts again with a new conversation, which is stored as usual
    again = assistant.say(sender, "hallo")
    assert "digitale assistent" in texts(again).lower(), again
    assert tracker_rows(assistant, sender) > 0


def test_the_erasure_works_without_the_action_server(assistant_without_actions) -> None:  # type: ignore[no-untyped-def]
    sender = new_sender()
    assistant_without_actions.say(sender, "hallo")
    assistant_without_actions.say(sender, "mijn dochter van 4 slaapt heel slecht")
    assert tracker_rows(assistant_without_actions, sender) > 0
    # a case of this conversation, as the action server would have opened it
    CaseStore.from_url(assistant_without_actions.env["CASE_STORE_URL"]).create_case(
        conversation_id=sender, severity="aandacht", contact_preference="phone", contact_detail="0612345678")
    assert case_rows(assistant_without_actions, sender) == 1

    replies = assistant_without_actions.say(sender, "wis mijn gegevens")

    assert ERASED in texts(replies).lower(), replies
    assert tracker_rows(assistant_without_actions, sender) == 0
    assert case_rows(assistant_without_actions, sender) == 0


def test_wis_mijn_gegevens_during_the_hand_off_questions(assistant) -> None:  # type: ignore[no-untyped-def]
    sender = new_sender()
    assistant.say(sender, "mijn zoon van 9 wordt al maanden gepest en wil niet meer naar school")
    assistant.say(sender, "ik wil iemand spreken")
    assistant.say(sender, "ja")
    assistant.say(sender, "nee")
    asked = assistant.say(sender, "bel me maar")
    assert "telefoonnummer" in texts(asked).lower(), asked
    replies = assistant.say(sender, "wis mijn gegevens")
    assert ERASED in texts(replies).lower(), replies
    assert tracker_rows(assistant, sender) == 0 and case_rows(assistant, sender) == 0
    assert "digitale assistent" in texts(assistant.say(sender, "hallo")).lower()


def test_wis_mijn_gegevens_while_a_professional_holds_the_conversation(assistant) -> None:  # type: ignore[no-untyped-def]
    """The parent may always have the conversation erased, also while a professional holds it."""
    from bot.services.console.rasa_client import RasaClient

    sender = new_sender()
    assistant.say(sender, "mijn zoon van 4 heeft elke dag driftbuien")
    store = CaseStore.from_url(assistant.env["CASE_STORE_URL"])
    case = store.create_case(conversation_id=sender, severity="normaal", topic="driftbuien")
    store.claim(case.id, store.add_user(f"{sender}@voorbeeldstad.example", "Sanne", "x"))
    RasaClient(assistant.url, assistant.token).pause(sender, "Je praat nu met Sanne.")
    assert assistant.say(sender, "oke") == []  # held: the assistant is silent
    replies = assistant.say(sender, "wis mijn gegevens")
    assert ERASED in texts(replies).lower(), replies
    assert tracker_rows(assistant, sender) == 0 and case_rows(assistant, sender) == 0

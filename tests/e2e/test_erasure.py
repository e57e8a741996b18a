""""wis mijn gegevens" (issue 14): the tracker store erases the conversation and its cases instead of
saving the turn, on SQLite and PostgreSQL, checked with SQL. The end-to-end test through the running
assistant is tests/test_e2e_erasure.py."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
import yaml
from rasa.core.channels.socketio import SocketIOOutput
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, Restarted, SessionStarted, SlotSet, UserUttered,
)

from bot.rasa.tracker_store import ResilientSQLTrackerStore, TrackerNotSaved
from bot.services.cases import CaseStore
from bot.services.erasure import ERASE_ACTION, ERASED_FLAG, erasure_requested
import bot.rasa.tracker_store as tracker_store_module
from tests.support.pg_schema import store_urls
from tests.support.paths import ROOT

EMAIL = "ouder.wis@example.nl"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dict[str, str]]:
    """The tracker store's and the case store's URL, on one backend."""
    with store_urls(request.param, tmp_path, "erasure_test") as found:
        yield found


@pytest.fixture
def stores(urls: Dict[str, str], domain: Domain) -> Iterator[Dict[str, Any]]:
    cases = CaseStore.from_url(urls["cases"])
    trackers = ResilientSQLTrackerStore(domain=domain, host=urls["trackers"], retry_seconds=0, case_store=cases)
    try:
        yield {"trackers": trackers, "cases": cases, "failsafe": FailSafeTrackerStore(trackers)}
    finally:
        trackers.engine.dispose()
        cases.engine.dispose()


def rows_of(store: ResilientSQLTrackerStore, sender: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.text("SELECT COUNT(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()


def rows_containing(store: ResilientSQLTrackerStore, text: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.text("SELECT COUNT(*) FROM events WHERE data LIKE :t"), {"t": f"%{text}%"}).scalar()


def cases_of(cases: CaseStore, conversation: str) -> int:
    with cases.engine.connect() as connection:
        return connection.execute(sa.text("SELECT COUNT(*) FROM cases WHERE conversation_id = :c"),
                                  {"c": conversation}).scalar()


def intent(name: str) -> Dict[str, Any]:
    return {"name": name, "confidence": 1.0}


async def turn(store: Any, sender: str, text: str, name: str, actions: List[str], slots: Dict[str, Any] = None) -> None:
    """What Rasa's processor does for one message: get or create, update, save once."""
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, intent(name)))
    for slot, value in (slots or {}).items():
        tracker.update(SlotSet(slot, value))
    for action in actions:
        tracker.update(ActionExecuted(action))
        if action.startswith("utter_"):
            tracker.update(BotUttered(f"({action})"))
        if action == "action_restart":
            tracker.update(Restarted())
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)


async def conversation_with_a_case(stores: Dict[str, Any], sender: str, email: str = EMAIL) -> None:
    store = stores["failsafe"]
    await turn(store, sender, "mijn zoon van 9 wordt gepest", "topic_pesten", ["action_respond"])
    await turn(store, sender, f"mail mij op {email}", "inform", ["handoff_form", "action_open_case"],
               {"contact_preference": "email", "contact_detail": email})
    stores["cases"].create_case(conversation_id=sender, severity="aandacht", topic="pesten",
                                contact_preference="email", contact_detail=email)


def test_the_erasure_turn_deletes_every_row_and_every_case_of_the_conversation(stores) -> None:  # type: ignore[no-untyped-def]
    sender, other = f"wis-{uuid.uuid4().hex[:8]}", f"blijft-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        await conversation_with_a_case(stores, sender)
        await conversation_with_a_case(stores, other, "andere.ouder@example.nl")
        assert rows_of(stores["trackers"], sender) > 0 and cases_of(stores["cases"], sender) == 1
        before_other = rows_of(stores["trackers"], other)
        # the turn Rasa runs for "wis mijn gegevens" (data/rules/dialogue.yml), saved once at its end
        await turn(stores["failsafe"], sender, "wis mijn gegevens", "delete_data", [ERASE_ACTION, "action_restart"])
        assert rows_of(stores["trackers"], sender) == 0
        assert cases_of(stores["cases"], sender) == 0
        # nothing of anyone else
        assert rows_of(stores["trackers"], other) == before_other and cases_of(stores["cases"], other) == 1
        assert rows_containing(stores["trackers"], EMAIL) == 0
        assert rows_containing(stores["trackers"], "andere.ouder@example.nl") > 0
        audit = [(e.actor, e.action) for e in stores["cases"].audit_log()]
        assert ("parent", "erased") in audit  # the case's audit rows are reduced to this one
        # the next message starts a new conversation, stored as usual
        await turn(stores["failsafe"], sender, "hallo", "greet", ["utter_greet"])
        tracker = await stores["trackers"].retrieve(sender)
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hallo"]

    asyncio.run(scenario())


def test_no_contact_detail_is_left_in_the_tracker_store_after_erasure(stores) -> None:  # type: ignore[no-untyped-def]
    sender = f"wis-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        await conversation_with_a_case(stores, sender)
        assert rows_containing(stores["trackers"], EMAIL) > 0
        await turn(stores["failsafe"], sender, "verwijder alles", "delete_data", [ERASE_ACTION, "action_restart"])
        assert rows_containing(stores["trackers"], EMAIL) == 0
        assert rows_containing(stores["trackers"], "wordt gepest") == 0

    asyncio.run(scenario())


def test_only_the_turn_that_ran_the_erasure_erases(stores) -> None:  # type: ignore[no-untyped-def]
    sender = f"wis-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        await turn(stores["failsafe"], sender, "hallo", "greet", ["utter_greet"])
        # the intent alone (for example while the hand-off form holds the turn) does not erase
        await turn(stores["failsafe"], sender, "wis mijn gegevens", "delete_data", ["handoff_form"])
        assert rows_of(stores["trackers"], sender) > 0

    asyncio.run(scenario())


def test_erasure_requested_looks_at_the_latest_turn_only() -> None:
    earlier = [UserUttered("wis", intent("delete_data")), ActionExecuted(ERASE_ACTION), ActionExecuted("action_listen")]
    assert erasure_requested(earlier)
    assert erasure_requested([*earlier, ActionExecuted("action_restart"), Restarted(),
                              ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])
    assert not erasure_requested([*earlier, UserUttered("hallo", intent("greet")), ActionExecuted("utter_greet")])
    assert not erasure_requested([])


def test_a_failed_erasure_is_finished_before_the_conversation_goes_on(tmp_path, domain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    store = ResilientSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}", retry_seconds=0,
                                     case_store=cases)
    failsafe = FailSafeTrackerStore(store)
    original = ResilientSQLTrackerStore._delete_events

    async def broken(self, sender_id):  # type: ignore[no-untyped-def]
        raise sa.exc.OperationalError("DELETE", {}, Exception("the database system is shutting down"))

    async def scenario() -> None:
        await turn(failsafe, "ouder", "hallo", "greet", ["utter_greet"])
        cases.create_case(conversation_id="ouder", severity="normaal")
        monkeypatch.setattr(ResilientSQLTrackerStore, "_delete_events", broken)
        assert await store.erase("ouder") is False
        assert rows_of(store, "ouder") > 0 and cases_of(cases, "ouder") == 0
        # nothing of the conversation is saved in between ...
        tracker = store.init_tracker("ouder")
        with pytest.raises(TrackerNotSaved):
            await store.save(tracker)
        # ... and its next message erases it first, then goes on with a new conversation
        monkeypatch.setattr(ResilientSQLTrackerStore, "_delete_events", original)
        await turn(failsafe, "ouder", "nieuwe vraag", "topic_slapen", ["action_respond"])
        tracker = await store.retrieve("ouder")
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["nieuwe vraag"]

    asyncio.run(scenario())


def test_cases_whose_erasure_failed_are_erased_at_a_later_save(tmp_path, domain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def delete_for_conversation(self, conversation_id: str, actor: str = "parent") -> int:
            self.calls += 1
            if self.calls == 1:
                raise sa.exc.OperationalError("DELETE", {}, Exception("down"))
            return cases.delete_for_conversation(conversation_id, actor=actor)

    store = ResilientSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}", retry_seconds=0,
                                     case_store=Flaky())
    monkeypatch.setattr(tracker_store_module, "CASE_RETRY_SECONDS", 0.0)

    async def scenario() -> None:
        cases.create_case(conversation_id="ouder", severity="normaal")
        await turn(store, "ouder", "wis mijn gegevens", "delete_data", [ERASE_ACTION, "action_restart"])
        assert cases_of(cases, "ouder") == 1  # the case store was down
        await turn(store, "iemand-anders", "hallo", "greet", ["utter_greet"])  # the conversation goes on
        assert cases_of(cases, "ouder") == 0

    asyncio.run(scenario())


def test_the_erasure_logs_counts_only(stores, caplog) -> None:  # type: ignore[no-untyped-def]
    sender = f"wis-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        await conversation_with_a_case(stores, sender)
        with caplog.at_level("DEBUG", logger="bot"):
            await turn(stores["failsafe"], sender, "wis mijn gegevens", "delete_data", [ERASE_ACTION])
        ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
        assert "erasure" in ours
        assert sender not in ours and EMAIL not in ours

    asyncio.run(scenario())


# --- the reply and the flag for the web page -----------------------------------------------------

def test_the_rule_answers_delete_data_with_the_erasing_response() -> None:
    rules = yaml.safe_load((ROOT / "data" / "rules" / "dialogue.yml").read_text(encoding="utf-8"))["rules"]
    steps = next(r["steps"] for r in rules if {"intent": "delete_data"} in r["steps"])
    assert steps[steps.index({"intent": "delete_data"}) + 1] == {"action": ERASE_ACTION}


def test_the_confirmation_says_what_was_erased_and_carries_the_flag(domain) -> None:  # type: ignore[no-untyped-def]
    variations = domain.responses[ERASE_ACTION]
    assert {v.get("channel") for v in variations} == {"socketio", None}
    for variation in variations:
        text = variation["text"].lower()
        assert "gewist" in text and "gesprek" in text
        assert "telefoonnummer" in text and "e-mailadres" in text  # the request to a professional
        assert variation["metadata"] == {ERASED_FLAG: True}
        assert max(len(s.split()) for s in text.replace("?", ".").split(".")) <= 15  # short sentences (B1)


def test_on_socketio_the_page_gets_the_text_then_the_flag(domain) -> None:  # type: ignore[no-untyped-def]
    """What chat.js receives: bot_uttered {"text": ...}, then bot_uttered {"opvoedmaatje_erased": true}."""
    from rasa.core.actions.action import ActionBotResponse
    from rasa.shared.core.trackers import DialogueStateTracker

    class FakeServer:
        def __init__(self) -> None:
            self.emitted: List[Any] = []

        async def emit(self, event: str, data: Any = None, room: Any = None, **kwargs: Any) -> None:
            self.emitted.append((event, data, room))

    async def scenario(channel: Any) -> List[Any]:
        tracker = DialogueStateTracker("sessie-1", domain.slots)
        events = await ActionBotResponse(ERASE_ACTION).run(channel, TemplatedNaturalLanguageGenerator(domain.responses),
                                                           tracker, domain)
        for event in events:
            await channel.send_response("sessie-1", event.message())
        return events

    server = FakeServer()
    events = asyncio.run(scenario(SocketIOOutput(server, "bot_uttered")))
    texts = [data["text"] for event, data, _ in server.emitted if "text" in data]
    assert texts and "gewist" in " ".join(texts)
    assert server.emitted[-1] == ("bot_uttered", {ERASED_FLAG: True}, "sessie-1")
    assert events[0].metadata.get("metadata") == {ERASED_FLAG: True}


def test_the_rasa_server_never_migrates_the_case_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Erasing through a case store that nobody has created yet finds no case and creates no table."""
    from bot.services.erasure import CaseEraser

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    eraser = CaseEraser(url=url)
    assert eraser.erase("ouder") == 0
    assert not sa.inspect(sa.create_engine(url)).has_table("cases")
    CaseStore.from_url(url).create_case(conversation_id="ouder", severity="normaal")
    assert eraser.erase("ouder") == 1


def test_erasure_forgets_the_whatsapp_number_too(stores) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: the WhatsApp channel's number book of this process forgets the erased conversation
    (the reply has gone out by then), and no other."""
    from bot.rasa.channels import whatsapp as wa
    from bot.services.pseudonym import NumberBook

    config = wa.WhatsAppConfig(app_secret="app-secret-for-the-test", verify_token="verify-token-for-the-test",
                               access_token="access-token-for-the-test", phone_number_id="1",
                               api_base="http://127.0.0.1:9/v21.0")
    channel = wa.WhatsAppInput(config, state=wa.ChannelState(config=config, book=NumberBook(),
                                                             client=wa.GraphClient(config)))
    sender, other = f"wa-{uuid.uuid4().hex[:8]}", f"wa-{uuid.uuid4().hex[:8]}"
    channel.state.book.remember(sender, "31612345678")
    channel.state.book.remember(other, "31687654321")

    async def scenario() -> None:
        await turn(stores["failsafe"], sender, "hallo", "greet", ["utter_greet"])
        await turn(stores["failsafe"], sender, "wis mijn gegevens", "delete_data", [ERASE_ACTION, "action_restart"])

    asyncio.run(scenario())
    assert channel.state.book.lookup(sender) is None
    assert channel.state.book.lookup(other) is not None


def test_erasure_forgets_the_twilio_number_too() -> None:
    from bot.rasa.channels.twilio import SignedTwilioInput
    from bot.services.erasure import forget_everywhere

    channel = SignedTwilioInput("AC" + "0" * 32, "twilio-auth-token-for-the-test", "whatsapp:+14155238886")
    channel.book.remember("tw-erased", "+31612345678")
    channel.book.remember("tw-kept", "+31687654321")
    assert forget_everywhere("tw-erased") >= 1
    assert channel.book.lookup("tw-erased") is None and channel.book.lookup("tw-kept") is not None

"""bot/rasa/tracker_store.py: no corrupted tracker when the database fails, retries while it restarts.

The real PostgreSQL restart is in tests/e2e/test_faults.py; here SQLite and injected failures show
the mechanism, and that Rasa's plain SQLTrackerStore would corrupt the stored conversation.
"""
from __future__ import annotations

import asyncio
import time
from typing import List

import pytest
import sqlalchemy.exc
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

from bot.rasa.tracker_store import ResilientSQLTrackerStore, TrackerNotSaved
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def down() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("the database system is shutting down"))


async def one_turn(store, sender: str, text: str, reply: str) -> None:  # type: ignore[no-untyped-def]
    """What Rasa's processor does for one message: get or create, update, save."""
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(reply))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)


def stored_types(store: SQLTrackerStore, sender: str) -> List[str]:
    with store.session_scope() as session:
        return [e.type_name for e in store._event_query(session, sender, True).all()]


@pytest.mark.parametrize("kind,corrupted", [(SQLTrackerStore, True), (ResilientSQLTrackerStore, False)])
def test_a_failed_read_never_corrupts_the_stored_conversation(tmp_path, domain, monkeypatch, kind, corrupted) -> None:  # type: ignore[no-untyped-def]
    store = kind(domain=domain, host=f"sqlite:///{tmp_path / 'trackers.db'}", **({"retry_seconds": 0}
                                                                                  if kind is ResilientSQLTrackerStore else {}))
    failsafe = FailSafeTrackerStore(store)

    async def scenario() -> None:
        await one_turn(failsafe, "ouder", "mijn zoon slaapt slecht", "Hoe oud is hij?")
        before = stored_types(store, "ouder")
        # the database is gone for the read, back for the save (a restart in between)
        original = SQLTrackerStore._retrieve

        async def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise down()

        monkeypatch.setattr(SQLTrackerStore, "_retrieve", failing)
        tracker = await failsafe.get_or_create_tracker("ouder")  # Rasa goes on with an empty tracker
        monkeypatch.setattr(SQLTrackerStore, "_retrieve", original)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                      UserUttered("hij is 3", {"name": "inform_age", "confidence": 1.0}),
                      ActionExecuted("action_respond"), BotUttered("Hoe oud is je kind?"),
                      ActionExecuted("action_listen")):
            tracker.update(event)
        await failsafe.save(tracker)
        after = stored_types(store, "ouder")
        assert (after != before) is corrupted, (before, after)
        if not corrupted:
            # and the next message, with the database back, goes on from the stored conversation
            await one_turn(failsafe, "ouder", "hij is 3", "Dank je.")
            tracker = await failsafe.retrieve("ouder")
            assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [
                "mijn zoon slaapt slecht", "hij is 3"]

    asyncio.run(scenario())


def test_reads_and_saves_are_retried_while_the_database_restarts(tmp_path, domain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = ResilientSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}", retry_seconds=3)
    calls = {"n": 0}
    original = SQLTrackerStore._retrieve

    async def flaky(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= 2:
            raise down()
        return await original(self, *args, **kwargs)

    async def scenario() -> float:
        await one_turn(store, "ouder", "hallo", "Hoi!")
        monkeypatch.setattr(SQLTrackerStore, "_retrieve", flaky)
        started = time.monotonic()
        tracker = await store.retrieve("ouder")
        assert tracker is not None and calls["n"] == 3
        return time.monotonic() - started

    assert 0.2 <= asyncio.run(scenario()) < 3


def test_gives_up_after_the_retry_time_and_other_errors_are_not_retried(tmp_path, domain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = ResilientSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}", retry_seconds=0.5)

    async def always_down(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise down()

    async def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("a bug, not an outage")

    async def scenario() -> None:
        monkeypatch.setattr(SQLTrackerStore, "_retrieve", always_down)
        started = time.monotonic()
        with pytest.raises(sqlalchemy.exc.OperationalError):
            await store.retrieve("ouder")
        assert time.monotonic() - started < 1.5
        tracker = store.init_tracker("ouder")
        with pytest.raises(TrackerNotSaved):
            await store.save(tracker)
        monkeypatch.setattr(SQLTrackerStore, "_retrieve", broken)
        started = time.monotonic()
        with pytest.raises(ValueError):
            await store.retrieve("ouder-2")
        assert time.monotonic() - started < 0.1

    asyncio.run(scenario())


def test_pooled_connections_are_checked_before_use(tmp_path, domain) -> None:  # type: ignore[no-untyped-def]
    store = ResilientSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}")
    assert store.engine.pool._pre_ping is True
    assert not SQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 'u.db'}").engine.pool._pre_ping


def test_rasa_loads_it_from_endpoints(tmp_path, domain) -> None:  # type: ignore[no-untyped-def]
    from rasa.core.tracker_store import create_tracker_store
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(url=f"sqlite:///{tmp_path / 't.db'}", type="bot.rasa.tracker_store.ResilientSQLTrackerStore")
    store = create_tracker_store(config, domain)  # the agent wraps it in a FailSafeTrackerStore
    assert isinstance(store, ResilientSQLTrackerStore) and str(store.engine.url).endswith("t.db")

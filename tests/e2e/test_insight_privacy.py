"""The insight's working rows (issue 18): ``insight_seen`` (record keys) and ``insight_state`` (daily
conversation hashes) go by the retention purge after two days whether or not records arrive, and
"wis mijn gegevens" deletes the erased conversation's state rows; the daily aggregates stay. On
SQLite and PostgreSQL (a fresh schema, as the other insight tests reach it)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Restarted, SlotSet, UserUttered

from bot.rasa.insight_broker import InProcessInsightBroker
from bot.services.insight.events import conversation_hash, link_keys
from bot.rasa.tracker_store import ResilientSQLTrackerStore
from bot.services import purge as purge_module
from bot.services.cases import CaseStore
from bot.services.cases.schema import insight_daily, insight_seen, insight_state
from bot.services.erasure import ERASE_ACTION, CaseEraser
from bot.services.insight.privacy import erase_conversation, purge_working_rows
from bot.services.insight.sink import InsightSink
from tests.support.insight_helpers import question
from tests.support.pg_schema import store_urls
from tests.support.paths import ROOT

DAY = date(2026, 11, 2)
KEY = "een-geheime-sleutel-voor-de-test-" + "x" * 16


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dict[str, str]]:
    with store_urls(request.param, tmp_path, "insight_privacy") as found:
        yield found


@pytest.fixture
def cases(urls: Dict[str, str]) -> Iterator[CaseStore]:
    store = CaseStore.from_url(urls["cases"])
    try:
        yield store
    finally:
        store.engine.dispose()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=timezone.utc)


def working_days(engine: sa.engine.Engine) -> Tuple[Set[date], Set[date]]:
    with engine.connect() as connection:
        seen = {r[0] for r in connection.execute(sa.select(insight_seen.c.day).distinct())}
        state = {r[0] for r in connection.execute(sa.select(insight_state.c.day).distinct())}
    return seen, state


def states(engine: sa.engine.Engine) -> Set[Tuple[date, str]]:
    with engine.connect() as connection:
        return {(r[0], r[1]) for r in connection.execute(sa.select(insight_state.c.day, insight_state.c.conversation))}


def seen_count(engine: sa.engine.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(insight_seen)).scalar()


def aggregates(engine: sa.engine.Engine) -> Dict[tuple, int]:
    columns = [c for c in insight_daily.c if c.name not in ("id", "questions")]
    with engine.connect() as connection:
        return {tuple(r[:-1]): r[-1] for r in connection.execute(sa.select(*columns, insight_daily.c.questions))}


# --- retention: by the clock, not by the traffic ------------------------------------------------

def test_the_retention_purge_deletes_working_rows_past_two_days_without_new_records(
        urls: Dict[str, str], cases: CaseStore, caplog: pytest.LogCaptureFixture) -> None:
    sink = InsightSink(cases.engine)
    older, newer = question(DAY.isoformat(), "slapen"), question((DAY + timedelta(days=1)).isoformat(), "eten")
    sink.apply_many(older)
    sink.apply_many(newer)
    counted = aggregates(cases.engine)
    assert sum(counted.values()) == 2
    assert working_days(cases.engine) == ({DAY, DAY + timedelta(days=1)},) * 2

    def run(now: datetime) -> purge_module.PurgeResult:
        return purge_module.purge(now=now, days=30, tracker_url=urls["trackers"], case_store=cases)

    run(at_noon(DAY + timedelta(days=2)))  # the day before yesterday is still within two days
    assert working_days(cases.engine) == ({DAY, DAY + timedelta(days=1)},) * 2
    caplog.set_level("INFO", logger="bot.services.purge")
    run(at_noon(DAY + timedelta(days=3)))  # no record came in since: the purge deletes them anyway
    assert working_days(cases.engine) == ({DAY + timedelta(days=1)},) * 2
    assert "insight: deleted 8 record key(s) and 1 conversation state(s)" in caplog.text
    assert older[0]["conversation"] not in caplog.text and older[0]["key"] not in caplog.text
    run(at_noon(DAY + timedelta(days=30)))
    assert working_days(cases.engine) == (set(), set())
    assert aggregates(cases.engine) == counted  # the daily counts stay

    assert purge_working_rows(cases.engine, now=at_noon(DAY + timedelta(days=31))) == (0, 0)


def test_python_m_bot_purge_deletes_them_too(tmp_path: Path) -> None:
    """The command of `make purge`, of the hourly purge in `make run` and of the CronJob."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    sink = InsightSink.from_url(url)
    sink.apply_many(question(DAY.isoformat(), "slapen", hood="Noorderwijk"))
    env = {**os.environ, "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'trackers.db'}", "CASE_STORE_URL": url}
    done = subprocess.run([sys.executable, "-m", "bot.services.purge", "--now", (DAY + timedelta(days=3)).isoformat()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert working_days(sink.engine) == (set(), set())
    assert sum(aggregates(sink.engine).values()) == 1


def test_the_purge_works_on_a_database_without_the_insight_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert purge_working_rows(engine) == (0, 0)
    assert erase_conversation(engine, "web-123", keys=[KEY]) == 0


# --- "wis mijn gegevens" ------------------------------------------------------------------------

def test_erasure_deletes_the_state_rows_of_the_conversation_under_stats_hash_key(
        cases: CaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATS_HASH_KEY", KEY)
    sender, other = f"wa-{uuid.uuid4().hex[:10]}", f"wa-{uuid.uuid4().hex[:10]}"
    today = datetime.now(timezone.utc).date()
    days = [today - timedelta(days=2), today - timedelta(days=1), today]
    sink = InsightSink(cases.engine)
    for day in days:
        for who in (sender, other):
            sink.apply_many(question(day.isoformat(), "pesten", phase="4-12",
                                     conversation=conversation_hash(KEY, who, day.isoformat())))
    counted, keys = aggregates(cases.engine), seen_count(cases.engine)
    mine = {(d, conversation_hash(KEY, sender, d.isoformat())) for d in days}
    theirs = {(d, conversation_hash(KEY, other, d.isoformat())) for d in days}
    assert states(cases.engine) == mine | theirs

    assert KEY in link_keys()
    CaseEraser(cases).erase(sender)
    assert states(cases.engine) == theirs  # every day's row of this parent, none of another
    assert aggregates(cases.engine) == counted  # the counts (no ids, no text) stay
    assert seen_count(cases.engine) == keys  # event keys name no conversation: they go by retention


def test_erasure_through_the_tracker_store_with_the_in_process_insight(
        urls: Dict[str, str], cases: CaseStore, domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    """make run without a broker: the Rasa process counts itself with a random key of its own, and
    the erasure in that process finds the conversation's rows with it."""
    monkeypatch.delenv("STATS_HASH_KEY", raising=False)
    sender, other = f"web-{uuid.uuid4().hex[:10]}", f"web-{uuid.uuid4().hex[:10]}"

    async def scenario() -> InProcessInsightBroker:
        broker = InProcessInsightBroker(hash_key="", store_url=urls["cases"], sink=InsightSink(cases.engine))
        trackers = ResilientSQLTrackerStore(domain=domain, host=urls["trackers"], retry_seconds=0,
                                            case_store=cases, event_broker=broker)
        try:
            for who in (sender, other):
                await turn(trackers, who, "mijn dochter van 14 wil niet naar school", "topic_school",
                           ["action_respond"], {"phase": "12-19", "topic": "school", "severity": "normaal",
                                                "support_level": "B"})
            assert await broker.flush(timeout=30)
            assert broker.applied > 0
            assert len(states(cases.engine)) == 2 and sum(aggregates(cases.engine).values()) == 2
            await turn(trackers, sender, "wis mijn gegevens", "delete_data", [ERASE_ACTION, "action_restart"])
            assert await broker.flush(timeout=30)
        finally:
            await broker.close()
            trackers.engine.dispose()
        return broker

    broker = asyncio.run(scenario())
    today = datetime.now(timezone.utc).date()
    assert broker.link_key in link_keys() and len(link_keys()) >= 1
    left = {h for _d, h in states(cases.engine)}
    assert conversation_hash(broker.link_key, sender, today.isoformat()) not in left
    assert left == {conversation_hash(broker.link_key, other, today.isoformat())}
    assert sum(aggregates(cases.engine).values()) == 2  # both questions stay counted


def test_without_any_key_nothing_is_identified_and_nothing_breaks(cases: CaseStore) -> None:
    sink = InsightSink(cases.engine)
    today = datetime.now(timezone.utc).date().isoformat()
    sink.apply_many(question(today, "eten", conversation=conversation_hash(KEY, "web-1", today)))
    assert erase_conversation(cases.engine, "web-1", keys=[]) == 0
    assert erase_conversation(cases.engine, "web-1", keys=["een-andere-sleutel"]) == 0
    assert len(states(cases.engine)) == 1
    assert erase_conversation(cases.engine, "web-1", keys=[KEY]) == 1
    assert states(cases.engine) == set()


async def turn(store: Any, sender: str, text: str, name: str, actions: List[str],
               slots: Dict[str, Any] = None) -> None:
    """What Rasa's processor does for one message: get or create, update, save once."""
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, {"name": name, "confidence": 1.0}, input_channel="socketio"))
    for action in actions:
        tracker.update(ActionExecuted(action))
        if action.startswith("utter_"):
            tracker.update(BotUttered(f"({action})"))
        if action == "action_restart":
            tracker.update(Restarted())
    for slot, value in (slots or {}).items():
        tracker.update(SlotSet(slot, value))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)


# --- the privacy documents describe the tables --------------------------------------------------

INSIGHT_TABLES = (insight_daily, insight_seen, insight_state)


@pytest.mark.parametrize("name", ("dpia.md", "verwerkingsregister.md"))
def test_the_registers_describe_the_insight_tables_and_their_retention(name: str) -> None:
    import re

    text = (ROOT / "docs" / "privacy" / name).read_text(encoding="utf-8")
    for table in INSIGHT_TABLES:
        for column in table.columns:
            assert f"`{table.name}.{column.name}`" in text, f"{name} does not describe {table.name}.{column.name}"
    named = set(re.findall(r"`(insight_\w+)\.(\w+)`", text))
    existing = {(t.name, c.name) for t in INSIGHT_TABLES for c in t.columns}
    assert named <= existing, f"{name} names {sorted(named - existing)}"
    lines = [line for line in text.splitlines() if "insight_" in line]
    assert not [line for line in lines if "[gemeente" in line], f"{name}: a placeholder is left for the insight"
    from bot.services.insight.sink import KEEP_DAYS

    flat = " ".join(text.split())
    assert KEEP_DAYS == 2 and "twee dagen" in flat and "onbeperkt" in flat and "wis mijn gegevens" in flat
    assert "`python -m bot.services.purge`" in flat and "rol beleid" in flat

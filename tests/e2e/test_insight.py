"""Insight for the municipality (issue 18): the aggregates, the consumer (real RabbitMQ and
PostgreSQL), the in-process path, and the console page with its suppression, export and summary."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.domain.catalogue import load_catalogue
from bot.rasa.insight_broker import InProcessInsightBroker
from bot.rasa.stats_broker import AnonymousStatsBroker
from bot.services.cases import CaseStore
from bot.services.cases.schema import insight_daily, insight_seen, insight_state
from bot.services.console.app import create_app
from bot.services.insight import report as insight_report
from bot.services.insight.sink import Cell, InsightSink, State, step
from tests.support.insight_helpers import (
    ADMIN, BELEID, HIDDEN, PASSWORD, PASSWORD_HASH, PROFESSIONAL, SUPPRESSED, ConsumerProcess, attack, csv_cells,
    naive_recoveries, page_cells, queue_depth, question, totals, whole_numbers,
)
from tests.support.paths import ROOT
from tests.support.pg_schema import fresh_schema
from tests.support.rabbitmq import AMQP, delete_queue_and_exchange, needs_rabbit

ADMIN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def apply_all(sink: InsightSink, records: List[Dict[str, Any]]) -> None:
    sink.apply_many(records)


# --- the counting rules (no database) ------------------------------------------------------------

def test_a_question_is_counted_once_with_the_labels_that_come_later() -> None:
    state = State()
    deltas: List = []
    for record in question("2026-11-02", "slapen", phase="0-2", level="A", hood="Noorderwijk", local=True,
                           handoff=True):
        deltas += step(state, record)
    net: Dict[Cell, int] = {}
    for cell, delta in deltas:
        net[cell] = net.get(cell, 0) + delta
    assert {c: n for c, n in net.items() if n} == {
        Cell(channel="rest", topic="slapen", phase="0-2", severity="normaal", support_level="A",
             neighbourhood="Noorderwijk", handoff=True, local_support=True): 1}


def test_the_same_topic_settled_again_is_the_same_question_and_a_new_topic_is_another() -> None:
    state = State()
    day = "2026-11-02"
    conv = "0123456789abcdef"
    first = question(day, "slapen", phase="2-4", conversation=conv)
    # the age comes in the next message: the same question gets its phase, not a second count
    again = [r for r in question(day, "slapen", phase="5-12", level="C", conversation=conv) if r["type"] == "slot"]
    other = [r for r in question(day, "eten", conversation=conv) if r["type"] == "slot"]
    counts: Dict[Cell, int] = {}
    for record in first + again + other:
        for cell, delta in step(state, record):
            counts[cell] = counts.get(cell, 0) + delta
    assert sorted((c.topic, c.phase, c.support_level) for c, n in counts.items() if n == 1) == [
        ("eten", "2-4", "B"), ("slapen", "5-12", "C")]
    assert all(n in (0, 1) for n in counts.values())


def test_a_crisis_is_counted_by_situation_once_and_is_not_a_question() -> None:
    state = State()
    base = {"schema": 1, "day": "2026-11-02", "hour": 3, "conversation": "0123456789abcdef"}
    records = [{**base, "type": "user", "intent": "crisis_suicidaal_kind", "channel": "socketio"},
               {**base, "type": "slot", "slot": "severity", "value": "crisis"},
               {**base, "type": "slot", "slot": "support_level", "value": "D"},
               {**base, "type": "slot", "slot": "signal", "value": "suicide"},
               {**base, "type": "slot", "slot": "situation", "value": "suicidaal_kind"},
               {**base, "type": "slot", "slot": "situation", "value": "suicidaal_kind"}]
    deltas = [d for r in records for d in step(state, r)]
    assert deltas == [(Cell(channel="socketio", severity="crisis", support_level="D", situation="suicidaal_kind"), 1)]


@pytest.mark.parametrize("record", [
    {"type": "slot", "slot": "topic", "value": "Mijn zoon Daan"},  # not a label of the vocabulary
    {"type": "label", "label": "neighbourhood", "value": "<script>"},
    {"type": "label", "label": "language", "value": "klingon"},
    {"type": "label", "label": "contact", "value": "0612345678"},
    {"type": "user", "intent": "topic_x", "channel": "Daan's telefoon"},
])
def test_anything_outside_the_fixed_labels_is_not_stored(record: Dict[str, Any]) -> None:
    state = State()
    step(state, {"day": "2026-11-02", **record})
    text = state.dumps()
    assert "Daan" not in text and "script" not in text and "0612345678" not in text and "klingon" not in text


# --- the sink on PostgreSQL ------------------------------------------------------------------------

@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema("insight") as (url, _schema):
        yield url


def test_a_record_that_arrives_twice_is_counted_once_on_postgresql(pg_url: str) -> None:
    sink = InsightSink.from_url(pg_url)
    records = question("2026-11-02", "puberteit", phase="12-19", hood="Noorderwijk")
    assert all(sink.apply_many(records))
    assert not any(sink.apply_many(records))  # all of them again
    assert sink.apply_many([records[-1], records[-1]]) == [False, False]
    rows = totals(sink.engine)
    assert list(rows.values()) == [1]
    (row,) = rows
    assert row[0] == date(2026, 11, 2) and "puberteit" in row and "Noorderwijk" in row
    # the aggregate holds labels only: no conversation hash, no key
    conversation = records[0]["conversation"]
    assert conversation not in json.dumps([str(v) for v in row])


def test_working_rows_are_deleted_after_two_days(tmp_path: Path) -> None:
    sink = InsightSink.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    sink.apply_many(question("2026-11-02", "slapen"))
    sink.apply_many(question("2026-11-06", "eten"))
    with sink.engine.connect() as connection:
        seen_days = {r[0] for r in connection.execute(sa.select(insight_seen.c.day).distinct())}
        state_days = {r[0] for r in connection.execute(sa.select(insight_state.c.day).distinct())}
    assert seen_days == state_days == {date(2026, 11, 6)}
    assert sum(totals(sink.engine).values()) == 2  # the aggregates stay


# --- the consumer: RabbitMQ -> PostgreSQL, exactly once across restarts ---------------------------

async def _publish(queue: str, exchange: str, records: List[Dict[str, Any]]) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(AMQP)
    async with connection:
        channel = await connection.channel()
        target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)
        declared = await channel.declare_queue(queue, durable=True)
        await declared.bind(target, routing_key="")
        for record in records:
            await target.publish(aio_pika.Message(json.dumps(record).encode(),
                                                  delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key="")


@needs_rabbit
def test_the_consumer_counts_every_record_once_across_restarts_and_a_crash(pg_url: str, tmp_path: Path) -> None:
    queue, exchange = f"opv_insight_{uuid.uuid4().hex[:8]}", f"opv-insight-{uuid.uuid4().hex[:8]}"
    days = ["2026-11-02", "2026-11-03", "2026-11-04"]
    batches = [[r for i in range(12) for r in question(days[i % 3], ["slapen", "eten", "puberteit"][i % 3],
                                                         hood=["Noorderwijk", None][i % 2], local=i % 4 == 0)]
               for _ in range(3)]
    expected_sink = InsightSink.from_url(f"sqlite:///{tmp_path / 'expected.db'}")
    for batch in batches:
        expected_sink.apply_many(batch)
    expected = totals(expected_sink.engine)
    InsightSink.from_url(pg_url)  # migrated before the consumers start
    log = tmp_path / "consumer.log"
    try:
        # 1. a consumer that crashes right after its first commit, before acknowledging: RabbitMQ
        #    hands those records out again and the next consumer must not count them twice
        asyncio.run(_publish(queue, exchange, batches[0]))
        crashing = ConsumerProcess(pg_url, queue, exchange, log, INSIGHT_EXIT_AFTER="1")
        assert crashing.process.wait(timeout=60) == 3
        crashing.log.close()
        assert 0 < sum(totals(InsightSink.from_url(pg_url).engine).values())
        assert asyncio.run(queue_depth(queue)) == len(batches[0])  # nothing was acknowledged
        # 2. a consumer takes the rest, and a record sent twice; then stops
        first = ConsumerProcess(pg_url, queue, exchange, log)
        asyncio.run(_publish(queue, exchange, batches[1] + [batches[1][5]]))
        first.wait_applied(len(batches[0]) + len(batches[1]) + 1)
        assert first.stop() == 0
        # 3. records sent while no consumer runs wait in the durable queue for the next one
        asyncio.run(_publish(queue, exchange, batches[2]))
        second = ConsumerProcess(pg_url, queue, exchange, log)
        second.wait_applied(len(batches[2]))
        assert second.stop() == 0
        assert asyncio.run(queue_depth(queue)) == 0
    finally:
        asyncio.run(delete_queue_and_exchange(queue, exchange))
    assert totals(InsightSink.from_url(pg_url).engine) == expected
    assert sum(expected.values()) == 36
    logged = log.read_text(errors="replace")
    assert "Noorderwijk" not in logged and "puberteit" not in logged


def test_the_consumer_refuses_to_start_without_a_broker() -> None:
    env = {k: v for k, v in os.environ.items() if k != "EVENT_BROKER_URL"}
    done = subprocess.run([sys.executable, "-m", "bot.services.insight.consume", "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "EVENT_BROKER_URL" in done.stderr


# --- without a broker: counted in the Rasa process -----------------------------------------------

def _rasa_events(sender: str) -> List[Dict[str, Any]]:
    moment = 1_793_088_000.0  # 2026-10-27 10:00 UTC
    events = [SessionStarted(timestamp=moment),
              UserUttered("mijn dochter van 14 gamet de hele dag", {"name": "topic_media", "confidence": 0.9},
                          timestamp=moment + 1, input_channel="socketio", metadata={"language": "nl-NL"}),
              ActionExecuted("action_respond", timestamp=moment + 2),
              SlotSet("age_months", 168, timestamp=moment + 3), SlotSet("phase", "12-19", timestamp=moment + 3.1),
              SlotSet("topic", "media", timestamp=moment + 3.2), SlotSet("severity", "normaal", timestamp=moment + 3.3),
              SlotSet("support_level", "B", timestamp=moment + 3.4),
              ActionExecuted("action_support_nearby", timestamp=moment + 4),
              SlotSet("neighbourhood", "noorderwijk", timestamp=moment + 5)]
    return [{"sender_id": sender, **e.as_dict()} for e in events]


def test_without_a_broker_the_rasa_process_counts_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    monkeypatch.setenv("INSIGHT_IN_PROCESS", "1")
    config = EndpointConfig(url="", type="bot.rasa.insight_broker.InProcessInsightBroker", queue="q", hash_key="")

    async def scenario() -> InProcessInsightBroker:
        broker = await InProcessInsightBroker.from_endpoint_config(config)
        assert isinstance(broker, InProcessInsightBroker)
        broker.store_url = url
        events = _rasa_events("wa-0612345678")
        for event in events + events:  # Rasa streaming the same events twice: counted once
            broker.publish(event)
        assert await broker.flush(timeout=30)
        await broker.close()
        return broker

    broker = asyncio.run(scenario())
    assert broker.applied > 0
    rows = totals(InsightSink.from_url(url).engine)
    assert list(rows.values()) == [1]
    (row,) = rows
    names = [c.name for c in insight_daily.c if c.name not in ("id", "questions")]
    assert dict(zip(names, row)) == {
        "day": date(2026, 10, 27), "channel": "socketio", "language": "nl", "topic": "media", "phase": "12-19",
        "severity": "normaal", "support_level": "B", "neighbourhood": "Noorderwijk", "situation": "",
        "handoff": False, "local_support": True}


def test_without_the_setting_there_is_still_no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INSIGHT_IN_PROCESS", raising=False)
    config = EndpointConfig(url="", type="bot.rasa.insight_broker.InProcessInsightBroker")
    assert asyncio.run(InProcessInsightBroker.from_endpoint_config(config)) is None


# --- the console page ------------------------------------------------------------------------------

PERIOD_START = insight_report.monday(date.today()) - timedelta(days=28)


def _day(offset: int) -> str:
    return (PERIOD_START + timedelta(days=offset)).isoformat()


def seed(sink: InsightSink) -> None:
    """A month with large and small cells, so that suppression has work to do."""
    plan = ([("puberteit", "12-19", "Noorderwijk", "C")] * 13 + [("slapen", "0-2", "De Akkers", "A")] * 9
            + [("slapen", "2-4", "De Akkers", "B")] * 7 + [("driftbuien", "2-4", "Binnenstad", "B")] * 6
            + [("eten", "2-4", "Binnenstad", "B")] * 3 + [("pesten", "5-12", "Noorderwijk", "C")] * 2
            + [("school", "5-12", None, "B")] * 8 + [("puberteit", "12-19", "De Akkers", "C")] * 1
            + [("alcohol_drugs", "12-19", "De Akkers", "B")] * 6)
    records = []
    for i, (topic, phase, hood, level) in enumerate(plan):
        records += question(_day(i % 27), topic, phase=phase, hood=hood, level=level, local=hood is not None and i % 3 == 0,
                            handoff=i % 11 == 0, severity="aandacht" if i % 5 == 0 else "normaal")
    base = {"schema": 1, "day": _day(3), "hour": 2}
    for situation in ["suicidaal_kind"] * 6 + ["huiselijk_geweld"] * 2:
        conv = uuid.uuid4().hex[:16]
        records += [{**base, "conversation": conv, "key": uuid.uuid4().hex, "type": "user", "intent": "crisis_x",
                     "channel": "rest"},
                    {**base, "conversation": conv, "key": uuid.uuid4().hex, "type": "slot", "slot": "situation",
                     "value": situation}]
    sink.apply_many(records)


@pytest.fixture
def console(pg_url: str):  # type: ignore[no-untyped-def]
    store = CaseStore.from_url(pg_url)
    admin = store.add_user(ADMIN, "Beheer", PASSWORD_HASH, "admin")
    store.enable_totp(admin.id, ADMIN_SECRET, "test")
    store.add_user(BELEID, "Bea", PASSWORD_HASH, "beleid")
    store.add_user(PROFESSIONAL, "Sanne", PASSWORD_HASH, "professional")
    seed(InsightSink(store.engine))
    app = create_app({"CASE_STORE": store, "RASA_URL": "http://127.0.0.1:9", "RASA_AUTH_TOKEN": "x",
                      "SECRET_KEY": "test-secret"})
    return app, store


def login(client, email: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code


QUERY = {"van": PERIOD_START.isoformat(), "weken": "4"}
PAGES = ["/console/inzicht", "/console/inzicht/export.csv", "/console/inzicht/maand"]


def test_a_professional_gets_403_and_nobody_without_login_sees_anything(console) -> None:  # type: ignore[no-untyped-def]
    app, _store = console
    anonymous = app.test_client()
    for path in PAGES:
        assert anonymous.get(path).status_code in (302, 401)
    client = app.test_client()
    login(client, PROFESSIONAL)
    for path in PAGES:
        assert client.get(path, query_string=QUERY).status_code == 403, path
    assert "Inzicht" not in client.get("/console/account").get_data(as_text=True)


def test_the_policy_officer_sees_the_counts_with_charts_and_tables(console) -> None:  # type: ignore[no-untyped-def]
    app, _store = console
    client = app.test_client()
    login(client, BELEID)
    answer = client.get("/console/inzicht", query_string=QUERY)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    cells = page_cells(html)
    assert cells["onderwerp"]["q|topic=puberteit|phase=12-19"] == "14"
    assert cells["onderwerp"]["q|topic=pesten|phase=5-12"] == SUPPRESSED  # 2 questions
    assert cells["vraag"]["q"] == "55"
    # 2 is hidden, so 6 is hidden too: with the total 8 it would give the 2 away
    assert cells["crisis"]["c"] == "8"
    assert cells["crisis"]["c|situation=huiselijk_geweld"] == SUPPRESSED
    assert cells["crisis"]["c|situation=suicidaal_kind"] == HIDDEN
    assert html.count("<svg") >= 7 and html.count('role="img"') == html.count("<svg")
    assert "Inzicht" in html and 'href="/console/inzicht"' in html  # the menu link
    # a gap as in the example: questions from a neighbourhood without an informal offer there
    gaps = html[html.find("Waar aanbod"):]
    assert re.search(r"6 vragen over alcohol en drugs \(12 tot 19 jaar\) uit De Akkers in deze periode\. "
                     r"Er is daar geen informeel aanbod \(A\)", gaps), gaps[:1500]
    assert re.search(r"puberteit</td><td[^>]*>12 tot 19 jaar</td><td[^>]*>Noorderwijk</td>\s*<td>13</td>", gaps)


def test_filters_by_channel_and_neighbourhood_and_periods_of_whole_weeks(console) -> None:  # type: ignore[no-untyped-def]
    app, _store = console
    client = app.test_client()
    login(client, BELEID)
    html = client.get("/console/inzicht", query_string={**QUERY, "wijk": "Noorderwijk"}).get_data(as_text=True)
    assert page_cells(html)["vraag"]["q"] == "15"
    html = client.get("/console/inzicht", query_string={**QUERY, "kanaal": "whatsapp"}).get_data(as_text=True)
    assert "Er zijn nog geen vragen in deze periode." in html
    wednesday = PERIOD_START + timedelta(days=2)
    html = client.get("/console/inzicht", query_string={"van": wednesday.isoformat(), "weken": "0",
                                                        "wijk": "Atlantis"}).get_data(as_text=True)
    assert "Een periode begint op maandag" in html and "Een periode is minstens een week." in html
    assert "Die wijk ken ik niet." in html
    assert f'value="{PERIOD_START.isoformat()}"' in html
    assert client.get("/console/inzicht", query_string={"van": "gisteren", "weken": "veel"}).status_code == 200


def recovered(low: float, high: float) -> bool:
    """The attacker pinned a hidden count to one value of 1 to 4. That a hidden cell is 0 may
    follow from the totals (nobody is in it, so nobody can be recognised); any other value may not."""
    return whole_numbers(low, high) < 2 and high >= 0.5


def _true_values(store: CaseStore) -> Dict[str, int]:
    filters = insight_report.Filters(PERIOD_START, 4)
    values = insight_report.count(insight_report.load_rows(store.engine, filters), filters)
    return {insight_report.cell_id(k): v for k, v in values.items()}


def test_no_suppressed_cell_can_be_worked_out_from_the_page(console) -> None:  # type: ignore[no-untyped-def]
    app, store = console
    client = app.test_client()
    login(client, BELEID)
    tables = page_cells(client.get("/console/inzicht", query_string=QUERY).get_data(as_text=True))
    truth = _true_values(store)
    shown = {c: t for cells in tables.values() for c, t in cells.items()}
    assert len(shown) > 100
    for cell, text in shown.items():
        value = truth.get(cell, 0)
        if value < 5:
            assert text == SUPPRESSED, (cell, value, text)
        else:
            assert text in (str(value), HIDDEN), (cell, value, text)
    assert HIDDEN in shown.values()  # complementary suppression had work to do
    assert not naive_recoveries(tables)
    ranges = attack(tables)
    assert len(ranges) > 20
    for cell, (low, high) in ranges.items():
        assert not recovered(low, high), f"{cell} ({truth.get(cell, 0)}) is pinned to {low}..{high}"


def test_no_suppressed_cell_can_be_worked_out_from_the_export(console) -> None:  # type: ignore[no-untyped-def]
    app, store = console
    client = app.test_client()
    login(client, BELEID)
    answer = client.get("/console/inzicht/export.csv", query_string=QUERY)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    tables = csv_cells(answer.get_data(as_text=True))
    shown = [t for cells in tables.values() for t in cells.values()]
    assert shown.count(SUPPRESSED) > 10 and HIDDEN in shown
    assert not naive_recoveries(tables)
    for cell, (low, high) in attack(tables).items():
        assert not recovered(low, high), f"{cell} is pinned to {low}..{high}"
    assert [e.action for e in store.audit_log()].count("insight_exported") == 1
    assert all(e.actor == BELEID and e.case_id is None for e in store.audit_log() if e.action == "insight_exported")


def test_the_monthly_summary_is_one_html_file_to_send_on(console) -> None:  # type: ignore[no-untyped-def]
    app, store = console
    client = app.test_client()
    login(client, BELEID)
    month = (PERIOD_START + timedelta(days=14)).strftime("%Y-%m")
    answer = client.get("/console/inzicht/maand", query_string={"maand": month})
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert f'filename="inzicht-{month}.html"' in answer.headers["Content-Disposition"]
    html = answer.get_data(as_text=True)
    assert "<style>" in html and "<svg" in html and 'href="/console' not in html and "<link" not in html
    assert "Maandoverzicht" in html and "Waar aanbod ontbreekt" in html
    tables = page_cells(html)
    assert not naive_recoveries(tables)
    assert not any(recovered(*r) for r in attack(tables).values())
    assert client.get("/console/inzicht/maand", query_string={"maand": "2026-13"}).status_code == 400
    assert "insight_exported" in [e.action for e in store.audit_log()]


def test_an_admin_sees_the_page_too(console) -> None:  # type: ignore[no-untyped-def]
    import pyotp

    app, store = console
    client = app.test_client()
    login(client, ADMIN)
    page = client.get("/console/login/code").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/console/login/code", data={"code": pyotp.TOTP(ADMIN_SECRET).now(), "csrf_token": token})
    assert client.get("/console/inzicht", query_string=QUERY).status_code == 200


def test_month_periods_are_whole_weeks() -> None:
    filters = insight_report.month_filters("2026-11")
    assert filters.start == date(2026, 11, 2) and filters.weeks == 4  # 1 November 2026 is a Sunday
    assert insight_report.month_filters("2026-12").start == date(2026, 11, 30)


def test_the_broker_adds_situation_neighbourhood_and_language_as_fixed_labels_only() -> None:
    from bot.services.insight.events import anonymise

    broker = AnonymousStatsBroker("amqp://nowhere/")
    sender = "wa-0612345678"
    situation = anonymise({"sender_id": sender, **SlotSet("situation", "huiselijk_geweld", timestamp=1.0e9).as_dict()})
    assert situation is not None and situation["value"] == "huiselijk_geweld"
    assert anonymise({"sender_id": sender, **SlotSet("situation", "iets anders", timestamp=1.0e9).as_dict()}) is None
    records = broker.records({"sender_id": sender, **SlotSet("neighbourhood", "noorderwijk", timestamp=1.0e9).as_dict()})
    assert [(r["type"], r["label"], r["value"]) for r in records] == [("label", "neighbourhood", "Noorderwijk")]
    assert len(records[0]["conversation"]) == 16 and records[0]["key"]
    assert broker.records({"sender_id": sender, **SlotSet("neighbourhood", "Kerkstraat 12", timestamp=1.0e9).as_dict()}) == []
    user = {"sender_id": sender, **UserUttered("hoi", {"name": "greet"}, timestamp=1.0e9, input_channel="rest",
                                                metadata={"language": "ar"}).as_dict()}
    labels = [(r["type"], r.get("label"), r.get("value")) for r in broker.records(user)]
    assert labels == [("user", None, None), ("label", "language", "ar")]
    twice = broker.records(user)
    assert [r["key"] for r in twice] == [r["key"] for r in broker.records(user)]  # the same event, the same keys
    assert len({r["key"] for r in twice}) == 2
    dumped = json.dumps(broker.records(user))
    assert sender not in dumped and "hoi" not in dumped


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0010_downgrades_and_upgrades_again(backend: str, tmp_path: Path) -> None:
    import contextlib

    context = (contextlib.nullcontext((f"sqlite:///{tmp_path / 'cases.db'}", None)) if backend == "sqlite"
               else fresh_schema("insight_mig"))
    with context as (url, _schema):
        store = CaseStore.from_url(url)
        InsightSink(store.engine).apply_many(question("2026-11-02", "slapen"))
        store.downgrade("0009")  # 0011 (the catalogue) and 0010 go, the follow-ups of 0009 stay
        tables = set(sa.inspect(store.engine).get_table_names())
        assert not tables & {"insight_daily", "insight_seen", "insight_state"}
        assert store.current_revision() == "0009" and {"cases", "console_users", "followups"} <= tables
        store.migrate()
        assert "insight_daily" in sa.inspect(store.engine).get_table_names()
        assert totals(store.engine) == {}  # the downgrade dropped the counts with the tables
        InsightSink(store.engine).apply_many(question("2026-11-02", "slapen"))
        assert sum(totals(store.engine).values()) == 1


def test_make_run_starts_the_consumer_only_when_a_broker_is_configured(tmp_path: Path) -> None:
    from bot import serve

    def names(**overrides: str) -> Dict[str, Any]:
        env = serve.runtime_env({"EVENT_BROKER_URL": "", **overrides})
        return {s.name: s for s in serve.services(tmp_path / "m.tar.gz", env, "token")}

    assert "insight" not in names()
    assert names()["rasa"] and serve.runtime_env({})["INSIGHT_IN_PROCESS"] == "1"
    insight = names(EVENT_BROKER_URL=AMQP, INSIGHT_PORT="5099")["insight"]
    assert insight.argv[1:] == ["-m", "bot.services.insight.consume", "--port", "5099"]
    assert insight.health_url == "http://127.0.0.1:5099/health"


@pytest.mark.parametrize("seed_number", [1, 2, 3])
def test_random_months_never_give_a_small_count_away(seed_number: int, tmp_path: Path) -> None:
    """Months of random questions: whatever the numbers, the export hides every count under 5 and
    no hidden count of 1 to 4 can be worked out."""
    import random

    from bot import vocabulary

    rnd = random.Random(seed_number)
    sink = InsightSink.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    records = []
    for _ in range(rnd.randrange(20, 150)):
        records += question(_day(rnd.randrange(28)), rnd.choice(vocabulary.TOPICS[:8]), phase=rnd.choice(vocabulary.PHASES),
                            level=rnd.choice("ABCD"), severity=rnd.choice(["normaal", "aandacht"]),
                            hood=rnd.choice(["Noorderwijk", "Binnenstad", "De Akkers", None]),
                            local=rnd.random() < 0.4, handoff=rnd.random() < 0.1)
    sink.apply_many(records)
    report = insight_report.build_report(sink.engine, insight_report.Filters(PERIOD_START, 4), load_catalogue())
    tables = csv_cells(insight_report.to_csv(report))
    assert not naive_recoveries(tables)
    ranges = attack(tables)
    assert ranges
    for cell, (low, high) in ranges.items():
        assert not recovered(low, high), f"{cell} is pinned to {low}..{high}"
    for table in report.tables:
        for cell in table.cells():
            if 0 < report.values.get(cell, 0) < 5:
                assert report.shown(cell) == SUPPRESSED

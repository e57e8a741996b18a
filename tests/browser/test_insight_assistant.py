"""Insight (issue 18) with the real assistant: events of real conversations reach the aggregates
exactly once through RabbitMQ, also when the consumer crashes and restarts, and without a broker
in the Rasa process itself. With the demo data, a real Chromium shows the page (axe-core, and a
screenshot in reports/)."""
from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
import sqlalchemy as sa

from bot import serve
from bot.services.cases import CaseStore
from bot.services.cases.schema import insight_daily
from bot.services.console.app import create_app
from tools import demo_data as demo
from bot.services.insight import report as insight_report
from bot.services.insight.sink import InsightSink
from tests.support import log_scan
from tests.support.console_client import log_in, serving
from tests.support.assistant import MODEL, Assistant, new_sender
from tests.support.paths import ROOT
from tests.support.pg_schema import fresh_schema
from tests.support.rabbitmq import AMQP, delete_queue_and_exchange, needs_rabbit
from tests.support.insight_helpers import BELEID, PASSWORD, PASSWORD_HASH, ConsumerProcess, queue_depth, totals
from tests.support.web_fixture import free_port
from tests.support.accessibility import CHROMIUM, CHROMIUM_ARGS as ARGS

CONCERNS = ["mijn dochter van 2 slaapt heel slecht", "mijn zoon van 15 is heel opstandig en praat niet meer met mij",
            "onze zoon van 3 heeft elke dag driftbuien in de winkel"]


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _cells(engine: sa.engine.Engine) -> Dict[tuple, int]:
    """{(topic, phase, severity, support_level, situation): count} of today."""
    t = insight_daily
    with engine.connect() as connection:
        rows = connection.execute(sa.select(t.c.topic, t.c.phase, t.c.severity, t.c.support_level, t.c.situation,
                                            t.c.questions).where(t.c.day == _today())).all()
    found: Dict[tuple, int] = {}
    for *labels, count in rows:
        found[tuple(labels)] = found.get(tuple(labels), 0) + count
    return found


def _expected(assistant: Assistant, senders: List[str]) -> Dict[tuple, int]:
    """What the aggregates must hold: each conversation's question, with the labels its tracker has."""
    found: Dict[tuple, int] = {}
    for sender in senders:
        slots = assistant.slots(sender)
        cell = (slots["topic"], slots["phase"] or "", slots["severity"], slots["support_level"], "")
        assert slots["topic"] and slots["support_level"], slots
        found[cell] = found.get(cell, 0) + 1
    return found


@pytest.fixture(scope="module")
def brokered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """A Rasa server and action server whose statistics go to a fresh RabbitMQ queue, and a fresh
    PostgreSQL schema for the aggregates."""
    if not MODEL.is_file():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (make test does this first).")
    tmp = tmp_path_factory.mktemp("insight-broker")
    queue, exchange = f"opv_insight_{uuid.uuid4().hex[:8]}", f"opv-insight-{uuid.uuid4().hex[:8]}"
    token = secrets.token_urlsafe(16)
    action_port = str(free_port())
    with fresh_schema("insight_e2e") as (pg_url, _schema):
        env = serve.runtime_env({
            "RASA_PORT": str(free_port()), "ACTION_PORT": action_port,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
            "TRACKER_STORE_URL": f"sqlite:///{tmp / 'trackers.db'}", "RASA_AUTH_TOKEN": token,
            "LOCK_STORE_TYPE": "in_memory", "CASE_STORE_URL": f"sqlite:///{tmp / 'cases.db'}",
            "EVENT_BROKER_URL": AMQP, "EVENT_BROKER_QUEUE": queue, "EVENT_BROKER_EXCHANGE": exchange,
            "STATS_HASH_KEY": secrets.token_hex(32),
        })
        serve.prepare(env)
        services = [s for s in serve.services(MODEL, env, token) if s.name in ("rasa", "actions")]
        supervisor = serve.Supervisor(services, env, log_dir=tmp / "logs")
        supervisor.start()
        try:
            supervisor.wait_ready(timeout=400)
            yield {"assistant": Assistant(f"http://127.0.0.1:{env['RASA_PORT']}", token, tmp / "logs", env),
                   "pg": pg_url, "queue": queue, "exchange": exchange, "tmp": tmp}
        finally:
            supervisor.stop()
            asyncio.run(delete_queue_and_exchange(queue, exchange))


def _wait_empty(queue: str, consumer: ConsumerProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(queue_depth(queue)) == 0 and consumer.health().get("status") == "ok":
            time.sleep(0.5)  # the last batch: committed before it is acknowledged
            if asyncio.run(queue_depth(queue)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError("the queue was not emptied")


@needs_rabbit
def test_real_conversations_reach_the_aggregates_exactly_once_across_a_crash(brokered) -> None:  # type: ignore[no-untyped-def]
    assistant: Assistant = brokered["assistant"]
    pg, queue, exchange, log = brokered["pg"], brokered["queue"], brokered["exchange"], brokered["tmp"] / "consumer.log"
    InsightSink.from_url(pg)
    # a consumer that crashes after its first commit, before acknowledging it
    crashing = ConsumerProcess(pg, queue, exchange, log, INSIGHT_EXIT_AFTER="1")
    senders, offered = [], []
    for text in CONCERNS[:2]:
        sender = new_sender()
        replies = assistant.say(sender, text)
        offered.append(any(b.get("payload") == "/support_nearby" for r in replies for b in r.get("buttons") or []))
        senders.append(sender)
    assert crashing.process.wait(timeout=120) == 3
    crashing.log.close()
    # a parent in a crisis while no consumer runs: the records wait in the queue
    crisis = new_sender()
    assistant.say(crisis, "mijn zoon van 15 heeft een afscheidsbrief geschreven")
    first = ConsumerProcess(pg, queue, exchange, log)
    sender = new_sender()
    assistant.say(sender, CONCERNS[2])
    senders.append(sender)
    _wait_empty(queue, first)
    first.stop(signal.SIGKILL)  # killed hard: nothing may be lost or counted twice
    # the first conversation goes on: help nearby in a neighbourhood moves its question, once
    if offered[0]:
        assistant.say(senders[0], "/support_nearby")
        assistant.say(senders[0], "ik woon in noorderwijk")
    second = ConsumerProcess(pg, queue, exchange, log)
    _wait_empty(queue, second)
    assert second.stop() == 0
    engine = InsightSink.from_url(pg).engine
    expected = _expected(assistant, senders)
    expected[("", assistant.slots(crisis)["phase"] or "", "crisis", "D", assistant.slots(crisis)["situation"])] = 1
    assert _cells(engine) == expected
    if offered[0]:
        t = insight_daily
        with engine.connect() as connection:
            local = connection.execute(sa.select(t.c.neighbourhood, t.c.local_support, t.c.questions).where(
                t.c.topic == assistant.slots(senders[0])["topic"])).all()
        assert ("Noorderwijk", True, 1) in [tuple(r) for r in local], local
    assert sum(totals(engine).values()) == 4


def test_without_a_broker_the_real_assistant_counts_in_its_own_process(assistant) -> None:  # type: ignore[no-untyped-def]
    if assistant.env.get("EVENT_BROKER_URL"):
        pytest.skip("this session's assistant sends its statistics to a broker")
    assert assistant.env["INSIGHT_IN_PROCESS"] == "1"
    engine = CaseStore.from_url(assistant.env["CASE_STORE_URL"]).engine
    before = _cells(engine)
    senders = []
    for text in CONCERNS[:2]:
        sender = new_sender()
        assistant.say(sender, text)
        senders.append(sender)
    expected = dict(before)
    for cell, count in _expected(assistant, senders).items():
        expected[cell] = expected.get(cell, 0) + count
    deadline = time.monotonic() + 60
    while _cells(engine) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _cells(engine) == expected


# --- the demo data and the page in a real browser ---------------------------------------------------

@pytest.fixture(scope="module")
def demo_console(assistant, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A console whose database holds demo data made with the session's real assistant."""
    tmp = tmp_path_factory.mktemp("insight-demo")
    store = CaseStore.from_url(f"sqlite:///{tmp / 'cases.db'}")
    store.add_user(BELEID, "Bea", PASSWORD_HASH, "beleid")
    period = insight_report.default_filters(_today())
    counted = demo.generate(demo.Assistant(assistant.url, assistant.token), InsightSink(store.engine),
                            period.start, 28, conversations=60, seed=18)
    assert counted > 300
    app = create_app({"CASE_STORE": store, "RASA_URL": "http://127.0.0.1:9", "RASA_AUTH_TOKEN": "x",
                      "SECRET_KEY": "browser-test"})
    with serving(app) as base:
        yield base, store, period


def test_the_demo_month_comes_from_real_conversations(demo_console) -> None:  # type: ignore[no-untyped-def]
    _base, store, period = demo_console
    filters = insight_report.Filters(period.start, period.weeks)
    values = insight_report.count(insight_report.load_rows(store.engine, filters), filters)
    total = values[insight_report.key("q")]
    assert 40 <= total <= 80  # about one question per scripted parent (60, a few in a crisis)
    weeks = [values.get(insight_report.key("q", week=w.isoformat()), 0) for w in filters.week_starts()]
    assert all(weeks) and sum(weeks) == total  # spread over the month
    hoods = {dict(k).get("neighbourhood") for k in values if "neighbourhood" in dict(k)}
    assert {"Noorderwijk", "De Akkers", "Binnenstad"} <= hoods


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install -y chromium)")
def test_the_insight_page_in_a_real_browser_with_the_demo_data(demo_console) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    from tests.support.accessibility import axe_violations

    base, _store, period = demo_console
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900},
                                          bypass_csp=True)  # only so that axe can be injected
            page = context.new_page()
            log_in(page, base, BELEID, PASSWORD)
            expect(page.get_by_role("heading", level=1)).to_contain_text("Inzicht voor de gemeente")
            expect(page).to_have_url(f"{base}/console/inzicht")
            assert page.locator("svg.chart").count() >= 7
            assert page.locator("table.insight-table").count() >= 8
            expect(page.get_by_role("img", name="Grafiek: vragen per week")).to_be_visible()
            assert axe_violations(page) == []
            page.get_by_label("Wijk", exact=True).select_option("Noorderwijk")
            page.get_by_role("button", name="Toon").click()
            expect(page).to_have_url(f"{base}/console/inzicht?van={period.start.isoformat()}&weken=4&kanaal=&wijk=Noorderwijk")
            assert axe_violations(page) == []
            page.goto(f"{base}/console/inzicht")
            (ROOT / "reports").mkdir(exist_ok=True)
            shot = ROOT / "reports" / f"insight-{_today().isoformat()}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()

"""Retention (issue 14): `python -m bot.services.purge` deletes exactly the conversations with no activity for
the retention period (tracker store) and the expired cases (case store), on SQLite and PostgreSQL,
with an injected clock; it logs counts only; `make run` runs it beside the servers, Kubernetes as a
CronJob."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import serve
from bot.rasa.tracker_store import ResilientSQLTrackerStore
from bot.services import purge as purge_module
from bot.services.cases import CaseStore, retention_days
from tests.support.pg_schema import store_urls
from tests.support.paths import ROOT

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DAYS = 30


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dict[str, str]]:
    """The tracker store's and the case store's URL, on one backend."""
    with store_urls(request.param, tmp_path, "purge_test") as found:
        yield found


def ago(**delta: float) -> float:
    return (NOW - timedelta(**delta)).timestamp()


async def store_turns(store: ResilientSQLTrackerStore, sender: str, times: List[float]) -> None:
    """One turn per time, stored as Rasa stores them (the events carry those timestamps)."""
    for when in times:
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, store.domain.slots)
        tracker.update(UserUttered("mijn zoon slaapt slecht", {"name": "topic_slapen", "confidence": 1.0},
                                   timestamp=when))
        tracker.update(ActionExecuted("action_respond", timestamp=when + 0.1))
        tracker.update(BotUttered("Hoe oud is hij?", timestamp=when + 0.2))
        tracker.update(ActionExecuted("action_listen", timestamp=when + 0.3))
        await store.save(tracker)


CONVERSATIONS = {
    # sender: the times of its turns
    "stil-sinds-31-dagen": [ago(days=45), ago(days=31)],
    "stil-sinds-een-jaar": [ago(days=365)],
    "net-binnen-de-termijn": [ago(days=DAYS, seconds=-60)],  # 29 days 23:59 ago
    "gisteren": [ago(days=1)],
    "oud-maar-teruggekomen": [ago(days=90), ago(hours=2)],
}
EXPIRED = {"stil-sinds-31-dagen", "stil-sinds-een-jaar"}


def rows_by_sender(engine: sa.engine.Engine) -> Dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all())


@pytest.fixture
def filled(urls: Dict[str, str], domain: Domain) -> Iterator[Dict[str, Any]]:
    store = ResilientSQLTrackerStore(domain=domain, host=urls["trackers"], retry_seconds=0)
    # the Rasa server's store may hold another table in the database: untouched
    for sender, times in CONVERSATIONS.items():
        asyncio.run(store_turns(store, sender, times))
    cases = CaseStore.from_url(urls["cases"])
    created = {
        "open-31": cases.create_case(conversation_id="stil-sinds-31-dagen", severity="aandacht", now=NOW - timedelta(days=31)),
        "closed-long-ago": cases.create_case(conversation_id="x", severity="normaal", now=NOW - timedelta(days=60)),
        "open-10": cases.create_case(conversation_id="gisteren", severity="aandacht", now=NOW - timedelta(days=10)),
    }
    user = cases.add_user("sanne@voorbeeldstad.example", "Sanne", "hash")
    cases.close(created["closed-long-ago"].id, user, now=NOW - timedelta(days=40))
    try:
        yield {"store": store, "cases": cases, "created": created, "urls": urls}
    finally:
        store.engine.dispose()
        cases.engine.dispose()


def test_the_purge_deletes_exactly_what_is_past_retention(filled) -> None:  # type: ignore[no-untyped-def]
    before = rows_by_sender(filled["store"].engine)
    assert set(before) == set(CONVERSATIONS)

    result = purge_module.purge(now=NOW, days=DAYS, tracker_url=filled["urls"]["trackers"], case_store=filled["cases"])

    after = rows_by_sender(filled["store"].engine)
    assert set(after) == set(CONVERSATIONS) - EXPIRED
    assert all(after[sender] == before[sender] for sender in after)  # the kept ones keep every row
    assert (result.days, result.conversations, result.events) == (DAYS, 2, sum(before[s] for s in EXPIRED))
    created = filled["created"]
    remaining = {case.id for case in filled["cases"].list_cases(statuses=("open", "claimed", "closed"))}
    assert remaining == {created["open-10"].id} and result.cases == 2


def test_a_second_purge_and_a_later_clock(filled) -> None:  # type: ignore[no-untyped-def]
    run = dict(tracker_url=filled["urls"]["trackers"], case_store=filled["cases"])
    purge_module.purge(now=NOW, days=DAYS, **run)
    again = purge_module.purge(now=NOW, days=DAYS, **run)
    assert (again.conversations, again.events, again.cases) == (0, 0, 0)
    # a day later, the conversation that was just within the period has expired too
    later = purge_module.purge(now=NOW + timedelta(days=1), days=DAYS, **run)
    assert later.conversations == 1
    assert set(rows_by_sender(filled["store"].engine)) == {"gisteren", "oud-maar-teruggekomen"}


def test_a_conversation_read_by_rasa_after_the_purge_starts_afresh(filled, domain) -> None:  # type: ignore[no-untyped-def]
    purge_module.purge(now=NOW, days=DAYS, tracker_url=filled["urls"]["trackers"], case_store=filled["cases"])
    assert asyncio.run(filled["store"].retrieve("stil-sinds-een-jaar")) is None
    kept = asyncio.run(filled["store"].retrieve("gisteren"))
    assert kept is not None and [e.text for e in kept.events if isinstance(e, UserUttered)]


def test_the_retention_period_is_the_catalogues(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CASE_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("OPVOED_CATALOGUE", raising=False)
    catalogue = yaml.safe_load((ROOT / "catalogue" / "voorbeeldstad.yml").read_text(encoding="utf-8"))
    assert retention_days() == catalogue["municipality"]["retention_days"] == 30


def test_nothing_to_purge_on_a_fresh_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    result = purge_module.purge(now=NOW, days=DAYS, tracker_url=f"sqlite:///{tmp_path / 'none.db'}", case_store=cases)
    assert (result.conversations, result.events, result.cases) == (0, 0, 0)


def test_the_command_logs_counts_only(filled, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_STORE_URL", filled["urls"]["trackers"])
    monkeypatch.setenv("CASE_STORE_URL", filled["urls"]["cases"])
    monkeypatch.setenv("CASE_RETENTION_DAYS", str(DAYS))
    with caplog.at_level("INFO"):
        assert purge_module.main(["--now", NOW.isoformat()]) == 0
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "deleted 2 conversation(s)" in ours and "2 case(s)" in ours
    for sender in CONVERSATIONS:
        assert sender not in caplog.text
    for case in filled["created"].values():
        assert case.id not in caplog.text
    assert set(rows_by_sender(filled["store"].engine)) == set(CONVERSATIONS) - EXPIRED


def test_python_m_bot_purge_runs_on_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 't.db'}",
           "CASE_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    done = subprocess.run([sys.executable, "-m", "bot.services.purge"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "deleted 0 conversation(s)" in done.stderr


def test_a_failing_purge_exits_non_zero_and_names_only_the_error_type(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TRACKER_STORE_URL": "postgresql://nobody@127.0.0.1:1/geheim-ouder-123",
           "CASE_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    done = subprocess.run([sys.executable, "-m", "bot.services.purge"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "retention purge failed (OperationalError)" in done.stderr
    assert "geheim-ouder-123" not in done.stderr


# --- scheduling ------------------------------------------------------------------------------

def test_make_run_runs_the_purge_at_start_and_then_periodically(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marks = tmp_path / "runs"
    loop = serve.PurgeLoop({**os.environ}, interval=0.3,
                           command=[sys.executable, "-c", f"open({str(marks)!r}, 'a').write('x')"])
    assert loop.command != serve.PurgeLoop({}).command and serve.PurgeLoop({}).command[-2:] == ["-m", "bot.services.purge"]
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while loop.runs < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert loop.runs >= 3 and marks.read_text().count("x") == loop.runs
    runs = loop.runs
    time.sleep(0.6)
    assert loop.runs == runs  # stopped


def test_serve_main_starts_the_purge_loop() -> None:
    source = (ROOT / "bot" / "serve.py").read_text(encoding="utf-8")
    main = source.split("def main(", 1)[1]
    assert "PurgeLoop(env).start()" in main and main.count("purge.stop()") == 2
    assert serve.PURGE_INTERVAL_SECONDS == 3600


def test_make_purge_and_the_kubernetes_cronjob() -> None:
    dry = subprocess.run(["make", "-n", "purge"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0 and "-m bot.services.purge" in dry.stdout
    k8s = ROOT / "deploy" / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text(encoding="utf-8"))
    docs = [d for name in kustomization["resources"]
            for d in yaml.safe_load_all((k8s / name).read_text(encoding="utf-8")) if d]
    jobs = [d for d in docs if d["kind"] == "CronJob"]
    assert len(jobs) == 1
    job = jobs[0]["spec"]
    assert job["concurrencyPolicy"] == "Forbid" and len(job["schedule"].split()) == 5
    container = job["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "bot.services.purge"] and container["image"] == "opvoedmaatje"
    assert [next(iter(r.values()))["name"] for r in container["envFrom"]] == ["opvoedmaatje-config"]
    secrets = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert secrets == {"TRACKER_STORE_URL", "CASE_STORE_URL"}  # the stores it purges, nothing else
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["services"]["purge"]["command"][:3] == ["python", "-m", "bot.services.purge"]

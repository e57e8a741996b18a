"""Issue 19, the follow-ups without Rasa: the store (SQLite and PostgreSQL), claiming by two
workers at once, the worker with an injected clock, "stop", erasure, the retention purge, and
the WhatsApp follow-up template through the Graph API stand-in (tests/support/graph_standin.py)."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, List

import pytest
import sqlalchemy as sa

from bot.domain import wellbeing
from bot.rasa.channels import whatsapp as wa
from bot.services.cases import CaseStore
from bot.services.console.rasa_client import RasaUnavailable
from bot.services.erasure import CaseEraser
from bot.services.followups import FollowUpStore
from bot.services.followups.store import CLAIMED, MAX_TRIES, SCHEDULED
from bot.services.followups.worker import FOLLOWUP_KEY, Worker, followup_events
from bot.services.pseudonym import NumberBook
from tests.support.graph_standin import GraphStandIn
from tests.support.pg_schema import fresh_schema

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
NUMBER = "31699988877"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FollowUpStore]:
    if request.param == "sqlite":
        cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
        yield FollowUpStore.of(cases)
        cases.engine.dispose()
    else:
        with fresh_schema("followups") as (url, _schema):
            cases = CaseStore.from_url(url)
            yield FollowUpStore.of(cases)
            cases.engine.dispose()


def _columns(store: FollowUpStore) -> set:
    return {c["name"] for c in sa.inspect(store.engine).get_columns("followups")}


def test_the_table_holds_only_ids_labels_dates_and_bookkeeping(store: FollowUpStore) -> None:
    assert _columns(store) == {"id", "conversation_id", "channel", "topic", "phase", "severity", "due_at",
                               "status", "attempt", "tries", "created_at", "claimed_at", "sent_at"}


def test_schedule_and_refuse_what_cannot_be_followed_up(store: FollowUpStore) -> None:
    followup = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    assert followup.due_at == T0 + timedelta(weeks=1) and followup.status == SCHEDULED and followup.weeks == 1
    assert store.schedule("conv-b", "whatsapp", "eten", None, "aandacht", 2, now=T0).weeks == 2
    for bad in (dict(channel="twilio"), dict(channel="email"), dict(weeks=3), dict(severity="crisis")):
        args = {"channel": "rest", "weeks": 1, "severity": "normaal", **bad}
        with pytest.raises(ValueError):
            store.schedule("conv-c", args["channel"], "slapen", None, args["severity"], args["weeks"], now=T0)
    assert store.for_conversation("conv-c") == []


def test_a_new_follow_up_replaces_the_scheduled_one(store: FollowUpStore) -> None:
    first = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    second = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 2, now=T0)
    statuses = {f.id: f.status for f in store.for_conversation("conv-a")}
    assert statuses == {first.id: "cancelled", second.id: SCHEDULED}


def test_nothing_is_claimed_before_it_is_due_and_a_claim_is_made_once(store: FollowUpStore) -> None:
    followup = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    assert store.claim_due(T0 + timedelta(days=6)) == []
    claimed = store.claim_due(T0 + timedelta(days=7, minutes=1))
    assert [f.id for f in claimed] == [followup.id] and claimed[0].status == CLAIMED and claimed[0].tries == 1
    assert store.claim_due(T0 + timedelta(days=7, minutes=2)) == []
    assert store.mark_sent(followup.id, T0 + timedelta(days=7, minutes=2))
    assert store.last_sent("conv-a").id == followup.id


def test_two_workers_claiming_at_the_same_time_share_the_due_follow_ups(store: FollowUpStore) -> None:
    ids = {store.schedule(f"conv-{i}", "rest", "slapen", "0-2", "normaal", 1, now=T0).id for i in range(40)}
    later = T0 + timedelta(days=8)
    got: List[List[str]] = [[], []]
    start = threading.Barrier(2)

    def work(index: int) -> None:
        start.wait()
        while True:
            claimed = store.claim_due(later, limit=3)
            if not claimed:
                return
            got[index] += [f.id for f in claimed]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(got[0] + got[1]) == sorted(ids), "every follow-up claimed exactly once"
    assert not set(got[0]) & set(got[1])


def test_a_stale_claim_is_taken_again_and_gives_up_after_max_tries(store: FollowUpStore) -> None:
    followup = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    at = T0 + timedelta(days=8)
    for attempt in range(1, MAX_TRIES + 1):
        claimed = store.claim_due(at, lease=timedelta(minutes=10))
        assert [f.tries for f in claimed] == [attempt]
        assert store.claim_due(at + timedelta(minutes=5), lease=timedelta(minutes=10)) == []  # still held
        at += timedelta(minutes=11)  # the worker died: the claim goes stale
    assert store.claim_due(at) == []
    store.release(followup.id)
    assert store.get(followup.id).status == "failed"


def test_stop_cancels_what_was_not_sent_and_erasure_deletes_everything(store: FollowUpStore) -> None:
    sent = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    store.claim_due(T0 + timedelta(days=8))
    store.mark_sent(sent.id)
    store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0 + timedelta(days=8), attempt=2)
    other = store.schedule("conv-b", "rest", "eten", "2-4", "normaal", 1, now=T0)
    assert store.pending("conv-a")
    assert store.cancel("conv-a") == 1 and not store.pending("conv-a")
    assert store.claim_due(T0 + timedelta(days=30)) == [store.get(other.id)]
    eraser = CaseEraser(CaseStore(store.engine))
    eraser.erase("conv-a")
    assert store.for_conversation("conv-a") == [] and store.get(other.id) is not None


def test_the_retention_purge_deletes_follow_ups_past_the_period(store: FollowUpStore) -> None:
    from bot.services.purge import purge

    old = store.schedule("conv-old", "rest", "slapen", "0-2", "normaal", 1, now=T0 - timedelta(days=120))
    new = store.schedule("conv-new", "rest", "slapen", "0-2", "normaal", 2, now=T0)
    tracker = f"sqlite:///{Path(str(store.engine.url.database or '/tmp/x')).parent / 'no-trackers.db'}" \
        if store.engine.dialect.name == "sqlite" else str(store.engine.url.render_as_string(hide_password=False))
    purge(now=T0, days=90, tracker_url=tracker, case_store=CaseStore(store.engine), environ={})
    assert store.get(old.id) is None and store.get(new.id) is not None


# ---------------------------------------------------------------- the worker


class Recorder:
    """A delivery that records what it was given; fails while `down` is set."""

    def __init__(self) -> None:
        self.delivered: List[str] = []
        self.down = False
        self._lock = threading.Lock()

    def __call__(self, followup: Any) -> None:
        if self.down:
            raise RasaUnavailable("ConnectionError")
        with self._lock:
            self.delivered.append(followup.id)


def test_the_worker_sends_what_is_due_by_its_clock_once(store: FollowUpStore) -> None:
    first = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    second = store.schedule("conv-b", "socketio", "eten", "2-4", "normaal", 2, now=T0)
    now = [T0 + timedelta(days=8)]
    recorder = Recorder()
    worker = Worker(store, recorder, clock=lambda: now[0])
    assert worker.run_once() == 1 and recorder.delivered == [first.id]
    assert worker.run_once() == 0
    now[0] = T0 + timedelta(days=15)
    assert worker.run_once() == 1 and recorder.delivered == [first.id, second.id]
    assert {f.status for f in (store.get(first.id), store.get(second.id))} == {"sent"}


def test_when_delivery_fails_the_follow_up_waits_for_the_next_round(store: FollowUpStore) -> None:
    followup = store.schedule("conv-a", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    recorder = Recorder()
    recorder.down = True
    worker = Worker(store, recorder, clock=lambda: T0 + timedelta(days=8))
    assert worker.run_once() == 0 and store.get(followup.id).status == SCHEDULED
    recorder.down = False
    assert worker.run_once() == 1 and recorder.delivered == [followup.id]


def test_two_workers_in_parallel_deliver_each_follow_up_once(store: FollowUpStore) -> None:
    ids = {store.schedule(f"conv-{i}", "rest", "huilen", "0-2", "normaal", 1, now=T0).id for i in range(30)}
    recorder = Recorder()
    workers = [Worker(store, recorder, clock=lambda: T0 + timedelta(days=8), batch=4) for _ in range(2)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(recorder.delivered) == sorted(ids)


def test_the_follow_up_events_set_the_slots_and_carry_the_buttons_and_template_data(store: FollowUpStore) -> None:
    followup = store.schedule("conv-a", "whatsapp", "slapen", "0-2", "normaal", 1, now=T0)
    events = followup_events(followup)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == {"topic": "slapen", "phase": "0-2", "severity": "normaal", "followup_id": followup.id,
                     "followup_pending": True}
    bot = events[-1]
    assert bot["event"] == "bot" and bot["text"].startswith("Je vroeg een week geleden over slapen.")
    assert [b["payload"] for b in bot["data"]["buttons"]] == ["/followup_better", "/followup_same", "/followup_worse"]
    assert bot["metadata"][FOLLOWUP_KEY]["parameters"] == ["een week", "slapen"]


# ---------------------------------------------------------------- WhatsApp: the template outside the window


def _output(graph: GraphStandIn, now: float, **config: Any) -> wa.WhatsAppOutput:
    cfg = wa.WhatsAppConfig(app_secret="unit-app-secret", verify_token="unit-verify", access_token="unit-token",
                            phone_number_id="100200300400", api_base=graph.base_url, **config)
    state = wa.ChannelState(config=cfg, book=NumberBook(ttl=30 * 24 * 3600, clock=lambda: now),
                            client=wa.GraphClient(cfg, attempts=1), clock=lambda: now)
    return wa.WhatsAppOutput(state)


def _send_followup(out: wa.WhatsAppOutput, who: str) -> None:
    followup_like = type("F", (), {"id": "x", "topic": "slapen", "phase": "0-2", "severity": "normaal", "weeks": 1})
    bot = followup_events(followup_like)[-1]  # type: ignore[arg-type]

    async def scenario() -> None:
        await out.send_text_with_buttons(who, bot["text"], bot["data"]["buttons"], **bot["metadata"])
        await out.state.client.close()
    asyncio.run(scenario())


@pytest.fixture()
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn("unit-token", "100200300400") as standin:
        yield standin


def test_outside_the_window_the_follow_up_goes_out_as_its_registered_template(graph: GraphStandIn) -> None:
    now = time.time()
    graph.register_template("opvoedmaatje_vervolgvraag", "nl", body_parameters=2, quick_replies=3)
    graph.parent_wrote(NUMBER, now - 8 * 24 * 3600)
    out = _output(graph, now)
    out.state.book.remember("wa-parent", NUMBER, last_inbound=now - 8 * 24 * 3600)
    _send_followup(out, "wa-parent")
    assert graph.rejected == []
    assert [m["type"] for m in graph.to(NUMBER)] == ["template"]
    template = graph.to(NUMBER)[0]["template"]
    assert template["name"] == "opvoedmaatje_vervolgvraag" and template["language"] == {"code": "nl"}
    body = [c for c in template["components"] if c["type"] == "body"][0]
    assert [p["text"] for p in body["parameters"]] == ["een week", "slapen"]
    buttons = [c for c in template["components"] if c["type"] == "button"]
    assert [(b["index"], b["parameters"][0]["payload"]) for b in buttons] == [
        ("0", "/followup_better"), ("1", "/followup_same"), ("2", "/followup_worse")]


def test_the_template_name_and_language_are_settings(graph: GraphStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_FOLLOWUP_TEMPLATE", "gemeente_vervolg")
    monkeypatch.setenv("WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE", "nl_BE")
    config = wa.WhatsAppConfig.from_env({})
    assert (config.followup_template, config.followup_template_language) == ("gemeente_vervolg", "nl_BE")
    now = time.time()
    graph.register_template("opvoedmaatje_vervolgvraag", "nl", 2, 3)  # Meta knows only this one
    out = _output(graph, now, followup_template="gemeente_vervolg", followup_template_language="nl_BE")
    out.state.book.remember("wa-parent", NUMBER, last_inbound=now - 3 * 24 * 3600)
    _send_followup(out, "wa-parent")
    assert graph.sent == [] and "132001" in graph.rejected[0]["problems"][0], "refused as Meta would"


def test_inside_the_window_the_follow_up_is_an_ordinary_interactive_message(graph: GraphStandIn) -> None:
    now = time.time()
    graph.parent_wrote(NUMBER, now - 3600)
    out = _output(graph, now)
    out.state.book.remember("wa-parent", NUMBER, last_inbound=now - 3600)
    _send_followup(out, "wa-parent")
    sent = graph.to(NUMBER)
    assert [m["type"] for m in sent] == ["interactive"] and graph.rejected == []
    assert [b["reply"]["id"] for b in sent[0]["interactive"]["action"]["buttons"]] == [
        "/followup_better", "/followup_same", "/followup_worse"]


def test_the_standin_checks_template_components_as_meta_does(graph: GraphStandIn) -> None:
    out = _output(graph, time.time())
    bad = wa.template_body("t", "nl", ["twee\nregels"], [])

    async def scenario() -> None:
        await out.state.client.send(NUMBER, bad)
        await out.state.client.send(NUMBER, {"type": "template", "template": {
            "name": "t", "language": {"code": "nl"},
            "components": [{"type": "button", "sub_type": "quick_reply", "index": "x", "parameters": []}]}})
        await out.state.client.close()
    asyncio.run(scenario())
    assert graph.sent == [] and len(graph.rejected) == 2
    assert wellbeing.followup_template_parameters("slapen", 1) == ["een week", "slapen"]


def test_a_web_follow_up_waits_for_the_parent_until_answered(tmp_path: Path) -> None:
    from bot.services.followups.pending import FOLLOWUP_MARK, PendingFollowUps

    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    store = FollowUpStore.of(cases)
    pending = PendingFollowUps(cases)
    web = store.schedule("web-conv", "socketio", "driftbuien", "2-4", "normaal", 2, now=T0)
    rest = store.schedule("rest-conv", "rest", "slapen", "0-2", "normaal", 1, now=T0)
    assert pending.message_for("web-conv") is None, "not sent yet"
    for followup in store.claim_due(T0 + timedelta(days=15)):
        store.mark_sent(followup.id)
    message = pending.message_for("web-conv")
    assert message[FOLLOWUP_MARK] == web.id
    assert message["text"].startswith("Je vroeg twee weken geleden over driftbuien.")
    assert [q["payload"] for q in message["quick_replies"]] == ["/followup_better", "/followup_same", "/followup_worse"]
    assert pending.message_for("rest-conv") is None and rest.channel == "rest"
    store.answered(web.id)
    assert pending.message_for("web-conv") is None
    assert asyncio.run(PendingFollowUps(url="sqlite:////nonexistent/dir/x.db").waiting("web-conv")) is None

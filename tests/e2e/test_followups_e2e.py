"""Issue 19 end to end: the real Rasa and action servers with the trained model, the case store on
PostgreSQL, and the follow-up worker as its own process (``python -m bot.services.followups --once --now``,
the injectable clock), twice at the same time. WhatsApp goes to the Graph API stand-in
(tests/support/graph_standin.py), with the follow-up template registered as a municipality registers it.

- a REST conversation: the wellbeing question once, "Goed", the offer, "1 week"; the follow-up
  becomes due and two workers deliver it (and ten others) exactly once
- "stop" cancels a follow-up: nothing is sent when it would have been due
- two "Hetzelfde" answers re-triage to ``aandacht`` and offer a person
- WhatsApp, the parent's last message more than 24 hours old: the follow-up goes out as the
  template, with its parameters and quick-reply payloads; tapping "Beter" is answered
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.services.cases import CaseStore
from bot.services.followups import FollowUpStore
from bot.services.pseudonym import Pseudonymizer
from tests.support import log_scan
from tests.support.assistant import Assistant, new_sender, start_assistant, texts
from tests.support.graph_standin import GraphStandIn
from tests.support.pg_schema import fresh_schema
from tests.support.paths import ROOT
from tests.support.web_fixture import CHANNEL_ENV, free_port
from tests.support.whatsapp import sign, webhook

PHONE_ID = CHANNEL_ENV["WHATSAPP_PHONE_NUMBER_ID"]
FOLLOWUP_TEMPLATE, TEMPLATE_LANGUAGE = "gemeente_vervolgvraag", "nl"


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(CHANNEL_ENV["WHATSAPP_ACCESS_TOKEN"], PHONE_ID, port=free_port()) as standin:
        standin.register_template("opvoedmaatje_followup", "nl")  # the plain re-engagement template
        standin.register_template(FOLLOWUP_TEMPLATE, TEMPLATE_LANGUAGE, body_parameters=2, quick_replies=3)
        yield standin


@pytest.fixture(scope="module")
def servers(graph: GraphStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """Rasa + action server on the trained model, the case store in a fresh PostgreSQL schema."""
    with fresh_schema("followups_e2e") as (pg_url, _schema):
        yield from start_assistant(
            tmp_path_factory.mktemp("followups"),
            CASE_STORE_URL=pg_url,
            WHATSAPP_API_BASE=graph.base_url,
            # the parent's messages of the WhatsApp test are 26 hours old: accepted, and the number
            # kept long enough for a follow-up (bot/services/pseudonym.py)
            WHATSAPP_MAX_MESSAGE_AGE=str(3 * 24 * 3600),
            WHATSAPP_NUMBER_TTL=str(30 * 24 * 3600),
            WHATSAPP_FOLLOWUP_TEMPLATE=FOLLOWUP_TEMPLATE,
            WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE=TEMPLATE_LANGUAGE,
        )


@pytest.fixture(scope="module")
def followups(servers: Assistant) -> Iterator[FollowUpStore]:
    cases = CaseStore.from_url(servers.env["CASE_STORE_URL"])
    yield FollowUpStore.of(cases)
    cases.engine.dispose()


def run_workers(servers: Assistant, days: float, count: int = 1) -> None:
    """`count` workers at the same time, their clock `days` ahead; each does one round."""
    now = (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()
    env = {**servers.env, "RASA_API_URL": servers.url}
    logs = [open(servers.log_dir / f"followups-{uuid.uuid4().hex[:6]}.log", "ab") for _ in range(count)]
    workers = [subprocess.Popen([sys.executable, "-m", "bot.services.followups", "--once", "--now", now], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    for log in logs:
        log.close()


def events(servers: Assistant, sender: str) -> List[Dict[str, Any]]:
    answer = requests.get(f"{servers.url}/conversations/{sender}/tracker", params={"token": servers.token},
                          timeout=30)
    answer.raise_for_status()
    return answer.json()["events"]


def followup_messages(servers: Assistant, sender: str) -> List[Dict[str, Any]]:
    return [e for e in events(servers, sender) if e.get("event") == "bot"
            and "Hoe gaat het nu?" in (e.get("text") or "")]


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def agree(servers: Assistant, sender: str, weeks: str = "/followup_one_week") -> List[Dict[str, Any]]:
    """An 8-year-old's sleep (no wellbeing question): the offer, and the parent agrees."""
    first = servers.say(sender, "mijn zoon van 8 slaapt slecht, hij ligt lang wakker")
    assert "/followup_one_week" in payloads(first), first
    return servers.say(sender, weeks)


def test_rest_wellbeing_once_then_a_follow_up_delivered_once_by_two_workers(
        servers: Assistant, followups: FollowUpStore) -> None:
    sender = new_sender()
    first = servers.say(sender, "mijn dochter van 2 slaapt heel slecht")
    assert "En hoe gaat het met jóu?" in texts(first)
    assert payloads(first)[-3:] == ["/wellbeing_good", "/wellbeing_ok", "/wellbeing_hard"]
    good = servers.say(sender, "/wellbeing_good")
    assert "Zal ik over een week vragen hoe het gaat?" in texts(good)
    agreed = servers.say(sender, "/followup_one_week")
    assert "Over een week vraag ik" in texts(agreed)
    more = servers.say(sender, "ze heeft ook vaak driftbuien")
    assert "hoe gaat het met jóu" not in texts(more).lower(), "the wellbeing question comes once"
    asked = [e for e in events(servers, sender) if e.get("event") == "bot" and "met jóu" in (e.get("text") or "")]
    assert len(asked) == 1

    [scheduled] = followups.for_conversation(sender)
    assert (scheduled.channel, scheduled.topic, scheduled.phase, scheduled.severity) == ("rest", "slapen", "2-4",
                                                                                         "normaal")
    others = [new_sender() for _ in range(10)]
    for other in others:  # more due at once: the two workers really compete
        followups.schedule(other, "rest", "eten", "0-2", "normaal", 1)

    run_workers(servers, days=6, count=2)
    assert followup_messages(servers, sender) == [], "not due yet"
    run_workers(servers, days=8, count=2)
    run_workers(servers, days=9, count=2)  # a later round sends nothing again
    for conversation in [sender] + others:
        delivered = followup_messages(servers, conversation)
        assert len(delivered) == 1, (conversation, len(delivered))
    assert followup_messages(servers, sender)[0]["text"].startswith("Je vroeg een week geleden over slapen.")
    assert {f.status for c in [sender] + others for f in followups.for_conversation(c)} == {"sent"}

    better = servers.say(sender, "/followup_better")
    assert "fijn" in texts(better).lower()
    assert followups.for_conversation(sender)[0].status == "answered"


def test_stop_cancels_the_follow_up(servers: Assistant, followups: FollowUpStore) -> None:
    sender = new_sender()
    assert "Over twee weken" in texts(agree(servers, sender, "/followup_two_weeks"))
    stopped = servers.say(sender, "stop")
    assert "geen vraag meer" in texts(stopped), stopped
    assert [f.status for f in followups.for_conversation(sender)] == ["cancelled"]
    run_workers(servers, days=15)
    assert followup_messages(servers, sender) == []


def test_wis_mijn_gegevens_deletes_the_follow_ups(servers: Assistant, followups: FollowUpStore) -> None:
    sender = new_sender()
    agree(servers, sender)
    assert len(followups.for_conversation(sender)) == 1
    erased = servers.say(sender, "wis mijn gegevens")
    assert "gewist" in texts(erased)
    assert followups.for_conversation(sender) == []


def test_two_times_hetzelfde_is_aandacht_and_a_person_is_offered(servers: Assistant,
                                                                  followups: FollowUpStore) -> None:
    sender = new_sender()
    agree(servers, sender)
    run_workers(servers, days=8)
    assert len(followup_messages(servers, sender)) == 1
    same = servers.say(sender, "/followup_same")
    assert "nog een keer" in texts(same)
    assert servers.slots(sender)["severity"] == "normaal"
    second = [f for f in followups.for_conversation(sender) if f.status == "scheduled"]
    assert [f.attempt for f in second] == [2]

    run_workers(servers, days=16)
    assert len(followup_messages(servers, sender)) == 2
    again = servers.say(sender, "/followup_same")
    slots = servers.slots(sender)
    assert (slots["severity"], slots["support_level"], slots["topic"]) == ("aandacht", "D", "slapen")
    assert "/ask_human" in payloads(again) and "contact met je opneemt" in texts(again)
    assert not followups.pending(sender)
    person = servers.say(sender, "/ask_human")
    assert texts(person).strip(), "the hand-off starts"


def test_a_typed_slash_text_is_no_payload_and_crisis_detection_reads_free_text(servers: Assistant) -> None:
    sender = new_sender()
    servers.say(sender, "mijn dochter van 1 huilt de hele dag")
    forged = servers.say(sender, "/followup_worse")  # never sent to this conversation: ordinary text
    assert "contact met je opneemt" not in texts(forged)
    crisis = servers.say(sender, "het is zo zwaar, ik ben bang dat ik de baby iets aandoe")
    assert servers.slots(sender)["severity"] == "crisis", texts(crisis)
    assert "0800-2000" in texts(crisis)


def _wa_post(servers: Assistant, body: Dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    answer = requests.post(f"{servers.url}/webhooks/whatsapp/webhook", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, CHANNEL_ENV["WHATSAPP_APP_SECRET"])})
    assert answer.status_code == 200


def _wa_message(number: str, at: float, **content: Any) -> Dict[str, Any]:
    return {"from": number, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(at)), **content}


def _wait(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_whatsapp_outside_the_window_the_follow_up_is_the_template(servers: Assistant, graph: GraphStandIn,
                                                                  followups: FollowUpStore) -> None:
    number = "31655544433"
    log_scan.SENDERS.add(number)
    sender = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode()).pseudonym(number, "wa")
    old = time.time() - 26 * 3600  # the parent last wrote 26 hours ago: the window has closed
    graph.parent_wrote(number, old)
    concern = "mijn zoon van 9 wil niet slapen"
    log_scan.remember(sender, concern)
    _wa_post(servers, webhook(_wa_message(number, old, type="text", text={"body": concern}),
                              phone_number_id=PHONE_ID, number=number))
    _wait(lambda: any((e.get("data") or {}).get("buttons") for e in events(servers, sender)
                      if e.get("event") == "bot"))
    tap = {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {
        "id": "/followup_one_week", "title": "Ja, over 1 week"}}}
    _wa_post(servers, webhook(_wa_message(number, old + 60, **tap), phone_number_id=PHONE_ID, number=number))
    [scheduled] = _wait(lambda: followups.for_conversation(sender))
    assert scheduled.channel == "whatsapp" and scheduled.topic == "slapen"
    before = graph.to(number)
    assert before and {(m["type"], m["template"]["name"]) for m in before} == {("template", "opvoedmaatje_followup")}, \
        "only the plain re-engagement template while the window is shut"

    run_workers(servers, days=8)
    sent = graph.to(number)[len(before):]
    assert [m["type"] for m in sent] == ["template"], graph.rejected
    template = sent[0]["template"]
    assert (template["name"], template["language"]["code"]) == (FOLLOWUP_TEMPLATE, TEMPLATE_LANGUAGE)
    body = [c for c in template["components"] if c["type"] == "body"][0]
    assert [p["text"] for p in body["parameters"]] == ["een week", "slapen"]
    assert [c["parameters"][0]["payload"] for c in template["components"] if c["type"] == "button"] == [
        "/followup_better", "/followup_same", "/followup_worse"]
    assert followups.for_conversation(sender)[0].status == "sent"

    graph.parent_wrote(number)  # the parent taps "Beter" on the template: the window opens again
    pressed = {"type": "button", "button": {"payload": "/followup_better", "text": "Beter"}}
    _wa_post(servers, webhook(_wa_message(number, time.time(), **pressed), phone_number_id=PHONE_ID, number=number))
    answer = _wait(lambda: [m for m in graph.to(number) if m["type"] in ("text", "interactive")])
    assert "fijn" in json.dumps(answer).lower()
    assert graph.rejected == []


def test_web_chat_the_follow_up_is_shown_when_the_parent_comes_back(servers: Assistant,
                                                                   followups: FollowUpStore) -> None:
    """socket.io: the parent agrees and leaves; the worker delivers while no page is open; the
    parent comes back with the stored signed session id and sees the follow-up (once per visit,
    until answered)."""
    import asyncio

    from tests.support.socketio_chat import Chat, in_own_loop

    async def scenario() -> None:
        chat = await Chat(servers.url).open()
        log_scan.SENDERS.add(chat.sender)
        concern = "mijn zoon van 10 slaapt slecht"
        log_scan.remember(chat.sender, concern)
        first = await chat.say(concern)
        assert any("Zal ik over een week vragen" in t for t in first), first
        agreed = await chat.say("/followup_one_week")
        assert any("Je ziet de vraag als je de chat weer opent" in t for t in agreed), agreed
        signed, sender = chat.signed, chat.sender
        await chat.close()

        await asyncio.to_thread(run_workers, servers, 8)  # delivered while the page is closed
        assert len(followup_messages(servers, sender)) == 1

        back = await Chat(servers.url).open(presented=signed)
        deadline = time.monotonic() + 20
        while not back.replies and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert back.sender == sender
        assert [r for r in back.replies if r.startswith("Je vroeg een week geleden over slapen.")], back.replies
        answered = await back.say("/followup_better")
        assert any("fijn" in t.lower() for t in answered), answered
        await back.close()

        again = await Chat(servers.url).open(presented=signed)
        await asyncio.sleep(2)
        assert not [r for r in again.replies if "Hoe gaat het nu?" in r], "answered: not shown again"
        await again.close()

    in_own_loop(scenario())

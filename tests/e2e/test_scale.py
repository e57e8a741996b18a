"""make test-scale: 200 concurrent conversations of 10 turns over two Rasa servers that share one
PostgreSQL tracker store and one Redis lock store. Every turn goes to the other server than the
turn before. Afterwards every tracker must be complete: the 10 user messages in the order sent,
each followed by exactly the bot replies its HTTP answer carried; nothing lost, nothing doubled,
nothing reordered; both servers see the same tracker. Skips where PostgreSQL or Redis is missing.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import pytest

from tests.support.cluster import AMQP_URL, Cluster, cluster_fixture

pytestmark = pytest.mark.scale

CONVERSATIONS = int(os.environ.get("SCALE_CONVERSATIONS", "200"))
TURNS = 10
MAX_IN_FLIGHT = int(os.environ.get("SCALE_MAX_IN_FLIGHT", "32"))  # HTTP requests at once
BUDGET_SECONDS = float(os.environ.get("SCALE_BUDGET_SECONDS", "200"))  # the whole load, bounded
REQUEST_TIMEOUT = 60.0

# Ten turns a parent could type; each conversation follows one script.
SCRIPTS: List[List[str]] = [
    ["hallo", "onze zoon van 3 heeft elke dag driftbuien", "heb je nog meer tips voor mij",
     "wij zitten in noorderwijk", "ben jij een echt mens?", "mijn dochter van 8 wordt gepest op school",
     "wat kan ik nog meer doen", "ik woon in de Akkers", "dank je wel", "doei doei"],
    ["goedemorgen", "mijn dochter wil niet slapen", "anderhalf", "/more_tips", "ik woon in de Akkers",
     "mijn zoon van 15 zit de hele dag op zijn telefoon", "nog meer ideeën?", "bedankt", "ben jij een robot?",
     "ok tot ziens"],
    ["hoi", "onze peuter eet bijna niets", "ze is 2,5", "meer tips", "Noorderwijk",
     "mijn zoon van 6 plast nog in bed", "heb je nog meer tips voor mij", "dankjewel hoor",
     "praat ik met een computer?", "dag dag"],
    ["hey", "mijn kind van 10 is vaak bang in het donker", "wat kan ik nog meer doen", "wij zitten in noorderwijk",
     "mijn baby van 4 maanden huilt heel veel", "nog meer ideeën?", "de akkers", "dank je", "ben je een mens",
     "doeg"],
]


@dataclass
class Conversation:
    sender: str
    script: List[str]
    replies: List[Optional[List[Optional[str]]]] = field(default_factory=list)  # texts per turn; None: failed
    errors: List[str] = field(default_factory=list)
    latencies: List[float] = field(default_factory=list)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from cluster_fixture(request, tmp_path_factory)


async def _converse(session, limit: asyncio.Semaphore, cluster: Cluster, index: int,  # type: ignore[no-untyped-def]
                    conversation: Conversation) -> None:
    import aiohttp

    for turn, text in enumerate(conversation.script):
        url = f"{cluster.url((index + turn) % 2)}/webhooks/rest/webhook"  # alternate per turn
        async with limit:
            started = time.monotonic()
            try:
                async with session.post(url, json={"sender": conversation.sender, "message": text}) as answer:
                    body = await answer.text()
                    if answer.status != 200:
                        conversation.errors.append(f"turn {turn}: HTTP {answer.status}")
                        conversation.replies.append(None)
                        continue
                    conversation.replies.append([m.get("text") for m in json.loads(body)])
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                conversation.errors.append(f"turn {turn}: {type(error).__name__}")
                conversation.replies.append(None)
            finally:
                conversation.latencies.append(time.monotonic() - started)


async def _load(cluster: Cluster, conversations: List[Conversation]) -> None:
    import aiohttp

    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [asyncio.ensure_future(_converse(session, limit, cluster, i, c)) for i, c in enumerate(conversations)]
        done, pending = await asyncio.wait(tasks, timeout=BUDGET_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # a bug in the client itself
        if pending:
            turns = sum(len(c.replies) for c in conversations)
            pytest.fail(f"the load did not finish in {BUDGET_SECONDS:.0f} s: {turns} of "
                        f"{len(conversations) * TURNS} turns answered (is the machine busy with other work?)")


def _stored(cluster: Cluster, prefix: str) -> Dict[str, List[dict]]:
    connection = cluster.db()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sender_id, id, type_name, timestamp, data FROM events "
                           "WHERE sender_id LIKE %s ORDER BY sender_id, id", (prefix + "%",))
            events: Dict[str, List[dict]] = defaultdict(list)
            for sender, event_id, kind, stamp, data in cursor.fetchall():
                events[sender].append({"id": event_id, "type": kind, "timestamp": stamp, **json.loads(data)})
            return events
    finally:
        connection.close()


def rest_messages(bot_event: dict) -> List[Optional[str]]:
    """The REST messages one stored bot event makes (Rasa's CollectingOutputChannel): a text with
    buttons is one message, a text without is split at blank lines; images and the like add one."""
    text, data = bot_event.get("text"), bot_event.get("data") or {}
    if data.get("buttons") or data.get("quick_replies"):
        parts: List[Optional[str]] = [text]
    else:
        parts = list(text.strip().split("\n\n")) if text else []
    return parts + [None for key in ("custom", "image", "attachment", "elements") if data.get(key)]


def check_tracker(conversation: Conversation, events: List[dict]) -> List[str]:
    """What is wrong with one stored tracker (empty when complete)."""
    problems = []
    users = [e for e in events if e["type"] == "user"]
    texts = [e.get("text") for e in users]
    if texts != conversation.script:
        missing = [t for t in conversation.script if t not in texts]
        problems.append(f"user messages {'lost' if missing else 'reordered or doubled'}: "
                        f"{len(texts)} stored of {len(conversation.script)}")
    stamps = [e["timestamp"] for e in events]
    if stamps != sorted(stamps):
        problems.append("event timestamps go back in time")
    bots_after: List[List[dict]] = []
    for event in events:
        if event["type"] == "user":
            bots_after.append([])
        elif event["type"] == "bot":
            if not bots_after:
                problems.append("a bot reply before the first user message")
            else:
                bots_after[-1].append(event)
    for turn, (stored, sent) in enumerate(zip(bots_after, conversation.replies)):
        if not stored:
            problems.append(f"turn {turn}: no bot reply stored")
        elif sent is not None and [m for b in stored for m in rest_messages(b)] != sent:
            problems.append(f"turn {turn}: the stored bot replies differ from the {len(sent)} messages sent")
    return problems


async def _purge_stats(queue_name: str) -> None:
    """Forget the statistics of earlier tests on the same servers (tests/e2e/test_faults.py)."""
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.purge()


async def _drain_stats(queue_name: str, expected_users: int, wait: float = 20) -> List[dict]:
    """Every record in the queue; waits (bounded) for records still on their way."""
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    records: List[dict] = []
    deadline = time.monotonic() + wait
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        while True:
            message = await queue.get(no_ack=True, fail=False, timeout=10)
            if message is not None:
                records.append(json.loads(message.body))
                continue
            if sum(r["type"] == "user" for r in records) >= expected_users or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    return records


def test_200_conversations_over_two_servers_lose_nothing(cluster: Cluster, capsys: pytest.CaptureFixture) -> None:
    cluster.wait_ready()
    prefix = f"scale-{cluster.run_id}-"
    conversations = [Conversation(f"{prefix}{i:03d}", SCRIPTS[i % len(SCRIPTS)]) for i in range(CONVERSATIONS)]
    if cluster.stats_queue:
        time.sleep(1)  # records of earlier messages still on their way
        asyncio.run(_purge_stats(cluster.stats_queue))
    started = time.monotonic()
    asyncio.run(_load(cluster, conversations))
    elapsed = time.monotonic() - started

    failed_turns = [(c.sender, e) for c in conversations for e in c.errors]
    assert not failed_turns, f"{len(failed_turns)} failed turns, e.g. {failed_turns[:5]}"
    assert all(len(c.replies) == TURNS for c in conversations)

    stored = _stored(cluster, prefix)
    problems = {c.sender: check_tracker(c, stored.get(c.sender, [])) for c in conversations}
    problems = {sender: p for sender, p in problems.items() if p}
    assert not problems, f"{len(problems)} incomplete trackers, e.g. {list(problems.items())[:3]}"
    user_events = sum(1 for events in stored.values() for e in events if e["type"] == "user")
    sent = CONVERSATIONS * TURNS
    assert user_events == sent

    # both servers give the same tracker (a sample: every 20th conversation)
    import requests

    for conversation in conversations[::20]:
        trackers = [requests.get(f"{cluster.url(i)}/conversations/{conversation.sender}/tracker",
                                 params={"token": cluster.token}, timeout=30).json() for i in (0, 1)]
        assert trackers[0]["events"] == trackers[1]["events"]
        assert len(trackers[0]["events"]) == len(stored[conversation.sender])

    # the anonymous statistics: one user record per message, and nothing that identifies anyone
    stats_users = None
    if cluster.stats_queue:
        records = asyncio.run(_drain_stats(cluster.stats_queue, sent))
        kinds = Counter(r["type"] for r in records)
        stats_users = kinds["user"]
        assert stats_users == sent, kinds
        hashes = {r["conversation"] for r in records if r["type"] == "user"}
        days = {r["day"] for r in records}
        assert len(hashes) == CONVERSATIONS or (len(days) > 1 and len(hashes) <= 2 * CONVERSATIONS)
        dumped = json.dumps(records)
        assert prefix not in dumped
        assert not any(text in dumped for script in SCRIPTS for text in script if len(text) > 12)
        # fixed labels only; "key" is the keyed hash that lets the insight count a record once
        assert all(set(r) <= {"type", "intent", "channel", "slot", "value", "action", "fallback", "schema",
                              "day", "hour", "conversation", "label", "key"} for r in records)

    latencies = sorted(x for c in conversations for x in c.latencies)
    with capsys.disabled():
        print(f"\nscale: {CONVERSATIONS} conversations x {TURNS} turns = {sent} turns over 2 Rasa servers "
              f"in {elapsed:.0f} s ({sent / elapsed:.1f} turns/s; p50 {latencies[len(latencies) // 2]:.2f} s, "
              f"p95 {latencies[int(len(latencies) * 0.95)]:.2f} s); user events stored {user_events}, lost 0, "
              f"reordered 0; statistics records for user messages: {stats_users}")


def test_a_reply_sent_by_one_server_reaches_a_socketio_chat_held_by_the_other(cluster: Cluster) -> None:
    """A parent chats over socket.io with server 0; a message that server 1 sends into that
    conversation (as the console does when a professional answers) arrives through Redis."""
    import socketio
    import requests

    from bot.rasa.channels.socketio import sender_of, web_origins

    signed: List[str] = []  # the session id is issued (and signed) by the server

    async def scenario() -> List[str]:
        replies: List[str] = []
        confirmed = asyncio.Event()
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda data: replies.append(data.get("text") or ""))
        client.on("session_confirm", lambda value: (signed.append(value), confirmed.set()))
        await client.connect(cluster.url(0), headers={"Origin": web_origins(cluster.env)[0]},
                             socketio_path="socket.io", transports=["polling"])
        try:
            await client.emit("session_request", {})
            await asyncio.wait_for(confirmed.wait(), timeout=10)
            session_id = sender_of(signed[0])
            await client.emit("user_uttered", {"message": "hallo", "session_id": signed[0]})
            deadline = time.monotonic() + 60
            while not replies and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert replies, "no answer from server 0 over socket.io"
            before = len(replies)
            answer = await asyncio.to_thread(
                requests.post, f"{cluster.url(1)}/conversations/{session_id}/execute",
                params={"token": cluster.token, "output_channel": "latest"},
                json={"name": "utter_goodbye"}, timeout=60)
            assert answer.status_code == 200, answer.text
            while len(replies) == before and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            return replies[before:]
        finally:
            await client.eio.disconnect(abort=True)  # disconnect() waits for the next ping on polling

    pushed = asyncio.run(scenario())
    session_id = sender_of(signed[0])
    goodbye = [e for e in cluster.stored_events(session_id) if e["type"] == "bot"][-1]
    assert goodbye["text"].startswith("Dag!") and pushed == [goodbye["text"]]

"""The anonymous statistics broker (bot/rasa/stats_broker.py), against the real RabbitMQ."""
from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any, Dict, List

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.rasa import stats_broker
from bot.rasa.stats_broker import AnonymousStatsBroker
from bot.services.insight.events import anonymise, conversation_hash
from tests.support.rabbitmq import AMQP, delete_queue_and_exchange, needs_rabbit

SENDER = "wa-0612345678"
TEXT = "Mijn zoon Daan van 3 slaat zijn zusje en ik weet het niet meer"
NOON = 1_717_243_200.0  # 2024-06-01 12:00 UTC


def as_published(event: Any, sender: str = SENDER) -> Dict[str, Any]:
    """What Rasa's tracker store hands to publish(): the sender id plus the event's dict."""
    return {"sender_id": sender, **event.as_dict()}


def user_event() -> Dict[str, Any]:
    parse = {"text": TEXT, "intent": {"name": "topic_agressie", "confidence": 0.93},
             "entities": [{"entity": "age_months", "value": 36, "start": 15, "end": 20}]}
    return as_published(UserUttered(TEXT, parse["intent"], parse["entities"], parse, timestamp=NOON,
                                    input_channel="rest"))


@pytest.mark.parametrize("event,expected", [
    (user_event(), {"type": "user", "intent": "topic_agressie", "channel": "rest"}),
    (as_published(SlotSet("topic", "agressie", timestamp=NOON)), {"type": "slot", "slot": "topic", "value": "agressie"}),
    (as_published(SlotSet("phase", "2-4", timestamp=NOON)), {"type": "slot", "slot": "phase", "value": "2-4"}),
    (as_published(SlotSet("severity", "crisis", timestamp=NOON)), {"type": "slot", "slot": "severity", "value": "crisis"}),
    (as_published(SlotSet("support_level", "B", timestamp=NOON)), {"type": "slot", "slot": "support_level", "value": "B"}),
    (as_published(SlotSet("signal", "suicide", timestamp=NOON)), {"type": "slot", "slot": "signal", "value": "suicide"}),
    (as_published(ActionExecuted("action_respond", timestamp=NOON)), {"type": "action", "action": "action_respond"}),
    (as_published(BotUttered(TEXT, timestamp=NOON)), {"type": "bot", "fallback": False}),
    (as_published(BotUttered("sorry", metadata={"opvoedmaatje_fallback": True}, timestamp=NOON)),
     {"type": "bot", "fallback": True}),
    (as_published(SessionStarted(timestamp=NOON)), {"type": "session"}),
])
def test_records_hold_labels_only(event: Dict[str, Any], expected: Dict[str, Any]) -> None:
    record = anonymise(event)
    assert record == {**expected, "schema": 1, "day": "2024-06-01", "hour": 12}


@pytest.mark.parametrize("event", [
    as_published(SlotSet("age_months", 36)),  # an age is health-related detail: not counted
    as_published(SlotSet("neighbourhood", "Noorderwijk")),
    as_published(SlotSet("contact_detail", "0612345678")),
    as_published(SlotSet("topic", TEXT)),  # a value outside the contract's set
    as_published(SlotSet("topic", None)),
    as_published(ActionExecuted("action_listen")),
    {"event": "restart"}, {"event": "user"}, {}, {"event": None}, "not a dict", None,
])
def test_other_events_and_values_are_not_counted(event: Any) -> None:
    record = anonymise(event)
    assert record is None or record["type"] == "user" and record["intent"] is None


def test_no_text_or_sender_anywhere() -> None:
    event = user_event()
    event["input_channel"] = "Daan's channel"  # not a label: dropped
    record = anonymise(event, hash_key="secret")
    dumped = json.dumps(record)
    for secret in (TEXT, "Daan", SENDER, "0612345678", "36", "0.93"):
        assert secret not in dumped
    assert record["channel"] is None and len(record["conversation"]) == 16


def test_conversation_hash_is_keyed_and_rotates_daily() -> None:
    today = conversation_hash("k1", SENDER, "2024-06-01")
    assert today == conversation_hash("k1", SENDER, "2024-06-01")
    assert today != conversation_hash("k1", SENDER, "2024-06-02")
    assert today != conversation_hash("k2", SENDER, "2024-06-01")
    assert today != conversation_hash("k1", "wa-0699999999", "2024-06-01")
    assert conversation_hash("", SENDER, "2024-06-01") is None
    assert "conversation" not in anonymise(user_event())  # no key, no hash at all


@pytest.mark.parametrize("url", ["", "   ", None])
def test_no_url_means_no_broker(url: Any) -> None:
    config = EndpointConfig(url=url, type="bot.rasa.stats_broker.AnonymousStatsBroker", queue="q")
    assert asyncio.run(AnonymousStatsBroker.from_endpoint_config(config)) is None


def test_rasa_loads_it_from_endpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.utils import read_endpoints_from_path

    path = tmp_path / "endpoints.yml"
    path.write_text("event_broker:\n  type: bot.rasa.stats_broker.AnonymousStatsBroker\n  url: amqp://guest:guest@127.0.0.1:1/\n"
                    "  queue: q1\n  exchange: x1\n  hash_key: k\n", encoding="utf-8")
    endpoints = read_endpoints_from_path(path)
    broker = asyncio.run(EventBroker.create(endpoints.event_broker))
    assert isinstance(broker, AnonymousStatsBroker)  # created without connecting: RabbitMQ may come later
    assert (broker.queue, broker.exchange_name, broker.hash_key) == ("q1", "x1", "k")


ENDPOINTS_SECTION = """event_broker:
  type: bot.rasa.stats_broker.AnonymousStatsBroker
  url: ${EVENT_BROKER_URL}
  queue: ${EVENT_BROKER_QUEUE}
  exchange: ${EVENT_BROKER_EXCHANGE}
  hash_key: ${STATS_HASH_KEY}
"""


@pytest.mark.parametrize("url,created", [("", False), ("amqp://guest:guest@127.0.0.1:1/", True)])
def test_endpoints_section_from_env(tmp_path, monkeypatch, url, created) -> None:  # type: ignore[no-untyped-def]
    """The lines for endpoints.yml: with EVENT_BROKER_URL empty Rasa gets no broker at all."""
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.utils import read_endpoints_from_path

    for key, value in {"EVENT_BROKER_URL": url, "EVENT_BROKER_QUEUE": "opvoedmaatje_stats",
                       "EVENT_BROKER_EXCHANGE": "opvoedmaatje-stats", "STATS_HASH_KEY": ""}.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "endpoints.yml"
    path.write_text(ENDPOINTS_SECTION, encoding="utf-8")
    broker = asyncio.run(EventBroker.create(read_endpoints_from_path(path).event_broker))
    assert isinstance(broker, AnonymousStatsBroker) is created
    if created:
        assert broker.queue == "opvoedmaatje_stats" and broker.hash_key == ""




async def _consume(queue_name: str, expected: int, timeout: float = 10) -> List[bytes]:
    import aio_pika

    connection = await aio_pika.connect_robust(AMQP)
    bodies: List[bytes] = []
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        deadline = time.monotonic() + timeout
        while len(bodies) < expected and time.monotonic() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                bodies.append(message.body)
        await asyncio.sleep(0.2)
        extra = await queue.get(no_ack=True, fail=False)
        if extra is not None:
            bodies.append(extra.body)
    finally:
        await connection.close()
    return bodies


@needs_rabbit
def test_publishes_anonymous_records_to_rabbitmq_in_order() -> None:
    queue_name, exchange_name = f"opv_test_{uuid.uuid4().hex[:8]}", f"opv-test-{uuid.uuid4().hex[:8]}"
    events = [as_published(SessionStarted(timestamp=NOON)), user_event(),
              as_published(SlotSet("topic", "agressie", timestamp=NOON)),
              as_published(SlotSet("age_months", 36.0, timestamp=NOON)),
              as_published(ActionExecuted("action_respond", timestamp=NOON)),
              as_published(BotUttered(TEXT, timestamp=NOON))]

    async def scenario() -> List[bytes]:
        config = EndpointConfig(url=AMQP, type="x", queue=queue_name, exchange=exchange_name, hash_key="k")
        broker = await AnonymousStatsBroker.from_endpoint_config(config)
        try:
            for event in events:
                broker.publish(event)
            assert await broker.flush(timeout=10)
            assert broker.is_ready() and broker.published == 5
        finally:
            await broker.close()
        try:
            return await _consume(queue_name, 5)
        finally:
            await delete_queue_and_exchange(queue_name, exchange_name)

    bodies = asyncio.run(scenario())
    records = [json.loads(b) for b in bodies]
    assert [r["type"] for r in records] == ["session", "user", "slot", "action", "bot"]
    assert len({r["conversation"] for r in records}) == 1
    raw = b" ".join(bodies).decode()
    assert "Daan" not in raw and SENDER not in raw and "36" not in raw.replace('"hour": 12', "")


def test_rabbitmq_down_never_blocks_or_raises(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> AnonymousStatsBroker:
        broker = AnonymousStatsBroker(f"amqp://guest:guest@127.0.0.1:{port}/", max_pending=3)
        started = time.monotonic()
        for _ in range(5):
            broker.publish(user_event())
        assert time.monotonic() - started < 0.5
        await asyncio.sleep(0.3)
        assert not await broker.flush(timeout=0.2)
        await broker.close()
        return broker

    broker = asyncio.run(scenario())
    assert len(broker.pending) == 3 and broker.dropped == 2  # bounded, oldest dropped
    assert "RabbitMQ unavailable" in caplog.text and TEXT not in caplog.text and SENDER not in caplog.text


def test_publish_outside_an_event_loop_does_not_raise() -> None:
    broker = AnonymousStatsBroker("amqp://nowhere/")
    broker.publish(user_event())
    assert len(broker.pending) == 1
    assert stats_broker.MAX_PENDING >= 1000

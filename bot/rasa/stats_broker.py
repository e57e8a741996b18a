"""Anonymous usage statistics to RabbitMQ: labels and counts, never text or sender ids.

Rasa's own pika broker ships every event as it is, message text included: not acceptable for
messages about children. This broker turns each event into a small record of fixed labels only:

- ``user``: the intent name and the channel (no text, no entities, no confidence);
- ``slot``: ``topic``, ``phase``, ``severity``, ``support_level``, ``signal`` and ``situation`` (the
  crisis situation, CONTRACT.md 4b; for the insight's crisis counts), and only values of the
  contract's fixed sets (anything else is dropped);
- ``action``: the action's name (names come from the domain); ``bot``: that a reply was sent and
  whether it was the fallback for an unreachable action server (no text);
- ``session``: a conversation session started.

Every record carries the UTC day and hour, and a ``conversation`` field: HMAC-SHA256 of the UTC
day and the sender id under ``STATS_HASH_KEY``, cut to 16 hex characters. It changes every day and
cannot be reversed without the key, so counts per conversation are possible within a day and
nothing links a parent across days. Without ``STATS_HASH_KEY`` the broker uses a random key of its
own process (links hold within one Rasa server only; set the key when there are several).

For the municipality's insight (issue 18, bot/services/insight) the broker also sends, beside those records:

- ``key``: a keyed hash of the event (sender, time, kind, name) under the same key, so the
  consumer counts an event that arrives twice only once;
- ``label`` records: the neighbourhood (only a name of the catalogue's fixed list) and the page's
  language (only a code of ``bot.services.insight.labels.LANGUAGES``, else ``anders``); nothing else.

endpoints.yml (settings from env; when ``EVENT_BROKER_URL`` is empty no broker is created at all,
unless ``INSIGHT_IN_PROCESS`` is on: then the insight counts in this process, bot/rasa/insight_broker.py)::

    event_broker:
      type: bot.rasa.insight_broker.InProcessInsightBroker  # chooses: RabbitMQ, in-process or none
      url: ${EVENT_BROKER_URL}          # amqp://user:password@host:5672/vhost
      queue: ${EVENT_BROKER_QUEUE}      # durable queue bound to the exchange
      exchange: ${EVENT_BROKER_EXCHANGE}  # fanout exchange
      hash_key: ${STATS_HASH_KEY}       # secret; empty: no conversation hash

Publishing never blocks or fails a conversation: records wait in a bounded queue in memory while
RabbitMQ is unreachable (the oldest are dropped past ``MAX_PENDING``) and go out on reconnect.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.services.insight.events import (
    DEFAULT_EXCHANGE, DEFAULT_QUEUE, SCHEMA_VERSION, anonymise, catalogue_neighbourhoods, moment_of,
    conversation_hash, event_key, insight_labels, register_link_key,
)

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000
CONNECT_TIMEOUT = 5.0
MAX_BACKOFF = 30.0


class AnonymousStatsBroker(EventBroker):
    """Publishes anonymised records to a durable RabbitMQ queue through a fanout exchange."""

    def __init__(self, url: str, queue: str = DEFAULT_QUEUE, exchange: str = DEFAULT_EXCHANGE,
                 hash_key: str = "", max_pending: int = MAX_PENDING) -> None:
        super().__init__()
        self.url = url
        self.queue = queue or DEFAULT_QUEUE
        self.exchange_name = exchange or DEFAULT_EXCHANGE
        self.hash_key = hash_key or ""
        # links records of one conversation (and names events) when no STATS_HASH_KEY is set
        self.link_key = self.hash_key or secrets.token_hex(32)
        register_link_key(self)
        self._neighbourhoods: Optional[Dict[str, str]] = None
        self.pending: Deque[bytes] = deque(maxlen=max_pending)
        self.dropped = 0
        self.published = 0
        self._wake: Optional[asyncio.Event] = None
        self._worker: Optional[asyncio.Task] = None
        self._connection: Any = None
        self._exchange: Any = None
        self._closing = False

    @classmethod
    async def from_endpoint_config(cls, broker_config: Optional[EndpointConfig],
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None,
                                   ) -> Optional["AnonymousStatsBroker"]:
        url = (broker_config.url or "").strip() if broker_config is not None else ""
        kwargs = broker_config.kwargs if broker_config is not None else {}
        if not url:
            logger.info("stats: EVENT_BROKER_URL is not set; no statistics are sent")
            return None
        broker = cls(url, queue=str(kwargs.get("queue") or ""), exchange=str(kwargs.get("exchange") or ""),
                     hash_key=str(kwargs.get("hash_key") or ""))
        logger.info("stats: anonymous statistics go to queue %s", broker.queue)
        return broker

    # ------------------------------------------------------------------ publishing

    def publish(self, event: Dict[Text, Any]) -> None:
        """Queue the anonymised record of one event; never raises, never blocks."""
        try:
            records = self.records(event)
            if not records:
                return
            for record in records:
                if len(self.pending) == self.pending.maxlen:
                    self.dropped += 1
                self.pending.append(json.dumps(record, sort_keys=True).encode("utf-8"))
            self._ensure_worker()
        except Exception as error:  # statistics must never break a conversation
            logger.error("stats: could not queue a record (%s)", type(error).__name__)

    def records(self, event: Dict[Text, Any]) -> List[Dict[str, Any]]:
        """The record of one event and its insight label records, each with the event's key."""
        if self._neighbourhoods is None:
            self._neighbourhoods = catalogue_neighbourhoods()
        record = anonymise(event, self.link_key)
        extras = insight_labels(event, self._neighbourhoods)
        if record is None and not extras:
            return []
        records = [record] if record is not None else []
        if extras:
            moment = moment_of(event)
            day = moment.strftime("%Y-%m-%d")
            common: Dict[str, Any] = {"schema": SCHEMA_VERSION, "day": day, "hour": moment.hour}
            conversation = conversation_hash(self.link_key, event.get("sender_id"), day)
            if conversation:
                common["conversation"] = conversation
            records.extend({**extra, **common} for extra in extras)
        key = event_key(self.link_key, event)
        if key:
            for number, each in enumerate(records):
                each["key"] = key if number == 0 else f"{key[:30]}l{number}"
        return records

    def _ensure_worker(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (e.g. a script): records wait for the next publish in a loop
            return
        if self._wake is None or self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            if self._worker is not None and self._worker.get_loop() is not loop:
                self._connection = self._exchange = None  # they belonged to another event loop
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._run())
        self._wake.set()

    async def _connect(self) -> None:
        import aio_pika

        self._connection = await asyncio.wait_for(aio_pika.connect_robust(self.url), CONNECT_TIMEOUT)
        channel = await self._connection.channel()
        self._exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT,
                                                        durable=True)
        queue = await channel.declare_queue(self.queue, durable=True)
        await queue.bind(self._exchange, routing_key="")
        logger.info("stats: connected to RabbitMQ")

    async def _run(self) -> None:
        import aio_pika

        backoff = 1.0
        while not self._closing:
            try:
                if self._exchange is None:
                    await self._connect()
                while self.pending:
                    body = self.pending[0]
                    await self._exchange.publish(
                        aio_pika.Message(body, content_type="application/json",
                                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key="")
                    self.pending.popleft()
                    self.published += 1
                backoff = 1.0
                assert self._wake is not None
                self._wake.clear()
                if not self.pending:
                    await self._wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # RabbitMQ unreachable: keep the records, try again later
                logger.warning("stats: RabbitMQ unavailable (%s); %d record(s) waiting, retry in %.0f s",
                               type(error).__name__, len(self.pending), backoff)
                await self._drop_connection()
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    async def _drop_connection(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # already gone
                pass

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is published (tests, shutdown); True when done."""
        self._ensure_worker()
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return not self.pending

    def is_ready(self) -> bool:
        return self._exchange is not None

    async def close(self) -> None:
        await self.flush(timeout=2.0)
        self._closing = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down: the worker's end is not news
                pass
        await self._drop_connection()
        if self.pending:
            logger.warning("stats: %d record(s) not sent at shutdown", len(self.pending))

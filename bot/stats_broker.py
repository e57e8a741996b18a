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

For the municipality's insight (issue 18, bot/insight) the broker also sends, beside those records:

- ``key``: a keyed hash of the event (sender, time, kind, name) under the same key, so the
  consumer counts an event that arrives twice only once;
- ``label`` records: the neighbourhood (only a name of the catalogue's fixed list) and the page's
  language (only a code of ``bot.insight.labels.LANGUAGES``, else ``anders``); nothing else.

endpoints.yml (settings from env; when ``EVENT_BROKER_URL`` is empty no broker is created at all,
unless ``INSIGHT_IN_PROCESS`` is on: then the insight counts in this process, bot/insight/local.py)::

    event_broker:
      type: bot.insight.local.InProcessInsightBroker  # chooses: RabbitMQ, in-process or none
      url: ${EVENT_BROKER_URL}          # amqp://user:password@host:5672/vhost
      queue: ${EVENT_BROKER_QUEUE}      # durable queue bound to the exchange
      exchange: ${EVENT_BROKER_EXCHANGE}  # fanout exchange
      hash_key: ${STATS_HASH_KEY}       # secret; empty: no conversation hash

Publishing never blocks or fails a conversation: records wait in a bounded queue in memory while
RabbitMQ is unreachable (the oldest are dropped past ``MAX_PENDING``) and go out on reconnect.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import weakref
from collections import deque
from datetime import datetime, timezone
from typing import Any, Deque, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot import settings, vocabulary

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_QUEUE = settings.Settings.default("EVENT_BROKER_QUEUE")
DEFAULT_EXCHANGE = settings.Settings.default("EVENT_BROKER_EXCHANGE")
MAX_PENDING = 10_000
CONNECT_TIMEOUT = 5.0
MAX_BACKOFF = 30.0

# The contract's fixed value sets (CONTRACT.md sections 1-5) of the slots that are counted.
SLOT_VALUES: Dict[str, frozenset] = {
    name: frozenset(vocabulary.SLOT_VALUES[name])
    for name in ("topic", "phase", "severity", "support_level", "signal", "situation")
}
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # intent, action and channel names


def _label(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and _LABEL.match(value) else None


def _moment(event: Dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    try:
        return datetime.fromtimestamp(float(stamp), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(tz=timezone.utc)


def conversation_hash(hash_key: str, sender_id: Any, day: str) -> Optional[str]:
    """Daily-rotating keyed hash of the sender id; None without a key."""
    if not hash_key or not isinstance(sender_id, str):
        return None
    message = f"{day}\x00{sender_id}".encode("utf-8", "surrogatepass")
    return hmac.new(hash_key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:16]


def anonymise(event: Dict[str, Any], hash_key: str = "") -> Optional[Dict[str, Any]]:
    """The statistics record for one Rasa event, or None when the event is not counted."""
    if not isinstance(event, dict):
        return None
    kind = event.get("event")
    record: Dict[str, Any]
    if kind == "user":
        parse_data = event.get("parse_data")
        intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
        record = {"type": "user",
                  "intent": _label(intent.get("name")) if isinstance(intent, dict) else None,
                  "channel": _label(event.get("input_channel"))}
    elif kind == "slot":
        name, value = event.get("name"), event.get("value")
        allowed = SLOT_VALUES.get(name) if isinstance(name, str) else None
        if allowed is None or not isinstance(value, str) or value not in allowed:
            return None
        record = {"type": "slot", "slot": name, "value": value}
    elif kind == "action":
        name = _label(event.get("name"))
        if name is None or name == "action_listen":
            return None
        record = {"type": "action", "action": name}
    elif kind == "bot":
        metadata = event.get("metadata")
        fallback = isinstance(metadata, dict) and metadata.get("opvoedmaatje_fallback") is True
        record = {"type": "bot", "fallback": fallback}
    elif kind == "session_started":
        record = {"type": "session"}
    else:
        return None
    moment = _moment(event)
    day = moment.strftime("%Y-%m-%d")
    record.update(schema=SCHEMA_VERSION, day=day, hour=moment.hour)
    conversation = conversation_hash(hash_key, event.get("sender_id"), day)
    if conversation:
        record["conversation"] = conversation
    return record


def event_key(link_key: str, event: Dict[str, Any]) -> Optional[str]:
    """A keyed hash naming one Rasa event (sender, time, kind, name, value): the same event
    published twice has the same key, so the insight consumer counts it once."""
    if not link_key or not isinstance(event, dict):
        return None
    parts = [event.get("sender_id"), event.get("timestamp"), event.get("event"), event.get("name"),
             event.get("value") if isinstance(event.get("value"), (str, int, float, bool)) else None]
    message = "\x00".join(repr(part) for part in parts).encode("utf-8", "surrogatepass")
    return hmac.new(link_key.encode("utf-8"), b"key\x00" + message, hashlib.sha256).hexdigest()[:32]


def insight_labels(event: Dict[str, Any], neighbourhoods: Dict[str, str]) -> List[Dict[str, Any]]:
    """The extra fixed-label records of one event for the insight (issue 18): the neighbourhood
    slot when its value is one of the catalogue's neighbourhoods (``neighbourhoods``: casefolded
    name -> name), and the language of a user message's page. Never text or ids."""
    from bot.insight.labels import language_label

    if not isinstance(event, dict):
        return []
    kind = event.get("event")
    if kind == "slot" and event.get("name") == "neighbourhood" and isinstance(event.get("value"), str):
        name = neighbourhoods.get(event["value"].strip().casefold())
        return [{"type": "label", "label": "neighbourhood", "value": name}] if name else []
    if kind == "user":
        metadata = event.get("metadata")
        language = language_label(metadata.get("language")) if isinstance(metadata, dict) else None
        return [{"type": "label", "label": "language", "value": language}] if language else []
    return []


_brokers: "weakref.WeakSet[AnonymousStatsBroker]" = weakref.WeakSet()  # for link_keys()


def link_keys(environ: Any = None) -> List[str]:
    """The keys the conversation hashes of this process are made with: ``STATS_HASH_KEY`` and the
    key of every statistics broker alive here (its own random key when none is set). The erasure
    needs them to find a conversation's working rows (bot/insight/privacy.py)."""
    keys = [str(settings.current(environ).STATS_HASH_KEY or "").strip()]
    keys += [broker.link_key for broker in list(_brokers)]
    return sorted({key for key in keys if key})


def _catalogue_neighbourhoods() -> Dict[str, str]:
    try:
        from bot.catalogue import load_catalogue

        municipality = load_catalogue().municipality
        names = municipality.neighbourhood_names() if municipality else ()
    except Exception as error:  # no catalogue: no neighbourhood labels, never a failure
        logger.warning("stats: no neighbourhoods from the catalogue (%s)", type(error).__name__)
        names = ()
    return {name.casefold(): name for name in names}


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
        _brokers.add(self)
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
            self._neighbourhoods = _catalogue_neighbourhoods()
        record = anonymise(event, self.link_key)
        extras = insight_labels(event, self._neighbourhoods)
        if record is None and not extras:
            return []
        records = [record] if record is not None else []
        if extras:
            moment = _moment(event)
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

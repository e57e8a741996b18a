"""The insight without a broker: the same records, counted in the Rasa server's own process.

When ``EVENT_BROKER_URL`` is empty and ``INSIGHT_IN_PROCESS`` is on (the default of ``make run``),
``InProcessInsightBroker.from_endpoint_config`` (the type endpoints.yml names) returns this broker
instead of none. It makes the same
anonymous records (``AnonymousStatsBroker.records``) and applies them to the aggregates in the case
store's database (``CASE_STORE_URL``) on a background thread, so a conversation never waits for the
database and never fails because of it.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any, Dict, Optional, Text

from rasa.utils.endpoints import EndpointConfig

from bot import settings
from bot.rasa.stats_broker import AnonymousStatsBroker

logger = logging.getLogger(__name__)
MAX_PENDING = 10_000


class InProcessInsightBroker(AnonymousStatsBroker):
    def __init__(self, hash_key: str = "", store_url: Optional[str] = None, sink: Any = None) -> None:
        super().__init__("in-process://", hash_key=hash_key)
        self.store_url = store_url
        self._sink = sink
        self._records: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue(maxsize=MAX_PENDING)
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.applied = 0

    @classmethod
    async def from_endpoint_config(cls, broker_config: Optional[EndpointConfig],
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None,
                                   ) -> Optional[AnonymousStatsBroker]:
        """The event broker of endpoints.yml: the RabbitMQ broker when ``EVENT_BROKER_URL`` is set;
        otherwise this one when ``INSIGHT_IN_PROCESS`` is on (the insight counts in this process);
        otherwise none."""
        url = (broker_config.url or "").strip() if broker_config is not None else ""
        if url:
            return await AnonymousStatsBroker.from_endpoint_config(broker_config, event_loop)
        if (settings.current().INSIGHT_IN_PROCESS or "").strip().lower() in ("1", "true", "yes", "on"):
            logger.info("stats: no EVENT_BROKER_URL; the insight counts in this process")
            kwargs = broker_config.kwargs if broker_config is not None else {}
            return cls(hash_key=str(kwargs.get("hash_key") or ""))
        logger.info("stats: EVENT_BROKER_URL is not set; no statistics are sent")
        return None

    def publish(self, event: Dict[Text, Any]) -> None:
        try:
            for record in self.records(event):
                try:
                    self._records.put_nowait(record)
                except queue.Full:
                    self.dropped += 1
            self._start()
        except Exception as error:  # statistics must never break a conversation
            logger.error("insight: could not queue a record (%s)", type(error).__name__)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="insight", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            batch = [self._records.get()]
            while len(batch) < 200:
                try:
                    batch.append(self._records.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            records = [r for r in batch if r is not None]
            try:
                if records:
                    if self._sink is None:
                        from bot.services.insight.sink import InsightSink

                        self._sink = InsightSink.from_url(self.store_url)
                    self._sink.apply_many(records)
                    self.applied += len(records)
            except Exception as error:  # a database hiccup loses these records, never the conversation
                logger.warning("insight: %d record(s) not counted (%s)", len(records), type(error).__name__)
            finally:
                for _ in batch:
                    self._records.task_done()
            if stop:
                return

    async def flush(self, timeout: float = 5.0) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._records.unfinished_tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return not self._records.unfinished_tasks

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        await self.flush(timeout=5.0)
        if self._thread is not None and self._thread.is_alive():
            self._records.put(None)

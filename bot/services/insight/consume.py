"""The insight consumer: statistics records from RabbitMQ into the daily aggregates.

``python -m bot.services.insight.consume`` (started by ``make run`` when ``EVENT_BROKER_URL`` is set, and
by the deployment files). It declares the same durable exchange and queue as the broker, takes
records with manual acknowledgement, applies each in one database transaction (bot/services/insight/sink.py)
and acknowledges it only after the commit: a record is never lost by a restart, and one that comes
again after a crash between commit and acknowledgement is recognised by its key and counted once.

Settings (environment): EVENT_BROKER_URL, EVENT_BROKER_QUEUE, EVENT_BROKER_EXCHANGE, CASE_STORE_URL
(the aggregates live in the case store's database), INSIGHT_PORT (GET /health; default 5056).
INSIGHT_EXIT_AFTER=n is fault injection for the tests: exit hard after the n-th commit, before its
acknowledgement.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional

from bot import settings
from bot.services.insight.events import DEFAULT_EXCHANGE, DEFAULT_QUEUE

from .sink import InsightSink

logger = logging.getLogger("bot.services.insight.consume")
PREFETCH = 200
BATCH = 100  # records per transaction
BATCH_WAIT = 0.05  # seconds to wait for more of a batch
MAX_BACKOFF = 30.0


class Consumer:
    def __init__(self, url: str, sink: InsightSink, queue: str = DEFAULT_QUEUE,
                 exchange: str = DEFAULT_EXCHANGE, exit_after: Optional[int] = None) -> None:
        self.url, self.sink = url, sink
        self.queue_name, self.exchange_name = queue or DEFAULT_QUEUE, exchange or DEFAULT_EXCHANGE
        self.exit_after = exit_after
        self.applied = self.duplicates = self.rejected = 0
        self.connected = False

    async def run(self, stop: asyncio.Event) -> None:
        import aio_pika

        backoff = 1.0
        while not stop.is_set():
            connection = None
            try:
                connection = await aio_pika.connect(self.url, timeout=10)
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=PREFETCH)
                exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT,
                                                          durable=True)
                queue = await channel.declare_queue(self.queue_name, durable=True)
                await queue.bind(exchange, routing_key="")
                self.connected, backoff = True, 1.0
                logger.info("insight: consuming the statistics queue")
                inbox: "asyncio.Queue[Any]" = asyncio.Queue()
                closed = asyncio.Event()
                connection.close_callbacks.add(lambda *_args: closed.set())
                tag = await queue.consume(inbox.put, no_ack=False)
                ends = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(closed.wait())}
                try:
                    while not stop.is_set() and not closed.is_set():
                        getter = asyncio.ensure_future(inbox.get())
                        await asyncio.wait(ends | {getter}, return_when=asyncio.FIRST_COMPLETED)
                        if not getter.done():
                            getter.cancel()
                            break
                        batch = [getter.result()]
                        await asyncio.sleep(BATCH_WAIT)  # what else comes now goes in the same transaction
                        while len(batch) < BATCH and not inbox.empty():
                            batch.append(inbox.get_nowait())
                        await self._handle(batch)
                    if closed.is_set() and not stop.is_set():
                        raise ConnectionError("the connection to RabbitMQ closed")
                finally:
                    for end in ends:
                        end.cancel()
                    if not closed.is_set():
                        try:
                            await queue.cancel(tag)
                        except Exception:  # closing anyway
                            pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker or database away: try again later, nothing acked
                self.connected = False
                logger.warning("insight: %s; retry in %.0f s", type(error).__name__, backoff)
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(MAX_BACKOFF, backoff * 2)
            finally:
                self.connected = False
                if connection is not None:
                    try:
                        await connection.close()
                    except Exception:  # already gone
                        pass

    async def _handle(self, batch: List[Any]) -> None:
        records = []
        for message in batch:
            try:
                records.append(json.loads(message.body))
            except ValueError:
                self.rejected += 1
                logger.warning("insight: a record that is not JSON was dropped")
                records.append(None)
        counted = await asyncio.get_running_loop().run_in_executor(None, self.sink.apply_many, records)
        self.applied += len(batch)
        self.duplicates += sum(1 for r, c in zip(records, counted) if r is not None and not c)
        if self.exit_after is not None and self.applied >= self.exit_after:
            logging.shutdown()
            os._exit(3)  # fault injection (tests): committed, not acknowledged
        await batch[-1].ack(multiple=True)  # only after the commit


def _health_server(port: int, consumer: Consumer) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/health" and consumer.connected
            body = json.dumps({"status": "ok" if ok else "waiting", "applied": consumer.applied}).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: Optional[list] = None) -> int:
    values = settings.current()
    parser = argparse.ArgumentParser(description="Read the anonymous statistics into the insight aggregates.")
    parser.add_argument("--port", type=int, default=int(values.value("INSIGHT_PORT")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = (values.EVENT_BROKER_URL or "").strip()
    if not url:
        print("EVENT_BROKER_URL is not set: there is nothing to consume.", file=sys.stderr)
        return 2
    exit_after = values.INSIGHT_EXIT_AFTER
    consumer = Consumer(url, InsightSink.from_url(), queue=values.EVENT_BROKER_QUEUE,
                        exchange=values.EVENT_BROKER_EXCHANGE,
                        exit_after=int(exit_after) if exit_after else None)
    server = _health_server(args.port, consumer) if args.port else None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await consumer.run(stop)

    try:
        asyncio.run(run())
    finally:
        if server is not None:
            server.shutdown()
    logger.info("insight: stopped after %d record(s), %d counted before", consumer.applied, consumer.duplicates)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The asyncio load client: parent conversations over Rasa's REST channel (aiohttp)."""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import aiohttp

from tools.benchmark.stats import LevelResult, level_result

logger = logging.getLogger(__name__)

WEBHOOK = "/webhooks/rest/webhook"


@dataclass
class _Tally:
    latencies: List[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0


async def _say(session: aiohttp.ClientSession, url: str, sender: str, text: str,
               tally: _Tally, timeout: float) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url + WEBHOOK, json={"sender": sender, "message": text},
                                timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
            body = await answer.json(content_type=None) if answer.status == 200 else None
            elapsed = time.perf_counter() - started
            if answer.status != 200:
                tally.errors += 1
                logger.warning("HTTP %s from the REST channel", answer.status)
                return
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        tally.errors += 1
        logger.warning("request failed: %s", type(error).__name__)
        return
    tally.latencies.append(elapsed)
    if not body:
        tally.empty += 1


async def _worker(session: aiohttp.ClientSession, url: str, queue: "asyncio.Queue[List[str]]",
                  tally: _Tally, timeout: float, prefix: str) -> None:
    while True:
        try:
            turns = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        sender = f"{prefix}-{uuid.uuid4().hex[:12]}"
        for text in turns:  # one turn after the other, as a parent waits for the answer
            await _say(session, url, sender, text, tally, timeout)


async def run_level(url: str, conversations: Sequence[List[str]], concurrency: int,
                    timeout: float = 60.0, prefix: str = "bench") -> LevelResult:
    """Run ``conversations`` with ``concurrency`` of them at the same time."""
    queue: "asyncio.Queue[List[str]]" = asyncio.Queue()
    for turns in conversations:
        queue.put_nowait(turns)
    tally = _Tally()
    load_before = os.getloadavg()[0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(_worker(session, url, queue, tally, timeout, prefix)
                               for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return level_result(concurrency, len(conversations), tally.latencies, tally.errors, tally.empty,
                        wall, load_before)


async def first_answer(url: str, text: str, deadline: float, poll: float = 0.5) -> Optional[float]:
    """Seconds (time.monotonic) at which the first non-empty answer came, None at the deadline."""
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            sender = f"startup-{uuid.uuid4().hex[:12]}"  # a fresh conversation on every try
            try:
                async with session.post(url + WEBHOOK, json={"sender": sender, "message": text},
                                        timeout=aiohttp.ClientTimeout(total=60)) as answer:
                    if answer.status == 200 and await answer.json(content_type=None):
                        return time.monotonic()
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            await asyncio.sleep(poll)
    return None

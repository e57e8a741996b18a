"""Rate limiting per sender (bot/ratelimit.py): in memory, and shared through the real Redis."""
from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import List

import pytest

from bot import ratelimit
from bot.ratelimit import Decision, MemoryBuckets, RateLimiter, RedisBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_memory_bucket_allows_the_limit_then_refuses_and_refills() -> None:
    clock = FakeClock()
    buckets = MemoryBuckets(30, clock=clock)
    decisions = [buckets.take("k") for _ in range(32)]
    assert [d.allowed for d in decisions] == [True] * 30 + [False, False]
    assert decisions[30].notify and not decisions[31].notify  # the parent is told once
    assert decisions[30].retry_after == pytest.approx(2.0)  # 30 per minute: one every 2 s
    clock.now += 1.0
    assert not buckets.take("k").allowed
    clock.now += 2.0
    assert buckets.take("k").allowed
    refused = buckets.take("k")
    assert not refused.allowed and refused.notify  # a new run of refusals is told again


def test_buckets_are_per_sender() -> None:
    buckets = MemoryBuckets(2, clock=FakeClock())
    assert [buckets.take("a").allowed for _ in range(3)] == [True, True, False]
    assert buckets.take("b").allowed


def test_memory_is_bounded() -> None:
    buckets = MemoryBuckets(5, max_senders=100, clock=FakeClock())
    for i in range(1000):
        buckets.take(f"s{i}")
    assert len(buckets._buckets) == 100


@pytest.mark.parametrize("raw,expected", [(None, 30), ("", 30), ("10", 10), ("0", 0), ("-5", 0), ("veel", 30)])
def test_limit_from_env(raw, expected) -> None:  # type: ignore[no-untyped-def]
    env = {} if raw is None else {"RATE_LIMIT_PER_MINUTE": raw}
    assert ratelimit.per_minute_from_env(env) == expected


def test_zero_switches_the_limit_off() -> None:
    limiter = RateLimiter(0)
    assert all(run(_many(limiter, "rest", "x", 500)))


def test_key_is_a_hash_not_the_sender() -> None:
    key = ratelimit.bucket_key("rest", "ouder-06-12345678")
    assert "ouder" not in key and "12345678" not in key and len(key) == 40
    assert key == ratelimit.bucket_key("rest", "ouder-06-12345678")
    assert key != ratelimit.bucket_key("socketio", "ouder-06-12345678")
    assert ratelimit.bucket_key("rest", "\ud800 broken surrogate")  # never raises


def test_refusal_is_a_429_body_with_retry_after() -> None:
    body, headers = ratelimit.refusal(Decision(False, retry_after=1.2, notify=True))
    assert body["retry_after"] == 2 and headers == {"Retry-After": "2"}
    assert body["error"] and "112" in body["text"] and "113" in body["text"]


def test_from_env_uses_redis_only_with_the_redis_lock_store() -> None:
    assert ratelimit.from_env({"LOCK_STORE_TYPE": "in_memory"}).redis is None
    limiter = ratelimit.from_env({"LOCK_STORE_TYPE": "redis", "REDIS_HOST": "10.0.0.9", "REDIS_PORT": "6380",
                                  "REDIS_DB": "3", "RATE_LIMIT_PER_MINUTE": "12"})
    assert isinstance(limiter.redis, RedisBuckets) and limiter.per_minute == 12
    assert limiter.redis._settings["host"] == "10.0.0.9" and limiter.redis._settings["db"] == 3


async def _many(limiter: RateLimiter, channel: str, sender: str, n: int) -> List[bool]:
    return [(await limiter.check(channel, sender)).allowed for _ in range(n)]


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_reachable(), reason="Redis is not reachable at 127.0.0.1:6379")


@needs_redis
def test_two_servers_share_the_limit_through_redis() -> None:
    prefix = f"opvoedmaatje-test:{uuid.uuid4().hex}:"

    async def scenario() -> List[bool]:
        # two limiters = two Rasa servers; the parent's messages alternate between them
        first = RateLimiter(10, RedisBuckets(10, db=15, prefix=prefix))
        second = RateLimiter(10, RedisBuckets(10, db=15, prefix=prefix))
        results = []
        for i in range(14):
            results.append((await (first if i % 2 else second).check("rest", "ouder-1")).allowed)
        import redis.asyncio as aioredis

        client = aioredis.Redis(db=15)
        keys = [k.decode() async for k in client.scan_iter(match=prefix + "*")]
        assert keys == [prefix + ratelimit.bucket_key("rest", "ouder-1")]
        assert 0 < await client.ttl(keys[0]) <= 120
        await client.delete(*keys)
        await client.close()
        await first.redis.close()
        await second.redis.close()
        return results

    assert run(scenario()) == [True] * 10 + [False] * 4


@needs_redis
def test_concurrent_checks_are_atomic() -> None:
    prefix = f"opvoedmaatje-test:{uuid.uuid4().hex}:"

    async def scenario() -> int:
        limiter = RateLimiter(20, RedisBuckets(20, db=15, prefix=prefix))
        decisions = await asyncio.gather(*[limiter.check("rest", "ouder-2") for _ in range(60)])
        import redis.asyncio as aioredis

        client = aioredis.Redis(db=15)
        await client.delete(prefix + ratelimit.bucket_key("rest", "ouder-2"))
        await client.close()
        return sum(d.allowed for d in decisions)

    assert run(scenario()) == 20


def test_redis_down_falls_back_to_memory_quickly(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> List[bool]:
        limiter = RateLimiter(3, RedisBuckets(3, port=port))
        return await _many(limiter, "rest", "ouder-3", 5)

    started = time.monotonic()
    assert run(scenario()) == [True, True, True, False, False]  # still limited, in memory
    assert time.monotonic() - started < 3
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "ouder-3" not in caplog.text

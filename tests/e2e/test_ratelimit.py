"""Rate limiting per sender (bot/services/ratelimit.py): in memory, and shared through the real Redis."""
from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import List

import pytest

from bot.services import ratelimit
from bot.services.ratelimit import Decision, MemoryBuckets, RateLimiter, RedisBuckets


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


# ---------------------------------------------------------------- issue 15: per client address

from bot.services.ratelimit import (ADDRESS_SETTINGS, AddressLimiter, ProxyTrust, SeenSenders,  # noqa: E402
                           client_address, environ_address, parse_address)

LOCAL = ProxyTrust.from_env({})
NEW_SENDERS = "RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR"
MESSAGES = "RATE_LIMIT_PER_ADDRESS_PER_MINUTE"


def _limiter(clock=None, redis=None, prefix=ratelimit.REDIS_KEY_PREFIX, **limits):  # type: ignore[no-untyped-def]
    return AddressLimiter(limits, redis=redis, secret=b"test-secret-of-16+", clock=clock or FakeClock(),
                          prefix=prefix)


@pytest.mark.parametrize("value,expected", [
    ("203.0.113.7", "203.0.113.7"), (" 203.0.113.7 ", "203.0.113.7"), ("203.0.113.7:5678", "203.0.113.7"),
    ("[2001:db8::1]:443", "2001:db8::1"), ("2001:db8::1", "2001:db8::1"), ("::ffff:203.0.113.7", "203.0.113.7"),
    ("unknown", None), ("", None), (None, None), ("300.1.1.1", None), ("_hidden", None),
])
def test_addresses_are_parsed_strictly(value, expected) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_address(value)
    assert (str(parsed) if parsed else None) == expected


def test_the_socket_peer_counts_and_forwarding_headers_are_ignored_by_default() -> None:
    assert client_address("198.51.100.4", {}, LOCAL) == "198.51.100.4"
    assert client_address("198.51.100.4", {"X-Forwarded-For": "203.0.113.1"}, LOCAL) == "198.51.100.4"
    assert client_address("198.51.100.4", [("x-forwarded-for", "1.1.1.1"), ("X-Real-IP", "2.2.2.2")], LOCAL) == "198.51.100.4"
    assert client_address("not-an-ip", {}, LOCAL) is None


def test_the_machines_own_address_is_exempt_only_without_a_forwarding_header() -> None:
    assert client_address("127.0.0.1", {}, LOCAL) is None  # make run, the tests, make bench
    assert client_address("::1", {}, LOCAL) is None
    assert client_address("127.0.0.2", {}, LOCAL) == "127.0.0.2"  # only the listed addresses
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):  # a proxy on this host adds one
        assert client_address("127.0.0.1", {header: "203.0.113.5"}, LOCAL) == "127.0.0.1"
    nothing = ProxyTrust.from_env({"RATE_LIMIT_EXEMPT_ADDRESSES": ""})
    assert client_address("127.0.0.1", {}, nothing) == "127.0.0.1"


def test_a_trusted_number_of_proxies_takes_the_address_they_saw() -> None:
    one = ProxyTrust.from_env({"RASA_TRUSTED_PROXIES": "1"})
    # the client wrote "6.6.6.6" itself; nginx appended the address it saw
    assert client_address("10.0.0.5", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}, one) == "203.0.113.9"
    assert client_address("10.0.0.5", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.9")],
                          one) == "203.0.113.9"  # repeated headers are one list
    assert client_address("10.0.0.5", {}, one) == "10.0.0.5"
    two = ProxyTrust.from_env({"RASA_TRUSTED_PROXIES": "2"})
    assert client_address("10.0.0.5", {"X-Forwarded-For": "203.0.113.9, 10.0.0.9"}, two) == "203.0.113.9"
    assert client_address("10.0.0.5", {"X-Forwarded-For": "203.0.113.9"}, two) == "10.0.0.5"  # too few
    assert client_address("10.0.0.5", {"X-Forwarded-For": "garbage, 10.0.0.9"}, two) == "10.0.0.5"


def test_trusted_proxy_networks_are_believed_only_as_the_peer() -> None:
    trust = ProxyTrust.from_env({"RASA_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"})
    assert trust.count == 0 and len(trust.networks) == 2
    assert client_address("10.1.2.3", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.9.9.9"}, trust) == "203.0.113.9"
    assert client_address("198.51.100.1", {"X-Forwarded-For": "203.0.113.9"}, trust) == "198.51.100.1"
    assert client_address("10.1.2.3", {"X-Forwarded-For": "10.2.2.2"}, trust) == "10.2.2.2"  # all proxies


def test_socketio_environ_uses_the_sanic_request_not_engineios_fixed_remote_addr() -> None:
    class Request:
        ip = "198.51.100.23"
        headers = {"X-Forwarded-For": "203.0.113.1"}

    assert environ_address({"REMOTE_ADDR": "127.0.0.1", "sanic.request": Request()}, LOCAL) == "198.51.100.23"
    one = ProxyTrust(count=1)
    assert environ_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}, one) == "203.0.113.1"


def test_rotating_senders_from_one_address_are_limited() -> None:
    limiter = _limiter(**{NEW_SENDERS: 5})

    async def scenario() -> List[bool]:
        results = [(await limiter.check_message("rest", f"s{i}", "203.0.113.1")).allowed for i in range(8)]
        results.append((await limiter.check_message("rest", "s1", "203.0.113.1")).allowed)  # known sender
        results.append((await limiter.check_message("rest", "s99", "203.0.113.2")).allowed)  # other address
        results.append((await limiter.check_message("rest", "s98", None)).allowed)  # exempt
        return results

    assert run(scenario()) == [True] * 5 + [False] * 3 + [True, True, True]
    assert "s6" not in [k for k in limiter.seen._until]  # keys only
    assert len(limiter.seen) == 5 + 1  # refused senders are not remembered as conversations


def test_messages_per_address_are_limited_across_senders() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, **{MESSAGES: 10, NEW_SENDERS: 0})

    async def scenario(n: int) -> List[bool]:
        return [(await limiter.check_message("rest", f"s{i % 3}", "203.0.113.1")).allowed for i in range(n)]

    assert run(scenario(12)) == [True] * 10 + [False] * 2
    clock.now += 60
    assert run(scenario(1)) == [True]


def test_the_module_check_applies_the_sender_limit_then_the_address_limit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sender_limiter = RateLimiter(2, clock=FakeClock())
    monkeypatch.setattr(ratelimit, "default_limiter", lambda: sender_limiter)
    address_limiter = _limiter(**{NEW_SENDERS: 3})
    monkeypatch.setattr(ratelimit, "default_address_limiter", lambda: address_limiter)

    async def scenario() -> List[bool]:
        same = [(await ratelimit.check_message("rest", "one", "203.0.113.1")).allowed for _ in range(3)]
        rotating = [(await ratelimit.check_message("rest", f"r{i}", "203.0.113.1")).allowed for i in range(4)]
        return same + rotating

    assert run(scenario()) == [True, True, False, True, True, False, False]


def test_socketio_admit_tells_each_parent_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    sender_limiter = RateLimiter(100, clock=clock)
    monkeypatch.setattr(ratelimit, "default_limiter", lambda: sender_limiter)
    address_limiter = _limiter(clock, **{MESSAGES: 2, NEW_SENDERS: 0})
    monkeypatch.setattr(ratelimit, "default_address_limiter", lambda: address_limiter)

    class Output:
        def __init__(self) -> None:
            self.sent: List[tuple] = []

        async def send_text_message(self, recipient: str, text: str) -> None:
            self.sent.append((recipient, text))

    output = Output()

    async def scenario() -> List[bool]:
        return [await ratelimit.admit_message("socketio", s, "203.0.113.1", output) for s in ("a", "b", "a", "a", "b")]

    assert run(scenario()) == [True, True, False, False, False]
    assert output.sent == [("a", ratelimit.LIMITED_REPLY), ("b", ratelimit.LIMITED_REPLY)]


def test_connections_per_address(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    address_limiter = _limiter(**{"RATE_LIMIT_CONNECTIONS_PER_ADDRESS_PER_MINUTE": 3})
    monkeypatch.setattr(ratelimit, "default_address_limiter", lambda: address_limiter)

    async def scenario() -> List[bool]:
        return ([await ratelimit.admit_connection("203.0.113.1") for _ in range(4)]
                + [await ratelimit.admit_connection("203.0.113.2"), await ratelimit.admit_connection(None)])

    assert run(scenario()) == [True, True, True, False, True, True]


def test_new_cases_are_limited_per_sender_and_per_address() -> None:
    limiter = _limiter(**{"RATE_LIMIT_CASES_PER_SENDER_PER_DAY": 2, "RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY": 3})
    assert [limiter.case_allowed("ouder-1", "rest") for _ in range(3)] == [True, True, False]

    async def talk() -> None:  # the channel links each conversation to its address key
        for i in range(5):
            await limiter.check_message("socketio", f"p{i}", "203.0.113.1")

    run(talk())
    assert [limiter.case_allowed(f"p{i}", "socketio") for i in range(5)] == [True, True, True, False, False]
    assert limiter.case_allowed("elsewhere", "socketio")  # no address known: per sender only


def test_an_ipv6_client_is_counted_by_its_64_prefix() -> None:
    assert ratelimit.address_group("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert ratelimit.address_group("203.0.113.7") == "203.0.113.7"
    limiter = _limiter(**{NEW_SENDERS: 3})

    async def scenario() -> List[bool]:
        return [(await limiter.check_message("rest", f"v6-{i}", f"2001:db8:1:2::{i + 1:x}")).allowed
                for i in range(5)] + [(await limiter.check_message("rest", "v6-x", "2001:db8:1:3::1")).allowed]

    assert run(scenario()) == [True, True, True, False, False, True]


def test_address_keys_are_keyed_hashes() -> None:
    first, second = _limiter(), AddressLimiter({}, secret=b"another-secret-16+")
    key = first.address_key("203.0.113.1")
    assert "203" not in key and len(key) == 40 and key == first.address_key("203.0.113.1")
    assert key != second.address_key("203.0.113.1") and key != first.address_key("203.0.113.2")


def test_seen_senders_expire_and_are_bounded() -> None:
    clock = FakeClock()
    seen = SeenSenders(ttl=100, max_entries=50, clock=clock)
    assert seen.first_seen("a") and not seen.first_seen("a")
    clock.now += 101
    assert seen.first_seen("a")
    for i in range(500):
        seen.first_seen(f"k{i}")
    assert len(seen) == 50
    clock.now += 1000
    seen.first_seen("new")
    assert len(seen) == 1  # expired entries are pruned


def test_address_limits_from_env() -> None:
    limiter = ratelimit.address_limiter_from_env({"RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "7",
                                                  NEW_SENDERS: "0", "RASA_TRUSTED_PROXIES": "1"})
    assert limiter.limits[MESSAGES] == 7 and limiter.limits[NEW_SENDERS] == 0
    assert limiter.limits["RATE_LIMIT_CASES_PER_SENDER_PER_DAY"] == ADDRESS_SETTINGS["RATE_LIMIT_CASES_PER_SENDER_PER_DAY"][0]
    assert limiter.trust.count == 1 and limiter.redis_connection is None
    shared = ratelimit.address_limiter_from_env({"LOCK_STORE_TYPE": "redis", "REDIS_HOST": "10.0.0.9"})
    assert shared.redis_connection["host"] == "10.0.0.9"
    assert isinstance(shared.limiter(MESSAGES).redis, RedisBuckets)


@needs_redis
def test_two_servers_share_the_address_limits_through_redis() -> None:
    import redis

    prefix_host = {"host": "127.0.0.1", "port": 6379, "password": None, "db": 15}
    marker = uuid.uuid4().hex
    prefix = f"opvoedmaatje-test:{marker}:"
    address = f"2001:db8::{int(marker[:4], 16):x}"

    async def scenario() -> List[bool]:
        first = _limiter(redis=prefix_host, prefix=prefix, **{NEW_SENDERS: 4})
        second = _limiter(redis=prefix_host, prefix=prefix, **{NEW_SENDERS: 4})
        results = []
        for i in range(6):  # new senders alternate between the two servers
            results.append((await (first, second)[i % 2].check_message("rest", f"{marker}-{i}", address)).allowed)
        results.append((await second.check_message("rest", f"{marker}-0", address)).allowed)  # seen on `first`
        for limiter in (first, second):
            for name in ADDRESS_SETTINGS:
                if limiter.limiter(name).redis is not None:
                    await limiter.limiter(name).redis.close()
        return results

    assert run(scenario()) == [True] * 4 + [False] * 2 + [True]
    # the action server (another process, synchronous) finds the address of a conversation
    actions = _limiter(redis=prefix_host, prefix=prefix, **{"RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY": 2})
    assert [actions.case_allowed(f"{marker}-{i}", "rest") for i in range(4)] == [True, True, False, False]
    client = redis.Redis(db=15)
    keys = [k[len(prefix):] for k in client.scan_iter(match=f"{prefix}*")]
    assert any(k.startswith(b"seen:") for k in keys) and any(k.startswith(b"link:") for k in keys)
    assert not any(address.encode() in k or b"2001" in k for k in keys)  # keyed hashes only
    keys = [prefix.encode() + k for k in keys]
    assert all(0 < client.ttl(k) <= 2 * 86400 for k in keys)  # everything expires
    client.delete(*keys)
    client.close()

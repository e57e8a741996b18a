"""Rate limiting per sender on the public channels (REST, socket.io, WhatsApp).

A token bucket per (channel, sender): ``RATE_LIMIT_PER_MINUTE`` tokens (default 30, 0 switches
the limit off), refilled evenly over a minute; every message takes one. The buckets live in
memory, or in Redis when ``LOCK_STORE_TYPE=redis`` (``REDIS_HOST``, ``REDIS_PORT``,
``REDIS_PASSWORD``, ``REDIS_DB``) so that several Rasa servers share them. Keys are hashes, never
the sender id itself. When Redis cannot be reached the limiter falls back to memory for a while
(a limit must never stop a parent in need from being answered) and logs that once.

``Decision.notify`` is true for the first refused message of a run of refusals: channels that
answer with a text (socket.io, WhatsApp) send the kind ``LIMITED_REPLY`` only then.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple

from bot import settings

logger = logging.getLogger(__name__)

DEFAULT_PER_MINUTE = 30
MAX_MEMORY_SENDERS = 100_000
REDIS_KEY_PREFIX = "opvoedmaatje:ratelimit:"
REDIS_TIMEOUT = 2.0  # seconds; a slow Redis must not hold messages up for long
REDIS_COOLDOWN = 10.0  # seconds in memory after a Redis failure

LIMITED_REPLY = (
    "Je stuurt veel berichten kort na elkaar. Wacht even en stuur je vraag dan opnieuw. "
    "Is er direct gevaar? Bel 112. Denk je aan zelfdoding? Bel 113 (0800-0113) of 113.nl."
)
LIMITED_ERROR = "Too many messages from this sender; try again later."


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next message would be allowed
    notify: bool = False  # first refusal of a run: tell the parent once


ALLOW = Decision(True)


def bucket_key(channel: str, sender: str) -> str:
    """A stable hash of channel and sender: the raw id never reaches the store or the log."""
    digest = hashlib.sha256(f"{channel}\x00{sender}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:40]


def per_minute_from_env(environ: Mapping[str, str] = os.environ) -> int:
    raw = (environ.get("RATE_LIMIT_PER_MINUTE") or "").strip()
    try:
        value = int(raw) if raw else DEFAULT_PER_MINUTE
    except ValueError:
        logger.warning("RATE_LIMIT_PER_MINUTE is not a whole number; using %d", DEFAULT_PER_MINUTE)
        value = DEFAULT_PER_MINUTE
    return max(0, value)


class MemoryBuckets:
    """Token buckets in this process, at most ``max_senders`` (least recently used dropped)."""

    def __init__(self, per_minute: int, max_senders: int = MAX_MEMORY_SENDERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_senders = max_senders
        self.clock = clock
        self._buckets: "OrderedDict[str, Tuple[float, float, bool]]" = OrderedDict()

    def take(self, key: str) -> Decision:
        now = self.clock()
        tokens, stamp, notified = self._buckets.pop(key, (self.capacity, now, False))
        tokens = min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)
        if tokens >= 1.0:
            decision = Decision(True)
            tokens, notified = tokens - 1.0, False
        else:
            decision = Decision(False, retry_after=(1.0 - tokens) / self.rate, notify=not notified)
            notified = True
        self._buckets[key] = (tokens, now, notified)
        while len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        return decision


# Atomic token bucket in Redis; the time is Redis' own, so all servers agree.
_REDIS_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'notified')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local notified = state[3]
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
  notified = '0'
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local notify = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
  notified = '0'
else
  retry = (1 - tokens) / rate
  if notified ~= '1' then
    notify = 1
    notified = '1'
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now), 'notified', notified)
redis.call('EXPIRE', KEYS[1], ttl)
return {allowed, notify, tostring(retry)}
"""


class RedisBuckets:
    """Token buckets in Redis, shared by every server that uses the same Redis database."""

    def __init__(self, per_minute: int, host: str = "127.0.0.1", port: int = 6379,
                 password: Optional[str] = None, db: int = 0, prefix: str = REDIS_KEY_PREFIX) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.ttl = 120  # seconds; an idle bucket is full after 60 s, so a missing key is the same
        self.prefix = prefix
        self._settings = dict(host=host, port=port, password=password or None, db=db,
                              socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        self._client = None
        self._script = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _ready(self):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a client belongs to one event loop
            import redis.asyncio as aioredis

            self._client = aioredis.Redis(**self._settings)
            self._script = self._client.register_script(_REDIS_SCRIPT)
            self._loop = loop
        return self._script

    async def take(self, key: str) -> Decision:
        script = self._ready()
        allowed, notify, retry = await script(keys=[self.prefix + key],
                                              args=[self.capacity, repr(self.rate), self.ttl])
        if int(allowed):
            return Decision(True)
        return Decision(False, retry_after=float(retry), notify=bool(int(notify)))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class RateLimiter:
    """Per-sender limits for the channels; Redis when configured, memory otherwise."""

    def __init__(self, per_minute: int, redis: Optional[RedisBuckets] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.memory = MemoryBuckets(per_minute, clock=clock) if per_minute > 0 else None
        self.redis = redis if per_minute > 0 else None
        self.clock = clock
        self._redis_down_until = 0.0

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def check(self, channel: str, sender: str) -> Decision:
        """Take one token for this sender; never raises."""
        if self.memory is None:
            return ALLOW
        key = bucket_key(channel, sender)
        if self.redis is not None and self.clock() >= self._redis_down_until:
            try:
                return await asyncio.wait_for(self.redis.take(key), timeout=2 * REDIS_TIMEOUT + 1.0)
            except Exception as error:  # Redis gone or slow: limit in memory for a while
                if self._redis_down_until == 0.0 or self.clock() >= self._redis_down_until + REDIS_COOLDOWN:
                    logger.warning("ratelimit: Redis unavailable (%s); limiting in memory for %.0f s",
                                   type(error).__name__, REDIS_COOLDOWN)
                self._redis_down_until = self.clock() + REDIS_COOLDOWN
        try:
            return self.memory.take(key)
        except Exception as error:  # pragma: no cover - defensive: a limit never breaks a channel
            logger.error("ratelimit: check failed (%s)", type(error).__name__)
            return ALLOW


    async def admit(self, channel: str, sender: str, output: Any) -> bool:
        """For channels that answer with a text: True when the message may go on; otherwise the
        parent gets the kind ``LIMITED_REPLY`` (once per run of refusals) through ``output``."""
        decision = await self.check(channel, sender)
        if not decision.allowed and decision.notify:
            await output.send_text_message(sender, LIMITED_REPLY)
        return decision.allowed


def from_env(environ: Mapping[str, str] = os.environ) -> RateLimiter:
    per_minute = per_minute_from_env(environ)
    connection = settings.shared_redis(environ)
    redis = RedisBuckets(per_minute, **connection) if per_minute > 0 and connection else None
    return RateLimiter(per_minute, redis)


@functools.lru_cache(maxsize=1)
def default_limiter() -> RateLimiter:
    """The process-wide limiter, from the environment of the Rasa server."""
    limiter = from_env()
    logger.info("ratelimit: %s per minute per sender (%s)",
                limiter.per_minute or "no limit", "redis" if limiter.redis else "memory")
    return limiter


async def check(channel: str, sender: str) -> Decision:
    """Shortcut for the channels: ``decision = await ratelimit.check("rest", sender_id)``."""
    return await default_limiter().check(channel, sender)


def refusal(decision: Decision) -> Tuple[dict, dict]:
    """JSON body and headers of an HTTP 429 for a refused message."""
    wait = max(1, int(decision.retry_after + 0.999))
    return ({"error": LIMITED_ERROR, "text": LIMITED_REPLY, "retry_after": wait},
            {"Retry-After": str(wait)})

"""Rate limiting per sender on the public channels (REST, socket.io, WhatsApp).

A token bucket per (channel, sender): ``RATE_LIMIT_PER_MINUTE`` tokens (default 30, 0 switches
the limit off), refilled evenly over a minute; every message takes one. The buckets live in
memory, or in Redis when ``LOCK_STORE_TYPE=redis`` (``REDIS_HOST``, ``REDIS_PORT``,
``REDIS_PASSWORD``, ``REDIS_DB``) so that several Rasa servers share them. Keys are hashes, never
the sender id itself. When Redis cannot be reached the limiter falls back to memory for a while
(a limit must never stop a parent in need from being answered) and logs that once.

``Decision.notify`` is true for the first refused message of a run of refusals: channels that
answer with a text (socket.io, WhatsApp) send the kind ``LIMITED_REPLY`` only then.

Per client address as well (issue 15; the second half of this module): messages, new
conversations and socket.io connections per address, and new hand-off cases per sender and per
address, so that rotating ids does not sidestep the limits. The address comes from a forwarding
header only when ``RASA_TRUSTED_PROXIES`` says so. Entry points: ``check_message`` (REST),
``admit_message`` / ``admit_connection`` with ``environ_address`` (socket.io), ``case_allowed``
(the hand-off).
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from bot import settings

logger = logging.getLogger(__name__)

DEFAULT_PER_MINUTE = int(settings.Settings.default("RATE_LIMIT_PER_MINUTE"))
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


def per_minute_from_env(environ: settings.Environ = None) -> int:
    raw = (settings.current(environ).RATE_LIMIT_PER_MINUTE or "").strip()
    try:
        value = int(raw) if raw else DEFAULT_PER_MINUTE
    except ValueError:
        logger.warning("RATE_LIMIT_PER_MINUTE is not a whole number; using %d", DEFAULT_PER_MINUTE)
        value = DEFAULT_PER_MINUTE
    return max(0, value)


class MemoryBuckets:
    """Token buckets in this process, at most ``max_senders`` (least recently used dropped)."""

    def __init__(self, per_minute: int, max_senders: int = MAX_MEMORY_SENDERS,
                 clock: Callable[[], float] = time.monotonic, period: float = 60.0) -> None:
        # ``per_minute`` tokens per ``period`` seconds (a minute unless told otherwise)
        self.capacity = float(per_minute)
        self.rate = per_minute / period
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
                 password: Optional[str] = None, db: int = 0, prefix: str = REDIS_KEY_PREFIX,
                 period: float = 60.0) -> None:
        self.capacity = per_minute
        self.rate = per_minute / period
        # seconds; an idle bucket is full after one period, so a missing key is the same
        self.ttl = int(2 * period)
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
                 clock: Callable[[], float] = time.monotonic, period: float = 60.0) -> None:
        self.per_minute = per_minute  # tokens per ``period`` seconds
        self.memory = MemoryBuckets(per_minute, clock=clock, period=period) if per_minute > 0 else None
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


def from_env(environ: settings.Environ = None) -> RateLimiter:
    values = settings.current(environ)
    per_minute = per_minute_from_env(values)
    connection = settings.shared_redis(values)
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


# ====================================================================== per client address (issue 15)
#
# Limits per sender alone are sidestepped by rotating the id the client picks (REST ``sender``,
# socket.io ``session_id``), and every new id creates tracker rows. So the public channels are
# also limited per client address:
#
# - messages per address per minute (``RATE_LIMIT_PER_ADDRESS_PER_MINUTE``, default 120: several
#   parents behind one NAT talk at the same time);
# - new conversations (sender ids not seen in the last 24 hours) per address per hour
#   (``RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR``, default 60);
# - socket.io connections per address per minute (``RATE_LIMIT_CONNECTIONS_PER_ADDRESS_PER_MINUTE``,
#   default 30);
# - new hand-off cases per sender per day (``RATE_LIMIT_CASES_PER_SENDER_PER_DAY``, default 3) and
#   per address per day (``RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY``, default 10; the action server
#   learns a conversation's address key from the channel through Redis, so per address only when
#   ``LOCK_STORE_TYPE=redis``).
#
# ``0`` switches one off. The address is the socket peer; ``X-Forwarded-For`` counts only when
# ``RASA_TRUSTED_PROXIES`` says so: a number (how many proxies in front of the Rasa server append
# to it, like CONSOLE_TRUSTED_PROXIES) or a comma-separated list of the proxies' addresses or
# networks (then only a peer in that list is believed, and the client is the right-most address
# that is not one of them). The machine's own address (``RATE_LIMIT_EXEMPT_ADDRESSES``, default
# ``127.0.0.1,::1``: `make run`, the tests, `make bench`) is not limited per address when the
# request carries no forwarding header (a proxy on the same host adds one). An IPv6 client counts
# by its /64. Address keys are keyed hashes (HMAC with the sender-id secret), never the address.

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

TRUSTED_PROXIES_ENV = "RASA_TRUSTED_PROXIES"
EXEMPT_ENV = "RATE_LIMIT_EXEMPT_ADDRESSES"
DEFAULT_EXEMPT = settings.Settings.default(EXEMPT_ENV)
ADDRESS_SETTINGS = {  # env name: (default, period in seconds)
    name: (int(settings.Settings.default(name)), period) for name, period in (
        ("RATE_LIMIT_PER_ADDRESS_PER_MINUTE", 60.0),
        ("RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR", 3600.0),
        ("RATE_LIMIT_CONNECTIONS_PER_ADDRESS_PER_MINUTE", 60.0),
        ("RATE_LIMIT_CASES_PER_SENDER_PER_DAY", 86400.0),
        ("RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY", 86400.0),
    )
}
SEEN_SECONDS = 24 * 3600  # a sender id first seen this long ago counts as a new conversation again
LINK_SECONDS = SEEN_SECONDS  # how long the action server can find a conversation's address key
_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

CONNECTION_REFUSED = "Te veel verbindingen vanaf dit adres. Probeer het over een minuut opnieuw."


def _whole_number(values: settings.Settings, name: str, default: int) -> int:
    raw = (getattr(values, name) or "").strip()
    try:
        return max(0, int(raw)) if raw else default
    except ValueError:
        logger.warning("%s is not a whole number; using %d", name, default)
        return default


def parse_address(value: Any) -> Optional[IPAddress]:
    """An IP address from a peer or a forwarding-header entry ("1.2.3.4", "1.2.3.4:5678",
    "[2001:db8::1]:443"); IPv4-mapped IPv6 as IPv4; None when it is not an address."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _networks(raw: str, name: str) -> Tuple[IPNetwork, ...]:
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            logger.warning("%s: %r is not an address or network; ignored", name, part)
    return tuple(networks)


def _within(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


@dataclass(frozen=True)
class ProxyTrust:
    """Which forwarding headers count: ``count`` proxies, or proxies at ``networks``; none by default."""

    count: int = 0
    networks: Tuple[IPNetwork, ...] = ()
    exempt: Tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, environ: settings.Environ = None) -> "ProxyTrust":
        values = settings.current(environ)
        raw = (values.RASA_TRUSTED_PROXIES or "").strip()
        count, networks = 0, ()  # type: ignore[var-annotated]
        if raw.isdigit():
            count = int(raw)
        elif raw:
            networks = _networks(raw, TRUSTED_PROXIES_ENV)
        exempt = _networks(values.RATE_LIMIT_EXEMPT_ADDRESSES, EXEMPT_ENV)  # unset: DEFAULT_EXEMPT
        return cls(count, networks, exempt)


def _header_items(headers: Any) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(k).lower(), str(v)) for k, v in items]


def client_address(peer: Any, headers: Any = None, trust: Optional[ProxyTrust] = None) -> Optional[str]:
    """The client's address for the per-address limits, or None for no per-address limit (an
    exempt local client without forwarding headers, or an unknown peer).

    ``headers``: the request's headers (a mapping or (name, value) pairs; repeated headers are
    all read). ``X-Forwarded-For`` counts only as ``trust`` (``RASA_TRUSTED_PROXIES``) says."""
    trust = trust if trust is not None else proxy_trust()
    peer_address = parse_address(peer)
    if peer_address is None:
        return None
    items = _header_items(headers)
    forwarded = any(name in _FORWARDING_HEADERS for name, _ in items)
    chain = [entry.strip() for name, value in items if name == "x-forwarded-for"
             for entry in value.split(",") if entry.strip()]
    client = peer_address
    if chain and trust.count:
        if len(chain) >= trust.count:  # fewer entries than proxies: the header is not believed
            client = parse_address(chain[-trust.count]) or peer_address
    elif chain and trust.networks and _within(peer_address, trust.networks):
        for entry in reversed(chain):  # right to left: the first hop no trusted proxy added
            hop = parse_address(entry)
            if hop is None:
                break
            client = hop
            if not _within(hop, trust.networks):
                break
    if not forwarded and _within(client, trust.exempt):
        return None
    return str(client)


IPV6_GROUP_PREFIX = 64


def address_group(address: str) -> str:
    """What the per-address limits count as one client: an IPv4 address, or an IPv6 /64."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_GROUP_PREFIX}", strict=False))
    return str(parsed) if parsed is not None else address


def request_address(request: Any, trust: Optional[ProxyTrust] = None) -> Optional[str]:
    """``client_address`` of a Sanic request (the REST channel, socket.io's handshake)."""
    try:
        peer = request.ip  # the socket peer (Sanic's conn_info), never a header
    except Exception:  # pragma: no cover - no connection info
        return None
    return client_address(peer, request.headers, trust)


def environ_address(connect_environ: Mapping[str, Any], trust: Optional[ProxyTrust] = None) -> Optional[str]:
    """``client_address`` from python-socketio's ``connect`` environ. python-engineio's Sanic
    driver writes ``REMOTE_ADDR: 127.0.0.1`` whatever the peer, so the Sanic request it keeps
    is read instead."""
    request = connect_environ.get("sanic.request")
    if request is not None:
        return request_address(request, trust)
    headers = [(key[5:].replace("_", "-"), value) for key, value in connect_environ.items()
               if isinstance(key, str) and key.startswith("HTTP_")]
    return client_address(connect_environ.get("REMOTE_ADDR"), headers, trust)


@functools.lru_cache(maxsize=1)
def proxy_trust() -> ProxyTrust:
    return ProxyTrust.from_env()


def _address_secret() -> bytes:
    """The sender-id secret (the same on every server), so that address keys agree across
    servers and cannot be reversed by hashing every IPv4 address."""
    try:
        from bot.services.pseudonym import default_pseudonymizer

        return default_pseudonymizer().secret
    except Exception as error:  # pragma: no cover - an unwritable var/: a key of this process
        logger.warning("ratelimit: no sender-id secret (%s); address keys are per process", type(error).__name__)
        import secrets as _secrets

        return _secrets.token_bytes(32)


class SeenSenders:
    """Sender keys used in the last ``ttl`` seconds, in memory (bounded, expired ones pruned)."""

    def __init__(self, ttl: float = SEEN_SECONDS, max_entries: int = MAX_MEMORY_SENDERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._until: "OrderedDict[str, float]" = OrderedDict()

    def first_seen(self, key: str) -> bool:
        now = self.clock()
        while self._until:  # oldest first: every entry gets the same ttl
            oldest, until = next(iter(self._until.items()))
            if until > now:
                break
            del self._until[oldest]
        if key in self._until:
            return False
        self._until[key] = now + self.ttl  # like Redis' SET NX EX: the first sight counts
        while len(self._until) > self.max_entries:
            self._until.popitem(last=False)
        return True

    def forget(self, key: str) -> None:
        self._until.pop(key, None)

    def __len__(self) -> int:
        return len(self._until)


class AddressLimiter:
    """The per-address limits of the channels and the hand-off; Redis when configured."""

    def __init__(self, limits: Mapping[str, int], redis: Optional[Mapping[str, Any]] = None,
                 secret: Optional[bytes] = None, trust: Optional[ProxyTrust] = None,
                 clock: Callable[[], float] = time.monotonic, prefix: str = REDIS_KEY_PREFIX) -> None:
        self.prefix = prefix
        self.limits = {name: int(limits.get(name, default)) for name, (default, _) in ADDRESS_SETTINGS.items()}
        self.redis_connection = dict(redis) if redis else None
        self.trust = trust if trust is not None else ProxyTrust()
        self.clock = clock
        self._secret = secret
        self._limiters: Dict[str, RateLimiter] = {}
        for name, (_, period) in ADDRESS_SETTINGS.items():
            n = self.limits[name]
            buckets = (RedisBuckets(n, prefix=f"{prefix}{name.lower()}:", period=period,
                                    **self.redis_connection)
                       if self.redis_connection and n > 0 else None)
            self._limiters[name] = RateLimiter(n, buckets, clock=clock, period=period)
        self.seen = SeenSenders(clock=clock)
        self._links: "OrderedDict[str, Tuple[str, float]]" = OrderedDict()  # sender key -> address key
        self._told: "OrderedDict[str, float]" = OrderedDict()  # sender keys told of an address limit
        self._sync_redis: Any = None
        self._sync_lock = threading.Lock()

    # --- keys -----------------------------------------------------------------------------
    def address_key(self, address: str) -> str:
        """A keyed hash of the address; IPv6 addresses by their /64 (one subscriber's whole
        prefix: rotating addresses inside it is free)."""
        if self._secret is None:
            self._secret = _address_secret()
        return hmac.new(self._secret, f"addr\x00{address_group(address)}".encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()[:40]

    def limiter(self, name: str) -> RateLimiter:
        return self._limiters[name]

    # --- channels -------------------------------------------------------------------------
    async def check_message(self, channel: str, sender: str, address: Optional[str]) -> Decision:
        """One message of ``sender`` from ``address``: the per-address message limit, and the
        new-conversation limit when the sender id is new. Never raises."""
        if address is None:
            return ALLOW
        try:
            key = self.address_key(address)
            decision = await self._limiters["RATE_LIMIT_PER_ADDRESS_PER_MINUTE"].check("message", key)
            if not decision.allowed:
                return decision
            new_senders = self._limiters["RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR"]
            sender_key = bucket_key(channel, sender)
            new = await self._first_seen(sender_key) if new_senders.enabled else True
            if new and new_senders.enabled:
                decision = await new_senders.check("new-sender", key)
                if not decision.allowed:
                    await self._forget_seen(sender_key)  # refused: not a conversation yet
                    return decision
            if new and self._limiters["RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY"].enabled:
                await self._link(sender_key, key)  # where the conversation started, for the case limit
            return ALLOW
        except Exception as error:  # pragma: no cover - a limit never breaks a channel
            logger.error("ratelimit: address check failed (%s)", type(error).__name__)
            return ALLOW

    async def check_connection(self, address: Optional[str]) -> Decision:
        if address is None:
            return ALLOW
        return await self._limiters["RATE_LIMIT_CONNECTIONS_PER_ADDRESS_PER_MINUTE"].check(
            "connection", self.address_key(address))

    def tell_once(self, channel: str, sender: str, window: float = 60.0) -> bool:
        """True when this sender has not been told of an address limit in the last ``window``
        seconds (so every parent behind a limited address hears it once, nobody repeatedly)."""
        key, now = bucket_key(channel, sender), self.clock()
        told = self._told.pop(key, None)
        self._told[key] = told if told is not None and now - told < window else now
        while len(self._told) > MAX_MEMORY_SENDERS:
            self._told.popitem(last=False)
        return told is None or now - told >= window

    async def _first_seen(self, sender_key: str) -> bool:
        redis = self._limiters["RATE_LIMIT_PER_ADDRESS_PER_MINUTE"].redis
        if redis is not None:
            try:
                redis._ready()
                return bool(await asyncio.wait_for(
                    redis._client.set(f"{self.prefix}seen:{sender_key}", b"1", nx=True, ex=SEEN_SECONDS),
                    timeout=2 * REDIS_TIMEOUT))
            except Exception:  # Redis down: this process's memory, like the buckets
                pass
        return self.seen.first_seen(sender_key)

    async def _forget_seen(self, sender_key: str) -> None:
        self.seen.forget(sender_key)
        redis = self._limiters["RATE_LIMIT_PER_ADDRESS_PER_MINUTE"].redis
        if redis is not None:
            try:
                redis._ready()
                await asyncio.wait_for(redis._client.delete(f"{self.prefix}seen:{sender_key}"),
                                       timeout=2 * REDIS_TIMEOUT)
            except Exception:  # noqa: BLE001 - forgetting a link is best effort; the link expires by itself
                pass

    async def _link(self, sender_key: str, key: str) -> None:
        self._links.pop(sender_key, None)
        self._links[sender_key] = (key, self.clock() + LINK_SECONDS)
        while len(self._links) > MAX_MEMORY_SENDERS:
            self._links.popitem(last=False)
        redis = self._limiters["RATE_LIMIT_PER_ADDRESS_PER_MINUTE"].redis
        if redis is not None:
            try:
                redis._ready()
                await asyncio.wait_for(redis._client.set(f"{self.prefix}link:{sender_key}", key,
                                                         ex=LINK_SECONDS), timeout=2 * REDIS_TIMEOUT)
            except Exception:  # noqa: BLE001 - Redis down: the in-memory link below still serves this process
                pass

    # --- hand-off (the action server: synchronous) -------------------------------------------
    def case_allowed(self, sender: str, channel: Optional[str] = None) -> bool:
        """May a new hand-off case be opened for this conversation? At most
        ``RATE_LIMIT_CASES_PER_SENDER_PER_DAY`` per sender and ``RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY``
        per address (when the channel's address key is known: same process, or Redis). Takes a
        token when it says yes. Never raises (allows on an internal error)."""
        try:
            if not self._take_sync("RATE_LIMIT_CASES_PER_SENDER_PER_DAY", "case", bucket_key("case", sender)):
                return False
            if self._limiters["RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY"].enabled and channel:
                address_key = self._linked_address(bucket_key(channel, sender))
                if address_key and not self._take_sync("RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY", "case", address_key):
                    return False
            return True
        except Exception as error:  # pragma: no cover
            logger.error("ratelimit: case check failed (%s)", type(error).__name__)
            return True

    def _redis_sync(self) -> Any:
        if self.redis_connection is None:
            return None
        with self._sync_lock:
            if self._sync_redis is None:
                import redis as redis_sync

                self._sync_redis = redis_sync.Redis(socket_timeout=REDIS_TIMEOUT,
                                                    socket_connect_timeout=REDIS_TIMEOUT,
                                                    **{k: v for k, v in self.redis_connection.items()})
            return self._sync_redis

    def _linked_address(self, sender_key: str) -> Optional[str]:
        client = self._redis_sync()
        if client is not None:
            try:
                value = client.get(f"{self.prefix}link:{sender_key}")
                if value:
                    return value.decode() if isinstance(value, bytes) else str(value)
            except Exception:  # noqa: BLE001 - Redis down: fall back to this process's own links
                pass
        entry = self._links.get(sender_key)
        return entry[0] if entry and entry[1] > self.clock() else None

    def _take_sync(self, name: str, kind: str, key: str) -> bool:
        limiter = self._limiters[name]
        if not limiter.enabled:
            return True
        client = self._redis_sync()
        _, period = ADDRESS_SETTINGS[name]
        if client is not None and limiter.redis is not None:
            try:
                allowed, _notify, _retry = client.eval(
                    _REDIS_SCRIPT, 1, limiter.redis.prefix + bucket_key(kind, key),
                    limiter.per_minute, repr(limiter.per_minute / period), int(2 * period))
                return bool(int(allowed))
            except Exception as error:  # noqa: BLE001 - any Redis failure falls back to the in-memory limit
                logger.warning("ratelimit: Redis unavailable for the case limit (%s); in memory",
                               type(error).__name__)
        assert limiter.memory is not None
        return limiter.memory.take(bucket_key(kind, key)).allowed


def address_limiter_from_env(environ: settings.Environ = None) -> AddressLimiter:
    values = settings.current(environ)
    limits = {name: _whole_number(values, name, default) for name, (default, _) in ADDRESS_SETTINGS.items()}
    return AddressLimiter(limits, settings.shared_redis(values), trust=ProxyTrust.from_env(values))


@functools.lru_cache(maxsize=1)
def default_address_limiter() -> AddressLimiter:
    """The process-wide per-address limiter, from the environment."""
    limiter = address_limiter_from_env()
    trust = limiter.trust
    logger.info("ratelimit: per address %s (%s; forwarding headers: %s)",
                ", ".join(f"{k.lower()}={v}" for k, v in limiter.limits.items()),
                "redis" if limiter.redis_connection else "memory",
                f"{trust.count} proxies" if trust.count else
                (f"{len(trust.networks)} proxy networks" if trust.networks else "ignored"))
    return limiter


async def check_message(channel: str, sender: str, address: Optional[str]) -> Decision:
    """Both limits of one message: per sender (``RATE_LIMIT_PER_MINUTE``), then per address.
    ``address`` from ``request_address(request)`` / ``environ_address(environ)``."""
    decision = await check(channel, sender)
    if not decision.allowed:
        return decision
    return await default_address_limiter().check_message(channel, sender, address)


async def admit_message(channel: str, sender: str, address: Optional[str], output: Any) -> bool:
    """For the socket.io channel: True when the message may go on; otherwise the parent gets the
    kind ``LIMITED_REPLY`` once (per run of refusals of its own id, or once a minute per id when
    its address is limited) through ``output``."""
    own = await check(channel, sender)
    if not own.allowed:
        if own.notify:
            await output.send_text_message(sender, LIMITED_REPLY)
        return False
    decision = await default_address_limiter().check_message(channel, sender, address)
    if not decision.allowed and default_address_limiter().tell_once(channel, sender):
        await output.send_text_message(sender, LIMITED_REPLY)
    return decision.allowed


async def admit_connection(address: Optional[str]) -> bool:
    """For the socket.io ``connect`` handler: False when this address opened too many
    connections in the last minute (refuse the connection)."""
    return (await default_address_limiter().check_connection(address)).allowed


def case_allowed(sender: str, channel: Optional[str] = None) -> bool:
    """For the hand-off (``action_open_case``, before ``handoff.open_case``): may a new case be
    opened for this conversation? ``channel`` is ``tracker.get_latest_input_channel()``."""
    return default_address_limiter().case_allowed(sender, channel)

"""Console users: password hashing, the second factor (TOTP), the Flask-Login user, login
throttling."""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from typing import Any, Callable, Mapping, Optional

import pyotp
import segno
from flask_login import UserMixin
from markupsafe import Markup, escape
from werkzeug.security import check_password_hash, generate_password_hash

from bot.services.cases import CaseStore, User
from bot.services.cases.schema import ROLE_AREAS

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
HASH_METHOD = "scrypt"
# a hash to compare against when the e-mail is unknown, so both cases take as long
_DUMMY_HASH = generate_password_hash("not-a-real-password-000", method=HASH_METHOD)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def password_problem(password: str) -> Optional[str]:
    """A Dutch explanation when the password is too weak, else None."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"Kies een wachtwoord van minstens {MIN_PASSWORD_LENGTH} tekens."
    if len(set(password)) < 5:
        return "Kies een wachtwoord met meer verschillende tekens."
    return None


# --- the second factor: TOTP (RFC 6238) ----------------------------------------------------------

TOTP_ISSUER = "Opvoedmaatje"  # the name the authenticator app shows
TOTP_DIGITS = 6
TOTP_VALID_WINDOW = 1  # pyotp's valid_window: the code of the step before and after counts too
# the time the codes are checked against (tests move it on instead of waiting for the next code)
totp_clock: Callable[[], float] = time.time


def new_totp_secret() -> str:
    """A fresh secret: 32 base32 characters (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str, label: str) -> Markup:
    """The QR code of `uri` as inline SVG, drawn on the server (no script, no image request:
    the console's CSP allows neither). `label` is its accessible name."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff",
                                                svgclass="qr", lineclass=None, omitsize=False)
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" focusable="false" ', 1))


def group_secret(secret: str) -> str:
    """The secret in groups of four, easier to type over."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def clean_code(code: Optional[str]) -> Optional[str]:
    """The code as typed, without spaces; None unless it is exactly six digits."""
    cleaned = "".join((code or "").split())
    return cleaned if len(cleaned) == TOTP_DIGITS and cleaned.isdigit() else None


def matching_step(secret: Optional[str], code: Optional[str], now: Optional[float] = None) -> Optional[int]:
    """The 30-second step whose code `code` is, within ``TOTP_VALID_WINDOW`` steps of now (what
    ``pyotp.TOTP.verify(code, valid_window=1)`` accepts), or None. The caller makes sure a step
    is used only once (``CaseStore.use_totp_step``)."""
    cleaned = clean_code(code)
    if not secret or cleaned is None:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(totp_clock() if now is None else now)
    found = None
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        # compare every candidate, in constant time, so the time taken tells nothing
        if hmac.compare_digest(totp.generate_otp(step), cleaned) and found is None:
            found = step
    return found


def fingerprint(user: User) -> str:
    """Changes when the password changes: older sessions stop working."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


class ConsoleUser(UserMixin):
    """The logged-in professional, as Flask-Login sees them."""

    def __init__(self, user: User):
        self.user = user
        self.id = user.id
        self.email = user.email
        self.display_name = user.display_name
        self.role = user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    def may(self, area: str) -> bool:
        """Whether this user's role may open `area` of the console (ROLE_AREAS)."""
        return area in ROLE_AREAS.get(self.user.role, ())

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.user.active

    def get_id(self) -> str:
        # the session version: logout and a password change bump it in the database
        return f"{self.user.id}.{fingerprint(self.user)}.{self.user.session_version}"


def load_user(store: CaseStore, session_id: str) -> Optional[ConsoleUser]:
    """The user of a session, only while its password and session version are current."""
    parts = (session_id or "").split(".")
    if len(parts) != 3:
        return None
    try:
        user = store.user(int(parts[0]))
    except ValueError:
        return None
    if (user is None or not user.active or fingerprint(user) != parts[1]
            or str(user.session_version) != parts[2]):
        return None
    return ConsoleUser(user)


def authenticate(store: CaseStore, email: str, password: str) -> Optional[User]:
    user = store.user_by_email(email or "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


class MemoryCounters:
    """Counters and markers that expire, in this process; expired ones are pruned as it goes."""

    SWEEP_SECONDS = 60.0  # at most this long between two sweeps of the whole table

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._values: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)
        self._lock = threading.Lock()
        self._next_sweep = clock() + self.SWEEP_SECONDS

    def _live(self, key: str, now: float) -> Optional[tuple[int, float]]:
        found = self._values.get(key)
        if found is not None and found[1] <= now:
            del self._values[key]
            return None
        return found

    def _prune(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            for key in [k for k, (_, until) in self._values.items() if until <= now]:
                del self._values[key]

    def incr(self, key: str, ttl: float) -> int:
        """Add one; the key lives `ttl` seconds from its first count."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            found = self._live(key, now)
            value = (found[0] if found else 0) + 1
            self._values[key] = (value, found[1] if found else now + ttl)
            return value

    def set(self, key: str, ttl: float) -> None:
        with self._lock:
            self._prune(self.clock())
            self._values[key] = (1, self.clock() + ttl)

    def ttl(self, key: str) -> float:
        """Seconds `key` still lives (0 when it is not there)."""
        now = self.clock()
        with self._lock:
            found = self._live(key, now)
            return max(0.0, found[1] - now) if found else 0.0

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def __len__(self) -> int:
        """Entries held, expired ones not yet swept included."""
        with self._lock:
            return len(self._values)


class RedisCounters:
    """The same in Redis (expiry by Redis itself), shared by every web server. While Redis
    cannot be reached, this process counts in memory instead (logged), so logins stay throttled."""

    def __init__(self, client: Any, prefix: str = "opvoed:console:login") -> None:
        self.client = client
        self.prefix = prefix
        self.fallback = MemoryCounters()

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _guarded(self, name: str, *args: Any) -> Any:
        import redis

        try:
            return getattr(self, f"_{name}")(*args)
        except redis.RedisError as error:
            logger.error("console login throttle: Redis unavailable (%s); counting in memory",
                         type(error).__name__)
            return getattr(self.fallback, name)(*args)

    def incr(self, key: str, ttl: float) -> int:
        return self._guarded("incr", key, ttl)

    def set(self, key: str, ttl: float) -> None:
        self._guarded("set", key, ttl)

    def ttl(self, key: str) -> float:
        return self._guarded("ttl", key)

    def delete(self, *keys: str) -> None:
        self._guarded("delete", *keys)

    def _incr(self, key: str, ttl: float) -> int:
        pipe = self.client.pipeline()  # MULTI/EXEC: the expiry is set with the first count
        pipe.set(self._key(key), 0, ex=max(1, int(ttl)), nx=True)
        pipe.incr(self._key(key))
        _, value = pipe.execute()
        return int(value)

    def _set(self, key: str, ttl: float) -> None:
        self.client.set(self._key(key), 1, px=max(1, int(ttl * 1000)))

    def _ttl(self, key: str) -> float:
        left = self.client.pttl(self._key(key))
        return max(0.0, left / 1000.0) if left and left > 0 else 0.0

    def _delete(self, *keys: str) -> None:
        if keys:
            self.client.delete(*(self._key(k) for k in keys))


class Throttle:
    """Failed logins per ACCOUNT (never per address: behind a proxy every professional has the
    same one), with exponential backoff: after `limit` failures within `window` seconds the
    account is locked for `lock_seconds`, then twice as long after the next `limit` failures, up
    to `max_lock_seconds`. The lock level is forgotten after a success or `memory` seconds.
    Keys are hashed, so Redis holds no e-mail address."""

    def __init__(self, counters: Any = None, limit: int = 5, window: float = 15 * 60,
                 lock_seconds: float = 60.0, max_lock_seconds: float = 3600.0,
                 memory: float = 24 * 3600.0) -> None:
        self.counters = counters if counters is not None else MemoryCounters()
        self.limit, self.window = limit, window
        self.lock_seconds, self.max_lock_seconds, self.memory = lock_seconds, max_lock_seconds, memory

    @staticmethod
    def _id(account: str) -> str:
        return hashlib.sha256((account or "").strip().lower().encode("utf-8")).hexdigest()[:32]

    def locked_for(self, account: str) -> float:
        """Seconds the account is still locked (0: not locked)."""
        return self.counters.ttl(f"lock:{self._id(account)}")

    def blocked(self, account: str) -> bool:
        return self.locked_for(account) > 0

    def failed(self, account: str) -> float:
        """Count a failure; returns the seconds of a lock it starts (0 when none)."""
        key = self._id(account)
        if self.counters.incr(f"fail:{key}", self.window) < self.limit:
            return 0.0
        self.counters.delete(f"fail:{key}")
        level = self.counters.incr(f"level:{key}", self.memory)
        seconds = min(self.max_lock_seconds, self.lock_seconds * 2 ** (level - 1))
        self.counters.set(f"lock:{key}", seconds)
        return seconds

    def reset(self, account: str) -> None:
        key = self._id(account)
        self.counters.delete(f"fail:{key}", f"level:{key}", f"lock:{key}")


def throttle_from_settings(environ: Optional[Mapping[str, str]] = None, **kwargs: Any) -> Throttle:
    """Kept in Redis when the settings share one (``LOCK_STORE_TYPE=redis``), else in memory."""
    from bot import settings

    connection = settings.shared_redis(environ)
    if connection:
        import redis

        client = redis.Redis(socket_timeout=2, socket_connect_timeout=2, **connection)
        return Throttle(RedisCounters(client), **kwargs)
    return Throttle(MemoryCounters(), **kwargs)

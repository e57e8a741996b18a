"""Sender ids as keyed hashes, and the short-lived memory of the number needed to reply.

A phone number never reaches the tracker or the logs: channels that receive one (WhatsApp via
Meta or Twilio) use ``pseudonym(number)`` as Rasa's sender id, an HMAC-SHA256 of the number with
a secret. The secret comes from env ``SENDER_ID_SECRET``; when that is unset a random secret is
generated once and kept in ``var/sender-id-secret`` (mode 0600), like ``bot.settings.auth_token``.
Changing the secret starts new conversations for everyone (old trackers can no longer be linked).

To send the reply the channel needs the number, so ``NumberBook`` keeps pseudonym -> number in
process memory only, for a limited time (``ttl`` seconds after the parent's last message, default
24 hours: the length of WhatsApp's customer-service window). Nothing is written to disk; a restart
forgets every number. Keeping a number longer, for a hand-off the parent agreed to, is the
hand-off's storage (issue 6), not this module's.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from bot import settings

SECRET_ENV = "SENDER_ID_SECRET"
SECRET_FILE = settings.VAR_DIR / "sender-id-secret"
DIGEST_CHARS = 32  # 128 bits of the HMAC, hex
_NOT_DIGITS = re.compile(r"\D")
_PHONE = re.compile(r"^(?:whatsapp:)?\s*\+?[\d\s\-().]{6,}$")


def load_secret(environ: settings.Environ = None, secret_file: Path = SECRET_FILE) -> bytes:
    """``SENDER_ID_SECRET`` when set; else the generated secret in ``secret_file`` (created once)."""
    return settings.secret(SECRET_ENV, secret_file, environ)[0].encode("utf-8")


def normalise_number(value: str) -> str:
    """A phone number as digits only ('whatsapp:+31 6-1234 5678' == '0031612345678' == '31612345678');
    '' when ``value`` does not look like a phone number."""
    if not isinstance(value, str) or not _PHONE.match(value.strip()):
        return ""
    return _NOT_DIGITS.sub("", value).lstrip("0")


@dataclass(frozen=True)
class Pseudonymizer:
    """Keyed hash of identifiers; the same secret and input always give the same pseudonym."""

    secret: bytes

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the sender-id secret must not be empty")

    def pseudonym(self, identifier: str, prefix: str = "wa") -> str:
        """``<prefix>-<32 hex>``; phone numbers are normalised first, so formats do not matter."""
        number = normalise_number(identifier)
        key = "tel:" + number if number else "id:" + (identifier or "")
        digest = hmac.new(self.secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"{prefix}-{digest[:DIGEST_CHARS]}"


@lru_cache(maxsize=1)
def default_pseudonymizer() -> Pseudonymizer:
    """The process-wide pseudonymizer, with the secret of the environment or of var/."""
    return Pseudonymizer(load_secret())


def pseudonym(identifier: str, prefix: str = "wa") -> str:
    """Shortcut for ``default_pseudonymizer().pseudonym(...)``."""
    return default_pseudonymizer().pseudonym(identifier, prefix)


@dataclass(frozen=True)
class Contact:
    """What a channel needs to reply: the number, and when the parent last wrote (epoch seconds)."""

    number: str
    last_inbound: float


class NumberBook:
    """pseudonym -> number, in memory only, each entry forgotten ``ttl`` seconds after it was set.

    Bounded (``max_entries``, oldest dropped first) and thread-safe. ``clock`` is injectable for tests.
    """

    def __init__(self, ttl: float = 24 * 3600, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: "OrderedDict[str, tuple[Contact, float]]" = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, pseudonym_: str, number: str, last_inbound: Optional[float] = None) -> None:
        now = self.clock()
        inbound = now if last_inbound is None else min(float(last_inbound), now)
        with self._lock:
            self._entries.pop(pseudonym_, None)
            self._entries[pseudonym_] = (Contact(number, inbound), now + self.ttl)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def lookup(self, pseudonym_: str) -> Optional[Contact]:
        now = self.clock()
        with self._lock:
            self._purge(now)
            entry = self._entries.get(pseudonym_)
            return entry[0] if entry else None

    def forget(self, pseudonym_: str) -> None:
        with self._lock:
            self._entries.pop(pseudonym_, None)

    def __len__(self) -> int:
        with self._lock:
            self._purge(self.clock())
            return len(self._entries)

    def _purge(self, now: float) -> None:
        expired = [key for key, (_, until) in self._entries.items() if until <= now]
        for key in expired:
            del self._entries[key]


class RecentIds:
    """A bounded set of recently seen ids (LRU): ``seen_before(id)`` is True for a repeat."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._ids: "OrderedDict[str, None]" = OrderedDict()
        self._lock = threading.Lock()

    def seen_before(self, item: str) -> bool:
        with self._lock:
            if item in self._ids:
                self._ids.move_to_end(item)
                return True
            self._ids[item] = None
            while len(self._ids) > self.max_entries:
                self._ids.popitem(last=False)
            return False

    def __len__(self) -> int:
        return len(self._ids)

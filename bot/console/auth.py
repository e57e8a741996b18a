"""Console users: password hashing, the Flask-Login user, login throttling."""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Optional

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from bot.cases import CaseStore, User

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

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.user.active

    def get_id(self) -> str:
        return f"{self.user.id}.{fingerprint(self.user)}"


def load_user(store: CaseStore, session_id: str) -> Optional[ConsoleUser]:
    raw_id, _, print_ = (session_id or "").partition(".")
    try:
        user = store.user(int(raw_id))
    except ValueError:
        return None
    if user is None or not user.active or fingerprint(user) != print_:
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


@dataclass
class Throttle:
    """At most `limit` failed logins per key within `window` seconds."""

    limit: int = 5
    window: float = 15 * 60

    def __post_init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if now - t < self.window]

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures[key] = self._recent(key, now) + [now]

    def reset(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

"""Encryption at rest of the contact details in the case store (issue 14, item 3).

A phone number or e-mail address a parent gives for a hand-off is stored as a Fernet token
(``cryptography``: AES-128-CBC + HMAC-SHA256, with a timestamp), never as text. Only the
console decrypts it, when it shows the case (``Case.contact_detail``).

The key comes from env ``CASE_STORE_KEY``: one Fernet key (32 url-safe base64-encoded bytes), or
several separated by commas to rotate keys (the first encrypts, every one decrypts). Make one
with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

When it is unset a key is generated once into ``var/case-store-key`` (created with mode 0600),
like ``SENDER_ID_SECRET``. Every server that shares a case store (the action server, the web
server with the console, other replicas) must use the same key: set ``CASE_STORE_KEY`` for
PostgreSQL deployments. Keep the key out of the database backups: a lost key makes the stored
details unreadable; a leaked one together with a backup makes them readable.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot import settings

KEY_ENV = "CASE_STORE_KEY"
KEY_FILE = settings.VAR_DIR / "case-store-key"
TOKEN_PREFIX = "gAAAAA"  # every Fernet token (version byte 0x80, then the timestamp) starts so
UNREADABLE = "(niet te lezen: de sleutel CASE_STORE_KEY past niet)"
MAX_PLAINTEXT = 254


class CaseKeyError(ValueError):
    """CASE_STORE_KEY holds something that is not a Fernet key."""


def _parse_keys(value: str, origin: str) -> list[bytes]:
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise CaseKeyError(f"{origin} holds no key")
    for key in keys:
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise CaseKeyError(
                f"{origin} is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
                "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
            ) from None
    return [key.encode("ascii") for key in keys]


def load_keys(environ: settings.Environ = None, key_file: Path = KEY_FILE) -> tuple[list[bytes], bool]:
    """The keys (first one encrypts) and whether they came from the environment.

    ``CASE_STORE_KEY`` when set; else the key in ``key_file``, generated once (mode 0600 from
    creation, so it is never readable by others, not even for a moment)."""
    value, stored_in = settings.secret(KEY_ENV, key_file, environ, strip=True,
                                       generate=lambda: Fernet.generate_key().decode("ascii"))
    return _parse_keys(value, KEY_ENV if stored_in is None else str(key_file)), stored_in is None


class ContactCipher:
    """Encrypts and decrypts contact details with the case store's key(s)."""

    def __init__(self, keys: Sequence[Union[bytes, str]], from_environment: bool = True) -> None:
        if not keys:
            raise CaseKeyError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.from_environment = from_environment

    @classmethod
    def from_env(cls, environ: settings.Environ = None, key_file: Path = KEY_FILE) -> "ContactCipher":
        keys, from_environment = load_keys(environ, key_file)
        return cls(keys, from_environment)

    def encrypt(self, detail: Optional[str]) -> Optional[str]:
        """The token to store for `detail` (None stays None)."""
        if detail is None:
            return None
        return self._fernet.encrypt(str(detail)[:MAX_PLAINTEXT].encode("utf-8")).decode("ascii")

    def decrypt(self, token: Optional[str]) -> Optional[str]:
        """The detail of a stored token; raises `InvalidToken` when no key fits."""
        if token is None:
            return None
        return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")


def is_token(value: Optional[str]) -> bool:
    """Whether a stored value is a Fernet token (and not a detail stored in clear before 0003)."""
    return bool(value) and str(value).startswith(TOKEN_PREFIX)


@lru_cache(maxsize=1)
def default_cipher() -> ContactCipher:
    """The process-wide cipher, with the key of the environment or of var/."""
    return ContactCipher.from_env()


__all__ = ["CaseKeyError", "ContactCipher", "InvalidToken", "KEY_ENV", "KEY_FILE", "UNREADABLE", "default_cipher",
           "is_token", "load_keys"]

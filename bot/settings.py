"""Runtime settings from the environment, with the defaults of README.md "Configuration".

One place for every environment variable the assistant reads, so that ``make``, ``bot.serve``
and the tests agree. ``python -m bot.settings env`` prints ``KEY=value`` words for ``env``.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
TOKEN_FILE = VAR_DIR / "auth-token"


def defaults(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The settings in force: what the environment sets, else the embedded defaults."""
    get = environ.get
    action_port = get("ACTION_PORT", "5055")
    values = {
        "RASA_PORT": get("RASA_PORT", "5005"),
        "ACTION_PORT": action_port,
        "WEB_PORT": get("WEB_PORT", "8080"),
        "ACTION_ENDPOINT_URL": get("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{action_port}/webhook"),
        # SQLite by default; PostgreSQL: postgresql://user:password@host:5432/db
        "TRACKER_STORE_URL": get("TRACKER_STORE_URL", f"sqlite:///{VAR_DIR / 'trackers.db'}"),
        # in_memory by default; redis for several Rasa servers
        "LOCK_STORE_TYPE": get("LOCK_STORE_TYPE", "in_memory"),
        "REDIS_HOST": get("REDIS_HOST", "127.0.0.1"),
        "REDIS_PORT": get("REDIS_PORT", "6379"),
        "REDIS_PASSWORD": get("REDIS_PASSWORD", ""),
        "REDIS_DB": get("REDIS_DB", "1"),
        "TF_CPP_MIN_LOG_LEVEL": get("TF_CPP_MIN_LOG_LEVEL", "2"),
        # anonymous statistics to RabbitMQ (bot/stats_broker.py); empty: off
        "EVENT_BROKER_URL": get("EVENT_BROKER_URL", ""),
        "EVENT_BROKER_QUEUE": get("EVENT_BROKER_QUEUE", "opvoedmaatje_stats"),
        "EVENT_BROKER_EXCHANGE": get("EVENT_BROKER_EXCHANGE", "opvoedmaatje-stats"),
        "STATS_HASH_KEY": get("STATS_HASH_KEY", ""),
        "RATE_LIMIT_PER_MINUTE": get("RATE_LIMIT_PER_MINUTE", "30"),
        # the case store of the hand-off (issue 6): SQLite by default, PostgreSQL by URL
        "CASE_STORE_URL": get("CASE_STORE_URL", f"sqlite:///{VAR_DIR / 'cases.db'}"),
    }
    return values


def shared_redis(environ: Mapping[str, str] = os.environ) -> Optional[Dict[str, Any]]:
    """The Redis of the lock store (host, port, password, db) when ``LOCK_STORE_TYPE=redis``,
    else None: what several Rasa servers share (locks, rate limits, socket.io messages)."""
    values = defaults(environ)
    if values["LOCK_STORE_TYPE"].strip().lower() != "redis":
        return None
    try:
        port, db = int(values["REDIS_PORT"]), int(values["REDIS_DB"])
    except ValueError:
        port, db = 6379, 1
    return {"host": values["REDIS_HOST"] or "127.0.0.1", "port": port,
            "password": values["REDIS_PASSWORD"] or None, "db": db}


def redis_url(connection: Mapping[str, Any]) -> str:
    password = f":{quote(str(connection['password']), safe='')}@" if connection.get("password") else ""
    return f"redis://{password}{connection['host']}:{connection['port']}/{connection['db']}"


def auth_token(environ: Mapping[str, str] = os.environ, token_file: Path = TOKEN_FILE) -> tuple[str, Optional[Path]]:
    """``RASA_AUTH_TOKEN`` when set; else a generated token kept in an ignored file.

    Returns the token and the file it is stored in (None when it came from the environment).
    """
    token = environ.get("RASA_AUTH_TOKEN")
    if token:
        return token, None
    if token_file.is_file() and token_file.read_text().strip():
        return token_file.read_text().strip(), token_file
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token, token_file


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "env":
        VAR_DIR.mkdir(exist_ok=True)
        print(" ".join(f"{key}={value}" for key, value in defaults().items()))
        return 0
    print("usage: python -m bot.settings env", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv))

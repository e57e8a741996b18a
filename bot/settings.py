"""Runtime settings from the environment, with the defaults of README.md "Configuration".

One place for every environment variable the assistant reads, so that ``make``, ``bot.serve``
and the tests agree. ``python -m bot.settings env`` prints ``KEY=value`` words for ``env``; ``python -m bot.settings
check`` exits 2 with a message when a secret setting is a placeholder or too short (the
containers run it before they start).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
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
        # the municipality's insight (issue 18): counted in the Rasa process when there is no
        # broker; with a broker the consumer (python -m bot.insight.consume) answers GET /health here
        "INSIGHT_IN_PROCESS": get("INSIGHT_IN_PROCESS", "1"),
        "INSIGHT_PORT": get("INSIGHT_PORT", "5056"),
        "RATE_LIMIT_PER_MINUTE": get("RATE_LIMIT_PER_MINUTE", "30"),
        # the case store of the hand-off (issue 6): SQLite by default, PostgreSQL by URL
        "CASE_STORE_URL": get("CASE_STORE_URL", f"sqlite:///{VAR_DIR / 'cases.db'}"),
        # follow-ups (issue 19): seconds between the worker's rounds (python -m bot.followups), and
        # the WhatsApp template (name, language) a follow-up goes out as outside the 24-hour window
        "FOLLOWUP_INTERVAL": get("FOLLOWUP_INTERVAL", "60"),
        "WHATSAPP_FOLLOWUP_TEMPLATE": get("WHATSAPP_FOLLOWUP_TEMPLATE", "opvoedmaatje_vervolgvraag"),
        "WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE": get("WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE", "nl"),
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
    try:
        write_secret_file(token_file, token + "\n")
    except FileExistsError:  # another process wrote it first (or left it empty): use or replace that
        existing = token_file.read_text().strip()
        if existing:
            return existing, token_file
        token_file.unlink()
        write_secret_file(token_file, token + "\n")
    return token, token_file


SESSION_SECRET_ENV = "SOCKETIO_SESSION_SECRET"
SESSION_SECRET_FILE = VAR_DIR / "socketio-session-secret"


def socketio_session_secret(environ: Mapping[str, str] = os.environ,
                            secret_file: Path = SESSION_SECRET_FILE) -> str:
    """The key that signs the web chat's server-issued socket.io session ids
    (bot/channels/socketio.py): ``SOCKETIO_SESSION_SECRET`` when set (the SAME on every Rasa
    server), else a secret generated once into ``var/`` for ``make run`` (like the auth token)."""
    return auth_token({"RASA_AUTH_TOKEN": environ.get(SESSION_SECRET_ENV, "")}, secret_file)[0]


def write_secret_file(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only from the first byte (mode 0600, O_EXCL: never
    an existing file, never a window in which the secret is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


# ---------------------------------------------------------------- secrets checked at start-up

# The secret settings a start refuses when they are placeholders or too short (when set: unset
# ones are generated or switch their feature off). CASE_STORE_KEY is checked by bot/cases/crypto.py.
SECRET_SETTINGS = (
    "RASA_AUTH_TOKEN", "SENDER_ID_SECRET", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN", "TWILIO_AUTH_TOKEN", "NOTIFY_WEBHOOK_SECRET", "STATS_HASH_KEY",
    "CONSOLE_SECRET_KEY", "WEB_SECRET_KEY", "REDIS_PASSWORD", "SOCKETIO_SESSION_SECRET", "REST_TOKEN",
)
MIN_SECRET_CHARS = 16
# a value containing one of these is a placeholder from an example file, whatever its length
PLACEHOLDER_PARTS = ("change-me", "changeme", "change_me", "change me", "replace-me", "replaceme",
                     "replace_me", "placeholder", "example", "fill-me", "fillme", "vul-in", "<", ">")
# a value that is one of these (after trimming and lower-casing) is a placeholder too
PLACEHOLDER_VALUES = frozenset({"secret", "password", "token", "test", "admin", "default", "none",
                                "null", "todo", "xxx", "geheim", "wachtwoord"})
MIN_DISTINCT_CHARS = 6
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


# what `make run` itself refuses: only the unmistakable "fill this in" of the example files
FILL_IN_PARTS = ("change-me", "changeme", "change_me", "change me", "replace-me", "replaceme",
                 "replace_me", "placeholder", "fill-me", "fillme", "vul-in")


def placeholder_secret(value: str, fill_in_only: bool = False) -> bool:
    """A value copied from an example file ("change-me", "<...>", ...) or a bare word like
    "secret"; with ``fill_in_only`` only the unmistakable "change-me" family."""
    folded = value.strip().lower()
    if fill_in_only:
        return any(part in folded for part in FILL_IN_PARTS)
    return folded in PLACEHOLDER_VALUES or any(part in folded for part in PLACEHOLDER_PARTS)


def weak_secret(value: str) -> Optional[str]:
    """Why ``value`` may not be used as a secret, or None when it may."""
    if placeholder_secret(value):
        return "is a placeholder"
    if len(value) < MIN_SECRET_CHARS:
        return f"is too short ({len(value)} characters, at least {MIN_SECRET_CHARS})"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return "is not random (too few different characters)"
    return None


def secret_problems(environ: Mapping[str, str] = os.environ, placeholders_only: bool = False) -> List[str]:
    """One line per secret setting that is set to a placeholder or (unless ``placeholders_only``)
    a too-short or non-random value."""
    problems = []
    for name in SECRET_SETTINGS:
        value = environ.get(name) or ""
        if not value:
            continue
        if placeholders_only:
            reason = "is a placeholder" if placeholder_secret(value, fill_in_only=True) else None
        else:
            reason = weak_secret(value)
        if reason:
            problems.append(f"{name} {reason}")
    return problems


def secrets_refusal(environ: Mapping[str, str] = os.environ, placeholders_only: bool = False) -> Optional[str]:
    """The message that stops a start, or None when every secret setting is acceptable.

    ``make run`` (bot/serve.py) refuses placeholders only and warns about short values: it runs
    on localhost, where a tester may choose a short token. The containers run the strict
    ``python -m bot.settings check`` before they start."""
    problems = secret_problems(environ, placeholders_only)
    if not problems:
        return None
    return ("Not starting: these secret settings are not safe to use:\n"
            + "".join(f"  - {line}\n" for line in problems)
            + f"Set each to a long random value (e.g. {GENERATE_HINT}), or leave "
              "RASA_AUTH_TOKEN, SENDER_ID_SECRET, CONSOLE_SECRET_KEY, WEB_SECRET_KEY and "
              "SOCKETIO_SESSION_SECRET unset to have "
              "them generated in var/.")


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "env":
        VAR_DIR.mkdir(exist_ok=True)
        print(" ".join(f"{key}={value}" for key, value in defaults().items()))
        return 0
    if len(argv) > 1 and argv[1] == "check":
        refusal = secrets_refusal()
        if refusal:
            print(refusal, file=sys.stderr)
            return 2
        return 0
    print("usage: python -m bot.settings env|check", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv))

"""Runtime settings from the environment, with the defaults of README.md "Configuration".

One place for every environment variable the assistant reads, so that ``make``, ``bot.serve``
and the tests agree: the pydantic settings class ``Settings`` names each one with its default,
and no other module of bot/ or actions/ reads the environment (tests/unit/test_settings.py checks
that). ``current()`` reads the environment at each call (tests change it at run time), or a
mapping that stands in for it. ``secret()`` is a secret setting, else one generated once into
var/. ``python -m bot.settings env`` prints ``KEY=value`` words for ``env``; ``python -m bot.settings
check`` exits 2 with a message when a secret setting is a placeholder or too short (the
containers run it before they start).
"""
from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union
from urllib.parse import quote

from pydantic import BaseSettings

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
TOKEN_FILE = VAR_DIR / "auth-token"


class Settings(BaseSettings):
    """Every environment variable of the assistant, as the string the environment holds, else
    its default (None: unset; the module that uses it says what that means). The modules parse
    the values themselves, so a bad value falls back where it is used and breaks nothing else."""

    # --- the processes (bot/serve.py) and their addresses
    RASA_PORT: str = "5005"  # the Rasa server (HTTP API, channels)
    ACTION_PORT: str = "5055"  # the action server
    WEB_PORT: str = "8080"  # the web server (demo page, console, proposals form)
    ACTION_ENDPOINT_URL: Optional[str] = None  # the actions' webhook; unset: http://127.0.0.1:{ACTION_PORT}/webhook
    RASA_URL: Optional[str] = None  # the Rasa server the chat talks to; unset: http://127.0.0.1:{RASA_PORT}
    RASA_API_URL: Optional[str] = None  # the Rasa HTTP API for server-side calls; unset: RASA_URL
    RASA_AUTH_TOKEN: Optional[str] = None  # the Rasa HTTP API's token; unset: generated into var/auth-token
    TF_CPP_MIN_LOG_LEVEL: str = "2"  # TensorFlow's log level (passed on to the processes)
    LOG_LEVEL: str = "INFO"  # the log level of python -m bot.services.web

    # --- the stores
    TRACKER_STORE_URL: str = f"sqlite:///{VAR_DIR / 'trackers.db'}"  # Rasa's tracker store; PostgreSQL by URL
    TRACKER_STORE_RETRY_SECONDS: str = "5"  # how long the tracker store retries while the database restarts
    POSTGRESQL_SCHEMA: Optional[str] = None  # the tracker store's PostgreSQL schema (search path)
    CASE_STORE_URL: str = f"sqlite:///{VAR_DIR / 'cases.db'}"  # the case store of the hand-off; PostgreSQL by URL
    CASE_STORE_KEY: Optional[str] = None  # Fernet key(s) of the contact details; unset: generated into var/
    CASE_RETENTION_DAYS: Optional[str] = None  # retention in days; unset: the catalogue's, else 90
    CASE_DEFAULT_TEAM: Optional[str] = None  # the team a new case goes to; unset: the only team, if one
    LOCK_STORE_TYPE: str = "in_memory"  # in_memory; redis for several Rasa servers
    REDIS_HOST: str = "127.0.0.1"  # the Redis of LOCK_STORE_TYPE=redis
    REDIS_PORT: str = "6379"  # its port
    REDIS_PASSWORD: str = ""  # its password; empty: none
    REDIS_DB: str = "1"  # its database number

    # --- secrets (SECRET_SETTINGS); "generated": unset, one is generated once into var/
    SENDER_ID_SECRET: Optional[str] = None  # key of the pseudonymous sender ids; generated
    SOCKETIO_SESSION_SECRET: Optional[str] = None  # key that signs the web chat's session ids; generated
    WEB_SECRET_KEY: Optional[str] = None  # the web app's Flask session key; generated
    CONSOLE_SECRET_KEY: Optional[str] = None  # the console's session key when the app has none; generated
    REST_TOKEN: str = ""  # the bearer token of the REST channel; empty: no access
    STATS_HASH_KEY: str = ""  # key of the statistics' conversation hashes; empty: a random one per process

    # --- the support catalogue (bot/domain/catalogue/)
    OPVOED_CATALOGUE: Optional[str] = None  # the catalogue file; unset: catalogue/voorbeeldstad.yml (or the database)
    OPVOED_CATALOGUE_SOURCE: Optional[str] = None  # "database": the catalogue published in the case store
    OPVOED_CATALOGUE_REFRESH_SECONDS: str = "15"  # how often a process checks for a newer published version
    OPVOED_CATALOGUE_SEED: Optional[str] = None  # the file a fresh database starts from; unset: the shipped example

    # --- limits and proxies (bot/services/ratelimit.py)
    RATE_LIMIT_PER_MINUTE: str = "30"  # messages per sender per minute; 0: no limit
    RATE_LIMIT_PER_ADDRESS_PER_MINUTE: str = "120"  # messages per client address per minute
    RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR: str = "60"  # new conversations per address per hour
    RATE_LIMIT_CONNECTIONS_PER_ADDRESS_PER_MINUTE: str = "30"  # socket.io connections per address per minute
    RATE_LIMIT_CASES_PER_SENDER_PER_DAY: str = "3"  # hand-off cases per sender per day
    RATE_LIMIT_CASES_PER_ADDRESS_PER_DAY: str = "10"  # hand-off cases per address per day
    RATE_LIMIT_EXEMPT_ADDRESSES: str = "127.0.0.1,::1"  # addresses without per-address limits; empty: none
    RASA_TRUSTED_PROXIES: Optional[str] = None  # proxies (a count, or networks) whose forwarding headers count
    PROPOSALS_PER_HOUR: str = "5"  # residents' offer proposals per client address per hour

    # --- the web chat and the console
    WEB_ORIGINS: Optional[str] = None  # origins allowed to open the chat's socket; unset: the web server's own
    CONSOLE_TRUSTED_PROXIES: Optional[str] = None  # proxies in front of the web server (ProxyFix); unset: 0
    CONSOLE_SESSION_HOURS: str = "8"  # login lifetime of the console in hours
    CONSOLE_COOKIE_SECURE: str = "auto"  # the console's cookie is Secure except on plain-http localhost
    CONSOLE_ADMIN_PASSWORD: Optional[str] = None  # password for python -m bot.services.console create-*; unset: asked
    CONSOLE_BASE_URL: Optional[str] = None  # the console's address in notifications; unset: http://127.0.0.1:{WEB_PORT}

    # --- notifications (bot/services/notify.py, bot/services/offers/mail.py)
    SMTP_HOST: Optional[str] = None  # the mail server; unset: no e-mail
    SMTP_PORT: str = "25"  # its port
    SMTP_USER: Optional[str] = None  # its login
    SMTP_PASSWORD: Optional[str] = None  # its password
    SMTP_STARTTLS: Optional[str] = None  # true/false; unset: STARTTLS except on localhost
    NOTIFY_EMAIL_FROM: str = "opvoedmaatje@localhost"  # the sender of the e-mails
    NOTIFY_EMAIL_TO: Optional[str] = None  # who hears of new cases (comma-separated)
    NOTIFY_WEBHOOK_URL: Optional[str] = None  # a webhook told of new cases
    NOTIFY_WEBHOOK_SECRET: Optional[str] = None  # the key that signs the webhook's calls

    # --- channels
    WHATSAPP_APP_SECRET: Optional[str] = None  # Meta's app secret; unset: no WhatsApp channel
    WHATSAPP_VERIFY_TOKEN: Optional[str] = None  # the webhook handshake's token
    WHATSAPP_ACCESS_TOKEN: Optional[str] = None  # the Graph API's token
    WHATSAPP_PHONE_NUMBER_ID: Optional[str] = None  # the sending number's id
    WHATSAPP_API_BASE: str = "https://graph.facebook.com/v21.0"  # the Graph API
    WHATSAPP_TEMPLATE: str = "opvoedmaatje_followup"  # the template of a reply outside the 24-hour window
    WHATSAPP_TEMPLATE_LANGUAGE: str = "nl"  # its language
    WHATSAPP_FOLLOWUP_TEMPLATE: str = "opvoedmaatje_vervolgvraag"  # the template of a follow-up question
    WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE: str = "nl"  # its language
    WHATSAPP_NUMBER_TTL: str = "86400"  # seconds a number is kept in memory for the reply (the 24-hour window)
    WHATSAPP_MAX_MESSAGE_AGE: str = "86400"  # older messages are ignored (seconds)
    TWILIO_ACCOUNT_SID: Optional[str] = None  # the Twilio account
    TWILIO_AUTH_TOKEN: Optional[str] = None  # its token; unset: no Twilio channel
    TWILIO_NUMBER: Optional[str] = None  # the sending number
    TWILIO_WEBHOOK_URL: Optional[str] = None  # the public URL Twilio calls; unset: from the request
    TWILIO_TRUST_PROXY: Optional[str] = None  # true: scheme and host from X-Forwarded-*

    # --- statistics, insight, hand-off and follow-ups
    EVENT_BROKER_URL: str = ""  # anonymous statistics to RabbitMQ (bot/rasa/stats_broker.py); empty: off
    EVENT_BROKER_QUEUE: str = "opvoedmaatje_stats"  # their queue
    EVENT_BROKER_EXCHANGE: str = "opvoedmaatje-stats"  # their exchange
    INSIGHT_IN_PROCESS: Optional[str] = None  # 1: the insight counts in the Rasa process; unset: off (make run passes 1)
    INSIGHT_PORT: str = "5056"  # GET /health of the insight consumer
    INSIGHT_EXIT_AFTER: Optional[str] = None  # fault injection (tests): the consumer exits after n commits
    OFFICE_HOURS: str = "ma-vr 09:00-17:00"  # the hand-off's office hours when the catalogue has none
    FOLLOWUP_INTERVAL: str = "60"  # seconds between the follow-up worker's rounds

    class Config:
        case_sensitive = True

        @classmethod
        def customise_sources(cls, init_settings: Any, env_settings: Any, file_secret_settings: Any) -> tuple:
            return init_settings, _environment  # one pass over the environment

    @classmethod
    def default(cls, name: str) -> Optional[str]:
        """The default of the variable ``name``."""
        return cls.__fields__[name].default

    def value(self, name: str) -> Optional[str]:
        """The variable ``name``, or its default when it is set but empty."""
        return getattr(self, name) or self.default(name)


def _environment(_settings: BaseSettings) -> Dict[str, str]:
    """The variables of ``Settings`` that the process environment sets: the one read of it."""
    return {name: value for name, value in os.environ.items() if name in Settings.__fields__}


Environ = Union[Mapping[str, Any], Settings, None]


def current(environ: Environ = None) -> Settings:
    """The settings now: read from the environment at every call (cheap; tests change it at run
    time), or from ``environ``, a mapping that stands in for the environment (tests, bot/serve.py's
    environment of the processes), or a ``Settings`` already read."""
    if environ is None:
        return Settings()
    if isinstance(environ, Settings):
        return environ
    return Settings.construct(**{name: str(environ[name]) for name in Settings.__fields__
                                 if name in environ and environ[name] is not None})


def child_environ(overrides: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A copy of this process's environment with ``overrides``: the start of the environment
    bot/serve.py passes to the processes it starts."""
    return {**os.environ, **(overrides or {})}


# what `make run` passes to its processes (bot/serve.py, `python -m bot.settings env`), in this order
RUN_SETTINGS = (
    "RASA_PORT", "ACTION_PORT", "WEB_PORT", "ACTION_ENDPOINT_URL", "TRACKER_STORE_URL", "LOCK_STORE_TYPE",
    "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "TF_CPP_MIN_LOG_LEVEL", "EVENT_BROKER_URL",
    "EVENT_BROKER_QUEUE", "EVENT_BROKER_EXCHANGE", "STATS_HASH_KEY", "INSIGHT_IN_PROCESS", "INSIGHT_PORT",
    "RATE_LIMIT_PER_MINUTE", "CASE_STORE_URL", "FOLLOWUP_INTERVAL", "WHATSAPP_FOLLOWUP_TEMPLATE",
    "WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE",
)


def defaults(environ: Environ = None) -> Dict[str, str]:
    """The settings in force: what the environment sets, else the embedded defaults."""
    values = current(environ)
    run = {name: getattr(values, name) for name in RUN_SETTINGS}
    if run["ACTION_ENDPOINT_URL"] is None:
        run["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{values.ACTION_PORT}/webhook"
    if run["INSIGHT_IN_PROCESS"] is None:
        # the municipality's insight (issue 18): counted in the Rasa process when there is no
        # broker; with a broker the consumer (python -m bot.services.insight.consume) answers GET /health
        run["INSIGHT_IN_PROCESS"] = "1"
    return run


def shared_redis(environ: Environ = None) -> Optional[Dict[str, Any]]:
    """The Redis of the lock store (host, port, password, db) when ``LOCK_STORE_TYPE=redis``,
    else None: what several Rasa servers share (locks, rate limits, socket.io messages)."""
    values = current(environ)
    if values.LOCK_STORE_TYPE.strip().lower() != "redis":
        return None
    try:
        port, db = int(values.REDIS_PORT), int(values.REDIS_DB)
    except ValueError:
        port, db = 6379, 1
    return {"host": values.REDIS_HOST or "127.0.0.1", "port": port,
            "password": values.REDIS_PASSWORD or None, "db": db}


def redis_url(connection: Mapping[str, Any]) -> str:
    password = f":{quote(str(connection['password']), safe='')}@" if connection.get("password") else ""
    return f"redis://{password}{connection['host']}:{connection['port']}/{connection['db']}"


SECRET_FILE_WAIT = 2.0  # seconds a secret file just created by another process may stay empty


def secret(name: str, secret_file: Path, environ: Environ = None,
           generate: Callable[[], str] = lambda: secrets.token_urlsafe(32),
           strip: bool = False) -> tuple[str, Optional[Path]]:
    """The secret setting ``name`` when it is set; else the secret kept in ``secret_file``,
    generated once (``generate()``) into that file, created with mode 0600 (``write_secret_file``).

    Returns the secret and the file it is kept in (None when it came from the environment).
    ``strip``: surrounding blanks of the setting go (and blanks alone count as unset)."""
    value = getattr(current(environ), name) or ""
    if strip:
        value = value.strip()
    if value:
        return value, None
    stored = _read_secret_file(secret_file)
    if stored:
        return stored, secret_file
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    generated = generate()
    try:
        write_secret_file(secret_file, generated + "\n")
    except FileExistsError:  # another process was first (or left it empty): use or replace that
        stored = _read_secret_file(secret_file, wait=SECRET_FILE_WAIT)
        if stored:
            return stored, secret_file
        secret_file.unlink()
        write_secret_file(secret_file, generated + "\n")
    logger.info("%s generated in %s (set %s to choose one)", name, secret_file, name)
    return generated, secret_file


def _read_secret_file(path: Path, wait: float = 0.0) -> str:
    """The secret in ``path`` ('' when there is none); waits up to ``wait`` seconds for a file
    another process has just created to get its secret."""
    deadline = time.monotonic() + wait
    while True:
        stored = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        if stored or time.monotonic() >= deadline:
            return stored
        time.sleep(0.05)


def write_secret_file(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only from the first byte (mode 0600, O_EXCL: never
    an existing file, never a window in which the secret is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def auth_token(environ: Environ = None, token_file: Path = TOKEN_FILE) -> tuple[str, Optional[Path]]:
    """``RASA_AUTH_TOKEN`` when set; else a generated token kept in an ignored file.

    Returns the token and the file it is stored in (None when it came from the environment).
    """
    return secret("RASA_AUTH_TOKEN", token_file, environ)


SESSION_SECRET_ENV = "SOCKETIO_SESSION_SECRET"
SESSION_SECRET_FILE = VAR_DIR / "socketio-session-secret"


def socketio_session_secret(environ: Environ = None, secret_file: Path = SESSION_SECRET_FILE) -> str:
    """The key that signs the web chat's server-issued socket.io session ids
    (bot/rasa/channels/socketio.py): ``SOCKETIO_SESSION_SECRET`` when set (the SAME on every Rasa
    server), else a secret generated once into ``var/`` for ``make run`` (like the auth token)."""
    return secret(SESSION_SECRET_ENV, secret_file, environ)[0]


# ---------------------------------------------------------------- secrets checked at start-up

# The secret settings a start refuses when they are placeholders or too short (when set: unset
# ones are generated or switch their feature off). CASE_STORE_KEY is checked by bot/services/cases/crypto.py.
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


def secret_problems(environ: Environ = None, placeholders_only: bool = False) -> List[str]:
    """One line per secret setting that is set to a placeholder or (unless ``placeholders_only``)
    a too-short or non-random value."""
    values = current(environ)
    problems = []
    for name in SECRET_SETTINGS:
        value = getattr(values, name) or ""
        if not value:
            continue
        if placeholders_only:
            reason = "is a placeholder" if placeholder_secret(value, fill_in_only=True) else None
        else:
            reason = weak_secret(value)
        if reason:
            problems.append(f"{name} {reason}")
    return problems


def secrets_refusal(environ: Environ = None, placeholders_only: bool = False) -> Optional[str]:
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

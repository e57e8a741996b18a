"""The catalogue published in the database (issue 20): read by every running server, refreshed
without a restart.

A municipality keeps its catalogue either in a file (``OPVOED_CATALOGUE=path``) or in the case
store's database (``OPVOED_CATALOGUE_SOURCE=database``, what ``make run`` uses when no file is
named). In the database every publish is a numbered version (table ``catalogue_versions``,
migration 0011); the newest number is the catalogue in use. Each process keeps the catalogue it
built and asks the database for the newest number at most every
``OPVOED_CATALOGUE_REFRESH_SECONDS`` (default 15) seconds: a published version reaches every Rasa
and action server within that time. A conversation keeps its slots; only the offers named in the
next answer come from the new version.

A fresh database is seeded from the shipped example (``catalogue/voorbeeldstad.yml``, or
``OPVOED_CATALOGUE_SEED``) as version 1 at first use. The stored document is the YAML exchange
format; it is validated as if it were a file in ``catalogue/`` (so ``include: [national.yml]``
finds the shipped national file).

Only SQLAlchemy is used here (no import of bot.services.cases): the catalogue is a domain module.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from bot import settings

from .model import CATALOGUE_DIR, DEFAULT_CATALOGUE, Catalogue, CatalogueError
from .validate import validate_text

logger = logging.getLogger(__name__)

SOURCE_ENV = "OPVOED_CATALOGUE_SOURCE"
REFRESH_ENV = "OPVOED_CATALOGUE_REFRESH_SECONDS"
SEED_ENV = "OPVOED_CATALOGUE_SEED"
STORE_ENV = "CASE_STORE_URL"
DEFAULT_REFRESH_SECONDS = float(settings.Settings.default(REFRESH_ENV))
# the stored document is checked as if it were this file: includes are found in catalogue/
DOCUMENT_PATH = CATALOGUE_DIR / "gemeente-database.yml"
SEED_ACTOR = "system"


def database_mode(environ: settings.Environ = None) -> bool:
    """True when the catalogue in use is the one published in the database: no file is named
    (OPVOED_CATALOGUE wins) and OPVOED_CATALOGUE_SOURCE=database."""
    values = settings.current(environ)
    if (values.OPVOED_CATALOGUE or "").strip():
        return False
    return (values.OPVOED_CATALOGUE_SOURCE or "").strip().lower() == "database"


def refresh_seconds(environ: settings.Environ = None) -> float:
    raw = (settings.current(environ).OPVOED_CATALOGUE_REFRESH_SECONDS or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_REFRESH_SECONDS
    except ValueError:
        logger.warning("%s is not a number; using %s", REFRESH_ENV, DEFAULT_REFRESH_SECONDS)
        value = DEFAULT_REFRESH_SECONDS
    return min(max(value, 0.0), 60.0)


def store_url(environ: settings.Environ = None) -> str:
    """The case store's URL (CASE_STORE_URL, else var/cases.db), as bot.settings says."""
    url = settings.current(environ).CASE_STORE_URL.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One small engine per URL in this process (SQLite with a busy timeout)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if sa.engine.make_url(url).get_backend_name() == "sqlite":
                engine = sa.create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False})
            else:
                engine = sa.create_engine(url, future=True, pool_pre_ping=True, pool_size=2, max_overflow=2)
            _engines[url] = engine
        return engine


def seed_document(environ: settings.Environ = None) -> tuple[str, str]:
    """(text, name) of the file a fresh database starts from."""
    raw = (settings.current(environ).OPVOED_CATALOGUE_SEED or "").strip()
    path = Path(raw).expanduser() if raw else DEFAULT_CATALOGUE
    return path.read_text(encoding="utf-8"), path.name


def utcnow_naive() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ensure_seeded(engine: Engine, environ: settings.Environ = None) -> bool:
    """Version 1 and the draft from the shipped file when the database has no catalogue yet.
    True when this call seeded it. Safe when several servers start together."""
    with engine.connect() as connection:
        if connection.execute(sa.text("SELECT COUNT(*) FROM catalogue_versions")).scalar():
            return False
    text, name = seed_document(environ)
    report = validate_text(text, DOCUMENT_PATH, check_gaps=False)
    if report.errors:
        raise CatalogueError(report.errors)
    now = utcnow_naive()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO catalogue_versions (number, created_at, actor, action, document, diff, summary) "
                "VALUES (1, :at, :actor, 'seed', :doc, '', :summary)"),
                {"at": now, "actor": SEED_ACTOR, "doc": text, "summary": f"eerste versie uit {name}"})
            if not connection.execute(sa.text("SELECT COUNT(*) FROM catalogue_draft")).scalar():
                connection.execute(sa.text(
                    "INSERT INTO catalogue_draft (id, document, updated_at, actor) VALUES (1, :doc, :at, :actor)"),
                    {"doc": text, "at": now, "actor": SEED_ACTOR})
    except IntegrityError:  # another server seeded at the same moment
        return False
    logger.info("support catalogue: database seeded from %s", name)
    return True


def newest_number(engine: Engine) -> Optional[int]:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT MAX(number) FROM catalogue_versions")).scalar()


def version_document(engine: Engine, number: int) -> Optional[str]:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT document FROM catalogue_versions WHERE number = :n"),
                                  {"n": number}).scalar()


def build(text: str, number: Optional[int] = None) -> Catalogue:
    """The Catalogue of a stored document; CatalogueError when it is not valid."""
    report = validate_text(text, DOCUMENT_PATH, check_gaps=False)
    if report.errors or report.catalogue is None:
        raise CatalogueError(report.errors or ["the stored catalogue could not be built"])
    catalogue = report.catalogue
    if number is not None:
        catalogue = Catalogue(path=f"database:v{number}", municipality=catalogue.municipality,
                              offers=catalogue.offers, warnings=catalogue.warnings, files=catalogue.files)
    return catalogue


@dataclass
class _Cached:
    number: int
    catalogue: Catalogue
    checked: float


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def load_published(url: Optional[str] = None, environ: settings.Environ = None,
                   clock=time.monotonic) -> Catalogue:
    """The newest published catalogue (cached; the number is checked every few seconds)."""
    values = settings.current(environ)  # read once for this call
    url = url or store_url(values)
    now = clock()
    with _lock:
        cached = _cache.get(url)
        if cached is not None and now - cached.checked < refresh_seconds(values):
            return cached.catalogue
        engine = engine_for(url)
        try:
            number = newest_number(engine)
            if number is None:
                ensure_seeded(engine, values)
                number = newest_number(engine)
        except (OperationalError, ProgrammingError) as error:
            if cached is not None:  # the database is away for a moment: keep what we have
                logger.warning("support catalogue: database not reachable (%s); keeping version %d",
                               type(error).__name__, cached.number)
                cached.checked = now
                return cached.catalogue
            # not migrated yet (a container started before the others): the file it would be
            # seeded from, until the next check finds the tables
            logger.warning("support catalogue: the database cannot be read (%s); using the seed file "
                           "until it can (run `python -m bot.services.cases upgrade`)", type(error).__name__)
            text, _name = seed_document(values)
            catalogue = build(text)
            _cache[url] = _Cached(0, catalogue, now)
            return catalogue
        if number is None:
            raise CatalogueError(["the catalogue database has no version"])
        if cached is not None and cached.number == number:
            cached.checked = now
            return cached.catalogue
        text = version_document(engine, number)
        try:
            catalogue = build(text or "", number)
        except CatalogueError:
            if cached is not None:
                logger.error("support catalogue: version %d is not valid; keeping version %d",
                             number, cached.number)
                cached.checked = now
                return cached.catalogue
            raise
        if cached is not None:
            logger.info("support catalogue: version %d in use (was %d)", number, cached.number)
        else:
            logger.info("support catalogue: version %d from the database in use: %d offers",
                        number, len(catalogue.offers))
        _cache[url] = _Cached(number, catalogue, now)
        return catalogue


def clear_cache() -> None:
    with _lock:
        _cache.clear()

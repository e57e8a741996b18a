"""Which catalogue is in use, and `load_catalogue` (validated, cached per path and mtimes).

The catalogue in use is the file named by env ``OPVOED_CATALOGUE`` (default: the shipped
example municipality ``catalogue/voorbeeldstad.yml``). Loading validates the file (and the files
it includes) with `bot.domain.catalogue.validate`; an invalid catalogue raises `CatalogueError`
carrying the messages. The imports run one way: model <- validate <- loader.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable

from bot import settings

from .model import DEFAULT_CATALOGUE, PROJECT_ROOT, Catalogue, CatalogueError
from .published import clear_cache as clear_published, database_mode, load_published
from .validate import validate_path

logger = logging.getLogger(__name__)

_cache: dict[str, tuple[tuple[tuple[str, int], ...], Catalogue]] = {}
_cache_lock = threading.Lock()


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The catalogue file to use: `path`, else env OPVOED_CATALOGUE, else the shipped example.

    A relative path that does not exist from the working directory is tried from the project
    root, so ``OPVOED_CATALOGUE=catalogue/x.yml`` works from anywhere.
    """
    raw = path if path not in (None, "") else (settings.current().OPVOED_CATALOGUE or "").strip()
    candidate = Path(raw).expanduser() if raw else DEFAULT_CATALOGUE
    if not candidate.is_absolute() and not candidate.exists():
        from_root = PROJECT_ROOT / candidate
        if from_root.exists():
            candidate = from_root
    return candidate.resolve()


def _signature(files: Iterable[str]) -> tuple[tuple[str, int], ...] | None:
    try:
        return tuple((f, os.stat(f).st_mtime_ns) for f in files)
    except OSError:
        return None


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """Load and validate the catalogue (cached per path + mtimes); raise CatalogueError.

    Without a path, with ``OPVOED_CATALOGUE_SOURCE=database`` and no ``OPVOED_CATALOGUE``: the
    version published in the database (bot.domain.catalogue.published, refreshed every few seconds)."""
    if path in (None, "") and database_mode():
        return load_published()
    resolved = resolve_path(path)
    key = str(resolved)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and _signature(f for f, _ in cached[0]) == cached[0]:
            return cached[1]
    report = validate_path(resolved)
    if report.errors or report.catalogue is None:
        logger.error("support catalogue %s is invalid: %d error(s)", key, len(report.errors))
        raise CatalogueError(report.errors or [f"{key}: could not be loaded"])
    signature = _signature(report.catalogue.files) or ()
    with _cache_lock:
        _cache[key] = (signature, report.catalogue)
    logger.info("support catalogue %s loaded: %d offers, %d warning(s)", resolved.name,
                len(report.catalogue.offers), len(report.warnings))
    return report.catalogue


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
    clear_published()

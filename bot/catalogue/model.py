"""The support catalogue as frozen dataclasses, and `load_catalogue` (validated, cached).

The catalogue in use is the file named by env ``OPVOED_CATALOGUE`` (default: the shipped
example municipality ``catalogue/voorbeeldstad.yml``). Loading validates the file (and the files
it includes) with `bot.catalogue.validate`; an invalid catalogue raises `CatalogueError`
carrying the messages. Results are cached per path and modification times.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from .hours import OpeningHours, is_open, next_opening, parse_hours

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
CATALOGUE_DIR = PROJECT_ROOT / "catalogue"
DEFAULT_CATALOGUE = CATALOGUE_DIR / "voorbeeldstad.yml"
ENV_VAR = "OPVOED_CATALOGUE"

LEVELS: tuple[str, ...] = ("A", "B", "C", "D")
ALL = "alle"
PARENT_AUDIENCES = frozenset({"parents", "everyone"})


# --- reference data (topics, phases) -------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """Fixed ids of CONTRACT.md and the topic/phase pairs worth a gap warning."""

    phases: Mapping[str, tuple[int, int]]
    phase_labels: Mapping[str, str]
    topics: Mapping[str, tuple[str, ...]]  # topic id -> phases where it is relevant
    topic_labels: Mapping[str, str]
    level_labels: Mapping[str, str]
    signals: tuple[str, ...]


@lru_cache(maxsize=1)
def reference() -> Reference:
    """Load bot/catalogue/topics.yml once."""
    with open(PACKAGE_DIR / "topics.yml", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    phases = {k: (int(v["min_months"]), int(v["max_months"])) for k, v in raw["phases"].items()}
    return Reference(
        phases=phases,
        phase_labels={k: str(v["label"]) for k, v in raw["phases"].items()},
        topics={k: tuple(v["phases"]) for k, v in raw["topics"].items()},
        topic_labels={k: str(v["label"]) for k, v in raw["topics"].items()},
        level_labels={str(k): str(v) for k, v in raw["levels"].items()},
        signals=tuple(raw["signals"]),
    )


# --- validation messages ----------------------------------------------------------------------

@dataclass(frozen=True)
class Issue:
    """One validation finding: file, line, field, what is wrong and what would be right."""

    path: str
    line: int | None
    field: str
    message: str
    severity: str = "error"  # "error" or "warning"
    kind: str = "schema"  # yaml, schema, semantic, include, stale, gap, naming

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CatalogueError(Exception):
    """The catalogue file is missing or invalid; `messages` says where and why."""

    def __init__(self, issues: Sequence[Issue] | Sequence[str]):
        self.issues: tuple[Issue, ...] = tuple(i for i in issues if isinstance(i, Issue))
        self.messages: tuple[str, ...] = tuple(str(i) for i in issues)
        shown = "; ".join(self.messages[:5])
        more = f" (and {len(self.messages) - 5} more)" if len(self.messages) > 5 else ""
        super().__init__(f"invalid support catalogue: {shown}{more}")


# --- the catalogue ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contact:
    address: str | None = None
    phone: str | None = None
    whatsapp: str | None = None
    website: str | None = None
    email: str | None = None
    chat: str | None = None


@dataclass(frozen=True)
class Neighbourhood:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Municipality:
    name: str
    fictional: bool
    neighbourhoods: tuple[Neighbourhood, ...]
    office_hours: OpeningHours
    aliases: tuple[str, ...] = ()
    website: str | None = None
    retention_days: int | None = None

    def neighbourhood_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.neighbourhoods)


@dataclass(frozen=True)
class Offer:
    """One offer of the support pyramid (levels A to D)."""

    id: str
    name: str
    level: str
    topics: tuple[str, ...]
    scope: str  # neighbourhood, municipality, national
    contact: Contact
    hours: OpeningHours
    hours_text: Any
    description: str
    source: str
    last_checked: date
    languages: tuple[str, ...] = ("nl",)
    cost: str = "free"
    cost_note: str | None = None
    format: str = "individual"  # group, individual, self_help
    phases: tuple[str, ...] | None = None
    age_months: tuple[int, int] | None = None
    neighbourhoods: tuple[str, ...] = ()
    municipality: str | None = None
    hours_note: str | None = None
    audience: tuple[str, ...] = ("parents",)
    signals: tuple[str, ...] = ()
    origin: str = ""
    line: int | None = None

    def covers_topic(self, topic: str | None) -> bool:
        """True for 'alle' offers and offers that list `topic`; any offer when topic is None."""
        return topic is None or ALL in self.topics or topic in self.topics

    def months(self) -> tuple[int, int]:
        """The age range (months) this offer is for."""
        if self.age_months is not None:
            return self.age_months
        ranges = reference().phases
        if self.phases is None or ALL in self.phases:
            return 0, max(hi for _lo, hi in ranges.values())
        spans = [ranges[p] for p in self.phases if p in ranges]
        return min(lo for lo, _ in spans), max(hi for _, hi in spans)

    def covers_phase(self, phase: str | None) -> bool:
        if phase is None:
            return True
        if self.phases is not None:
            return ALL in self.phases or phase in self.phases
        bounds = reference().phases.get(phase)
        if bounds is None or self.age_months is None:
            return False
        return self.age_months[0] <= bounds[1] and bounds[0] <= self.age_months[1]

    def serves_neighbourhood(self, neighbourhood: str | None) -> bool:
        """Whole-municipality and national offers serve everyone; a neighbourhood offer its own."""
        if self.scope != "neighbourhood":
            return True
        return neighbourhood is not None and neighbourhood.casefold() in {
            n.casefold() for n in self.neighbourhoods
        }

    @property
    def for_parents(self) -> bool:
        return bool(PARENT_AUDIENCES.intersection(self.audience))

    def is_open(self, when: datetime | None = None) -> bool:
        return is_open(self.hours, when)

    def next_opening(self, when: datetime | None = None) -> datetime | None:
        return next_opening(self.hours, when)


@dataclass(frozen=True)
class Catalogue:
    path: str
    municipality: Municipality | None
    offers: tuple[Offer, ...]
    warnings: tuple[Issue, ...] = ()
    files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.municipality.name if self.municipality else "landelijk"

    def offer(self, offer_id: str) -> Offer | None:
        return next((o for o in self.offers if o.id == offer_id), None)

    def level_counts(self) -> dict[str, int]:
        return {lvl: sum(1 for o in self.offers if o.level == lvl) for lvl in LEVELS}


# --- building dataclasses from validated data ---------------------------------------------------

def _tuple(values: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _neighbourhood(raw: Any) -> Neighbourhood:
    if isinstance(raw, str):
        return Neighbourhood(raw.strip())
    return Neighbourhood(str(raw["name"]).strip(), _tuple(raw.get("aliases")))


def build_municipality(raw: Mapping[str, Any]) -> Municipality:
    return Municipality(
        name=str(raw["name"]).strip(),
        fictional=bool(raw["fictional"]),
        neighbourhoods=tuple(_neighbourhood(n) for n in raw["neighbourhoods"]),
        office_hours=parse_hours(raw["office_hours"]),
        aliases=_tuple(raw.get("aliases")),
        website=raw.get("website"),
        retention_days=raw.get("retention_days"),
    )


def build_offer(raw: Mapping[str, Any], *, municipality: str | None, origin: str,
                line: int | None) -> Offer:
    """An Offer from one validated offer mapping (plain Python data)."""
    age = raw.get("age_months")
    contact = raw.get("contact") or {}
    return Offer(
        id=str(raw["id"]),
        name=str(raw["name"]).strip(),
        level=str(raw["level"]),
        topics=_tuple(raw["topics"]),
        phases=_tuple(raw["phases"]) if raw.get("phases") is not None else None,
        age_months=(int(age["min"]), int(age["max"])) if age else None,
        scope=str(raw["scope"]),
        neighbourhoods=_tuple(raw.get("neighbourhoods")),
        municipality=None if raw["scope"] == "national" else municipality,
        contact=Contact(**{k: str(v).strip() for k, v in contact.items()}),
        hours=parse_hours(raw["hours"], bool(raw.get("open_on_holidays", False))),
        hours_text=raw["hours"],
        hours_note=raw.get("hours_note"),
        languages=_tuple(raw["languages"]),
        cost=str(raw["cost"]),
        cost_note=raw.get("cost_note"),
        format=str(raw["format"]),
        audience=_tuple(raw.get("audience")) or ("parents",),
        signals=_tuple(raw.get("signals")),
        description=" ".join(str(raw["description"]).split()),
        source=str(raw["source"]),
        last_checked=date.fromisoformat(str(raw["last_checked"])),
        origin=origin,
        line=line,
    )


# --- loading (validated, cached) ----------------------------------------------------------------

_cache: dict[str, tuple[tuple[tuple[str, int], ...], Catalogue]] = {}
_cache_lock = threading.Lock()


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The catalogue file to use: `path`, else env OPVOED_CATALOGUE, else the shipped example.

    A relative path that does not exist from the working directory is tried from the project
    root, so ``OPVOED_CATALOGUE=catalogue/x.yml`` works from anywhere.
    """
    raw = path if path not in (None, "") else (os.environ.get(ENV_VAR) or "").strip()
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
    """Load and validate the catalogue (cached per path + mtimes); raise CatalogueError."""
    resolved = resolve_path(path)
    key = str(resolved)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and _signature(f for f, _ in cached[0]) == cached[0]:
            return cached[1]
    from .validate import validate_path  # local import: validate imports this module

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

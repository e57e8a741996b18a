"""The support catalogue as frozen dataclasses, its reference data and its errors.

Loading (which file, validation, cache) is `bot.domain.catalogue.loader`; the imports run one way:
model <- validate <- loader.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from bot import vocabulary
from bot.settings import PROJECT_ROOT

from .hours import OpeningHours, is_open, next_opening, parse_hours

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
CATALOGUE_DIR = PROJECT_ROOT / "catalogue"
DEFAULT_CATALOGUE = CATALOGUE_DIR / "voorbeeldstad.yml"
ENV_VAR = "OPVOED_CATALOGUE"

LEVELS: tuple[str, ...] = vocabulary.SUPPORT_LEVELS
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
    """The ids and labels of bot.vocabulary, with the gap map of bot/domain/catalogue/topics.yml."""
    with open(PACKAGE_DIR / "topics.yml", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    gaps = {str(k): tuple(str(p) for p in v) for k, v in raw["gaps"].items()}
    return Reference(
        phases=dict(vocabulary.PHASE_BANDS),
        phase_labels=dict(vocabulary.PHASE_LABELS),
        topics={topic: gaps.get(topic, ()) for topic in vocabulary.TOPICS},
        topic_labels=dict(vocabulary.TOPIC_LABELS),
        level_labels=dict(vocabulary.SUPPORT_LEVEL_LABELS),
        signals=vocabulary.SIGNALS,
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
    descriptions: tuple[tuple[str, str], ...] = ()  # (language code, the municipality's own text)
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

    def description_in(self, language: str) -> str:
        """The offer's description in `language` where the municipality gives one, else Dutch."""
        return dict(self.descriptions).get(language, self.description)

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
        descriptions=tuple((str(code), " ".join(str(text).split()))
                           for code, text in (raw.get("descriptions") or {}).items()),
        source=str(raw["source"]),
        last_checked=date.fromisoformat(str(raw["last_checked"])),
        origin=origin,
        line=line,
    )

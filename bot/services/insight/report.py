"""What the insight page, its CSV export and the monthly summary show, from the aggregates.

Every number comes from one set of cells (``Cells``) filtered by period, channel and neighbourhood,
and is protected once for the whole page (bot/services/insight/suppress.py): a count shown in two tables
is hidden in both or neither. Periods are whole weeks (Monday to Sunday), at least one.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import vocabulary
from bot.services.cases.schema import insight_daily

from . import labels
from .labels import UNKNOWN
from .suppress import Equation, Protection, THRESHOLD, protect

QUESTIONS, CRISES = "q", "c"
DIM_ORDER = ("m", "week", "topic", "phase", "severity", "support_level", "neighbourhood", "situation",
             "local_support", "handoff")
MAX_WEEKS = 26
DEFAULT_WEEKS = 4
ABC = ("A", "B", "C")
SUPPRESSED, HIDDEN = "< 5", "verborgen"

Key = Tuple[Tuple[str, Any], ...]


def key(measure: str, **dims: Any) -> Key:
    values = {"m": measure, **dims}
    return tuple((d, values[d]) for d in DIM_ORDER if d in values)


def cell_id(cell: Key) -> str:
    """A cell's name on the page and in tests: the measure and its labels, e.g. q|topic=slapen."""
    return "|".join(str(v) if d == "m" else f"{d}={v}" for d, v in cell)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- filters --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    start: date  # a Monday
    weeks: int
    channel: Optional[str] = None
    neighbourhood: Optional[str] = None

    @property
    def end(self) -> date:  # exclusive
        return self.start + timedelta(days=7 * self.weeks)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def week_starts(self) -> List[date]:
        return [self.start + timedelta(days=7 * i) for i in range(self.weeks)]

    def query(self) -> Dict[str, str]:
        args = {"van": self.start.isoformat(), "weken": str(self.weeks)}
        if self.channel:
            args["kanaal"] = self.channel
        if self.neighbourhood is not None:
            args["wijk"] = self.neighbourhood or labels.UNKNOWN_LABEL
        return args


def default_filters(today: date) -> Filters:
    """The last four whole weeks before this one."""
    return Filters(monday(today) - timedelta(days=7 * DEFAULT_WEEKS), DEFAULT_WEEKS)


def parse_filters(args: Mapping[str, str], today: date, neighbourhoods: Sequence[str]) -> Tuple[Filters, List[str]]:
    """Filters from the page's query; anything not valid falls back to the default, with a note."""
    notes: List[str] = []
    default = default_filters(today)
    start = default.start
    if args.get("van"):
        try:
            asked = date.fromisoformat(args["van"])
            start = monday(asked)
            if start != asked:
                notes.append(f"Een periode begint op maandag: vanaf {start.strftime('%d-%m-%Y')}.")
        except ValueError:
            notes.append("Die begindatum ken ik niet. Ik laat de laatste vier weken zien.")
    weeks = default.weeks
    if args.get("weken"):
        try:
            weeks = int(args["weken"])
        except ValueError:
            notes.append("Het aantal weken is geen getal. Ik laat vier weken zien.")
            weeks = default.weeks
        if weeks < 1:
            notes.append("Een periode is minstens een week.")
            weeks = 1
        elif weeks > MAX_WEEKS:
            notes.append(f"Een periode is hoogstens {MAX_WEEKS} weken.")
            weeks = MAX_WEEKS
    channel = args.get("kanaal") or None
    if channel is not None and channel not in labels.CHANNELS:
        notes.append("Dat kanaal ken ik niet. Ik laat alle kanalen zien.")
        channel = None
    neighbourhood: Optional[str] = args.get("wijk") or None
    if neighbourhood == labels.UNKNOWN_LABEL:
        neighbourhood = UNKNOWN
    elif neighbourhood is not None and neighbourhood not in neighbourhoods:
        notes.append("Die wijk ken ik niet. Ik laat alle wijken zien.")
        neighbourhood = None
    return Filters(start, weeks, channel, neighbourhood), notes


def month_filters(month: str) -> Filters:
    """The whole weeks of a month: the weeks whose Thursday falls in it (ISO 8601)."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    start = monday(first + timedelta(days=3))
    if (start + timedelta(days=3)).month != number:
        start += timedelta(days=7)
    weeks = 0
    while (start + timedelta(days=7 * weeks + 3)).month == number:
        weeks += 1
    return Filters(start, weeks)


# --- the cells -------------------------------------------------------------------------------------

def load_rows(engine: Engine, filters: Filters) -> List[Dict[str, Any]]:
    t = insight_daily
    query = sa.select(t).where(t.c.day >= filters.start, t.c.day < filters.end)
    if filters.channel:
        query = query.where(t.c.channel == filters.channel)
    if filters.neighbourhood is not None:
        query = query.where(t.c.neighbourhood == filters.neighbourhood)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


SHAPES = {
    QUESTIONS: [(), ("week",), ("topic",), ("phase",), ("topic", "phase"), ("severity",), ("neighbourhood",),
                ("severity", "neighbourhood"), ("support_level",), ("support_level", "neighbourhood"),
                ("local_support",), ("handoff",), ("topic", "phase", "neighbourhood")],
    CRISES: [(), ("situation",)],
}


def count(rows: Iterable[Mapping[str, Any]], filters: Filters) -> Dict[Key, int]:
    values: Dict[Key, int] = defaultdict(int)
    for row in rows:
        measure = CRISES if row["situation"] else QUESTIONS
        dims = dict(row)
        dims["week"] = monday(row["day"]).isoformat()
        for shape in SHAPES[measure]:
            values[key(measure, **{d: dims[d] for d in shape})] += int(row["questions"])
    return dict(values)


# --- tables ----------------------------------------------------------------------------------------

@dataclass
class Table:
    id: str
    title: str
    measure: str
    row_dims: Tuple[str, ...]
    rows: List[Dict[str, Any]]
    col_dim: Optional[str] = None
    cols: List[Any] = field(default_factory=list)
    row_header: str = ""
    note: str = ""

    def row_key(self, row: Mapping[str, Any], col: Any = None) -> Key:
        dims = dict(row)
        if self.col_dim is not None and col is not None:
            dims[self.col_dim] = col
        return key(self.measure, **dims)

    def col_key(self, col: Any) -> Key:
        return key(self.measure, **{self.col_dim: col})  # type: ignore[dict-item]

    def total_key(self) -> Key:
        return key(self.measure)

    def cells(self) -> List[Key]:
        found = [self.total_key()]
        for row in self.rows:
            found.append(self.row_key(row))
            found.extend(self.row_key(row, col) for col in self.cols)
        found.extend(self.col_key(col) for col in self.cols)
        return found

    def equations(self) -> List[Equation]:
        found = [Equation(self.total_key(), tuple(self.row_key(r) for r in self.rows))]
        if self.col_dim is not None:
            found.append(Equation(self.total_key(), tuple(self.col_key(c) for c in self.cols)))
            for row in self.rows:
                found.append(Equation(self.row_key(row), tuple(self.row_key(row, c) for c in self.cols)))
            for col in self.cols:
                found.append(Equation(self.col_key(col), tuple(self.row_key(r, col) for r in self.rows)))
        return found


def _present(values: Mapping[Key, int], measure: str, dim: str, order: Sequence[Any]) -> List[Any]:
    """The values of `dim` with any count, in the vocabulary's order (unknown last)."""
    seen = {dict(k)[dim] for k, v in values.items() if v and dict(k).get("m") == measure and dim in dict(k)}
    ordered = [v for v in order if v in seen]
    return ordered + sorted(v for v in seen if v not in ordered and v != UNKNOWN) + ([UNKNOWN] if UNKNOWN in seen and UNKNOWN not in ordered else [])


def build_tables(values: Mapping[Key, int], filters: Filters, neighbourhoods: Sequence[str]) -> List[Table]:
    weeks = [w.isoformat() for w in filters.week_starts()]
    topics = _present(values, QUESTIONS, "topic", vocabulary.TOPICS)
    phases = _present(values, QUESTIONS, "phase", vocabulary.PHASES + (UNKNOWN,))
    hoods = _present(values, QUESTIONS, "neighbourhood", tuple(neighbourhoods) + (UNKNOWN,))
    tables = [
        Table("vraag", "Vragen per week", QUESTIONS, ("week",), [{"week": w} for w in weeks], row_header="Week"),
        Table("onderwerp", "Onderwerp per leeftijdsfase", QUESTIONS, ("topic",), [{"topic": t} for t in topics],
              "phase", phases, row_header="Onderwerp"),
        Table("ernst", "Ernst per wijk", QUESTIONS, ("severity",),
              [{"severity": s} for s in _present(values, QUESTIONS, "severity", vocabulary.SEVERITIES)],
              "neighbourhood", hoods, row_header="Ernst"),
        Table("niveau", "Soort steun per wijk", QUESTIONS, ("support_level",),
              [{"support_level": s} for s in _present(values, QUESTIONS, "support_level", vocabulary.SUPPORT_LEVELS)],
              "neighbourhood", hoods, row_header="Soort steun"),
        Table("crisis", "Crisissituaties (alleen aantallen)", CRISES, ("situation",),
              [{"situation": s} for s in _present(values, CRISES, "situation", tuple(vocabulary.SITUATIONS))],
              row_header="Situatie"),
        Table("lokaal", "Lokaal aanbod getoond", QUESTIONS, ("local_support",),
              [{"local_support": True}, {"local_support": False}], row_header="Lokaal aanbod"),
        Table("overdracht", "Gevraagd om contact met een medewerker", QUESTIONS, ("handoff",),
              [{"handoff": True}, {"handoff": False}], row_header="Contact gevraagd"),
        Table("tekort", "Vraag per onderwerp, fase en wijk", QUESTIONS, ("topic", "phase"),
              [{"topic": t, "phase": p} for t in topics for p in phases if values.get(key(QUESTIONS, topic=t, phase=p))],
              "neighbourhood", hoods, row_header="Onderwerp en fase"),
    ]
    return tables


# --- the gaps in the offer -------------------------------------------------------------------------

@dataclass
class Gap:
    topic: str
    phase: str
    neighbourhood: str
    shown: str  # the count as shown: a number, "< 5" or "verborgen"
    levels: Dict[str, bool]

    @property
    def missing(self) -> List[str]:
        return [level for level in ABC if not self.levels[level]]

    def sentence(self, period: str) -> str:
        topic, phase = labels.name_of("topic", self.topic), labels.name_of("phase", self.phase)
        amount = "Minder dan 5" if self.shown == SUPPRESSED else ("Een aantal" if self.shown == HIDDEN else self.shown)
        asked = f"{amount} vragen over {topic} ({phase}) uit {self.neighbourhood} {period}."
        if not self.missing:
            return f"{asked} Er is daar aanbod van niveau A, B en C."
        names = {"A": "informeel aanbod (A)", "B": "informatie en advies (B)", "C": "opvoedondersteuning (C)"}
        return f"{asked} Er is daar geen {', geen '.join(names[level] for level in self.missing)}."


def offer_levels(catalogue: Any, topic: str, phase: str, neighbourhood: str) -> Dict[str, bool]:
    """Which levels A, B and C the municipality's own offer has there (national offers such as
    websites and helplines serve everyone and are left out: the question is what is local)."""
    found = {level: False for level in ABC}
    for offer in getattr(catalogue, "offers", ()):
        if (offer.level in found and offer.scope != "national" and offer.for_parents and offer.covers_topic(topic)
                and offer.covers_phase(phase or None) and offer.serves_neighbourhood(neighbourhood)):
            found[offer.level] = True
    return found


# --- the report ------------------------------------------------------------------------------------

@dataclass
class Report:
    filters: Filters
    values: Dict[Key, int]
    tables: List[Table]
    protection: Protection
    gaps: List[Gap]

    def shown(self, cell: Key) -> str:
        value = self.protection.shown(cell)
        if value is not None:
            return str(value)
        return SUPPRESSED if cell in self.protection.primary else HIDDEN

    def number(self, cell: Key) -> Optional[int]:
        return self.protection.shown(cell)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    def share(self, table_id: str) -> str:
        """The share of the first row of a yes/no table, when both numbers are shown."""
        table = self.table(table_id)
        part, whole = self.number(table.row_key(table.rows[0])), self.number(table.total_key())
        if part is None or not whole:
            return "niet te berekenen (kleine aantallen)"
        return f"{round(100 * part / whole)}%"

    @property
    def period(self) -> str:
        return (f"van {self.filters.start.strftime('%d-%m-%Y')} tot en met "
                f"{self.filters.last_day.strftime('%d-%m-%Y')}")

    @property
    def empty(self) -> bool:
        return not any(self.values.values())


def build_report(engine: Engine, filters: Filters, catalogue: Any = None) -> Report:
    municipality = getattr(catalogue, "municipality", None)
    neighbourhoods = list(municipality.neighbourhood_names()) if municipality else []
    values = count(load_rows(engine, filters), filters)
    tables = build_tables(values, filters, neighbourhoods)
    cells: List[Key] = []
    equations: List[Equation] = []
    for table in tables:
        cells.extend(table.cells())
        equations.extend(table.equations())
    protection = protect(values, equations, cells)
    report = Report(filters, values, tables, protection, [])
    gap_table = report.table("tekort")
    gaps = []
    for row in gap_table.rows:
        for hood in gap_table.cols:
            cell = gap_table.row_key(row, hood)
            if hood == UNKNOWN or not values.get(cell):
                continue
            gaps.append(Gap(row["topic"], row["phase"], hood, report.shown(cell),
                            offer_levels(catalogue, row["topic"], row["phase"], hood)))
    # shown counts first (largest first), then the hidden ones by name: never ordered by a hidden count
    gaps.sort(key=lambda g: (-(int(g.shown) if g.shown.isdigit() else -1), g.topic, g.phase, g.neighbourhood))
    report.gaps = gaps
    return report


# --- labels for the page ---------------------------------------------------------------------------

def label(dim: str, value: Any) -> str:
    if dim == "week":
        start = date.fromisoformat(value)
        return f"week van {start.strftime('%d-%m')}"
    if dim in ("local_support", "handoff"):
        return "ja" if value else "nee"
    return labels.name_of(dim, value)


def row_label(table: Table, row: Mapping[str, Any]) -> str:
    return ", ".join(label(d, row[d]) for d in table.row_dims)


# --- CSV -------------------------------------------------------------------------------------------

CSV_DIMS = ("week", "topic", "phase", "severity", "support_level", "neighbourhood", "situation",
            "local_support", "handoff")


def to_csv(report: Report) -> str:
    """Every number of the page, one line each (the same suppression as the page)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["tabel", "maat", "van", "tot_en_met", "kanaal", "wijk_filter", *CSV_DIMS, "aantal"])
    filters = report.filters
    hood_filter = "" if filters.neighbourhood is None else (filters.neighbourhood or labels.UNKNOWN_LABEL)
    for table in report.tables:
        for cell in table.cells():
            dims = dict(cell)
            measure = "crises" if dims.pop("m") == CRISES else "vragen"
            row = [_csv_value(d, dims[d]) if d in dims else "" for d in CSV_DIMS]
            writer.writerow([table.id, measure, filters.start.isoformat(), filters.last_day.isoformat(),
                             filters.channel or "", hood_filter, *row, report.shown(cell)])
    return out.getvalue()


def _csv_value(dim: str, value: Any) -> str:
    if dim in ("local_support", "handoff"):
        return "ja" if value else "nee"
    if dim == "neighbourhood" and value == UNKNOWN:
        return labels.UNKNOWN_LABEL
    return str(value) if value != UNKNOWN else labels.UNKNOWN_LABEL


__all__ = ["Filters", "Report", "build_report", "default_filters", "month_filters", "parse_filters",
           "to_csv", "THRESHOLD", "SUPPRESSED", "HIDDEN"]

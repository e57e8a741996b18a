"""Opening hours: parsing, Dutch public holidays, 'open now' and 'next opening'.

The one opening-hours model of the assistant: the catalogue's offers and the municipality's
office hours (``bot.domain.handoff``: when a professional answers a hand-off) both use it.

Hours in the catalogue are either ``"24/7"``, ``"op afspraak"`` (by appointment, no fixed
times) or a mapping of Dutch weekday abbreviations to time ranges::

    ma: "09:00-17:00"
    wo: "09:00-12:00, 13:00-17:00"
    za: gesloten
    feestdagen: "10:00-14:00"   # optional: hours on public holidays

All times are in the time zone of ``bot.vocabulary``. On Dutch public holidays an offer uses its
``feestdagen`` line when it has one; otherwise it is closed, unless it is 24/7 or marked
``open_on_holidays: true`` (then its normal weekday hours apply).

Holidays come from the ``holidays`` package (PyPI, pinned in requirements.txt), country NL:
New Year's Day, Good Friday, Easter Sunday and Monday, King's Day (27 April; 26 April when the
27th is a Sunday), Ascension Day, Whit Sunday and Monday, Christmas Day and Boxing Day, and
Liberation Day (5 May) only in lustrum years (2025, 2030, ...), as the package has it. The
hand-off's office hours always followed these same days; tests/unit/test_catalogue_hours.py pins
them for 2026-2028.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Mapping

import holidays

from bot import vocabulary

TZ = vocabulary.TZ
WEEKDAYS: tuple[str, ...] = ("ma", "di", "wo", "do", "vr", "za", "zo")  # Monday = 0
DAY_NAMES: tuple[str, ...] = (
    "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",
)
ALWAYS = "24/7"
BY_APPOINTMENT = "op afspraak"
CLOSED = "gesloten"
HOLIDAY_KEY = "feestdagen"

_TIME = r"([01]?\d|2[0-4])[:.]([0-5]\d)"
_RANGE_RE = re.compile(rf"^\s*{_TIME}\s*[-\u2013\u2014]\s*{_TIME}\s*$")
_SPLIT_RE = re.compile(r"\s*(?:,|;|\ben\b)\s*")
HOURS_HINT = "write it as '09:00-17:00' (or '09:00-12:00, 13:00-17:00', or 'gesloten')"

DayRanges = tuple[tuple[int, int], ...]  # minutes since midnight, [start, end)


class HoursError(ValueError):
    """A malformed opening-hours text; the message says what would be right."""


@dataclass(frozen=True)
class OpeningHours:
    """Parsed opening hours of one offer."""

    always: bool = False
    by_appointment: bool = False
    days: tuple[DayRanges, ...] = field(default_factory=lambda: ((),) * 7)
    open_on_holidays: bool = False
    holiday: DayRanges | None = None  # hours on public holidays, when given

    @property
    def has_fixed_times(self) -> bool:
        return self.always or any(self.days) or bool(self.holiday)


def _minutes(hours: str, minutes: str) -> int:
    return int(hours) * 60 + int(minutes)


def parse_range(text: str) -> tuple[int, int]:
    """Parse '09:00-17:00' into minutes since midnight; raise HoursError when malformed."""
    match = _RANGE_RE.match(text or "")
    if not match:
        raise HoursError(f"'{text}' is not a time range; {HOURS_HINT}")
    start = _minutes(match.group(1), match.group(2))
    end = _minutes(match.group(3), match.group(4))
    if start >= 24 * 60:
        raise HoursError(f"'{text}': a day starts at 00:00, '24:..' can only be an end time")
    if end > 24 * 60:
        raise HoursError(f"'{text}': the latest end time is 24:00")
    if end <= start:
        raise HoursError(
            f"'{text}': the end is not after the start; {HOURS_HINT}"
            " (a range past midnight is split: 'ma: 22:00-24:00' and 'di: 00:00-02:00')"
        )
    return start, end


def parse_day(text: str) -> DayRanges:
    """Parse one weekday's value: 'gesloten' or one or more ranges separated by commas."""
    if not isinstance(text, str):
        raise HoursError(f"{text!r} is not text; {HOURS_HINT}")
    if text.strip().lower() == CLOSED:
        return ()
    parts = [p for p in _SPLIT_RE.split(text.strip()) if p]
    if not parts:
        raise HoursError(f"'{text}' is empty; {HOURS_HINT}")
    ranges = sorted(parse_range(p) for p in parts)
    for (s1, e1), (s2, _e2) in zip(ranges, ranges[1:]):
        if s2 < e1:
            raise HoursError(f"'{text}': the time ranges overlap")
    return tuple(ranges)


def parse_hours(spec: object, open_on_holidays: bool = False) -> OpeningHours:
    """Parse an offer's `hours` value (see module docstring); raise HoursError when malformed."""
    if isinstance(spec, str):
        value = spec.strip().lower()
        if value == ALWAYS:
            return OpeningHours(always=True, open_on_holidays=True)
        if value == BY_APPOINTMENT:
            return OpeningHours(by_appointment=True, open_on_holidays=open_on_holidays)
        raise HoursError(
            f"'{spec}' is not valid here; use '{ALWAYS}', '{BY_APPOINTMENT}' or one line per "
            "weekday, e.g. ma: '09:00-17:00'"
        )
    if isinstance(spec, Mapping):
        days: list[DayRanges] = [()] * 7
        holiday: DayRanges | None = None
        for key, value in spec.items():
            if key == HOLIDAY_KEY:
                holiday = parse_day(value)
            elif key in WEEKDAYS:
                days[WEEKDAYS.index(key)] = parse_day(value)
            else:
                raise HoursError(
                    f"'{key}' is not a weekday; use {', '.join(WEEKDAYS)} or {HOLIDAY_KEY}"
                )
        return OpeningHours(days=tuple(days), open_on_holidays=open_on_holidays, holiday=holiday)
    raise HoursError(f"{spec!r} is not valid opening hours; use '{ALWAYS}' or weekday lines")


def format_minutes(minutes: int) -> str:
    """600 -> '10:00', 540 -> '9:00' (Dutch style, no leading zero)."""
    return f"{minutes // 60}:{minutes % 60:02d}"


# --- public holidays -------------------------------------------------------------------

HOLIDAY_COUNTRY = "NL"
HOLIDAY_LANGUAGE = "nl"  # names as "Koningsdag", "Tweede paasdag"


@lru_cache(maxsize=64)
def _holidays_for_year(year: int) -> dict[date, str]:
    found = holidays.country_holidays(HOLIDAY_COUNTRY, years=year, language=HOLIDAY_LANGUAGE)
    return dict(found.items())


def holiday_name(day: date) -> str | None:
    """Name of the Dutch public holiday on `day`, or None."""
    return _holidays_for_year(day.year).get(day)


def is_holiday(day: date) -> bool:
    return holiday_name(day) is not None


# --- open now / next opening -------------------------------------------------------------

ALL_DAY: DayRanges = ((0, 24 * 60),)


def to_local(when: datetime | None = None) -> datetime:
    """`when` in the vocabulary's time zone; naive datetimes count as local time; None = now."""
    if when is None:
        return datetime.now(TZ)
    if when.tzinfo is None:
        return when.replace(tzinfo=TZ)
    return when.astimezone(TZ)


def ranges_on(hours: OpeningHours, day: date) -> DayRanges:
    """The time ranges of `day`, public holidays taken into account (24/7: the whole day)."""
    if hours.always:
        return ALL_DAY
    if is_holiday(day):
        if hours.holiday is not None:
            return hours.holiday
        if not hours.open_on_holidays:
            return ()
    return hours.days[day.weekday()]


def current_range(hours: OpeningHours, when: datetime | None = None) -> tuple[int, int] | None:
    """The time range (minutes since midnight) that `when` falls in, or None when closed."""
    local = to_local(when)
    minute = local.hour * 60 + local.minute
    return next(((s, e) for s, e in ranges_on(hours, local.date()) if s <= minute < e), None)


def is_open(hours: OpeningHours, when: datetime | None = None) -> bool:
    """True when the offer is open at `when` (default: now)."""
    if hours.always:
        return True
    return current_range(hours, when) is not None


def next_start(hours: OpeningHours, when: datetime | None = None,
               max_days: int = 31) -> datetime | None:
    """The next start of a time range strictly after `when` (local time), whether or not it
    is open at `when`; None when none starts within `max_days`."""
    local = to_local(when)
    minute = local.hour * 60 + local.minute
    for offset in range(max_days + 1):
        day = local.date() + timedelta(days=offset)
        for start, _end in ranges_on(hours, day):
            if offset == 0 and start <= minute:
                continue
            return datetime.combine(day, time(start // 60, start % 60), tzinfo=TZ)
    return None


def next_opening(hours: OpeningHours, when: datetime | None = None,
                 max_days: int = 31) -> datetime | None:
    """When a closed offer opens next (local time); None if open now or no fixed times."""
    if hours.always or not (any(hours.days) or hours.holiday):
        return None
    local = to_local(when)
    if is_open(hours, local):
        return None
    return next_start(hours, local, max_days)

"""Opening hours of offers: parsing, Dutch public holidays, 'open now' and 'next opening'.

Hours in the catalogue are either ``"24/7"``, ``"op afspraak"`` (by appointment, no fixed
times) or a mapping of Dutch weekday abbreviations to time ranges::

    ma: "09:00-17:00"
    wo: "09:00-12:00, 13:00-17:00"
    za: gesloten
    feestdagen: "10:00-14:00"   # optional: hours on public holidays

All times are Europe/Amsterdam. On Dutch public holidays an offer uses its ``feestdagen`` line
when it has one; otherwise it is closed, unless it is 24/7 or marked ``open_on_holidays: true``
(then its normal weekday hours apply). Holidays come from the ``holidays`` package
(PyPI) when installed; otherwise from the built-in rules below (same days).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Mapping

from bot import vocabulary

logger = logging.getLogger(__name__)

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

def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (name from the algorithm)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def builtin_holidays(year: int) -> dict[date, str]:
    """Dutch public holidays by the rules the `holidays` package uses (fallback)."""
    easter = _easter(year)
    days = {
        date(year, 1, 1): "Nieuwjaarsdag",
        easter - timedelta(days=2): "Goede Vrijdag",
        easter: "Eerste Paasdag",
        easter + timedelta(days=1): "Tweede Paasdag",
        easter + timedelta(days=39): "Hemelvaartsdag",
        easter + timedelta(days=49): "Eerste Pinksterdag",
        easter + timedelta(days=50): "Tweede Pinksterdag",
        date(year, 12, 25): "Eerste Kerstdag",
        date(year, 12, 26): "Tweede Kerstdag",
    }
    if year >= 2014:
        kings = date(year, 4, 27)
        days[kings - timedelta(days=1) if kings.weekday() == 6 else kings] = "Koningsdag"
    else:
        queens = date(year, 4, 30)
        days[queens - timedelta(days=1) if queens.weekday() == 6 else queens] = "Koninginnedag"
    if year >= 1990 and year % 5 == 0:
        days[date(year, 5, 5)] = "Bevrijdingsdag"
    return days


@lru_cache(maxsize=64)
def _holidays_for_year(year: int) -> dict[date, str]:
    try:
        import holidays  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - depends on the environment
        logger.info("package 'holidays' not installed; using built-in Dutch holidays")
        return builtin_holidays(year)
    return dict(holidays.country_holidays("NL", years=year).items())


def holiday_name(day: date) -> str | None:
    """Name of the Dutch public holiday on `day`, or None."""
    return _holidays_for_year(day.year).get(day)


def is_holiday(day: date) -> bool:
    return holiday_name(day) is not None


# --- open now / next opening -------------------------------------------------------------

def to_local(when: datetime | None = None) -> datetime:
    """`when` in Europe/Amsterdam; naive datetimes count as Amsterdam time; None = now."""
    if when is None:
        return datetime.now(TZ)
    if when.tzinfo is None:
        return when.replace(tzinfo=TZ)
    return when.astimezone(TZ)


def _ranges_on(hours: OpeningHours, day: date) -> DayRanges:
    if is_holiday(day):
        if hours.holiday is not None:
            return hours.holiday
        if not hours.open_on_holidays:
            return ()
    return hours.days[day.weekday()]


def is_open(hours: OpeningHours, when: datetime | None = None) -> bool:
    """True when the offer is open at `when` (default: now)."""
    if hours.always:
        return True
    local = to_local(when)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in _ranges_on(hours, local.date()))


def next_opening(hours: OpeningHours, when: datetime | None = None,
                 max_days: int = 31) -> datetime | None:
    """When a closed offer opens next (Amsterdam time); None if open now or no fixed times."""
    if hours.always or not (any(hours.days) or hours.holiday):
        return None
    local = to_local(when)
    if is_open(hours, local):
        return None
    minute = local.hour * 60 + local.minute
    for offset in range(max_days + 1):
        day = local.date() + timedelta(days=offset)
        for start, _end in _ranges_on(hours, day):
            if offset == 0 and start <= minute:
                continue
            return datetime.combine(day, time(start // 60, start % 60), tzinfo=TZ)
    return None

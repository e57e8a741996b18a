"""Opening hours: parsing, Dutch public holidays, open now and next opening (Europe/Amsterdam)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.catalogue.hours import (
    HoursError,
    builtin_holidays,
    holiday_name,
    is_holiday,
    is_open,
    next_opening,
    parse_day,
    parse_hours,
    parse_range,
)

AMS = ZoneInfo("Europe/Amsterdam")
OFFICE = parse_hours({d: "09:00-17:00" for d in ("ma", "di", "wo", "do", "vr")})


@pytest.mark.parametrize("text, expected", [
    ("09:00-17:00", (540, 1020)),
    ("9:00-17:00", (540, 1020)),
    ("09.00 - 17.30", (540, 1050)),
    ("00:00-24:00", (0, 1440)),
    ("13:30\u201315:30", (810, 930)),
])
def test_parse_range_valid(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("9-17", "not a time range"),
    ("09:00", "not a time range"),
    ("17:00-09:00", "end is not after the start"),
    ("09:00-09:00", "end is not after the start"),
    ("24:00-24:30", "can only be an end time"),
    ("09:00-25:00", "not a time range"),
    ("09:60-10:00", "not a time range"),
    ("", "not a time range"),
])
def test_parse_range_invalid(text, fragment):
    with pytest.raises(HoursError) as info:
        parse_range(text)
    assert fragment in str(info.value)


def test_parse_day_and_hours():
    assert parse_day("gesloten") == ()
    assert parse_day("08:30-12:00, 13:00-17:00") == ((510, 720), (780, 1020))
    with pytest.raises(HoursError, match="overlap"):
        parse_day("08:00-12:00, 11:00-13:00")
    assert parse_hours("24/7").always
    assert parse_hours("op afspraak").by_appointment
    with pytest.raises(HoursError):
        parse_hours("9-17")
    with pytest.raises(HoursError, match="not a weekday"):
        parse_hours({"maandag": "09:00-17:00"})


@pytest.mark.parametrize("day, dutch_name", [
    (date(2027, 4, 27), "Koningsdag"),          # a Tuesday
    (date(2025, 4, 26), "Koningsdag"),          # 27 April 2025 is a Sunday: moved to the 26th
    (date(2027, 3, 29), "Tweede Paasdag"),
    (date(2027, 5, 6), "Hemelvaartsdag"),
    (date(2027, 5, 17), "Tweede Pinksterdag"),
    (date(2026, 12, 25), "Eerste Kerstdag"),
    (date(2027, 1, 1), "Nieuwjaarsdag"),
    (date(2025, 5, 5), "Bevrijdingsdag"),       # a lustrum year
])
def test_dutch_public_holidays(day, dutch_name):
    assert is_holiday(day)
    assert holiday_name(day)
    assert builtin_holidays(day.year).get(day) == dutch_name


@pytest.mark.parametrize("day", [date(2027, 4, 26), date(2027, 4, 28), date(2026, 5, 5),
                                 date(2027, 12, 24), date(2027, 6, 1)])
def test_ordinary_days_are_not_holidays(day):
    assert not is_holiday(day)


def test_builtin_rules_match_the_holidays_package():
    holidays = pytest.importorskip("holidays")
    for year in range(2015, 2036):
        package = set(holidays.country_holidays("NL", years=year).keys())
        assert set(builtin_holidays(year)) == package, year


def test_closed_on_koningsdag_and_opens_the_next_morning():
    kingsday = datetime(2027, 4, 27, 10, 0)
    assert not is_open(OFFICE, kingsday)
    assert next_opening(OFFICE, kingsday) == datetime(2027, 4, 28, 9, 0, tzinfo=AMS)
    assert is_open(OFFICE, datetime(2027, 4, 26, 10, 0))


def test_weekend_and_evening():
    saturday = datetime(2027, 5, 1, 11, 0)
    assert not is_open(OFFICE, saturday)
    assert next_opening(OFFICE, saturday) == datetime(2027, 5, 3, 9, 0, tzinfo=AMS)
    friday_evening = datetime(2027, 4, 30, 17, 0)  # closing time itself is closed
    assert not is_open(OFFICE, friday_evening)
    assert next_opening(OFFICE, friday_evening) == datetime(2027, 5, 3, 9, 0, tzinfo=AMS)
    assert is_open(OFFICE, datetime(2027, 4, 30, 16, 59))
    assert next_opening(OFFICE, datetime(2027, 4, 30, 16, 59)) is None  # open now


def test_same_day_later_block():
    hours = parse_hours({"di": "09:00-12:00, 13:30-15:30"})
    lunch = datetime(2027, 4, 20, 12, 30)
    assert not is_open(hours, lunch)
    assert next_opening(hours, lunch) == datetime(2027, 4, 20, 13, 30, tzinfo=AMS)


def test_timezone_handling_and_summer_time():
    # 07:30 UTC on 26 April 2027 is 09:30 in Amsterdam (CEST, UTC+2)
    assert is_open(OFFICE, datetime(2027, 4, 26, 7, 30, tzinfo=timezone.utc))
    assert not is_open(OFFICE, datetime(2027, 4, 26, 6, 30, tzinfo=timezone.utc))
    # Saturday before the switch to summer time (Sunday 29 March 2026): Monday opens 09:00 CEST
    opening = next_opening(OFFICE, datetime(2026, 3, 28, 12, 0, tzinfo=AMS))
    assert opening == datetime(2026, 3, 30, 9, 0, tzinfo=AMS)
    assert opening.utcoffset().total_seconds() == 7200
    # in 2027 the switch is on Easter Sunday (28 March); Easter Monday is closed too
    opening = next_opening(OFFICE, datetime(2027, 3, 27, 12, 0, tzinfo=AMS))
    assert opening == datetime(2027, 3, 30, 9, 0, tzinfo=AMS)


def test_holiday_rules_per_offer():
    kingsday = datetime(2027, 4, 27, 11, 0)
    assert is_open(parse_hours("24/7"), kingsday)
    assert next_opening(parse_hours("24/7"), kingsday) is None
    special = parse_hours({"di": "09:00-17:00", "feestdagen": "10:00-12:00"})
    assert is_open(special, kingsday)
    assert not is_open(special, datetime(2027, 4, 27, 13, 0))
    same = parse_hours({"di": "09:00-17:00"}, open_on_holidays=True)
    assert is_open(same, datetime(2027, 4, 27, 16, 0))
    assert not is_open(parse_hours({"di": "09:00-17:00"}), datetime(2027, 4, 27, 16, 0))


def test_no_fixed_times_has_no_next_opening():
    assert next_opening(parse_hours("op afspraak"), datetime(2027, 4, 26, 10, 0)) is None
    assert not is_open(parse_hours("op afspraak"), datetime(2027, 4, 26, 10, 0))

"""Opening hours: parsing, Dutch public holidays, open now and next opening (the vocabulary's
time zone)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot import vocabulary
from bot.domain.catalogue.hours import (
    HoursError,
    current_range,
    holiday_name,
    is_holiday,
    is_open,
    next_opening,
    next_start,
    parse_day,
    parse_hours,
    parse_range,
)

AMS = vocabulary.TZ
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


# Every Dutch public holiday of 2026-2028, as the `holidays` package (NL, Dutch names) gives
# them. Liberation Day (5 May) counts only in lustrum years (2025, 2030, ...), so not in
# 2026-2028; King's Day falls on a weekday in these years (see the next test for a Sunday).
PUBLIC_HOLIDAYS_2026_2028 = {
    date(2026, 1, 1): "Nieuwjaarsdag",
    date(2026, 4, 3): "Goede Vrijdag",
    date(2026, 4, 5): "Eerste paasdag",
    date(2026, 4, 6): "Tweede paasdag",
    date(2026, 4, 27): "Koningsdag",
    date(2026, 5, 14): "Hemelvaartsdag",
    date(2026, 5, 24): "Eerste Pinksterdag",
    date(2026, 5, 25): "Tweede Pinksterdag",
    date(2026, 12, 25): "Eerste Kerstdag",
    date(2026, 12, 26): "Tweede Kerstdag",
    date(2027, 1, 1): "Nieuwjaarsdag",
    date(2027, 3, 26): "Goede Vrijdag",
    date(2027, 3, 28): "Eerste paasdag",
    date(2027, 3, 29): "Tweede paasdag",
    date(2027, 4, 27): "Koningsdag",
    date(2027, 5, 6): "Hemelvaartsdag",
    date(2027, 5, 16): "Eerste Pinksterdag",
    date(2027, 5, 17): "Tweede Pinksterdag",
    date(2027, 12, 25): "Eerste Kerstdag",
    date(2027, 12, 26): "Tweede Kerstdag",
    date(2028, 1, 1): "Nieuwjaarsdag",
    date(2028, 4, 14): "Goede Vrijdag",
    date(2028, 4, 16): "Eerste paasdag",
    date(2028, 4, 17): "Tweede paasdag",
    date(2028, 4, 27): "Koningsdag",
    date(2028, 5, 25): "Hemelvaartsdag",
    date(2028, 6, 4): "Eerste Pinksterdag",
    date(2028, 6, 5): "Tweede Pinksterdag",
    date(2028, 12, 25): "Eerste Kerstdag",
    date(2028, 12, 26): "Tweede Kerstdag",
}


def test_every_public_holiday_of_2026_to_2028() -> None:
    day, found = date(2026, 1, 1), {}
    while day.year <= 2028:
        if is_holiday(day):
            found[day] = holiday_name(day)
        day += timedelta(days=1)
    assert found == PUBLIC_HOLIDAYS_2026_2028


@pytest.mark.parametrize("day, dutch_name", [
    (date(2025, 4, 26), "Koningsdag"),          # 27 April 2025 is a Sunday: moved to the 26th
    (date(2031, 4, 26), "Koningsdag"),          # idem 2031
    (date(2025, 5, 5), "Bevrijdingsdag"),       # a lustrum year
    (date(2030, 5, 5), "Bevrijdingsdag"),       # a lustrum year
])
def test_dutch_public_holidays(day, dutch_name):
    assert is_holiday(day)
    assert holiday_name(day) == dutch_name


@pytest.mark.parametrize("day", [date(2027, 4, 26), date(2027, 4, 28), date(2026, 5, 5),
                                 date(2027, 5, 5), date(2028, 5, 5), date(2025, 4, 27),
                                 date(2031, 4, 27), date(2027, 12, 24), date(2027, 6, 1)])
def test_ordinary_days_are_not_holidays(day):
    assert not is_holiday(day)


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


def test_current_range_and_next_start_also_when_open():
    """What the hand-off's office hours need: the range now, and the next start even when open."""
    hours = parse_hours({"di": "09:00-12:00, 13:30-15:30"})
    assert current_range(hours, datetime(2027, 4, 20, 10, 0)) == (540, 720)
    assert current_range(hours, datetime(2027, 4, 20, 12, 0)) is None
    assert next_start(hours, datetime(2027, 4, 20, 10, 0)) == datetime(2027, 4, 20, 13, 30, tzinfo=AMS)
    assert next_opening(hours, datetime(2027, 4, 20, 10, 0)) is None  # open now
    # after the last start of the day: Tuesday 27 April is King's Day, so Tuesday 4 May
    assert next_start(hours, datetime(2027, 4, 20, 13, 30)) == datetime(2027, 5, 4, 9, 0, tzinfo=AMS)
    always = parse_hours("24/7")
    assert current_range(always, datetime(2027, 4, 27, 23, 59)) == (0, 1440)  # King's Day too

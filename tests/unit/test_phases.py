"""Tests for bot/domain/phases.py: the NJi phases of CONTRACT.md s1."""
from __future__ import annotations

import pytest

from bot.domain.phases import PHASE_IDS, phase_bounds, phase_for_months


@pytest.mark.parametrize("months, phase", [
    (0, "0-2"),
    (1, "0-2"),
    (12, "0-2"),
    (23, "0-2"),
    (24, "2-4"),
    (47, "2-4"),
    (48, "2-4"),      # a 4-year-old stays in 2-4 until 5
    (59, "2-4"),
    (60, "5-12"),
    (100, "5-12"),
    (143, "5-12"),
    (144, "12-19"),
    (200, "12-19"),
    (227, "12-19"),
    (228, None),      # from 19 years on no phase
    (300, None),
    (10_000, None),
    (-1, None),
    (None, None),
])
def test_phase_for_months(months, phase) -> None:
    assert phase_for_months(months) == phase


@pytest.mark.parametrize("phase, bounds", [
    ("0-2", (0, 23)),
    ("2-4", (24, 59)),
    ("5-12", (60, 143)),
    ("12-19", (144, 227)),
])
def test_phase_bounds(phase: str, bounds: tuple) -> None:
    assert phase_bounds(phase) == bounds
    low, high = bounds
    assert phase_for_months(low) == phase and phase_for_months(high) == phase
    assert phase_for_months(low - 1) != phase and phase_for_months(high + 1) != phase


def test_phase_ids_are_the_contract_names_in_order() -> None:
    assert PHASE_IDS == ("0-2", "2-4", "5-12", "12-19")


def test_phases_cover_0_to_227_without_gaps() -> None:
    covered = [m for phase in PHASE_IDS
               for m in range(phase_bounds(phase)[0], phase_bounds(phase)[1] + 1)]
    assert covered == list(range(0, 228))


@pytest.mark.parametrize("bad", ["", "0-3", "volwassen", None, 5])
def test_unknown_phase_raises_value_error(bad) -> None:
    with pytest.raises(ValueError):
        phase_bounds(bad)


@pytest.mark.parametrize("odd", [True, "12", 12.7, float("nan"), object()])
def test_odd_months_never_raise(odd) -> None:
    result = phase_for_months(odd)
    assert result is None or result in PHASE_IDS

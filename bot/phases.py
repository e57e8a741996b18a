"""The NJi development phases (CONTRACT.md s1), loaded once from knowledge/phases.yml."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Tuple

import yaml

_PHASES_FILE = Path(__file__).parent / "knowledge" / "phases.yml"


@lru_cache(maxsize=1)
def _table() -> Tuple[Tuple[str, int, int], ...]:
    """(id, min_months, max_months) per phase, ordered and checked to be contiguous from 0."""
    with open(_PHASES_FILE, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    rows = tuple((str(p["id"]), int(p["min_months"]), int(p["max_months"])) for p in raw["phases"])
    expected_start = 0
    for phase_id, low, high in rows:
        if low != expected_start or high < low:
            raise ValueError(
                f"phases.yml: phase {phase_id!r} does not follow on at {expected_start}")
        expected_start = high + 1
    return rows


PHASE_IDS: Tuple[str, ...] = tuple(row[0] for row in _table())
_BOUNDS: Dict[str, Tuple[int, int]] = {row[0]: (row[1], row[2]) for row in _table()}


def phase_for_months(months: int | None) -> str | None:
    """The phase id for an age in months; None for None, negative ages and from 228 months on."""
    if months is None or isinstance(months, bool):
        return None
    try:
        value = int(months)
    except (TypeError, ValueError):
        return None
    for phase_id, low, high in _table():
        if low <= value <= high:
            return phase_id
    return None


def phase_bounds(phase: str) -> Tuple[int, int]:
    """(first month, last month) of a phase, both inclusive; ValueError for an unknown id."""
    try:
        return _BOUNDS[phase]
    except (KeyError, TypeError):
        raise ValueError(f"unknown phase: {phase!r}") from None

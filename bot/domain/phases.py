"""The NJi development phases (CONTRACT.md s1): months -> phase. The bands are bot.vocabulary's."""
from __future__ import annotations

from typing import Tuple

from bot import vocabulary
from bot.vocabulary import phase_for_months

PHASE_IDS: Tuple[str, ...] = vocabulary.PHASES

__all__ = ["PHASE_IDS", "phase_bounds", "phase_for_months"]


def phase_bounds(phase: str) -> Tuple[int, int]:
    """(first month, last month) of a phase, both inclusive; ValueError for an unknown id."""
    try:
        return vocabulary.PHASE_BANDS[phase]
    except (KeyError, TypeError):
        raise ValueError(f"unknown phase: {phase!r}") from None

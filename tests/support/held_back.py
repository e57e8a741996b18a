"""The crisis detector's three held-back lists (tests/data/crisis_held_back.yml): for the patterns
alone (tests/unit/test_crisis.py) and through the whole NLU (tests/e2e/test_e2e_crisis.py)."""
from __future__ import annotations

from typing import List, Tuple

import yaml

from tests.support.paths import DATA

HELD_BACK_FILE = DATA / "crisis_held_back.yml"
_LISTS = yaml.safe_load(HELD_BACK_FILE.read_text(encoding="utf-8"))


def _crisis(name: str) -> List[Tuple[str, str]]:
    return [(text, signal) for text, signal in _LISTS[name]["crisis"]]


def _near_miss(name: str) -> List[str]:
    return list(_LISTS[name]["near_miss"])


HELD_BACK_1_CRISIS: List[Tuple[str, str]] = _crisis("held_back_1")
HELD_BACK_1_NEAR_MISS: List[str] = _near_miss("held_back_1")
HELD_BACK_2_CRISIS: List[Tuple[str, str]] = _crisis("held_back_2")
HELD_BACK_2_NEAR_MISS: List[str] = _near_miss("held_back_2")
HELD_BACK_3_CRISIS: List[Tuple[str, str]] = _crisis("held_back_3")
HELD_BACK_3_NEAR_MISS: List[str] = _near_miss("held_back_3")

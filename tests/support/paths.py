"""Where things are, whatever the depth of the module that asks (tests/unit, tests/e2e, ...)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project
TESTS = ROOT / "tests"
DATA = TESTS / "data"  # read by path by the Makefile and tools/evaluation too: it stays tests/data

"""The crisis situations of CONTRACT.md 4b, read from ``knowledge/crisis_situations.yml``.

One place for the list of situations, the signal each belongs to, and their curated replies,
numbers and sources. The static crisis replies in domain.yml carry the same texts (a test checks
that they agree), so that a crisis reply never waits for the action server.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Mapping, Tuple

import yaml

from bot import vocabulary
from bot.vocabulary import SIGNALS  # CONTRACT.md 4

DATA_FILE = vocabulary.SITUATIONS_FILE


@lru_cache(maxsize=1)
def _data() -> Mapping[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    for name, item in data["situations"].items():
        if item.get("signal") not in SIGNALS:
            raise ValueError(f"crisis_situations.yml: {name} has unknown signal {item.get('signal')!r}")
    return data


def situations() -> Dict[str, str]:
    """situation -> signal, in the order of CONTRACT.md 4b (bot.vocabulary reads them)."""
    return dict(vocabulary.SITUATIONS)


def entry(situation: str) -> Mapping[str, Any]:
    """Everything the knowledge file says of one situation."""
    return _data()["situations"][situation]


def reply(situation: str) -> str:
    return _data()["situations"][situation]["reply"]


def label(situation: str) -> str:
    """A short Dutch label for the console."""
    item = _data()["situations"].get(situation)
    return item["label"] if item else (situation or "onbekend")


def numbers(situation: str) -> Tuple[str, ...]:
    return tuple(_data()["situations"][situation]["numbers"])


def sources(situation: str) -> Tuple[Mapping[str, str], ...]:
    return tuple(_data()["situations"][situation]["sources"])


def texts() -> Mapping[str, Any]:
    """The other curated texts: ``safety_question`` and ``professional_informed``."""
    data = _data()
    return {key: value for key, value in data.items() if key not in ("version", "situations")}


SITUATIONS: Dict[str, str] = situations()

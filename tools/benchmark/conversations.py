"""Scripted parent conversations for the load test, built from conversations.yml."""
from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml

DATA = Path(__file__).parent / "conversations.yml"
TURNS = 10
ORDER = ("greetings", "concerns", "ages", "details", "more_tips", "support_nearby",
         "places", "questions", "thanks", "goodbyes")


@lru_cache(maxsize=1)
def load_turns(path: Path = DATA) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def build_conversation(rng: random.Random, data: Dict[str, Any]) -> List[str]:
    """Ten turns in the order of ORDER; the age answer matches the concern's pronoun."""
    concern = rng.choice(data["concerns"])
    turns: List[str] = []
    for key in ORDER:
        if key == "concerns":
            turns.append(concern["text"])
        elif key == "ages":
            turns.append(rng.choice(data["ages"][concern["pronoun"]]))
        else:
            turns.append(rng.choice(data[key]))
    return turns


def scripts(count: int, seed: int = 8, data: Dict[str, Any] | None = None) -> List[List[str]]:
    """``count`` conversations, reproducible for a seed."""
    rng = random.Random(seed)
    data = data if data is not None else load_turns()
    return [build_conversation(rng, data) for _ in range(count)]

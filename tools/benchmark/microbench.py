"""Cost of the project's own code per message, in-process (no Rasa): where bot/* time goes."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Sequence

from tools.benchmark import conversations
from tools.benchmark.stats import LatencySummary, summarize


@dataclass(frozen=True)
class FunctionCost:
    name: str
    latency: LatencySummary  # milliseconds per call
    first_call_ms: float  # includes loading data files and compiling patterns


def _time(name: str, calls: Sequence[Callable[[], object]], repeat: int) -> FunctionCost:
    started = time.perf_counter()
    calls[0]()
    first = 1000 * (time.perf_counter() - started)
    samples: List[float] = []
    for _ in range(repeat):
        for call in calls:
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    return FunctionCost(name, summarize(samples), first)


def run(repeat: int = 5) -> List[FunctionCost]:
    """Time the bot/* functions that run for every message, on the benchmark's turns."""
    from bot.domain import dialogue
    from bot.domain.age import find_ages
    from bot.domain.catalogue import load_catalogue
    from bot.domain.crisis import detect_crisis

    turns = [t for script in conversations.scripts(40, seed=3) for t in script]
    concern_items = conversations.load_turns()["concerns"]
    concerns = [c["text"] for c in concern_items]
    topics = [c["topic"] for c in concern_items]  # the topic each concern is about (conversations.yml)
    age = ({"entity": "age_months", "value": 36},)
    known = dialogue.Conversation(slots={"topic": "slapen", "age_months": 36, "phase": "2-4",
                                         "severity": "normaal", "support_level": "B"},
                                  history=tuple(concerns[:3]), has_replied=True)
    catalogue = load_catalogue()
    return [
        _time("bot.domain.crisis.detect_crisis (Rasa server, every message)",
              [lambda t=t: detect_crisis(t) for t in turns], repeat),
        _time("bot.domain.age.find_ages (Rasa server, every message)",
              [lambda t=t: find_ages(t) for t in turns], repeat),
        _time("bot.domain.dialogue.respond (action server, a concern)",
              [lambda t=t, topic=topic: dialogue.respond(dialogue.Conversation(slots={}),
                                                         dialogue.Message(t, f"topic_{topic}", age))
               for t, topic in zip(concerns, topics)], repeat),
        _time("bot.domain.dialogue.more_tips (action server)",
              [lambda: dialogue.more_tips(known)], repeat * 10),
        _time("bot.domain.dialogue.support_nearby (action server)",
              [lambda p=p: dialogue.support_nearby(known, dialogue.Message(p, "inform_place"), catalogue)
               for p in conversations.load_turns()["places"]], repeat),
    ]

"""Statistics of a load run: percentiles, throughput, ratios and the targets of issue 8."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must lie in 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    """Latencies in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float


def summarize(seconds: Sequence[float]) -> LatencySummary:
    ms = [1000 * s for s in seconds]
    if not ms:
        return LatencySummary(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    return LatencySummary(len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
                          sum(ms) / len(ms), max(ms))


@dataclass(frozen=True)
class LevelResult:
    """One load level: ``concurrency`` conversations at a time."""

    concurrency: int
    conversations: int
    messages: int  # requests sent
    errors: int  # HTTP status other than 200, time-outs, connection errors
    empty_replies: int  # status 200 but no message back
    wall_seconds: float
    latency: LatencySummary  # of the successful requests
    load_before: float = math.nan  # 1-minute load average of the machine when the level started

    @property
    def throughput(self) -> float:
        """Answered messages per second."""
        return (self.messages - self.errors) / self.wall_seconds if self.wall_seconds > 0 else math.nan

    @property
    def error_rate(self) -> float:
        return self.errors / self.messages if self.messages else math.nan


def level_result(concurrency: int, conversations: int, latencies: Sequence[float], errors: int,
                 empty: int, wall_seconds: float, load_before: float = math.nan) -> LevelResult:
    return LevelResult(concurrency, conversations, len(latencies) + errors, errors, empty,
                       wall_seconds, summarize(latencies), load_before)


def ratio(ours: Optional[float], baseline: Optional[float]) -> Optional[float]:
    """ours / baseline, None when either is missing, NaN or the baseline is zero."""
    if ours is None or baseline is None or math.isnan(ours) or math.isnan(baseline) or baseline == 0:
        return None
    return ours / baseline


@dataclass(frozen=True)
class Target:
    name: str
    limit: str
    measured: str
    met: Optional[bool]  # None: not measured in this run


def _fmt(value: Optional[float], unit: str, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    return f"{value:.{digits}f} {unit}"


def targets(levels: Dict[int, LevelResult], rasa_peak_mb: Optional[float],
            startup_s: Optional[float], training_s: Optional[float]) -> List[Target]:
    """The targets of issue 8 (2-core machine) against measured figures."""
    def p95(c: int) -> Optional[float]:
        return levels[c].latency.p95 if c in levels else None

    def check(value: Optional[float], limit: float) -> Optional[bool]:
        if value is None or math.isnan(value):
            return None
        return value <= limit

    errors50 = levels[50].errors + levels[50].empty_replies if 50 in levels else None
    return [
        Target("p95 latency, 1 conversation", "<= 150 ms", _fmt(p95(1), "ms"), check(p95(1), 150)),
        Target("p95 latency, 10 conversations", "<= 600 ms", _fmt(p95(10), "ms"), check(p95(10), 600)),
        Target("errors, 50 conversations", "0",
               "not measured" if errors50 is None else str(errors50),
               None if errors50 is None else errors50 == 0),
        Target("Rasa server peak memory", "<= 1536 MB", _fmt(rasa_peak_mb, "MB"), check(rasa_peak_mb, 1536)),
        Target("start-up to first answer", "<= 60 s", _fmt(startup_s, "s", 1), check(startup_s, 60)),
        Target("full training", "<= 600 s", _fmt(training_s, "s"), check(training_s, 600)),
    ]

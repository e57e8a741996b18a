"""Speed of the language detector: ``python -m tools.languages.benchmark [--accuracy high|low]``.

Prints the time to load lingua's models, the memory they take, and milliseconds per message
(mean, median, 95th percentile) on short sample messages and on 1000-character messages.
Figures only: nothing here passes or fails.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

from bot.domain.languages.detector import LanguageDetector, load_rules

SAMPLES_FILE = Path(__file__).with_name("benchmark.yml")


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _timings(detector: LanguageDetector, texts: List[str], rounds: int) -> List[float]:
    times = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            detector.detect(text, previous="nl")
            times.append((time.perf_counter() - start) * 1000)
    return times


def _line(label: str, times: List[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{label}: {statistics.mean(times):.3f} ms/message mean, {statistics.median(times):.3f} median, "
            f"{p95:.3f} p95 ({len(times)} detections)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.languages.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accuracy", choices=("high", "low"), help="override the rules file's accuracy mode")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)

    rules = load_rules()
    if args.accuracy:
        rules = dataclasses.replace(rules, accuracy=args.accuracy)
    samples = yaml.safe_load(SAMPLES_FILE.read_text(encoding="utf-8"))["messages"]
    texts = [text for group in samples.values() for text in group]

    before = _rss_mb()
    start = time.perf_counter()
    detector = LanguageDetector(rules)
    detector.warm_up()
    load_ms = (time.perf_counter() - start) * 1000
    print(f"lingua accuracy mode: {rules.accuracy}")
    print(f"load: {load_ms:.0f} ms, memory: +{_rss_mb() - before:.0f} MB")
    print(_line(f"short messages ({len(texts)})", _timings(detector, texts, args.rounds)))
    long_texts = [((text + ". ") * 200)[: rules.max_chars] for text in texts[:10]]
    print(_line("1000-character messages (10)", _timings(detector, long_texts, max(1, args.rounds // 4))))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

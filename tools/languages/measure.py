"""Measure the language detector on held-out sets.

    python -m tools.languages.measure FILE... [--json OUT]

Each FILE is YAML of the shape ``{language: xx, messages: [{text: ..., intent: ...}, ...]}``.
Every message is detected on its own, as a first message (``previous=None``). Per file it prints
the share detected right, on all messages and on the 3-to-6-word messages, and for Dutch files how
many messages were taken for another language. It prints counts only, never a message's text.
Exit status: 0 when measured, 2 when a file is missing or malformed.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from bot.domain.languages.detector import LanguageDetector, default_detector

SHORT_MIN_WORDS = 3
SHORT_MAX_WORDS = 6


class HeldOutFileError(ValueError):
    """A held-out file that cannot be measured (missing, not YAML, wrong shape)."""


@dataclass
class Subset:
    messages: int = 0
    right: int = 0
    other_language: Dict[str, int] = field(default_factory=dict)

    @property
    def share_right(self) -> Optional[float]:
        return round(self.right / self.messages, 4) if self.messages else None

    @property
    def taken_for_another(self) -> int:
        return self.messages - self.right

    def as_dict(self) -> dict:
        data = asdict(self)
        data["share_right"] = self.share_right
        data["taken_for_another"] = self.taken_for_another
        return data


@dataclass
class FileResult:
    path: str
    language: str
    all: Subset
    words_3_to_6: Subset
    reasons: Dict[str, int]

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "language": self.language,
            "all": self.all.as_dict(),
            "words_3_to_6": self.words_3_to_6.as_dict(),
            "reasons": self.reasons,
        }


def read_held_out(path: Path) -> tuple:
    """(language, [texts]) of one held-out file; raises HeldOutFileError with a clear message."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise HeldOutFileError(f"{path}: cannot read it ({error.strerror or error})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise HeldOutFileError(f"{path}: not valid YAML ({type(error).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("language"), str):
        raise HeldOutFileError(f"{path}: expected a mapping with 'language' and 'messages'")
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise HeldOutFileError(f"{path}: 'messages' must be a list")
    texts: List[str] = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            raise HeldOutFileError(f"{path}: message {number} has no text")
        texts.append(message["text"])
    return data["language"].strip().lower(), texts


def measure_file(path: Path, detector: Optional[LanguageDetector] = None) -> FileResult:
    detector = detector or default_detector()
    language, texts = read_held_out(path)
    every, short = Subset(), Subset()
    reasons: Counter = Counter()
    for text in texts:
        detection = detector.detect(text, previous=None)
        reasons[detection.reason] += 1
        subsets = [every]
        if SHORT_MIN_WORDS <= len(text.split()) <= SHORT_MAX_WORDS:
            subsets.append(short)
        for subset in subsets:
            subset.messages += 1
            if detection.language == language:
                subset.right += 1
            else:
                subset.other_language[detection.language] = subset.other_language.get(detection.language, 0) + 1
    return FileResult(str(path), language, every, short, dict(sorted(reasons.items())))


def _share(subset: Subset) -> str:
    if not subset.messages:
        return "no messages"
    return f"{subset.right}/{subset.messages} right ({100 * subset.right / subset.messages:.1f}%)"


def format_result(result: FileResult) -> str:
    lines = [
        f"{result.path} [{result.language}]",
        f"  all messages:       {_share(result.all)}",
        f"  3-to-6-word:        {_share(result.words_3_to_6)}",
    ]
    if result.language == "nl":
        lines.append(
            f"  Dutch taken for another language: {result.all.taken_for_another} "
            f"(3-to-6-word: {result.words_3_to_6.taken_for_another})"
        )
    if result.all.other_language:
        taken = ", ".join(f"{code} {n}" for code, n in sorted(result.all.other_language.items()))
        lines.append(f"  detected instead:   {taken}")
    lines.append("  decided by:         " + ", ".join(f"{r} {n}" for r, n in result.reasons.items()))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.languages.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="held-out YAML files")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    results = []
    for path in args.files:
        try:
            result = measure_file(path)
        except HeldOutFileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        results.append(result)
        print(format_result(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Sampling profiles of the running servers (py-spy) and their top items."""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

PY_SPY = Path(sys.executable).parent / "py-spy"
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    function: str
    file: str

    @property
    def package(self) -> str:
        return package_of(self.file)

    @property
    def module(self) -> str:
        return module_of(self.file)

    def label(self) -> str:
        return f"{self.function} ({self.module})"


@dataclass(frozen=True)
class Stack:
    frames: Tuple[Frame, ...]  # outermost first
    count: int


@dataclass(frozen=True)
class Item:
    label: str
    samples: int
    share: float  # of all samples


def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if not match:
        return Frame(text.strip(), "")
    return Frame(match["name"], match["file"])


def parse_collapsed(text: str) -> List[Stack]:
    """py-spy's raw (collapsed) format: ``frame;frame;... count`` per line."""
    stacks = []
    for line in text.splitlines():
        head, _, count = line.rstrip().rpartition(" ")
        if not head or not count.isdigit():
            continue
        stacks.append(Stack(tuple(parse_frame(f) for f in head.split(";")), int(count)))
    return stacks


def package_of(file: str) -> str:
    """``bot/...``, ``actions/...`` or ``tools/...`` for the project's code, the top package for libraries,
    ``stdlib:name`` for the standard library. Also reads the short paths of ``collapsed``."""
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python" in path:
        return "stdlib:" + path.rsplit("/", 1)[-1].removesuffix(".py")
    for marker in ("bot/", "actions/", "tools/"):
        if path.startswith(marker):
            return path
        if "/" + marker in path:
            return marker + path.split("/" + marker, 1)[1]
    if path and not path.startswith("/") and "/" in path:
        return path.split("/", 1)[0]
    if path.endswith(".py") and "/" not in path:
        return "stdlib:" + path.removesuffix(".py")
    return path or "?"


def module_of(file: str) -> str:
    """The file relative to site-packages or the project; the file name for the standard library."""
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    package = package_of(file)
    if package.startswith("stdlib:"):
        return package.removeprefix("stdlib:") + ".py"
    return path if path and not path.startswith("/") else package


def is_project(frame: Frame) -> bool:
    package = frame.package
    return package.startswith("bot/") or package.startswith("actions/")


# Leaves of an event loop waiting for work: uvloop's loop runs in C, so py-spy may count these
# samples as active although the process is idle.
IDLE_LEAVES = {("serve", "sanic"), ("run_forever", "stdlib:base_events"), ("_run_once", "stdlib:base_events"),
               ("select", "stdlib:selectors"), ("poll", "stdlib:selectors"), ("run", "uvloop")}


def drop_idle(stacks: Sequence[Stack]) -> List[Stack]:
    """The stacks whose innermost frame is not an event loop waiting for work."""
    return [s for s in stacks if not s.frames or (s.frames[-1].function, s.frames[-1].package) not in IDLE_LEAVES]


def collapsed(stacks: Sequence[Stack]) -> str:
    """Back to the collapsed format (for speedscope or flamegraph.pl), with short file names."""
    return "".join(";".join(f"{f.function} ({f.module})" for f in s.frames) + f" {s.count}\n" for s in stacks)


def total(stacks: Sequence[Stack]) -> int:
    return sum(s.count for s in stacks)


def top_self(stacks: Sequence[Stack], n: int = 10, by_package: bool = False) -> List[Item]:
    """Where the samples were when taken (the innermost frame), by function or by package."""
    counts: Counter = Counter()
    for stack in stacks:
        if stack.frames:
            leaf = stack.frames[-1]
            counts[leaf.package if by_package else leaf.label()] += stack.count
    all_samples = total(stacks) or 1
    return [Item(label, c, c / all_samples) for label, c in counts.most_common(n)]


def top_inclusive(stacks: Sequence[Stack], n: int = 10, project_only: bool = False,
                  package: Optional[str] = None) -> List[Item]:
    """Samples in which a function was on the stack (each function counted once per sample)."""
    counts: Counter = Counter()
    for stack in stacks:
        seen = {f.label() for f in stack.frames
                if (not project_only or is_project(f)) and (package is None or f.package == package)}
        for label in seen:
            counts[label] += stack.count
    all_samples = total(stacks) or 1
    return [Item(label, c, c / all_samples) for label, c in counts.most_common(n)]


def project_share(stacks: Sequence[Stack]) -> float:
    """Share of samples with the project's own code (bot/*, actions/*) on the stack."""
    all_samples = total(stacks)
    inside = sum(s.count for s in stacks if any(is_project(f) for f in s.frames))
    return inside / all_samples if all_samples else 0.0


def start(pid: int, out: Path, seconds: int, rate: int = 100) -> Optional[subprocess.Popen]:
    """Start py-spy on a process; None when py-spy is missing."""
    exe = str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")
    if not exe:
        logger.warning("py-spy not found: no profile")
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(rate),
         "--format", "raw", "--full-filenames", "--function", "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def read(path: Path) -> List[Stack]:
    """The active stacks of a py-spy raw file (idle event-loop samples dropped)."""
    if not path.is_file():
        return []
    return drop_idle(parse_collapsed(path.read_text(encoding="utf-8", errors="replace")))


def lines(items: Iterable[Item]) -> List[str]:
    return [f"| {i.label} | {i.samples} | {100 * i.share:.1f}% |" for i in items]

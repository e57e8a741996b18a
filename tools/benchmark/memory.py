"""Memory of a process and its children, read from /proc (psutil is not a dependency)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, List, Optional

PROC = Path("/proc")


def parse_status(text: str) -> Dict[str, int]:
    """The ``kB`` fields of /proc/PID/status (VmRSS, VmHWM, ...) in kB."""
    fields: Dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[key] = int(parts[0])
    return fields


def status(pid: int, proc: Path = PROC) -> Dict[str, int]:
    try:
        return parse_status((proc / str(pid) / "status").read_text())
    except (OSError, ValueError):
        return {}


def parent_of(stat_line: str) -> Optional[int]:
    """The parent pid from a /proc/PID/stat line (the command may contain spaces and parentheses)."""
    _, _, rest = stat_line.rpartition(")")
    parts = rest.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def tree(pid: int, proc: Path = PROC) -> List[int]:
    """pid and all its descendants alive now."""
    children: Dict[int, List[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = parent_of((entry / "stat").read_text())
        except OSError:
            continue
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_rss_kb(pid: int, proc: Path = PROC) -> int:
    return sum(status(p, proc).get("VmRSS", 0) for p in tree(pid, proc))


def peak_kb(pid: int, proc: Path = PROC) -> int:
    """The kernel's high-water mark of resident memory (VmHWM) of one process."""
    return status(pid, proc).get("VmHWM", 0)


class Sampler:
    """Samples the summed RSS of each named process tree in a thread; keeps the peaks."""

    def __init__(self, pids: Dict[str, int], interval: float = 0.5):
        self.pids = pids
        self.interval = interval
        self.peaks_kb: Dict[str, int] = {name: 0 for name in pids}
        self.hwm_kb: Dict[str, int] = {name: 0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            self.peaks_kb[name] = max(self.peaks_kb[name], tree_rss_kb(pid))
            self.hwm_kb[name] = max(self.hwm_kb[name], peak_kb(pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peak_mb(self) -> Dict[str, float]:
        """Per process: the larger of the kernel's VmHWM and the sampled tree RSS, in MB."""
        return {name: max(self.peaks_kb[name], self.hwm_kb[name]) / 1024 for name in self.pids}

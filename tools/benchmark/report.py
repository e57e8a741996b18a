"""The benchmark's Markdown report, its PNG plots and a JSON copy of the figures."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tools.benchmark import profile
from tools.benchmark.microbench import FunctionCost
from tools.benchmark.runner import PipelineRun
from tools.benchmark.stats import Target, ratio, targets

OURS, BASELINE = "opvoedmaatje", "rasa-default"


@dataclass
class Machine:
    cores: int
    cpu: str
    memory_gb: float
    load: Sequence[float]  # 1, 5, 15 minute load averages when the run started

    @staticmethod
    def here() -> "Machine":
        cpu = "?"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
            mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
                          if l.startswith("MemTotal"))
        except (OSError, StopIteration, ValueError):
            mem_kb = 0
        return Machine(os.cpu_count() or 0, cpu, mem_kb / 2**20, os.getloadavg())


@dataclass
class Bench:
    date: str
    machine: Machine
    quick: bool
    runs: Dict[str, PipelineRun]
    micro: List[FunctionCost] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def num(value: Optional[float], digits: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}{unit}"


def times(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def target_rows(run: PipelineRun) -> List[Target]:
    return targets(run.levels, run.memory_mb.get("rasa"), run.startup_s, run.training_s)


def _latency_table(bench: Bench) -> List[str]:
    lines = ["| pipeline | concurrent | conversations | messages | p50 ms | p95 ms | p99 ms | mean ms | max ms | "
             "msg/s | errors | empty replies | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, run in bench.runs.items():
        for c, lv in sorted(run.levels.items()):
            l = lv.latency
            lines.append(f"| {name} | {c} | {lv.conversations} | {lv.messages} | {num(l.p50)} | {num(l.p95)} | "
                         f"{num(l.p99)} | {num(l.mean)} | {num(l.max)} | {num(lv.throughput, 1)} | {lv.errors} | "
                         f"{lv.empty_replies} | {num(lv.load_before, 1)} |")
    return lines


def comparison_rows(ours: PipelineRun, base: PipelineRun) -> List[tuple[str, Optional[float], Optional[float], int]]:
    """(figure, ours, baseline, digits) for the comparison table; lower is better except msg/s."""
    rows: List[tuple[str, Optional[float], Optional[float], int]] = []
    for c in sorted(set(ours.levels) & set(base.levels)):
        a, b = ours.levels[c], base.levels[c]
        rows += [(f"p50 ms, {c} concurrent", a.latency.p50, b.latency.p50, 0),
                 (f"p95 ms, {c} concurrent", a.latency.p95, b.latency.p95, 0),
                 (f"p99 ms, {c} concurrent", a.latency.p99, b.latency.p99, 0),
                 (f"throughput msg/s, {c} concurrent", a.throughput, b.throughput, 1)]
    for process in sorted(set(ours.memory_mb) & set(base.memory_mb)):
        rows.append((f"peak memory MB, {process}", ours.memory_mb[process], base.memory_mb[process], 0))
    rows += [("start-up to first answer s", ours.startup_s, base.startup_s, 1),
             ("training s (full, fresh cache)", ours.training_s, base.training_s, 0),
             ("model size MB", ours.model_mb, base.model_mb, 1)]
    return rows


def _profile_section(name: str, stacks: List[profile.Stack]) -> List[str]:
    n = profile.total(stacks)
    if not n:
        return [f"No profile of the {name} process (py-spy unavailable or no samples).", ""]
    lines = [f"### {name} process: {n} samples (100 Hz, CPU-active stacks only; collapsed stacks in the -profile-{name}.txt file)", "",
             f"Project code (bot/*, actions/*) on the stack: {100 * profile.project_share(stacks):.1f}% of samples.", "",
             "Where the time is spent, by package (innermost frame):", "",
             "| package | samples | share |", "|---|---|---|"]
    lines += profile.lines(profile.top_self(stacks, 8, by_package=True))
    lines += ["", "Top functions (innermost frame):", "", "| function | samples | share |", "|---|---|---|"]
    lines += profile.lines(profile.top_self(stacks, 10))
    rasa_frames = profile.top_inclusive(stacks, 40, package="rasa")
    if rasa_frames:
        lines += ["", "Rasa functions on the stack (inclusive; outer frames first):", "",
                  "| function | samples | share |", "|---|---|---|"]
        lines += profile.lines([i for i in rasa_frames if i.share < 0.9][:15])
    project = profile.top_inclusive(stacks, 8, project_only=True)
    if project:
        lines += ["", "Project functions on the stack (inclusive):", "", "| function | samples | share |", "|---|---|---|"]
        lines += profile.lines(project)
    return lines + [""]


def markdown(bench: Bench, plots: Sequence[str] = ()) -> str:
    m = bench.machine
    ours = bench.runs.get(OURS)
    base = bench.runs.get(BASELINE)
    lines = [f"# Benchmark, {bench.date}{' (quick)' if bench.quick else ''}", "",
             f"Machine: {m.cores} cores ({m.cpu}), {m.memory_gb:.0f} GB RAM; load average at the start "
             f"{', '.join(f'{x:.1f}' for x in m.load)} (1/5/15 min); the latency table gives the load before "
             "each level. No other job was started during the run; a busy machine makes every figure worse.", "",
             "Reproduce: `make bench` (full: trains both pipelines in a temp dir, 1/10/50 concurrent "
             "conversations, profile); quick check: `$(RASA_ENV) .venv/bin/python -m tools.benchmark --quick` "
             "(the shipped model, 1 and 10 conversations, no baseline).", "",
             "Method: the assistant is started as `make run` does (bot.serve.Supervisor: Rasa server, action "
             "server, web server) on free ports, with its own SQLite tracker store; an asyncio client (aiohttp) "
             "plays scripted Dutch parent conversations of 10 turns (tools/benchmark/conversations.yml: greeting, "
             "concern, age, detail, /more_tips, /support_nearby, place, question, thanks, goodbye) over the REST "
             "channel, each turn sent after the previous answer; latency is per message, from request to full "
             "answer. One warm-up pass of 2 conversations is not counted. Peak memory: the larger of the kernel's "
             "VmHWM and the sampled RSS of the process tree.", ""]
    for note in bench.notes:
        lines.append(f"> {note}")
    if bench.notes:
        lines.append("")
    for name, run in bench.runs.items():
        if run.failure:
            lines += [f"**{name} failed:** {run.failure}", ""]
    if ours is not None:
        lines += ["## Targets (opvoedmaatje)", "", "| target | limit | measured | met |", "|---|---|---|---|"]
        for t in target_rows(ours):
            lines.append(f"| {t.name} | {t.limit} | {t.measured} | {'-' if t.met is None else ('yes' if t.met else '**no**')} |")
        lines.append("")
    lines += ["## Latency and throughput", ""] + _latency_table(bench) + [""]
    for plot in plots:
        lines += [f"![{Path(plot).stem}]({Path(plot).name})", ""]
    if ours is not None and base is not None:
        lines += ["## This pipeline against Rasa's default pipeline (same data, same machine, same run)", "",
                  f"Baseline: the config.yml of `rasa init` ({BASELINE}), trained on the same data/ and domain.yml. "
                  "Ratio = opvoedmaatje / rasa-default (below 1: less time or memory; above 1 for msg/s: faster).", "",
                  "| figure | opvoedmaatje | rasa-default | ratio |", "|---|---|---|---|"]
        for label, a, b, digits in comparison_rows(ours, base):
            lines.append(f"| {label} | {num(a, digits)} | {num(b, digits)} | {times(ratio(a, b))} |")
        lines.append("")
    lines += ["## Start-up, memory, training, model size", "",
              "| pipeline | start-up to first answer s | rasa peak MB | actions peak MB | web peak MB | training s | model MB |",
              "|---|---|---|---|---|---|---|"]
    for name, run in bench.runs.items():
        mem = run.memory_mb
        lines.append(f"| {name} | {num(run.startup_s, 1)} | {num(mem.get('rasa'))} | {num(mem.get('actions'))} | "
                     f"{num(mem.get('web'))} | {num(run.training_s) if run.training_s is not None else 'not trained in this run'} | "
                     f"{num(run.model_mb, 1)} |")
    lines.append("")
    if ours is not None and ours.profiles:
        lines += ["## Profile of the message path (py-spy, opvoedmaatje, 10 concurrent conversations)", ""]
        for name, stacks in ours.profiles.items():
            lines += _profile_section(name, stacks)
    if bench.micro:
        lines += ["## The project's own code per message (in-process, no Rasa)", "",
                  "| function | calls | p50 ms | p95 ms | max ms | first call ms (loads data) |", "|---|---|---|---|---|---|"]
        for f in bench.micro:
            lines.append(f"| {f.name} | {f.latency.n} | {f.latency.p50:.3f} | {f.latency.p95:.3f} | "
                         f"{f.latency.max:.2f} | {f.first_call_ms:.0f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot(bench: Bench, out: Path, stem: str) -> List[Path]:
    """PNG plots: latency percentiles by concurrency, and memory/start-up/training per pipeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: List[Path] = []
    runs = {n: r for n, r in bench.runs.items() if r.levels}
    if runs:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        styles = {"p50": ":", "p95": "-", "p99": "--"}
        for name, run in runs.items():
            xs = sorted(run.levels)
            for pct, style in styles.items():
                axes[0].plot(xs, [getattr(run.levels[c].latency, pct) for c in xs], style, marker="o",
                             label=f"{name} {pct}")
            axes[1].bar([f"{c}\n{name}" for c in xs], [run.levels[c].throughput for c in xs], label=name)
        axes[0].axhline(150, color="grey", linewidth=0.8)
        axes[0].axhline(600, color="grey", linewidth=0.8)
        axes[0].set(xscale="log", yscale="log", xlabel="concurrent conversations", ylabel="latency per message (ms)",
                    title="Latency (grey: targets 150 / 600 ms)")
        axes[0].set_xticks(sorted({c for r in runs.values() for c in r.levels}))
        axes[0].get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axes[0].legend(fontsize=7)
        axes[1].set(ylabel="answered messages per second", title="Throughput")
        axes[1].tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        path = out / f"{stem}-latency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    if bench.runs:
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
        names = list(bench.runs)
        processes = ["rasa", "actions", "web"]
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            mem = bench.runs[name].memory_mb
            axes[0].bar([p + i * width for p in range(len(processes))], [mem.get(p, 0) for p in processes],
                        width, label=name)
        axes[0].set_xticks([p + width * (len(names) - 1) / 2 for p in range(len(processes))])
        axes[0].set_xticklabels(processes)
        axes[0].axhline(1536, color="grey", linewidth=0.8)
        axes[0].set(ylabel="peak RSS (MB)", title="Memory (grey: 1.5 GB)")
        axes[0].legend(fontsize=7)
        axes[1].bar(names, [bench.runs[n].startup_s or 0 for n in names])
        axes[1].axhline(60, color="grey", linewidth=0.8)
        axes[1].set(ylabel="seconds", title="Start-up to first answer")
        axes[2].bar(names, [bench.runs[n].training_s or 0 for n in names])
        axes[2].axhline(600, color="grey", linewidth=0.8)
        axes[2].set(ylabel="seconds", title="Full training")
        fig.tight_layout()
        path = out / f"{stem}-resources.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def as_json(bench: Bench) -> str:
    def run_dict(run: PipelineRun) -> Dict[str, Any]:
        data = {k: v for k, v in asdict(run).items() if k not in ("levels", "profiles")}
        data["levels"] = {str(c): {**asdict(lv), "throughput": lv.throughput} for c, lv in run.levels.items()}
        data["profiles"] = {name: {"samples": profile.total(s), "project_share": profile.project_share(s),
                                   "top_packages": [asdict(i) for i in profile.top_self(s, 8, by_package=True)],
                                   "top_functions": [asdict(i) for i in profile.top_self(s, 10)]}
                            for name, s in run.profiles.items()}
        return data

    return json.dumps({"date": bench.date, "quick": bench.quick, "machine": asdict(bench.machine),
                       "runs": {n: run_dict(r) for n, r in bench.runs.items()},
                       "micro": [asdict(f) for f in bench.micro], "notes": bench.notes},
                      indent=1, default=str, allow_nan=True)


def write(bench: Bench, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{bench.date}" + ("-quick" if bench.quick else "")
    plots = plot(bench, out, stem)
    for run in bench.runs.values():
        for name, stacks in run.profiles.items():
            (out / f"{stem}-profile-{name}.txt").write_text(profile.collapsed(stacks), encoding="utf-8")
    path = out / f"{stem}.md"
    path.write_text(markdown(bench, [str(p) for p in plots]), encoding="utf-8")
    (out / f"{stem}.json").write_text(as_json(bench), encoding="utf-8")
    return path

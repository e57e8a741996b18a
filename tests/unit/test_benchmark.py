"""Unit tests of the benchmark's statistics, parsing and report code (no servers, no Rasa model)."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy
import pytest

from tools.benchmark import conversations, memory, profile, report, stats
from tools.benchmark.microbench import FunctionCost
from tools.benchmark.runner import PipelineRun, level_scripts
from tests.support.paths import DATA


# ------------------------------------------------------------------ statistics
@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
@pytest.mark.parametrize("seed", [1, 2])
def test_percentile_matches_numpy(q: float, seed: int) -> None:
    values = [random.Random(seed + k).expovariate(0.01) for k in range(37)]
    assert stats.percentile(values, q) == pytest.approx(float(numpy.percentile(values, q)))


@pytest.mark.parametrize("values, q, expected", [
    ([5.0], 95, 5.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([10.0, 0.0], 100, 10.0),
    ([3.0, 1.0, 2.0], 0, 1.0),
])
def test_percentile_small_cases(values, q, expected) -> None:
    assert stats.percentile(values, q) == pytest.approx(expected)


def test_percentile_empty_and_out_of_range() -> None:
    assert math.isnan(stats.percentile([], 50))
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summarize_converts_seconds_to_milliseconds() -> None:
    summary = stats.summarize([0.1, 0.2, 0.3, 0.4])
    assert summary.n == 4
    assert summary.p50 == pytest.approx(250.0)
    assert summary.mean == pytest.approx(250.0)
    assert summary.max == pytest.approx(400.0)
    assert summary.p99 == pytest.approx(397.0)


def test_level_result_counts_errors_in_messages_not_in_throughput() -> None:
    result = stats.level_result(10, 3, [0.1] * 28, errors=2, empty=1, wall_seconds=7.0)
    assert result.messages == 30
    assert result.throughput == pytest.approx(28 / 7.0)
    assert result.error_rate == pytest.approx(2 / 30)
    assert result.latency.n == 28
    assert math.isnan(stats.level_result(1, 0, [], 0, 0, 0.0).throughput)


@pytest.mark.parametrize("ours, base, expected", [
    (50.0, 100.0, 0.5), (100.0, 50.0, 2.0), (1.0, 0.0, None), (None, 1.0, None), (1.0, math.nan, None),
])
def test_ratio(ours, base, expected) -> None:
    assert stats.ratio(ours, base) == (expected if expected is None else pytest.approx(expected))


def _level(c: int, p95_ms: float, errors: int = 0, empty: int = 0) -> stats.LevelResult:
    latencies = [p95_ms / 1000] * 20
    return stats.level_result(c, c, latencies, errors, empty, 10.0)


def test_targets_met_and_missed() -> None:
    levels = {1: _level(1, 120), 10: _level(10, 700), 50: _level(50, 2000, errors=1)}
    found = {t.name: t for t in stats.targets(levels, rasa_peak_mb=1400, startup_s=61, training_s=None)}
    assert found["p95 latency, 1 conversation"].met is True
    assert found["p95 latency, 10 conversations"].met is False
    assert found["errors, 50 conversations"].met is False
    assert found["errors, 50 conversations"].measured == "1"
    assert found["Rasa server peak memory"].met is True
    assert found["start-up to first answer"].met is False
    assert found["full training"].met is None
    assert found["full training"].measured == "not measured"


def test_targets_count_empty_replies_as_errors_at_50() -> None:
    found = {t.name: t for t in stats.targets({50: _level(50, 100, empty=2)}, None, None, None)}
    assert found["errors, 50 conversations"].met is False
    assert found["p95 latency, 1 conversation"].met is None


# ------------------------------------------------------------------ memory (/proc)
STATUS = """Name:\tpython
VmPeak:\t 2000000 kB
VmHWM:\t  1500000 kB
VmRSS:\t  1200000 kB
Threads:\t12
"""


def test_parse_status_reads_kb_fields_only() -> None:
    fields = memory.parse_status(STATUS)
    assert fields["VmHWM"] == 1500000
    assert fields["VmRSS"] == 1200000
    assert "Threads" not in fields and "Name" not in fields


@pytest.mark.parametrize("line, parent", [
    ("123 (python) S 45 123 123 0", 45),
    ("77 (rasa (worker) x) R 1 77 77", 1),  # a command with spaces and parentheses
    ("garbage", None),
])
def test_parent_of_stat_line(line: str, parent) -> None:
    assert memory.parent_of(line) == parent


def _fake_proc(tmp_path: Path, processes) -> Path:
    for pid, ppid, rss, hwm in processes:
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "stat").write_text(f"{pid} (py thon) S {ppid} 1 1 0")
        (d / "status").write_text(f"Name:\tx\nVmHWM:\t{hwm} kB\nVmRSS:\t{rss} kB\n")
    (tmp_path / "self").mkdir()
    return tmp_path


def test_tree_and_rss_sum_over_children(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, [(10, 1, 100, 150), (11, 10, 20, 25), (12, 11, 5, 5), (13, 1, 999, 999)])
    assert sorted(memory.tree(10, proc)) == [10, 11, 12]
    assert memory.tree_rss_kb(10, proc) == 125
    assert memory.peak_kb(10, proc) == 150
    assert memory.status(99, proc) == {}


# ------------------------------------------------------------------ profile (py-spy raw)
RAW = """<module> (/work/main/.venv/lib/python3.10/site-packages/rasa/__main__.py:1);handle (/work/main/.venv/lib/python3.10/site-packages/rasa/core/agent.py:10);respond (/work/main/bot/domain/dialogue.py:95);search (/root/.pyenv/versions/3.10.13/lib/python3.10/re.py:200) 30
<module> (/work/main/.venv/lib/python3.10/site-packages/rasa/__main__.py:1);handle (/work/main/.venv/lib/python3.10/site-packages/rasa/core/agent.py:10);quick_execute (/work/main/.venv/lib/python3.10/site-packages/tensorflow/python/eager/execute.py:50) 60
<module> (/work/main/.venv/lib/python3.10/site-packages/rasa/__main__.py:1);serve (/work/main/.venv/lib/python3.10/site-packages/sanic/server/runners.py:5) 10
not a stack line
"""


def test_parse_collapsed_and_totals() -> None:
    stacks = profile.parse_collapsed(RAW)
    assert [s.count for s in stacks] == [30, 60, 10]
    assert stacks[0].frames[2] == profile.Frame("respond", "/work/main/bot/domain/dialogue.py")
    assert profile.total(stacks) == 100


@pytest.mark.parametrize("file, package", [
    ("/work/main/.venv/lib/python3.10/site-packages/tensorflow/python/eager/execute.py", "tensorflow"),
    ("/work/main/.venv/lib/python3.10/site-packages/six.py", "six"),
    ("/root/.pyenv/versions/3.10.13/lib/python3.10/urllib/parse.py", "stdlib:parse"),
    ("/work/main/bot/rasa/nlu/crisis_detector.py", "bot/rasa/nlu/crisis_detector.py"),
    ("/work/main/actions/actions.py", "actions/actions.py"),
    ("rasa/core/agent.py", "rasa"),  # the short paths of collapsed()
    ("bot/domain/dialogue.py", "bot/domain/dialogue.py"),
    ("", "?"),
])
def test_package_of(file: str, package: str) -> None:
    assert profile.package_of(file) == package


def test_top_self_by_function_and_package() -> None:
    stacks = profile.parse_collapsed(RAW)
    by_package = profile.top_self(stacks, by_package=True)
    assert [(i.label, i.samples) for i in by_package] == [("tensorflow", 60), ("stdlib:re", 30), ("sanic", 10)]
    assert by_package[0].share == pytest.approx(0.6)
    assert profile.top_self(stacks, 1)[0].label == "quick_execute (tensorflow/python/eager/execute.py)"


def test_top_inclusive_counts_each_function_once_per_sample() -> None:
    stacks = profile.parse_collapsed(RAW)
    items = {i.label: i.samples for i in profile.top_inclusive(stacks, 10)}
    assert items["<module> (rasa/__main__.py)"] == 100
    assert items["handle (rasa/core/agent.py)"] == 90
    project = profile.top_inclusive(stacks, 10, project_only=True)
    assert [(i.label, i.samples) for i in project] == [("respond (bot/domain/dialogue.py)", 30)]
    assert profile.project_share(stacks) == pytest.approx(0.3)


def test_drop_idle_removes_event_loop_waits_only() -> None:
    stacks = profile.drop_idle(profile.parse_collapsed(RAW))
    assert profile.total(stacks) == 90


def test_collapsed_round_trip_keeps_labels_and_counts() -> None:
    stacks = profile.parse_collapsed(RAW)
    again = profile.parse_collapsed(profile.collapsed(stacks))
    assert [s.count for s in again] == [30, 60, 10]
    assert [f.label() for f in again[0].frames] == [f.label() for f in stacks[0].frames]
    assert profile.project_share(again) == pytest.approx(0.3)


# ------------------------------------------------------------------ conversations
def test_conversations_have_ten_turns_in_order_with_matching_pronoun() -> None:
    data = conversations.load_turns()
    for turns in conversations.scripts(30, seed=4):
        assert len(turns) == conversations.TURNS == 10
        concern = next(c for c in data["concerns"] if c["text"] == turns[1])
        assert turns[2] in data["ages"][concern["pronoun"]]
        assert turns[4] == "/more_tips" and turns[5] == "/support_nearby"
        assert turns[6] in data["places"]


def test_conversations_are_reproducible_and_varied() -> None:
    assert conversations.scripts(5, seed=9) == conversations.scripts(5, seed=9)
    assert len({tuple(t) for t in conversations.scripts(20, seed=9)}) > 10


def test_conversations_do_not_reuse_the_heldout_set() -> None:
    heldout = DATA / "nlu_heldout.yml"
    if not heldout.is_file():
        pytest.skip("no held-out set")
    import yaml

    texts = {m["text"].strip().lower() for m in yaml.safe_load(heldout.read_text(encoding="utf-8"))["messages"]}
    data = conversations.load_turns()
    ours = [c["text"] for c in data["concerns"]] + data["details"] + data["questions"]
    assert not {t.strip().lower() for t in ours} & texts


@pytest.mark.parametrize("concurrency, minimum, expected", [(1, 20, 20), (10, 20, 20), (50, 20, 50), (10, 25, 30)])
def test_level_scripts_are_whole_rounds(concurrency: int, minimum: int, expected: int) -> None:
    assert len(level_scripts(concurrency, minimum)) == expected


# ------------------------------------------------------------------ report
def _run(name: str, scale: float) -> PipelineRun:
    run = PipelineRun(name, "config.yml", training_s=300 * scale, model_mb=30 * scale, startup_s=40 * scale)
    run.levels = {c: stats.level_result(c, c, [scale * 0.05 * c] * 50, 0, 0, 10.0 / scale) for c in (1, 10)}
    run.memory_mb = {"rasa": 1000 * scale, "actions": 200.0, "web": 70.0}
    run.profiles = {"rasa": profile.parse_collapsed(RAW)}
    return run


def _bench() -> report.Bench:
    machine = report.Machine(2, "test cpu", 24.0, (1.0, 2.0, 3.0))
    micro = [FunctionCost("bot.x", stats.summarize([0.001, 0.002]), 12.0)]
    return report.Bench("2026-01-02", machine, False,
                        {report.OURS: _run(report.OURS, 1.0), report.BASELINE: _run(report.BASELINE, 2.0)}, micro)


def test_markdown_has_targets_latency_and_ratios() -> None:
    text = report.markdown(_bench(), ["reports/bench-2026-01-02-latency.png"])
    assert "# Benchmark, 2026-01-02" in text
    assert "| p95 latency, 1 conversation | <= 150 ms | 50 ms | yes |" in text
    assert "| p95 latency, 10 conversations | <= 600 ms | 500 ms | yes |" in text
    assert "| opvoedmaatje | 10 | 10 | 50 | 500 | 500 | 500 |" in text
    assert "| p95 ms, 10 concurrent | 500 | 1,000 | 0.50x |" in text
    assert "| throughput msg/s, 1 concurrent | 5.0 | 10.0 | 0.50x |" in text  # 50 msgs in 10 s vs 5 s
    assert "| peak memory MB, rasa | 1,000 | 2,000 | 0.50x |" in text
    assert "![bench-2026-01-02-latency](bench-2026-01-02-latency.png)" in text
    assert "respond (bot/domain/dialogue.py)" in text
    assert "| bot.x | 2 |" in text


def test_markdown_reports_a_failed_pipeline_and_missing_figures() -> None:
    bench = _bench()
    failed = PipelineRun(report.BASELINE, "x", failure="no answer within 900 s")
    bench.runs[report.BASELINE] = failed
    text = report.markdown(bench)
    assert "**rasa-default failed:** no answer within 900 s" in text
    assert "| start-up to first answer s | 40.0 | - | - |" in text


def test_write_creates_markdown_json_plots_and_profile(tmp_path: Path) -> None:
    path = report.write(_bench(), tmp_path)
    assert path == tmp_path / "bench-2026-01-02.md"
    for name in ("bench-2026-01-02-latency.png", "bench-2026-01-02-resources.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    data = json.loads((tmp_path / "bench-2026-01-02.json").read_text())
    assert data["runs"]["opvoedmaatje"]["levels"]["10"]["latency"]["p95"] == pytest.approx(500)
    assert data["runs"]["opvoedmaatje"]["profiles"]["rasa"]["samples"] == 100
    assert (tmp_path / "bench-2026-01-02-profile-rasa.txt").read_text().endswith(" 10\n")


def test_quick_report_has_its_own_name(tmp_path: Path) -> None:
    bench = _bench()
    bench.quick = True
    assert report.write(bench, tmp_path).name == "bench-2026-01-02-quick.md"


# ------------------------------------------------------------------ the speed-up found by profiling
def test_cached_action_validation_accepts_valid_and_rejects_invalid() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("rasa.core.actions.action")
    from bot.rasa import patches

    ok = {"events": [{"event": "slot", "name": "topic", "value": "slapen"}], "responses": [{"text": "hoi"}]}
    assert patches.validate_action_result(ok) is True
    assert patches.validate_action_result({"events": [], "responses": []}) is True
    with pytest.raises(jsonschema.ValidationError) as error:
        patches.validate_action_result({"events": [], "responses": "not a list"})
    assert "Failed to validate Action server response" in error.value.message
    with pytest.raises(jsonschema.ValidationError):
        patches.validate_action_result({"events": [{"event": "no_such_event"}], "responses": []})


def test_cached_action_validation_is_installed_on_remote_action() -> None:
    action = pytest.importorskip("rasa.core.actions.action")
    from bot.rasa import patches

    patches.install_cached_action_validation()
    remote = action.RemoteAction("action_respond", None)
    assert remote._validate_action_result({"events": [], "responses": []}) is True

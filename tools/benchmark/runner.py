"""Training and serving one pipeline for the benchmark, measured."""
from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bot import serve
from bot.settings import PROJECT_ROOT
from tools.benchmark import conversations, load, memory, profile
from tools.benchmark.stats import LevelResult

logger = logging.getLogger(__name__)

RASA = str(Path(sys.executable).parent / "rasa")
FIRST_MESSAGE = "Mijn zoon van 4 heeft elke dag driftbuien"  # needs NLU, policies and actions


@dataclass
class PipelineRun:
    """Every figure of one pipeline (config) in one benchmark run."""

    name: str
    config: str
    model: str = ""
    training_s: Optional[float] = None
    model_mb: Optional[float] = None
    startup_s: Optional[float] = None  # start of the processes to the first answer
    levels: Dict[int, LevelResult] = field(default_factory=dict)
    memory_mb: Dict[str, float] = field(default_factory=dict)  # peak RSS per process
    profiles: Dict[str, List[profile.Stack]] = field(default_factory=dict)
    failure: Optional[str] = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(config: Path, out: Path, name: str) -> tuple[Path, float]:
    """A full training (fresh cache) of config.yml + domain.yml + data/; returns model and seconds."""
    out.mkdir(parents=True, exist_ok=True)
    cache = out / f"cache-{name}"
    local_config = out / f"config-{name}.yml"
    shutil.copyfile(config, local_config)  # Rasa writes its filled-in defaults into the file
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(cache)}
    started = time.monotonic()
    subprocess.run(
        [RASA, "train", "--config", str(local_config), "--domain", str(PROJECT_ROOT / "domain.yml"),
         "--data", str(PROJECT_ROOT / "data"), "--out", str(out), "--fixed-model-name", name, "--quiet"],
        check=True, cwd=PROJECT_ROOT, env=env,
    )
    seconds = time.monotonic() - started
    shutil.rmtree(cache, ignore_errors=True)
    return out / f"{name}.tar.gz", seconds


def assistant_env(work: Path) -> Dict[str, str]:
    """The settings of ``make run``, on free ports, with stores in ``work`` and a new token."""
    action_port = str(free_port())
    return serve.runtime_env({
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": action_port,
        "WEB_PORT": str(free_port()),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_STORE_URL": f"sqlite:///{work / 'trackers.db'}",
        "CASE_STORE_URL": f"sqlite:///{work / 'cases.db'}",
        "LOCK_STORE_TYPE": "in_memory",
        "RASA_AUTH_TOKEN": secrets.token_urlsafe(24),
        "WEB_SECRET_KEY": secrets.token_urlsafe(24),
    })


def level_scripts(concurrency: int, min_conversations: int) -> List[List[str]]:
    """The same conversations for every pipeline: at least ``min_conversations``, whole rounds."""
    rounds = max(1, math.ceil(min_conversations / concurrency))
    return conversations.scripts(concurrency * rounds, seed=1000 + concurrency)


async def _profile_load(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seed = 0
    while time.monotonic() < deadline:
        seed += 1
        await load.run_level(url, conversations.scripts(10, seed=5000 + seed), 10, prefix="profile")


def measure(run: PipelineRun, model: Path, work: Path, levels: Sequence[int], min_conversations: int,
            profile_seconds: int = 0, startup_timeout: float = 900,
            extra_env: Optional[Dict[str, str]] = None) -> PipelineRun:
    """Start the assistant as ``make run`` does and measure it; always stops what it started."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**assistant_env(work), **(extra_env or {})}
    serve.prepare(env)
    token = env["RASA_AUTH_TOKEN"]
    supervisor = serve.Supervisor(serve.services(model, env, token), env, log_dir=work / "logs")
    url = f"http://127.0.0.1:{env['RASA_PORT']}"
    run.model = str(model)
    run.model_mb = model.stat().st_size / 2**20
    started = time.monotonic()
    supervisor.start()
    try:
        pids = {name: process.pid for name, process in supervisor.processes.items()}
        with memory.Sampler(pids) as sampler:
            first = asyncio.run(load.first_answer(url, FIRST_MESSAGE, started + startup_timeout))
            if first is None:
                run.failure = f"no answer within {startup_timeout:.0f} s (see {work / 'logs'})"
                return run
            run.startup_s = first - started
            supervisor.wait_ready(timeout=120)
            asyncio.run(load.run_level(url, conversations.scripts(2, seed=1), 1, prefix="warmup"))
            for concurrency in levels:
                logger.info("%s: %d concurrent conversations", run.name, concurrency)
                run.levels[concurrency] = asyncio.run(
                    load.run_level(url, level_scripts(concurrency, min_conversations), concurrency))
            if profile_seconds > 0:
                run.profiles = _profile(url, pids, work, profile_seconds)
        run.memory_mb = sampler.peak_mb()
    except (RuntimeError, TimeoutError) as error:
        run.failure = str(error)
    finally:
        supervisor.stop()
    return run


def _profile(url: str, pids: Dict[str, int], work: Path, seconds: int) -> Dict[str, List[profile.Stack]]:
    outs = {name: work / f"profile-{name}.txt" for name in ("rasa", "actions")}
    spies = [profile.start(pids[name], out, seconds) for name, out in outs.items()]
    asyncio.run(_profile_load(url, seconds))
    for spy in spies:
        if spy is not None:
            try:
                spy.wait(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                spy.terminate()
                spy.wait()
    return {name: profile.read(out) for name, out in outs.items()}

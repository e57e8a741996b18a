"""Start every process of the assistant in the foreground and stop them all together.

``make run`` calls ``python -m bot.serve --model models/opvoedmaatje.tar.gz``. The tests use
``Supervisor`` to start the same processes on free ports, once per test session. Beside them,
``PurgeLoop`` runs the retention purge (``python -m bot.services.purge``) at start and every hour.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from bot import settings

BIN = Path(sys.executable).parent
PURGE_INTERVAL_SECONDS = 3600.0


@dataclass
class Service:
    name: str
    argv: List[str]
    health_url: str
    describe: str
    extra_env: Dict[str, str] = field(default_factory=dict)


def services(model: Path, env: Dict[str, str], token: str) -> List[Service]:
    """The processes of the assistant, in start order."""
    rasa_port, action_port, web_port = env["RASA_PORT"], env["ACTION_PORT"], env["WEB_PORT"]
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    return [
        Service(
            name="actions",
            argv=[str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", action_port],
            health_url=f"http://127.0.0.1:{action_port}/health",
            describe=f"action server   http://127.0.0.1:{action_port}  (GET /health)",
            extra_env={"SANIC_HOST": "127.0.0.1"},
        ),
        Service(
            name="rasa",
            argv=[
                str(BIN / "rasa"), "run", "--model", str(model), "--enable-api",
                # one argument: a generated token may start with "-", which argparse would
                # otherwise take for an option (the Rasa server then refused to start)
                f"--auth-token={token}", "--interface", "127.0.0.1", "--port", rasa_port,
                "--credentials", str(settings.PROJECT_ROOT / "credentials.yml"),
                "--endpoints", str(settings.PROJECT_ROOT / "endpoints.yml"),
            ],
            health_url=f"{rasa_url}/status?token={token}",
            describe=(
                f"Rasa server     {rasa_url}  (REST: POST /webhooks/rest/webhook, "
                f"socket.io: /socket.io/, API token-protected)"
            ),
        ),
        Service(
            name="web",
            argv=[sys.executable, "-m", "bot.services.web"],
            health_url=f"http://127.0.0.1:{web_port}/health",
            describe=f"web server      http://127.0.0.1:{web_port}/  (demo page with the chat; console: /console)",
        ),
    ] + insight_services(env)


def insight_services(env: Dict[str, str]) -> List[Service]:
    """The insight consumer (issue 18), only when a broker is configured; without one the Rasa
    server counts in its own process (bot/rasa/insight_broker.py)."""
    if not (env.get("EVENT_BROKER_URL") or "").strip():
        return []
    port = env.get("INSIGHT_PORT") or "5056"
    return [Service(
        name="insight",
        argv=[sys.executable, "-m", "bot.services.insight.consume", "--port", port],
        health_url=f"http://127.0.0.1:{port}/health",
        describe=f"insight         statistics from RabbitMQ into the aggregates (GET http://127.0.0.1:{port}/health)",
    )]


class StartRefused(RuntimeError):
    """Something the assistant needs is not right; the message says what."""


def prepare(env: Dict[str, str]) -> None:
    """One-off steps before the processes start: refuse placeholder secrets and warn about short
    ones (bot.settings.SECRET_SETTINGS, naming each), check the support catalogue in use
    (OPVOED_CATALOGUE; an invalid one stops the start with its validation messages) and
    migrate the case store."""
    refusal = settings.secrets_refusal(env, placeholders_only=True)
    if refusal:
        raise StartRefused(refusal)
    for problem in settings.secret_problems(env):  # short values: fine on localhost, not in production
        print(f"Warning: {problem} (the containers refuse this; use a long random value)", file=sys.stderr)
    check = subprocess.run([sys.executable, "-m", "bot.domain.catalogue.check", "--quiet", "--no-gaps"],
                           cwd=settings.PROJECT_ROOT, env=env, capture_output=True, text=True)
    if check.returncode != 0:
        raise StartRefused("The support catalogue is not valid; fix it and start again:\n" + check.stdout + check.stderr)
    subprocess.run([sys.executable, "-m", "bot.services.cases", "upgrade"], cwd=settings.PROJECT_ROOT, env=env, check=True)


def is_up(url: str) -> bool:
    """True when the URL answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


class Supervisor:
    """Starts services in their own process groups; stops all of them on request or failure."""

    def __init__(self, services: List[Service], env: Dict[str, str], log_dir: Optional[Path] = None):
        self.services = services
        self.env = env
        self.log_dir = log_dir
        self.processes: Dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        for service in self.services:
            output = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                output = open(self.log_dir / f"{service.name}.log", "ab")
            self.processes[service.name] = subprocess.Popen(
                service.argv,
                cwd=settings.PROJECT_ROOT,
                env={**self.env, **service.extra_env},
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )

    def failed(self) -> Optional[str]:
        """The name of a service that has exited, if any."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            dead = self.failed()
            if dead:
                raise RuntimeError(f"the {dead} process stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("not ready in time: " + ", ".join(s.name for s in pending))
            pending = [s for s in pending if not is_up(s.health_url)]
            if pending:
                time.sleep(1)

    def stop(self, grace: float = 15) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class PurgeLoop:
    """The retention purge beside the other processes: ``python -m bot.services.purge`` at start and then
    every `interval` seconds (once an hour), each run a short-lived process of its own."""

    def __init__(self, env: Dict[str, str], interval: float = PURGE_INTERVAL_SECONDS,
                 command: Optional[List[str]] = None):
        self.env = env
        self.interval = interval
        self.command = command or [sys.executable, "-m", "bot.services.purge"]
        self.runs = 0
        self._stopping = threading.Event()
        self._process: Optional[subprocess.Popen] = None
        self._thread = threading.Thread(target=self._loop, name="purge", daemon=True)

    def start(self) -> "PurgeLoop":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._run_once()
            self._stopping.wait(self.interval)

    def _run_once(self) -> None:
        if self._stopping.is_set():
            return
        try:
            self._process = subprocess.Popen(self.command, cwd=settings.PROJECT_ROOT, env=self.env)
        except OSError as error:
            print(f"The retention purge could not start ({type(error).__name__}).", file=sys.stderr, flush=True)
            return
        try:
            self._process.wait(timeout=max(1.0, self.interval))
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self.runs += 1

    def stop(self, grace: float = 10) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=grace)


def runtime_env(overrides: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for the processes: this process's, the settings' defaults, then overrides."""
    base = settings.child_environ(overrides)
    env = {**base, **settings.defaults(base)}
    # the support catalogue: the one published in the case store's database (issue 20), unless a
    # file is named in OPVOED_CATALOGUE (bot/domain/catalogue/published.py)
    env.setdefault("OPVOED_CATALOGUE_SOURCE", "database")
    return env


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Start Opvoedmaatje (Rasa server and action server).")
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args(argv)

    env = runtime_env()
    token, token_file = settings.auth_token(env)
    env["RASA_AUTH_TOKEN"] = token
    try:
        prepare(env)
    except StartRefused as refused:
        print(refused, file=sys.stderr)
        return 2
    supervisor = Supervisor(services(args.model, env, token), env)

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor.start()
    purge = PurgeLoop(env).start()
    # issue 19: the follow-up worker, a round every FOLLOWUP_INTERVAL seconds (python -m bot.services.followups)
    followups = PurgeLoop(env, interval=float(env.get("FOLLOWUP_INTERVAL") or 60),
                          command=[sys.executable, "-m", "bot.services.followups", "--once"]).start()
    print("Opvoedmaatje is starting (loading the model takes about a minute):", flush=True)
    for service in supervisor.services:
        print("  " + service.describe, flush=True)
    print(f"  retention purge now and every {PURGE_INTERVAL_SECONDS / 3600:g} h (python -m bot.services.purge)", flush=True)
    print(f"  follow-ups sent every {followups.interval:g} s (python -m bot.services.followups)", flush=True)
    if token_file is not None:
        print(f"  API token       generated, stored in {token_file} (set RASA_AUTH_TOKEN to choose one)", flush=True)
    ready = False
    while not stopping:
        dead = supervisor.failed()
        if dead:
            print(f"The {dead} process stopped; stopping everything.", file=sys.stderr, flush=True)
            purge.stop()
            followups.stop()
            supervisor.stop()
            return 1
        if not ready and all(is_up(s.health_url) for s in supervisor.services):
            ready = True
            print("Opvoedmaatje is ready. Press Ctrl-C to stop.", flush=True)
        time.sleep(1)
    print("Stopping Opvoedmaatje...", flush=True)
    purge.stop()
    followups.stop()
    supervisor.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

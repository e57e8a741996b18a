"""The trained model and the real servers, started once per test session (a plugin: tests/conftest.py
loads it with ``pytest_plugins``; the e2e and browser tests import ``Assistant``, ``new_sender``, ...)."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot import serve, settings
from tests.support import log_scan
from tests.support.web_fixture import CHANNEL_ENV, free_port

ROOT = settings.PROJECT_ROOT
MODEL = ROOT / "models" / "opvoedmaatje.tar.gz"


@dataclass
class Assistant:
    """A running Rasa server (and action server) to talk to over REST."""

    url: str
    token: str
    log_dir: Path
    env: Dict[str, str]  # the settings the servers run with (ports, stores, token)

    def say(self, sender: str, text: str) -> List[Dict[str, Any]]:
        log_scan.remember(sender, text)
        answer = requests.post(f"{self.url}/webhooks/rest/webhook",
                               json={"sender": sender, "message": text}, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def slots(self, sender: str) -> Dict[str, Any]:
        answer = requests.get(f"{self.url}/conversations/{sender}/tracker",
                              params={"token": self.token}, timeout=30)
        answer.raise_for_status()
        return answer.json()["slots"]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_dir.glob("*.log"))


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def texts(replies: List[Dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def start_assistant(tmp: Path, with_actions: bool = True, **overrides: str) -> Iterator[Assistant]:
    """Start Rasa (and the action server) with the test settings, `overrides` last; yield it."""
    if not MODEL.is_file():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (make test does this first).")
    token = secrets.token_urlsafe(16)
    action_port = str(free_port())
    env = serve.runtime_env({
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": action_port,
        # never the default port of a running `make run`, whatever the environment says
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_STORE_URL": f"sqlite:///{tmp / 'trackers.db'}",
        "RASA_AUTH_TOKEN": token,
        "LOCK_STORE_TYPE": "in_memory",
        "CASE_STORE_URL": f"sqlite:///{tmp / 'cases.db'}",
        # channels (issue 7): WEB_ORIGINS, WhatsApp settings pointing at the Graph API stand-in
        **CHANNEL_ENV,
        **overrides,
    })
    serve.prepare(env)
    wanted = {"rasa", "actions"} if with_actions else {"rasa"}  # the web tests start their own web server
    services = [s for s in serve.services(MODEL, env, token) if s.name in wanted]
    supervisor = serve.Supervisor(services, env, log_dir=tmp / "logs")
    supervisor.start()
    try:
        supervisor.wait_ready(timeout=400)
        yield Assistant(f"http://127.0.0.1:{env['RASA_PORT']}", token, tmp / "logs", env)
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """Rasa server + action server on free ports, with the trained model."""
    yield from start_assistant(tmp_path_factory.mktemp("assistant"), with_actions=True)


@pytest.fixture(scope="session")
def assistant_without_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """A Rasa server whose action server is down (nothing listens on its port)."""
    yield from start_assistant(tmp_path_factory.mktemp("no-actions"), with_actions=False)

"""Web-server fixtures and channel settings for the tests (a helper module, not a conftest).

- ``CHANNEL_ENV``: what the assistant fixture's Rasa server needs for the channels: the web
  origin of the e2e web server (``WEB_ORIGINS``), the WhatsApp settings pointing at the Graph API
  stand-in's port, and a fixed sender-id secret. Ports are reserved once, at import.
- ``web_server``: ``python -m bot.services.web`` on ``E2E_WEB_PORT``, talking to the assistant fixture.
- ``standin_rasa`` / ``standin_web``: a small socket.io server with the project's socket.io
  channel and a scripted agent (``python -m tests.support.web_fixture echo PORT``), and the web page
  talking to it: browser tests of the widget that do not need the trained model.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from bot.serve import is_up
from tests.support.paths import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


E2E_WEB_PORT = free_port()
GRAPH_PORT = free_port()
E2E_WEB_URL = f"http://127.0.0.1:{E2E_WEB_PORT}"

CHANNEL_ENV: Dict[str, str] = {
    "WEB_ORIGINS": f"{E2E_WEB_URL},http://localhost:{E2E_WEB_PORT}",
    "WHATSAPP_APP_SECRET": "e2e-whatsapp-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "e2e-verify-token",
    "WHATSAPP_ACCESS_TOKEN": "e2e-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "109876543210",
    "WHATSAPP_API_BASE": f"http://127.0.0.1:{GRAPH_PORT}/v21.0",
    "SENDER_ID_SECRET": "e2e-sender-id-secret",
}


@dataclass
class Process:
    """A started server process in its own process group."""

    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(argv: List[str], env: Dict[str, str], url: str, health: str, log: Path,
          timeout: float = 60) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    output = open(log, "ab")
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)
    started = Process(process, url, log)
    deadline = time.monotonic() + timeout
    while not is_up(health):
        if process.poll() is not None or time.monotonic() > deadline:
            started.stop()
            raise RuntimeError(f"{' '.join(argv)} did not start; see {log}:\n"
                               + log.read_text(errors="replace")[-3000:])
        time.sleep(0.3)
    return started


def start_web(port: int, rasa_url: str, log: Path, extra_env: Dict[str, str] | None = None) -> Process:
    url = f"http://127.0.0.1:{port}"
    env = {"WEB_PORT": str(port), "RASA_URL": rasa_url, **(extra_env or {})}
    return start([sys.executable, "-m", "bot.services.web"], env, url, f"{url}/health", log)


@pytest.fixture(scope="session")
def web_server(assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:  # type: ignore[no-untyped-def]
    """The demo page on E2E_WEB_PORT (an origin the assistant's socket.io accepts), chatting
    with the assistant fixture's Rasa server."""
    shared = {key: assistant.env[key] for key in ("CASE_STORE_URL", "RASA_AUTH_TOKEN")}
    process = start_web(E2E_WEB_PORT, assistant.url, tmp_path_factory.mktemp("web") / "web.log", shared)
    try:
        yield process
    finally:
        process.stop()


STANDIN_WEB_PORT = free_port()


@pytest.fixture(scope="session")
def standin_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """The project's socket.io channel with a scripted agent; accepts only the stand-in page."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"WEB_ORIGINS": f"http://127.0.0.1:{STANDIN_WEB_PORT}", "SANIC_HOST": "127.0.0.1"}
    process = start([sys.executable, "-m", "tests.support.web_fixture", "echo", str(port)], env, url,
                    f"{url}/webhooks/socketio/", tmp_path_factory.mktemp("echo") / "echo.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def standin_web(standin_rasa: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    process = start_web(STANDIN_WEB_PORT, standin_rasa.url, tmp_path_factory.mktemp("web-standin") / "web.log")
    try:
        yield process
    finally:
        process.stop()


# ---------------------------------------------------------------- the scripted socket.io server


def serve_echo(port: int) -> None:  # pragma: no cover - runs in a subprocess
    """A Sanic app with OriginSocketIOInput (session persistence on) and a scripted agent."""
    import asyncio

    from rasa.core.channels.channel import UserMessage, register
    from sanic import Sanic

    from bot.rasa.channels.socketio import OriginSocketIOInput

    counts: Dict[str, int] = {}

    class ScriptedAgent:
        async def handle_message(self, message: UserMessage) -> None:
            counts[message.sender_id] = counts.get(message.sender_id, 0) + 1
            n = counts[message.sender_id]
            out = message.output_channel
            if message.text == "hallo":
                await out.send_response(message.sender_id, {
                    "text": f"Hoi! Ik ben een digitale assistent, geen mens. (bericht {n})",
                    "buttons": [{"title": "Meer tips", "payload": "/more_tips"},
                                {"title": "Hulp in de buurt", "payload": "/support_nearby"}]})
            elif message.text == "/more_tips":
                await out.send_response(message.sender_id, {
                    "text": f"Lees samen een boek voor het slapen. Kijk ook op opvoeden.nl of "
                            f"[Thuisarts](https://www.thuisarts.nl). (bericht {n})"})
            else:
                if message.text == "langzaam":
                    await asyncio.sleep(2.0)
                await out.send_response(message.sender_id, {"text": f"Je schreef: {message.text} (bericht {n})"})

    channel = OriginSocketIOInput(session_persistence=True)
    app = Sanic("echo_rasa")
    app.ctx.agent = ScriptedAgent()
    register([channel], app, route="/webhooks/")
    app.run(host="127.0.0.1", port=port, access_log=False, workers=1)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "echo":
        serve_echo(int(sys.argv[2]))
    else:
        print("usage: python -m tests.support.web_fixture echo PORT", file=sys.stderr)
        sys.exit(2)

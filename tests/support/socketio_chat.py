"""One socket.io client of the web chat, as the page opens it (tests/e2e/test_socketio_sessions.py and
tests/e2e/test_followups_e2e.py)."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional

from bot.rasa.channels.socketio import sender_of
from tests.support.web_fixture import E2E_WEB_URL


class Chat:
    """One socket.io client of the web chat (what the page does), in its own event loop."""

    def __init__(self, url: str) -> None:
        import socketio

        self.url = url
        self.client = socketio.AsyncClient()
        self.replies: List[str] = []
        self.signed: Optional[str] = None
        self._confirmed = asyncio.Event()
        self.client.on("bot_uttered", lambda data: self.replies.append((data or {}).get("text") or ""))
        self.client.on("session_confirm", self._confirm)

    def _confirm(self, data: Any) -> None:
        self.signed = data if isinstance(data, str) else (data or {}).get("session_id")
        self._confirmed.set()

    async def open(self, presented: Any = None, request: bool = True) -> "Chat":
        await self.client.connect(self.url, headers={"Origin": E2E_WEB_URL}, socketio_path="socket.io",
                                  transports=["polling"])
        if request:
            self._confirmed.clear()
            await self.client.emit("session_request", {"session_id": presented})
            await asyncio.wait_for(self._confirmed.wait(), timeout=15)
        return self

    @property
    def sender(self) -> str:
        assert self.signed
        return sender_of(self.signed)

    async def say(self, text: str, session_id: Any = "own", quiet: float = 2.0, timeout: float = 60) -> List[str]:
        before = len(self.replies)
        await self.client.emit("user_uttered", {"message": text,
                                                "session_id": self.signed if session_id == "own" else session_id})
        deadline = time.monotonic() + timeout
        while len(self.replies) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        seen, still = len(self.replies), time.monotonic()
        while time.monotonic() - still < quiet:
            await asyncio.sleep(0.1)
            if len(self.replies) != seen:
                seen, still = len(self.replies), time.monotonic()
        return self.replies[before:]

    async def close(self) -> None:
        # not the socket.io client's disconnect(): with long-polling it waits for the next ping
        await self.client.eio.disconnect(abort=True)


def in_own_loop(coroutine: Any, timeout: float = 300) -> Any:
    """Run a coroutine in an event loop of its own (the browser tests may hold this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)

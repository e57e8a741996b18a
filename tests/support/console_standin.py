"""A local stand-in of Rasa's HTTP API for the console, its token, and the console users' password
(tests/e2e/test_console.py and tests/browser/test_console_browser.py)."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from bot.services.console.auth import hash_password

TOKEN = "rasa-test-token"
PASSWORD = "een lang wachtwoord 42"
PASSWORD_HASH = hash_password(PASSWORD)  # scrypt is slow on purpose: hash once


class RasaStandIn:
    """Records the console's calls; answers like Rasa 3.6 (401 without the right token)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.events: dict[str, list[dict]] = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _conversation(self) -> tuple[str | None, str, dict]:
                parsed = urlparse(self.path)
                match = re.match(r"^/conversations/([^/]+)/(tracker(?:/events)?)$", parsed.path)
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                return (unquote(match.group(1)) if match else None), (match.group(2) if match else ""), query

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                conversation, what, query = self._conversation()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stand_in.calls.append({"method": method, "conversation": conversation, "what": what,
                                       "query": query, "body": body})
                if query.get("token") != TOKEN:
                    return self._answer(401, {"status": "failure", "reason": "NotAuthenticated"})
                if conversation is None:
                    return self._answer(404, {})
                events = stand_in.events.setdefault(conversation, [])
                if method == "POST" and what == "tracker/events":
                    events.extend(body if isinstance(body, list) else [body])
                paused = any(e["event"] == "pause" for e in events[-3:])
                return self._answer(200, {"sender_id": conversation, "events": events, "paused": paused})

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, conversation: str) -> list[dict]:
        return [c for c in self.calls if c["method"] == "POST" and c["conversation"] == conversation]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

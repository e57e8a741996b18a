"""The Rasa HTTP API calls of the console (token-protected; CONTRACT.md section 6).

Delivery of a professional's message to the parent: ``POST /conversations/{id}/tracker/events
?execute_side_effects=true&output_channel=latest`` with a ``bot`` event. Rasa 3.6 appends the
event and sends it through the output channel of the conversation's latest input channel
(socket.io: to the parent's room; a custom channel such as WhatsApp: its ``get_output_channel``).
A ``pause`` event (ConversationPaused) keeps the assistant silent while a professional holds the
conversation; ``resume`` gives it back.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import quote

import requests

from bot.services.cases.delivery import DELIVERY_KEY

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """The Rasa server could not be reached or refused the call (no content in the message)."""


@dataclass(frozen=True)
class Line:
    """One message of the conversation as the console shows it."""

    who: str  # "parent" | "assistant" | "professional"
    text: str
    at: Optional[datetime]


@dataclass
class RasaClient:
    base_url: str
    token: str
    timeout: float = 10.0

    def _url(self, conversation_id: str, suffix: str) -> str:
        return f"{self.base_url.rstrip('/')}/conversations/{quote(conversation_id, safe='')}/{suffix}"

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        params = {"token": self.token, **kwargs.pop("params", {})}
        try:
            answer = requests.request(method, url, params=params, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            logger.error("Rasa API %s failed: %s", method, type(error).__name__)
            raise RasaUnavailable(type(error).__name__) from None
        if answer.status_code >= 300:
            logger.error("Rasa API %s answered %s", method, answer.status_code)
            raise RasaUnavailable(f"HTTP {answer.status_code}")
        try:
            return answer.json()
        except ValueError:
            raise RasaUnavailable("no JSON") from None

    def tracker(self, conversation_id: str) -> dict:
        return self._call("GET", self._url(conversation_id, "tracker"))

    def conversation(self, conversation_id: str, since: Optional[datetime] = None,
                     session_of: Optional[datetime] = None) -> list[Line]:
        """The parent's and bot's texts (nothing else), from `since` on when given; with
        `session_of`, never from a session before the one that was going on at that moment."""
        events = self.tracker(conversation_id).get("events") or []
        return lines_of(events, since, session_of)

    def append(self, conversation_id: str, events: list[dict]) -> None:
        """Append events and deliver bot messages through the parent's latest channel."""
        self._call("POST", self._url(conversation_id, "tracker/events"), json=events,
                   params={"execute_side_effects": "true", "output_channel": "latest"})

    def pause(self, conversation_id: str, announcement: Optional[str] = None) -> None:
        events: list[dict] = held(True)
        if announcement:
            events.append(bot_event(announcement))
        self.append(conversation_id, events)

    def say(self, conversation_id: str, text: str, delivery_id: Optional[str] = None) -> None:
        """Send a professional's message; re-pauses in case a new session un-paused it. With
        `delivery_id` the parent's channel records whether it was delivered (WhatsApp, Twilio)."""
        self.append(conversation_id, held(True) + [bot_event(text, delivery_id)])

    def resume(self, conversation_id: str, announcement: Optional[str] = None) -> None:
        events: list[dict] = held(False)
        if announcement:
            events.append(bot_event(announcement))
        self.append(conversation_id, events)


def held(by_professional: bool) -> list[dict]:
    """Pause (or resume) the assistant, and tell the dialogue that a professional holds the
    conversation: crisis detection goes on while paused, and then alerts the professional."""
    now = time.time()
    return [{"event": "pause" if by_professional else "resume", "timestamp": now},
            {"event": "slot", "name": "professional_holds", "value": by_professional, "timestamp": now}]


def bot_event(text: str, delivery_id: Optional[str] = None) -> dict:
    metadata: dict = {"opvoedmaatje_professional": True}
    if delivery_id:
        metadata[DELIVERY_KEY] = delivery_id
    return {"event": "bot", "text": text, "timestamp": time.time(), "metadata": metadata}


def session_events(events: list[dict], at: datetime) -> list[dict]:
    """The events from the last ``session_started`` at or before `at` on (the session going on
    at that moment, and what came after it); all of them when no session started before."""
    moment = at.timestamp()
    start = 0
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("event") != "session_started":
            continue
        stamp = event.get("timestamp")
        if isinstance(stamp, (int, float)) and stamp <= moment:
            start = index
    return events[start:]


def lines_of(events: list[dict], since: Optional[datetime] = None,
             session_of: Optional[datetime] = None) -> list[Line]:
    """The texts of `events`, from `since` on, and only of the session going on at `session_of`
    (and later) when given: the console shows the session that led to the hand-off, never an
    earlier one."""
    threshold = since.timestamp() if since is not None else None
    if session_of is not None:
        events = session_events(events, session_of)
    lines = []
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in ("user", "bot"):
            continue
        text = event.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        stamp = event.get("timestamp")
        at = datetime.fromtimestamp(stamp, tz=timezone.utc) if isinstance(stamp, (int, float)) else None
        if threshold is not None and (at is None or at.timestamp() < threshold):
            continue
        if event["event"] == "user":
            if text.startswith("/"):
                continue  # a button payload, not the parent's words
            who = "parent"
        else:
            metadata = event.get("metadata") or {}
            who = "professional" if metadata.get("opvoedmaatje_professional") else "assistant"
        lines.append(Line(who, text, at))
    return lines

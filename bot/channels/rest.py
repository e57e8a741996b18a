"""The REST channel with input checks: bad input gets a 4xx or a kind reply, never a 500.

Same path and reply format as Rasa's RestInput (``POST /webhooks/rest/webhook``), plus:
- a body that is not a JSON object, or lacks a string ``sender`` / ``message``: 400 with a
  JSON error;
- a message longer than ``MAX_MESSAGE_CHARS``: a kind reply, the text is not processed;
- more than ``RATE_LIMIT_PER_MINUTE`` messages per sender: 429 with a JSON error (bot/ratelimit.py);
- a failure before any reply (e.g. Redis, the lock store, is down): 503 with a JSON error and a
  kind text; failures are logged without message text or sender id.
"""
from __future__ import annotations

import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import ratelimit
from bot.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text

logger = logging.getLogger(__name__)
MAX_SENDER_CHARS = 128
UNAVAILABLE = {
    "error": "The assistant is temporarily unavailable; try again shortly.",
    "text": ("Het lukt even niet om je bericht te verwerken. Probeer het over een minuut opnieuw. "
             "Is er direct gevaar? Bel 112. Denk je aan zelfdoding? Bel 113 (0800-0113)."),
}


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class SafeRestInput(RestInput):
    """Rasa's REST channel, hardened against malformed requests."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @staticmethod
    def _parse(request: Request) -> Dict[Text, Any] | HTTPResponse:
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "The body must be a JSON object with 'sender' and 'message'.")
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object with 'sender' and 'message'.")
        sender, message = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
            return _error(400, f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")
        if not isinstance(message, str):
            return _error(400, "'message' must be a string.")
        metadata = body.get("metadata")
        return {"sender": sender, "message": message,
                "metadata": metadata if isinstance(metadata, dict) else None}

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            parsed = self._parse(request)
            if isinstance(parsed, HTTPResponse):
                return parsed
            limited = await ratelimit.check(self.name(), parsed["sender"])
            if not limited.allowed:  # 429 with a JSON error (bot/ratelimit.py)
                body, headers = ratelimit.refusal(limited)
                return response.json(body, status=429, headers=headers)
            text = parsed["message"]
            if len(text) > MAX_MESSAGE_CHARS:
                return response.json([{"recipient_id": parsed["sender"], "text": TOO_LONG_REPLY}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        clean_text(text),
                        collector,
                        parsed["sender"],
                        input_channel=self.name(),
                        metadata=parsed["metadata"],
                    )
                )
            except CancelledError:
                logger.error("rest: message handling timed out")
                if not collector.messages:
                    return response.json(UNAVAILABLE, status=503, headers={"Retry-After": "30"})
            except Exception as error:  # never a 500 for the parent; no text in the log
                logger.error("rest: message handling failed (%s)", type(error).__name__)
                if not collector.messages:  # e.g. the lock store (Redis) is down: a clear, kind 503
                    return response.json(UNAVAILABLE, status=503, headers={"Retry-After": "30"})
            return response.json(collector.messages)

        return webhook

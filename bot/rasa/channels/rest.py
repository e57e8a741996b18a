"""The REST channel with input checks: bad input gets a 4xx or a kind reply, never a 500.

Same path and reply format as Rasa's RestInput (``POST /webhooks/rest/webhook``), plus:
- a body that is not a JSON object, or lacks a string ``sender`` / ``message``: 400 with a
  JSON error;
- a message longer than ``MAX_MESSAGE_CHARS``: a kind reply, the text is not processed;
- more than ``RATE_LIMIT_PER_MINUTE`` messages per sender, or too many messages or new senders
  from one client address (``RATE_LIMIT_PER_ADDRESS_PER_MINUTE``,
  ``RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR``; the address from ``X-Forwarded-For`` only as
  ``RASA_TRUSTED_PROXIES`` says): 429 with a JSON error and a kind Dutch text (bot/services/ratelimit.py);
- with ``REST_TOKEN`` set (the deployment files set it), only requests with
  ``Authorization: Bearer <REST_TOKEN>`` are served (401 otherwise); unset (``make run``): open;
- client metadata: only the allow-list of bot/rasa/channels/metadata.py reaches the tracker;
- a failure before any reply (e.g. Redis, the lock store, is down): 503 with a JSON error and a
  kind text; failures are logged without message text or sender id.
"""
from __future__ import annotations

import hmac
import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import settings
from bot.rasa.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text
from bot.rasa.channels.metadata import allowed_metadata
from bot.services import ratelimit

logger = logging.getLogger(__name__)
MAX_SENDER_CHARS = 128
UNAVAILABLE = {
    "error": "The assistant is temporarily unavailable; try again shortly.",
    "text": ("Het lukt even niet om je bericht te verwerken. Probeer het over een minuut opnieuw. "
             "Is er direct gevaar? Bel 112. Denk je aan zelfdoding? Bel 113 (0800-0113)."),
}


TOKEN_ENV = "REST_TOKEN"


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def authorised(request: Request, token: str) -> bool:
    """No token configured: open (``make run``, localhost). Else ``Authorization: Bearer <token>``."""
    if not token:
        return True
    given = request.headers.get("authorization") or ""
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


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
        return {"sender": sender, "message": message,
                "metadata": allowed_metadata(body.get("metadata")) or None}

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        token = settings.current().REST_TOKEN

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not authorised(request, token):
                return response.json({"error": "This endpoint needs 'Authorization: Bearer <token>'."},
                                     status=401, headers={"WWW-Authenticate": "Bearer"})
            parsed = self._parse(request)
            if isinstance(parsed, HTTPResponse):
                return parsed
            limited = await ratelimit.check_message(self.name(), parsed["sender"],
                                                    ratelimit.request_address(request, ratelimit.proxy_trust()))
            if not limited.allowed:  # 429 with a JSON error (bot/services/ratelimit.py)
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

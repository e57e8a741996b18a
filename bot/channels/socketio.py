"""Rasa's socket.io channel, accepting the web origins of env ``WEB_ORIGINS``.

Rasa 3.6.21 creates its ``AsyncServer`` with ``cors_allowed_origins=[]``: no origin check at all
for websockets and no CORS headers for long-polling. This subclass lists the allowed origins
(``WEB_ORIGINS``, comma-separated; default the web server's own ``http://127.0.0.1:{WEB_PORT}``
and ``http://localhost:{WEB_PORT}``), so the chat works on the municipality's pages and a page
of any other origin is refused. Otherwise it behaves like Rasa's channel (same events, session
persistence), plus the input checks of the REST channel (text only, length limit) and the
per-sender rate limit of bot/ratelimit.py.

It also awaits ``enter_room`` when python-socketio returns a coroutine (newer versions), so the
room join cannot silently fail as it does with Rasa's code (see NOTES.md).
"""
from __future__ import annotations

import inspect
import json
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import rasa.core.channels.channel
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot import ratelimit, settings
from bot.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text

logger = logging.getLogger(__name__)
MAX_SESSION_ID_CHARS = 128


def web_origins(environ: Mapping[str, str] = os.environ) -> List[str]:
    """The allowed origins: ``WEB_ORIGINS`` (comma-separated), else the web server's own."""
    listed = [o.strip().rstrip("/") for o in (environ.get("WEB_ORIGINS") or "").split(",") if o.strip()]
    if listed:
        return listed
    port = environ.get("WEB_PORT") or "8080"
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def client_manager(environ: Mapping[str, str] = os.environ) -> Optional[AsyncRedisManager]:
    """With several Rasa servers (``LOCK_STORE_TYPE=redis``) socket.io messages go through their
    shared Redis, so a reply that any server sends (a professional's answer from the console
    reaches whichever server takes the API call) arrives at the server holding the parent's
    socket. With one server: None, python-socketio's in-process manager."""
    connection = settings.shared_redis(environ)
    if connection is None:
        return None
    return AsyncRedisManager(settings.redis_url(connection), channel="opvoedmaatje-socketio")


class OriginSocketIOInput(SocketIOInput):
    """socket.io for the web chat, restricted to the configured web origins."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        origins = credentials.get("origins")
        if isinstance(origins, str):
            origins = [o.strip() for o in origins.split(",") if o.strip()]
        channel.origins = list(origins) if origins else web_origins()  # type: ignore[attr-defined]
        return channel

    def __init__(self, *args: Any, origins: Optional[List[str]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins: List[str] = list(origins) if origins else web_origins()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        manager = client_manager()
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=list(self.origins),
                          **({"client_manager": manager} if manager else {}))
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        logger.info("socketio: accepting %d web origin(s)%s", len(self.origins),
                    "; messages shared through Redis" if manager else "")

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            payload = None
            if token:
                payload = rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
            return bool(payload)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > MAX_SESSION_ID_CHARS:
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                return
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            if self.session_persistence:
                session_id = data.get("session_id")
                if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_SESSION_ID_CHARS:
                    logger.warning("socketio: message without a valid session_id ignored")
                    return
                sender_id = session_id
            else:
                sender_id = sid
            text = data.get("message")
            if not isinstance(text, str):
                return
            if len(text) > MAX_MESSAGE_CHARS:
                await output_channel.send_text_message(sender_id, TOO_LONG_REPLY)
                return
            if not await ratelimit.default_limiter().admit(self.name(), sender_id, output_channel):
                return
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            if not isinstance(metadata, dict):
                metadata = {}
            try:
                await on_new_message(UserMessage(clean_text(text), output_channel, sender_id,
                                                 input_channel=self.name(), metadata=metadata))
            except Exception as error:  # no text in the log
                logger.error("socketio: message handling failed (%s)", type(error).__name__)

        return socketio_webhook

"""Rasa's socket.io channel, accepting the web origins of env ``WEB_ORIGINS``.

Rasa 3.6.21 creates its ``AsyncServer`` with ``cors_allowed_origins=[]``: no origin check at all
for websockets and no CORS headers for long-polling. This subclass lists the allowed origins
(``WEB_ORIGINS``, comma-separated; default the web server's own ``http://127.0.0.1:{WEB_PORT}``
and ``http://localhost:{WEB_PORT}``), so the chat works on the municipality's pages and a page
of any other origin is refused. Otherwise it behaves like Rasa's channel (same events, session
persistence), plus the input checks of the REST channel (text only, length limit), the rate
limits of bot/services/ratelimit.py (per conversation, and per client address for connections and
messages) and the metadata allow-list of bot/rasa/channels/metadata.py.

Server-issued sessions (issue 15). The session id, which is Rasa's sender id and the socket.io
room the replies go to, is created by this server, never chosen by the client:

- ``session_request`` with a signed id this server issued (``SessionSigner``: HMAC-SHA256 with
  ``SOCKETIO_SESSION_SECRET``, generated in ``var/`` for ``make run``) continues that conversation
  (a reload); anything else (no id, a forged or unsigned one, another socket's bare id, a
  WhatsApp pseudonym) gets a new id: a fresh, empty conversation. ``session_confirm`` answers
  the signed id; the same id always signs the same, so a client that compares ids (the
  community rasa-webchat widget) sees its own again.
- The id is bound to the socket (its socket.io session): ``user_uttered`` goes to the bound
  conversation whatever ``session_id`` the message names, and is ignored before a session.
- A new ``session_request`` on the same socket (the page's "Gesprek wissen", or after
  "wis mijn gegevens") leaves the room of the previous conversation, so its replies (a
  professional's answer from the console) no longer reach that socket.

python-socketio 5.14+ (pinned: messages through Redis are JSON, not pickle) makes ``enter_room``
and ``leave_room`` coroutines; Rasa 3.6.21's own channel does not await them (NOTES.md), this one
does.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

import rasa.core.channels.channel
from itsdangerous import BadSignature, Signer
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot import settings
from bot.rasa.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text
from bot.rasa.channels.metadata import allowed_metadata
from bot.services import ratelimit
from bot.services.followups.pending import PendingFollowUps

logger = logging.getLogger(__name__)
MAX_SESSION_ID_CHARS = 128
SESSION_SALT = "opvoedmaatje.socketio.session"
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


class SessionSigner:
    """Creates session ids and signs them; only a signed id it issued is accepted back."""

    def __init__(self, secret: str | bytes) -> None:
        if not secret:
            raise ValueError("the socket.io session secret must not be empty")
        self._signer = Signer(secret, salt=SESSION_SALT, digest_method=hashlib.sha256)

    def new(self) -> Tuple[str, str]:
        """A new session id and its signed form."""
        session_id = uuid.uuid4().hex
        return session_id, self.sign(session_id)

    def sign(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode("ascii")

    def verify(self, signed: Any) -> Optional[str]:
        """The session id inside ``signed`` when this server issued it, else None."""
        if not isinstance(signed, str) or not signed or len(signed) > MAX_SESSION_ID_CHARS:
            return None
        try:
            session_id = self._signer.unsign(signed).decode("ascii")
        except (BadSignature, UnicodeError, ValueError):
            return None
        if not _SESSION_ID.match(session_id) or self.sign(session_id) != signed:
            return None  # only the canonical form (base64 leaves slack in the last character)
        return session_id


def sender_of(signed: str) -> str:
    """The session id (Rasa's sender id) of a signed one, without checking the signature."""
    return signed.rsplit(".", 1)[0]


def web_origins(environ: settings.Environ = None) -> List[str]:
    """The allowed origins: ``WEB_ORIGINS`` (comma-separated), else the web server's own."""
    values = settings.current(environ)
    listed = [o.strip().rstrip("/") for o in (values.WEB_ORIGINS or "").split(",") if o.strip()]
    if listed:
        return listed
    port = values.value("WEB_PORT")
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def client_manager(environ: settings.Environ = None) -> Optional[AsyncRedisManager]:
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

    def __init__(self, *args: Any, origins: Optional[List[str]] = None,
                 signer: Optional[SessionSigner] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins: List[str] = list(origins) if origins else web_origins()
        self.signer = signer  # made from SOCKETIO_SESSION_SECRET when the server starts

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        manager = client_manager()
        if self.signer is None:
            self.signer = SessionSigner(settings.socketio_session_secret())
        signer = self.signer
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=list(self.origins),
                          **({"client_manager": manager} if manager else {}))
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        logger.info("socketio: accepting %d web origin(s)%s", len(self.origins),
                    "; messages shared through Redis" if manager else "")

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        addresses: Dict[str, Optional[str]] = {}  # the client address of each socket (rate limits)

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            address = ratelimit.environ_address(environ)
            if not await ratelimit.admit_connection(address):
                raise ConnectionRefusedError(ratelimit.CONNECTION_REFUSED)
            addresses[sid] = address
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            payload = None
            if token:
                payload = rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
            return bool(payload)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_: Any) -> None:
            addresses.pop(sid, None)

        async def bound_session(sid: Text) -> Optional[str]:
            try:
                session = await sio.get_session(sid, namespace=self.namespace)
            except KeyError:  # the socket disconnected meanwhile
                return None
            found = session.get("session_id") if isinstance(session, dict) else None
            return found if isinstance(found, str) else None

        pending = PendingFollowUps()  # issue 19: a follow-up waiting for a parent who comes back

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = signer.verify(data.get("session_id"))
            returning = session_id is not None
            if session_id is None:  # none, forged, unsigned, another channel's: a fresh conversation
                if data.get("session_id"):
                    logger.info("socketio: a session id this server did not issue: new session")
                session_id, signed = signer.new()
            else:
                signed = signer.sign(session_id)
            previous = await bound_session(sid)
            if previous and previous != session_id:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", signed, room=sid, namespace=self.namespace)
            if returning:
                waiting = await pending.waiting(session_id)
                if waiting is not None:
                    await sio.emit(self.bot_message_evt, waiting, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                return
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            if self.session_persistence:
                # the conversation bound to this socket; the message's own session_id is not trusted
                sender_id = await bound_session(sid)
                if not sender_id:
                    logger.warning("socketio: message before session_request ignored")
                    return
            else:
                sender_id = sid
            text = data.get("message")
            if not isinstance(text, str):
                return
            if len(text) > MAX_MESSAGE_CHARS:
                await output_channel.send_text_message(sender_id, TOO_LONG_REPLY)
                return
            if not await ratelimit.admit_message(self.name(), sender_id, addresses.get(sid), output_channel):
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
                                                 input_channel=self.name(), metadata=allowed_metadata(metadata)))
            except Exception as error:  # no text in the log
                logger.error("socketio: message handling failed (%s)", type(error).__name__)

        return socketio_webhook

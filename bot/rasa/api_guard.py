"""A guard in front of Rasa's HTTP API: malformed requests get a 400, never a 500.

Rasa 3.6 wraps each API handler in ``except Exception: 500``, so a body of the wrong shape
(``POST /model/parse`` with ``{}``, ``trigger_intent`` without a body, an event with a slot name
that is a number, ...) answers 500. This request middleware checks the bodies of the API routes
that take one and answers Rasa's own error format with status 400 instead. Requests without the
right token are left to Rasa (401/403 first, as before). Shapes that are fine go through unchanged.

Enabled by one line in credentials.yml (the guard serves no routes of its own)::

    bot.rasa.api_guard.ApiGuard: {}
"""
from __future__ import annotations

import hmac
import json
import logging
import math
import re
from typing import Any, Awaitable, Callable, Mapping, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import settings

logger = logging.getLogger(__name__)

_CONVERSATION = re.compile(r"^/conversations/(?P<id>.+)/(?P<what>tracker/events|execute|trigger_intent|messages)/?$")
EMULATION_MODES = {"wit", "luis", "dialogflow"}


class Malformed(ValueError):
    """The request body does not have the shape the endpoint needs."""


def _json(body: bytes) -> Any:
    if not body:
        raise Malformed("The request needs a JSON body.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("The request body is not valid JSON.") from None


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Malformed("The request body must be a JSON object.")
    return value


def _finite(value: Any) -> bool:
    """JSON allows NaN and Infinity; no Rasa field needs them."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def check_parse(body: bytes, args: Mapping[str, Any]) -> None:
    mode = args.get("emulation_mode")
    if mode is not None and str(mode).lower() not in EMULATION_MODES:
        return  # Rasa answers 400 itself
    data = _object(_json(body))
    text = data.get("text")
    if isinstance(text, list):
        text = text[0] if text else None
    if not isinstance(text, str):
        raise Malformed("'text' must be a string.")


def _events(value: Any, domain: Any, conversation_id: str, replace: bool) -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) and isinstance(item.get("event"), str) for item in items):
        raise Malformed("Events must be JSON objects with an 'event' name.")
    if not _finite(items):
        raise Malformed("Numbers must be finite.")
    for item in items:
        stamp = item.get("timestamp")
        if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, (int, float))):
            raise Malformed("'timestamp' must be a number.")
    slots = list(domain.slots) if domain is not None else []
    try:  # a dry run on a scratch tracker: what Rasa would choke on fails here
        if replace:
            tracker = DialogueStateTracker.from_dict(conversation_id, items, slots)
        else:
            events = [Event.from_parameters(item) for item in items]
            if not any(events):
                return  # Rasa answers 400 itself
            tracker = DialogueStateTracker(conversation_id, slots)
            for event in events:
                if event:
                    tracker.update(event)
        json.dumps(tracker.current_state(EventVerbosity.AFTER_RESTART))
    except Exception as error:  # any failure means Rasa would answer 500
        raise Malformed(f"The events cannot be applied ({type(error).__name__}).") from None


def check_conversation(what: str, method: str, body: bytes, domain: Any, conversation_id: str) -> None:
    if what == "tracker/events":
        _events(_json(body), domain, conversation_id, replace=(method == "PUT"))
        return
    data = _object(_json(body))
    if not _finite(data):
        raise Malformed("Numbers must be finite.")
    if what == "execute":
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise Malformed("'name' must be the name of an action.")
        if domain is not None and name not in domain.action_names_or_texts:
            raise Malformed("'name' is not an action of this assistant.")
        if data.get("policy") is not None and not isinstance(data.get("policy"), str):
            raise Malformed("'policy' must be a string.")
        confidence = data.get("confidence")
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
            raise Malformed("'confidence' must be a number.")
    elif what == "trigger_intent":
        if not isinstance(data.get("name"), str) or not data.get("name"):
            raise Malformed("'name' must be the name of an intent.")
        entities = data.get("entities")
        if entities is None or entities == [] or entities == {}:
            return
        if isinstance(entities, dict):
            return
        if not isinstance(entities, list) or not all(
                isinstance(e, dict) and isinstance(e.get("entity"), str) for e in entities):
            raise Malformed("'entities' must be an object or a list of objects with an 'entity' name.")
    elif what == "messages":
        if data.get("sender") != "user":
            return  # Rasa answers 400 itself
        if not isinstance(data.get("text"), str):
            raise Malformed("'text' must be a string.")
        parse_data = data.get("parse_data")
        if parse_data is not None:
            intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
            if not isinstance(intent, dict) or not isinstance(intent.get("name"), str):
                raise Malformed("'parse_data' must hold an 'intent' object with a 'name'.")
            if not isinstance(parse_data.get("entities", []), list):
                raise Malformed("'parse_data.entities' must be a list.")


def _authorised(request: Request, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Only requests with the API token are checked; the rest get Rasa's own 401/403."""
    expected = settings.current(environ).RASA_AUTH_TOKEN or ""
    if not expected:
        return True
    given = request.args.get("token") or ""
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _bad_request(message: str) -> HTTPResponse:
    from rasa import __version__

    return response.json({"version": __version__, "status": "failure", "message": message,
                          "reason": "BadRequest", "details": {}, "help": None, "code": 400}, status=400)


def check_request(method: str, path: str, body: bytes, args: Mapping[str, Any], domain: Any) -> Optional[str]:
    """The reason a Rasa API request is malformed, or None (also for every other route)."""
    try:
        if method == "POST" and path.rstrip("/") == "/model/parse":
            check_parse(body, args)
            return None
        match = _CONVERSATION.match(path)
        if match is None or method not in ("POST", "PUT"):
            return None
        if method == "PUT" and match.group("what") != "tracker/events":
            return None
        check_conversation(match.group("what"), method, body, domain, match.group("id"))
    except Malformed as error:
        return str(error)
    except Exception as error:  # the guard itself must never break the API
        logger.error("api guard: check failed (%s)", type(error).__name__)
    return None


async def guard(request: Request) -> Optional[HTTPResponse]:
    if request.method not in ("POST", "PUT") or not _authorised(request):
        return None
    agent = getattr(request.app.ctx, "agent", None)
    domain = getattr(agent, "domain", None) if agent is not None else None
    reason = check_request(request.method, request.path, request.body or b"", request.args, domain)
    if reason is None:
        return None
    logger.debug("api guard: %s %s refused with 400", request.method, request.path.split("/")[1])
    return _bad_request(reason)


def install(app: Any) -> None:
    if guard not in app.request_middleware:
        app.register_middleware(guard, "request")
        logger.info("api guard: malformed API requests get a 400")


class ApiGuard(InputChannel):
    """Not a channel for parents: it only installs ``guard`` on the Rasa server's app."""

    @classmethod
    def name(cls) -> Text:
        return "api_guard"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("opvoedmaatje_api_guard", __name__)

        @blueprint.listener("before_server_start")
        async def install_guard(app: Any, _loop: Any) -> None:
            install(app)

        return blueprint

"""WhatsApp through Meta's WhatsApp Cloud API: a Rasa input and output channel.

Served at ``/webhooks/whatsapp/webhook`` on the Rasa server when env ``WHATSAPP_APP_SECRET`` is
set (otherwise the channel registers no routes at all). Settings (CONTRACT.md section 6):
``WHATSAPP_APP_SECRET``, ``WHATSAPP_VERIFY_TOKEN``, ``WHATSAPP_ACCESS_TOKEN``,
``WHATSAPP_PHONE_NUMBER_ID``, ``WHATSAPP_API_BASE`` (default https://graph.facebook.com/v21.0),
``WHATSAPP_TEMPLATE`` (default opvoedmaatje_followup), ``WHATSAPP_TEMPLATE_LANGUAGE`` (nl),
``WHATSAPP_FOLLOWUP_TEMPLATE`` and ``WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE`` (bot/settings.py: the
follow-up of issue 19 outside the 24-hour window, with its parameters and quick-reply payloads),
``WHATSAPP_NUMBER_TTL`` (seconds a number is kept in memory, default 86400),
``WHATSAPP_MAX_MESSAGE_AGE`` (seconds, default 86400: older messages are ignored).

Inbound (Meta -> us):
- ``GET /webhook``: the verify handshake; ``hub.mode=subscribe`` and the right
  ``hub.verify_token`` get ``hub.challenge`` back as text/plain, anything else 403.
- ``POST /webhook``: ``X-Hub-Signature-256`` must be the HMAC-SHA256 of the raw body with the app
  secret (compared in constant time; forged or missing: 403, nothing processed). Not JSON or not
  the webhook's shape: 400. Otherwise 200 at once; the messages are processed in a background
  task (so Meta does not redeliver), each message id only once. The memory of ids is per process
  and bounded, with a time window: a message whose own timestamp is older than
  ``WHATSAPP_MAX_MESSAGE_AGE`` (a late redelivery, or a signed body replayed later) is ignored, so
  an id needs remembering only for that window (``RecentMessages``).
  Status updates are ignored. Text and interactive replies (button_reply / list_reply: the
  reply id is the payload) go to Rasa; images, audio and the like get a kind text reply.
- The sender id in Rasa is ``pseudonym(number)``; the number itself stays in a ``NumberBook``
  in memory (see bot/services/pseudonym.py) so that the reply can be sent. For a conversation
  with an active hand-off case (the parent's consent) it is also kept in the case store,
  encrypted, so that a professional's reply reaches the parent from any server, also after a
  restart (bot/services/cases/delivery.py); such a reply's delivery is recorded (delivered, or why not).

Outbound (us -> Graph API): ``POST {api_base}/{phone_number_id}/messages`` with a bearer token.
Buttons become reply buttons (at most 3, titles at most 20 characters) or a list (at most 10
rows), else numbered text options (the parent may answer with the number). Texts longer than 4096
characters are split. Outside the 24-hour customer-service window only a template message may be
sent: the channel sends the template once per closed window and withholds the text. 5xx, 429 and
Meta's throttling codes are retried with exponential backoff. Logs never contain message text,
phone numbers or sender pseudonyms: only counts and kinds of events.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Text, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import settings
from bot.rasa.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text
from bot.services import erasure, ratelimit
from bot.services.cases import delivery
from bot.services.cases.delivery import DELIVERED, DELIVERY_KEY, NO_NUMBER, Outcome, ReplyRoutes
from bot.services.pseudonym import Contact, NumberBook, Pseudonymizer, default_pseudonymizer

logger = logging.getLogger(__name__)

# message kinds that may be named in a log line (the type comes from the webhook body)
_LOGGED_KINDS = frozenset({"audio", "button", "contacts", "document", "image", "interactive", "location",
                           "order", "reaction", "sticker", "system", "text", "unsupported", "video"})


def _kind_label(kind: Any) -> str:
    return kind if isinstance(kind, str) and kind in _LOGGED_KINDS else "other"


DEFAULT_API_BASE = settings.Settings.default("WHATSAPP_API_BASE")
DEFAULT_TEMPLATE = settings.Settings.default("WHATSAPP_TEMPLATE")
WINDOW_SECONDS = 24 * 3600

# Meta's limits (Cloud API, interactive messages).
MAX_TEXT_CHARS = 4096
MAX_INTERACTIVE_BODY_CHARS = 1024
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE_CHARS = 20
MAX_BUTTON_ID_CHARS = 256
MAX_LIST_ROWS = 10
MAX_ROW_TITLE_CHARS = 24
MAX_ROW_ID_CHARS = 200
LIST_BUTTON_LABEL = "Kies een optie"  # <= 20 characters
OPTIONS_PROMPT = "Wat wil je nu doen?"
FALLBACK_OPTIONS_INTRO = "Stuur het nummer van je keuze:"

ONLY_TEXT_REPLY = (
    "Ik kan alleen tekst lezen. Foto's, spraakberichten en bestanden kan ik niet openen. "
    "Wil je je vraag in een paar woorden typen?"
)
SUPPORTED_INTERACTIVE = ("button_reply", "list_reply")
IGNORED_TYPES = ("reaction", "system", "request_welcome", "ephemeral")
# Graph API error codes that mean "slow down / try again" even without a 429 or 5xx.
RETRYABLE_GRAPH_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 131056}
# "Re-engagement message": more than 24 hours since the parent's last message
WINDOW_GRAPH_CODES = {131047}


def _env(values: settings.Settings, credentials: Mapping[str, Any], key: str, env_key: str) -> str:
    """``credentials[key]``, else the setting ``env_key``, else its default (bot/settings.py)."""
    value = credentials.get(key)
    if value in (None, ""):
        value = getattr(values, env_key)
    return str(value or values.default(env_key) or "")


@dataclass(frozen=True)
class WhatsAppConfig:
    app_secret: str = ""
    verify_token: str = ""
    access_token: str = ""
    phone_number_id: str = ""
    api_base: str = DEFAULT_API_BASE
    template: str = DEFAULT_TEMPLATE
    template_language: str = "nl"
    # the follow-up question (issue 19) outside the window: a template with parameters and buttons
    followup_template: str = "opvoedmaatje_vervolgvraag"
    followup_template_language: str = "nl"
    number_ttl: float = float(WINDOW_SECONDS)
    # messages older than this (their own timestamp) are ignored; past the 24-hour window
    # WhatsApp would not let the assistant answer freely anyway
    max_message_age: float = float(WINDOW_SECONDS)

    @property
    def enabled(self) -> bool:
        return bool(self.app_secret)

    @classmethod
    def from_env(cls, credentials: Optional[Mapping[str, Any]] = None) -> "WhatsAppConfig":
        """Credentials entries win over env (keys: app_secret, verify_token, access_token, ...)."""
        c = credentials or {}
        values = settings.current()
        try:
            ttl = float(_env(values, c, "number_ttl", "WHATSAPP_NUMBER_TTL"))
        except ValueError:
            ttl = float(WINDOW_SECONDS)
        try:
            max_age = float(_env(values, c, "max_message_age", "WHATSAPP_MAX_MESSAGE_AGE"))
        except ValueError:
            max_age = float(WINDOW_SECONDS)
        if not max_age > 0:
            max_age = float(WINDOW_SECONDS)
        return cls(
            app_secret=_env(values, c, "app_secret", "WHATSAPP_APP_SECRET"),
            verify_token=_env(values, c, "verify_token", "WHATSAPP_VERIFY_TOKEN"),
            access_token=_env(values, c, "access_token", "WHATSAPP_ACCESS_TOKEN"),
            phone_number_id=_env(values, c, "phone_number_id", "WHATSAPP_PHONE_NUMBER_ID"),
            api_base=_env(values, c, "api_base", "WHATSAPP_API_BASE").rstrip("/"),
            template=_env(values, c, "template", "WHATSAPP_TEMPLATE"),
            template_language=_env(values, c, "template_language", "WHATSAPP_TEMPLATE_LANGUAGE"),
            followup_template=_env(values, c, "followup_template", "WHATSAPP_FOLLOWUP_TEMPLATE"),
            followup_template_language=_env(values, c, "followup_template_language",
                                            "WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE"),
            number_ttl=ttl,
            max_message_age=max_age,
        )


# ---------------------------------------------------------------- signatures and handshake


def signature_of(app_secret: str, raw_body: bytes) -> str:
    """The value Meta puts in X-Hub-Signature-256 for this body."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def valid_signature(app_secret: str, raw_body: bytes, header: Optional[str]) -> bool:
    """Constant-time check of X-Hub-Signature-256; False when the secret or the header is missing."""
    if not app_secret or not header:
        return False
    expected = signature_of(app_secret, raw_body or b"")
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "replace"))


def verify_challenge(args: Mapping[str, str], verify_token: str) -> Optional[str]:
    """The hub.challenge to echo when the handshake is right, else None."""
    mode, token, challenge = args.get("hub.mode"), args.get("hub.verify_token"), args.get("hub.challenge")
    if not verify_token or mode != "subscribe" or token is None or challenge is None:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "replace"), verify_token.encode("utf-8")):
        return None
    return challenge


# ---------------------------------------------------------------- inbound parsing


class PayloadError(ValueError):
    """The body is JSON but not a WhatsApp webhook."""


@dataclass(frozen=True)
class Inbound:
    """One message from a parent. ``kind``: text | payload | unsupported."""

    message_id: str
    number: str
    timestamp: float
    kind: str
    text: str = ""
    message_type: str = ""


def _timestamp(value: Any, now: float) -> float:
    try:
        stamp = float(value)
    except (TypeError, ValueError):
        return now
    return stamp if 0 < stamp <= now + 300 else now


def _parse_message(message: Mapping[str, Any], now: float) -> Optional[Inbound]:
    message_id, number, kind = message.get("id"), message.get("from"), message.get("type")
    if not isinstance(message_id, str) or not message_id or not isinstance(number, str) or not number:
        return None
    if not isinstance(kind, str):
        kind = "unknown"
    stamp = _timestamp(message.get("timestamp"), now)
    base = dict(message_id=message_id, number=number, timestamp=stamp, message_type=kind)
    if kind in IGNORED_TYPES:
        return None
    if kind == "text":
        body = (message.get("text") or {}).get("body") if isinstance(message.get("text"), dict) else None
        if isinstance(body, str):
            return Inbound(kind="text", text=body, **base)
        return Inbound(kind="unsupported", **base)
    if kind == "interactive":
        interactive = message.get("interactive")
        if isinstance(interactive, dict) and interactive.get("type") in SUPPORTED_INTERACTIVE:
            reply = interactive.get(interactive["type"])
            if isinstance(reply, dict) and isinstance(reply.get("id"), str) and reply["id"]:
                return Inbound(kind="payload", text=reply["id"], **base)
        return Inbound(kind="unsupported", **base)
    if kind == "button":  # quick-reply button of a template message
        button = message.get("button")
        if isinstance(button, dict):
            value = button.get("payload") or button.get("text")
            if isinstance(value, str) and value:
                return Inbound(kind="payload" if button.get("payload") else "text", text=value, **base)
        return Inbound(kind="unsupported", **base)
    return Inbound(kind="unsupported", **base)


def parse_webhook(body: Any, phone_number_id: str = "", now: Optional[float] = None) -> List[Inbound]:
    """The parents' messages in a webhook body, in order; status updates are left out. Raises
    PayloadError when the body is not a webhook object.

    A message to another phone number id than ``phone_number_id`` is left out, with a warning:
    one Meta app can serve several numbers (another municipality's, another service's), and
    this assistant must not answer their parents from its own number (issue 15)."""
    now = time.time() if now is None else now
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise PayloadError("not a WhatsApp webhook body")
    found: List[Inbound] = []
    for entry in body["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            if phone_number_id and metadata.get("phone_number_id") not in (None, phone_number_id):
                logger.warning("whatsapp: a webhook event for another phone number id than "
                               "WHATSAPP_PHONE_NUMBER_ID is left out; check the setting if this repeats")
                continue
            messages = value.get("messages")
            for message in messages if isinstance(messages, list) else []:
                if isinstance(message, dict):
                    parsed = _parse_message(message, now)
                    if parsed is not None:
                        found.append(parsed)
            for error in value.get("errors") or []:
                if isinstance(error, dict):
                    logger.warning("whatsapp: webhook reports error code %s",
                                   error.get("code") if isinstance(error.get("code"), int) else "?")
    return found


# ---------------------------------------------------------------- outbound shaping


_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]{1,2000})\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def whatsapp_text(text: str) -> str:
    """Markdown of responses to WhatsApp's formatting: links written out, **bold** -> *bold*."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)}: {m.group(2)}", text or "")
    return _MD_BOLD.sub(r"*\1*", text).strip()


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, line, sentence or word break
    (a break in the second half of the piece preferred), else hard."""
    text = (text or "").strip()
    pieces: List[str] = []
    while len(text) > limit:
        window = text[: limit + 1]  # a break right after the limit still makes a full piece
        cut = 0
        for minimum in (limit // 2, 1):
            for separator in ("\n\n", "\n", ". ", " "):
                at = window.rfind(separator)
                if at >= minimum:
                    cut = at + (1 if separator == ". " else 0)  # the full stop stays with its sentence
                    break
            if cut:
                break
        cut = cut or limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


Button = Tuple[str, str]  # (title, payload)


def _buttons(raw: Iterable[Mapping[str, Any]]) -> List[Button]:
    found = []
    for button in raw or []:
        if not isinstance(button, Mapping):
            continue
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or button.get("url") or title).strip()
        if title and payload:
            found.append((title, payload))
    return found


def interactive_for(body: str, buttons: Sequence[Button]) -> Optional[Dict[str, Any]]:
    """The ``interactive`` object for these buttons, or None when they do not fit Meta's limits."""
    if not buttons or not body or len(body) > MAX_INTERACTIVE_BODY_CHARS:
        return None
    if len(buttons) <= MAX_REPLY_BUTTONS and all(
        len(t) <= MAX_BUTTON_TITLE_CHARS and len(p) <= MAX_BUTTON_ID_CHARS for t, p in buttons
    ) and len({p for _, p in buttons}) == len(buttons):
        return {
            "type": "button",
            "body": {"text": body},
            "action": {"buttons": [{"type": "reply", "reply": {"id": p, "title": t}} for t, p in buttons]},
        }
    if len(buttons) <= MAX_LIST_ROWS and all(
        len(t) <= MAX_ROW_TITLE_CHARS and len(p) <= MAX_ROW_ID_CHARS for t, p in buttons
    ) and len({p for _, p in buttons}) == len(buttons):
        return {
            "type": "list",
            "body": {"text": body},
            "action": {
                "button": LIST_BUTTON_LABEL,
                "sections": [{"title": "Opties", "rows": [{"id": p, "title": t} for t, p in buttons]}],
            },
        }
    return None


def numbered_options(buttons: Sequence[Button]) -> str:
    return FALLBACK_OPTIONS_INTRO + "\n" + "\n".join(f"{i}. {t}" for i, (t, _) in enumerate(buttons, 1))


def _text_bodies(parts: Iterable[str]) -> List[Dict[str, Any]]:
    return [{"type": "text", "text": {"body": part, "preview_url": False}} for part in parts]


def message_bodies(text: str, buttons: Sequence[Button] = ()) -> Tuple[List[Dict[str, Any]], bool]:
    """The Graph API message objects (without ``to``) for one bot reply, and whether the options
    went out as numbered text (then a typed number selects an option)."""
    parts = split_text(whatsapp_text(text))
    if not buttons:
        return _text_bodies(parts), False
    last = parts[-1] if parts else ""
    interactive = interactive_for(last, buttons)
    if interactive is not None:
        return _text_bodies(parts[:-1]) + [{"type": "interactive", "interactive": interactive}], False
    interactive = interactive_for(OPTIONS_PROMPT, buttons)
    if interactive is not None:  # the text is too long for an interactive body: text, then the options
        return _text_bodies(parts) + [{"type": "interactive", "interactive": interactive}], False
    options = numbered_options(buttons)
    joined = "\n\n".join(parts + [options])
    return _text_bodies(split_text(joined)), True


def template_body(name: str, language: str, parameters: Sequence[str] = (),
                  payloads: Sequence[str] = ()) -> Dict[str, Any]:
    """A template message; with body `parameters` ({{1}}, {{2}}, ...) and the `payloads` of its
    quick-reply buttons (in the order the template was registered with)."""
    template: Dict[str, Any] = {"name": name, "language": {"code": language}}
    components: List[Dict[str, Any]] = []
    if parameters:
        components.append({"type": "body",
                           "parameters": [{"type": "text", "text": str(p)} for p in parameters]})
    for index, payload in enumerate(payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": str(payload)}]})
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


FOLLOWUP_KEY = "opvoedmaatje_followup"  # a follow-up's bot message (bot/services/followups/worker.py)


def followup_template_body(config: "WhatsAppConfig", followup: Any) -> Optional[Dict[str, Any]]:
    """The follow-up template for the metadata a follow-up's message carries, or None."""
    if not isinstance(followup, Mapping):
        return None
    parameters = [p for p in followup.get("parameters") or () if isinstance(p, str) and p.strip()]
    payloads = [p for p in followup.get("payloads") or () if isinstance(p, str) and p.strip()]
    return template_body(config.followup_template, config.followup_template_language, parameters,
                         payloads[:MAX_REPLY_BUTTONS])


# ---------------------------------------------------------------- Graph API client


class GraphClient:
    """Sends message objects to the Graph API, retrying 5xx / 429 / throttling with backoff."""

    def __init__(self, config: WhatsAppConfig, attempts: int = 4, backoff: float = 0.5,
                 max_backoff: float = 8.0, timeout: float = 15.0) -> None:
        self.config = config
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def url(self) -> str:
        return f"{self.config.api_base}/{self.config.phone_number_id}/messages"

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _delay(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff)
            except ValueError:
                pass
        return min(self.backoff * (2 ** attempt), self.max_backoff)

    async def send(self, to: str, body: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """POST one message; the Graph API's answer, or None when it failed (already logged)."""
        answer, _ = await self.send_outcome(to, body)
        return answer

    async def send_outcome(self, to: str, body: Mapping[str, Any]) -> Tuple[Optional[Dict[str, Any]], Outcome]:
        """POST one message: the Graph API's answer (None when it failed, already logged) and
        whether it was delivered to WhatsApp, or why not."""
        failed: Optional[int] = None
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        kind = body.get("type", "?")
        for attempt in range(self.attempts):
            retry_after: Optional[str] = None
            try:
                async with self._get_session().post(self.url, json=payload, headers=headers) as answer:
                    if answer.status < 300:
                        try:
                            return await answer.json(content_type=None), DELIVERED
                        except ValueError:
                            return {}, DELIVERED
                    retry_after = answer.headers.get("Retry-After")
                    code = await _graph_error_code(answer)
                    retryable = answer.status == 429 or answer.status >= 500 or code in RETRYABLE_GRAPH_CODES
                    logger.warning("whatsapp: Graph API answered %s (code %s) to a %s message, attempt %d/%d",
                                   answer.status, code, kind, attempt + 1, self.attempts)
                    if not retryable:
                        return None, delivery.refused(code or answer.status, WINDOW_GRAPH_CODES)
                    failed = answer.status  # the service failed: its HTTP status says most
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.warning("whatsapp: Graph API unreachable (%s), attempt %d/%d",
                               type(error).__name__, attempt + 1, self.attempts)
            if attempt + 1 < self.attempts:
                await asyncio.sleep(self._delay(attempt, retry_after))
        logger.error("whatsapp: a %s message was not delivered after %d attempts", kind, self.attempts)
        return None, delivery.unreachable(failed)


async def _graph_error_code(answer: aiohttp.ClientResponse) -> Optional[int]:
    try:
        data = await answer.json(content_type=None)
        code = data.get("error", {}).get("code") if isinstance(data, dict) else None
        return int(code) if code is not None else None
    except (ValueError, TypeError, AttributeError, aiohttp.ClientError):
        return None


# ---------------------------------------------------------------- shared state


class OptionMemory:
    """The options last offered to a pseudonym, so a typed number or title selects one."""

    def __init__(self, ttl: float = WINDOW_SECONDS, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._items: "OrderedDict[str, Tuple[List[Button], bool, float]]" = OrderedDict()

    def offer(self, who: str, buttons: Sequence[Button], numbered: bool) -> None:
        self._items.pop(who, None)
        self._items[who] = (list(buttons), numbered, self.clock() + self.ttl)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def forget(self, who: str) -> None:
        self._items.pop(who, None)

    def resolve(self, who: str, text: str) -> str:
        """The payload the parent chose with ``text``, else ``text``; the offer is used up."""
        item = self._items.pop(who, None)
        if item is None or item[2] <= self.clock():
            return text
        buttons, numbered, _ = item
        answer = text.strip().rstrip(".").strip().casefold()
        if numbered and answer.isdigit() and 1 <= int(answer) <= len(buttons):
            return buttons[int(answer) - 1][1]
        for title, payload in buttons:
            if answer == title.casefold():
                return payload
        return text


class RecentMessages:
    """Which delivered messages are new: not seen before in this process, and not older than
    ``window`` seconds by their own timestamp. Ids are kept for ``window`` seconds after they were
    first seen (a repeat arriving later is stale by its timestamp anyway), at most
    ``max_entries`` of them (the oldest go first)."""

    NEW, REPEAT, STALE = "new", "repeat", "stale"

    def __init__(self, window: float = float(WINDOW_SECONDS), max_entries: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.window, self.max_entries, self.clock = float(window), max_entries, clock
        self._seen: "OrderedDict[str, float]" = OrderedDict()  # id -> when first seen, oldest first

    def classify(self, message_id: str, timestamp: float) -> str:
        now = self.clock()
        while self._seen and next(iter(self._seen.values())) < now - self.window:
            self._seen.popitem(last=False)
        if timestamp < now - self.window:
            return self.STALE
        if message_id in self._seen:
            return self.REPEAT
        self._seen[message_id] = now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return self.NEW

    def __len__(self) -> int:
        return len(self._seen)


ContactResolver = Callable[[str], Optional[Contact]]
# Where else a number may be found (e.g. the hand-off storage of issue 6, when the parent agreed):
# ``CONTACT_RESOLVERS.append(fn)``, fn(pseudonym) -> Contact or None. Shared by every channel state.
CONTACT_RESOLVERS: List[ContactResolver] = []


@dataclass
class ChannelState:
    """What the input and output channels of one process share (in memory only)."""

    config: WhatsAppConfig
    book: NumberBook
    client: GraphClient
    options: OptionMemory = field(default_factory=OptionMemory)
    # the delivered message ids of the last WHATSAPP_MAX_MESSAGE_AGE seconds (made from the config)
    recent: Optional[RecentMessages] = None
    # pseudonym -> last_inbound of the closed window for which a template went out (bounded)
    templated: "OrderedDict[str, float]" = field(default_factory=OrderedDict)
    # extra places to find a number (the hand-off storage of issue 6 may register one)
    resolvers: List[ContactResolver] = field(default_factory=lambda: CONTACT_RESOLVERS)
    clock: Callable[[], float] = time.time
    # the case store's numbers of hand-off conversations (any server, after restarts); None: off
    routes: Optional[ReplyRoutes] = None

    def __post_init__(self) -> None:
        if self.recent is None:
            self.recent = RecentMessages(self.config.max_message_age, clock=self.clock)

    def contact(self, who: str) -> Optional[Contact]:
        found = self.book.lookup(who)
        if found is not None:
            return found
        for resolver in self.resolvers:
            try:
                found = resolver(who)
            except Exception as error:  # a broken resolver must not break replies
                logger.error("whatsapp: contact resolver failed (%s)", type(error).__name__)
                continue
            if found is not None:
                return found
        return None

    async def reply_contact(self, who: str, professional: bool = False) -> Optional[Contact]:
        """The number to answer `who`: this process's memory, else the case store. For a
        professional's reply the case store is asked anyway: another server may have had the
        parent's latest message (the 24-hour window counts from it)."""
        found = self.contact(who)
        if self.routes is None or (found is not None and not professional):
            return found
        route = await self.routes.route(who)
        if route is None:
            return found
        stored = Contact(route.number, route.last_inbound.timestamp() if route.last_inbound else 0.0)
        return stored if found is None or stored.last_inbound > found.last_inbound else found


class WhatsAppOutput(OutputChannel):
    """Sends Rasa's replies to the number behind a pseudonym, within WhatsApp's rules."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    def __init__(self, state: ChannelState) -> None:
        self.state = state

    async def _deliver(self, recipient_id: Text, bodies: List[Dict[str, Any]],
                       delivery_id: Optional[str] = None, followup: Any = None) -> None:
        """Send; a professional's reply (`delivery_id`, from the console) has its outcome recorded;
        a follow-up (`followup`, issue 19) goes out as its template outside the window."""
        outcome = await self._send_all(recipient_id, bodies, professional=delivery_id is not None,
                                       followup=followup)
        if delivery_id and self.state.routes is not None:
            await self.state.routes.settle(delivery_id, outcome)

    async def _send_all(self, recipient_id: Text, bodies: List[Dict[str, Any]], professional: bool,
                        followup: Any = None) -> Outcome:
        contact = await self.state.reply_contact(recipient_id, professional)
        if contact is None:
            logger.warning("whatsapp: no number known for the recipient; %d message(s) dropped", len(bodies))
            return NO_NUMBER
        outside = self.state.clock() - contact.last_inbound > WINDOW_SECONDS
        template = followup_template_body(self.state.config, followup) if outside else None
        if template is not None:
            _, outcome = await self.state.client.send_outcome(contact.number, template)
            logger.info("whatsapp: outside the 24-hour window: the follow-up went out as its template")
            return outcome
        if outside:
            if self.state.templated.get(recipient_id) != contact.last_inbound:
                self.state.templated[recipient_id] = contact.last_inbound
                while len(self.state.templated) > 10_000:
                    self.state.templated.popitem(last=False)
                config = self.state.config
                await self.state.client.send(contact.number, template_body(config.template, config.template_language))
                logger.info("whatsapp: outside the 24-hour window: template sent")
            logger.info("whatsapp: outside the 24-hour window: %d message(s) withheld", len(bodies))
            return Outcome(False, "window")
        outcomes = [(await self.state.client.send_outcome(contact.number, body))[1] for body in bodies]
        return delivery.first_failure(outcomes)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        bodies, _ = message_bodies(text)
        await self._deliver(recipient_id, bodies, kwargs.get(DELIVERY_KEY))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        options = _buttons(buttons)
        bodies, numbered = message_bodies(text, options)
        if options:
            self.state.options.offer(recipient_id, options, numbered)
        await self._deliver(recipient_id, bodies, kwargs.get(DELIVERY_KEY), kwargs.get(FOLLOWUP_KEY))

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._deliver(recipient_id, [{"type": "image", "image": {"link": image}}])

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if isinstance(attachment, str) and attachment.startswith(("http://", "https://")):
            await self.send_text_message(recipient_id, attachment)
        else:
            logger.info("whatsapp: attachment of an unsupported kind not sent")

    async def send_elements(self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any) -> None:
        lines = []
        for element in elements or []:
            if isinstance(element, dict):
                lines.append("\n".join(str(element.get(k)) for k in ("title", "subtitle") if element.get(k)))
        if any(lines):
            await self.send_text_message(recipient_id, "\n\n".join(line for line in lines if line))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """``{"whatsapp": {<Graph API message object without 'to'>}}`` is sent as it is."""
        body = json_message.get("whatsapp") if isinstance(json_message, dict) else None
        if isinstance(body, dict) and isinstance(body.get("type"), str):
            await self._deliver(recipient_id, [body])
        else:
            logger.info("whatsapp: custom message without a 'whatsapp' object not sent")


# ---------------------------------------------------------------- input channel


class _SenderLocks:
    """One asyncio lock per sender, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: Dict[str, Tuple[asyncio.Lock, int]] = {}

    def hold(self, who: str) -> "_Held":
        return _Held(self, who)


class _Held:
    def __init__(self, locks: _SenderLocks, who: str) -> None:
        self.locks, self.who = locks, who

    async def __aenter__(self) -> None:
        lock, users = self.locks._locks.get(self.who, (asyncio.Lock(), 0))
        self.locks._locks[self.who] = (lock, users + 1)
        await lock.acquire()

    async def __aexit__(self, *exc: Any) -> None:
        lock, users = self.locks._locks[self.who]
        lock.release()
        if users <= 1:
            del self.locks._locks[self.who]
        else:
            self.locks._locks[self.who] = (lock, users - 1)


class WhatsAppInput(InputChannel):
    """Meta WhatsApp Cloud API webhook. Only serves routes when the app secret is configured."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(WhatsAppConfig.from_env(credentials), routes=delivery.default_routes())

    def __init__(self, config: WhatsAppConfig, pseudonymizer: Optional[Pseudonymizer] = None,
                 state: Optional[ChannelState] = None,
                 limiter: Optional[ratelimit.RateLimiter] = None,
                 routes: Optional[ReplyRoutes] = None) -> None:
        self.config = config
        self.limiter = limiter or ratelimit.default_limiter()
        self._pseudonymizer = pseudonymizer
        self.state = state or ChannelState(config=config, book=NumberBook(ttl=config.number_ttl),
                                           client=GraphClient(config), routes=routes)
        self._tasks: Set[asyncio.Task] = set()
        self._locks = _SenderLocks()
        erasure.on_erasure(self.state.book.forget)  # "wis mijn gegevens" forgets the number too

    @property
    def pseudonymizer(self) -> Pseudonymizer:
        if self._pseudonymizer is None:
            self._pseudonymizer = default_pseudonymizer()
        return self._pseudonymizer

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.state)

    async def drain(self) -> None:
        """Wait for the messages being processed in the background (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, messages: Sequence[Inbound],
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Hand the messages of one delivery to Rasa, in order, one at a time per sender."""
        output = self.get_output_channel()
        for message in messages:
            who = self.pseudonymizer.pseudonym(message.number, "wa")
            self.state.book.remember(who, message.number, message.timestamp)
            async with self._locks.hold(who):
                try:
                    await self._handle(message, who, output, on_new_message)
                except asyncio.CancelledError:
                    logger.error("whatsapp: message handling was cancelled")
                    raise
                except Exception as error:  # no text, no number in the log
                    logger.error("whatsapp: message handling failed (%s)", type(error).__name__)
                if self.state.routes is not None:  # after the turn: it may have opened the case
                    await self.state.routes.note_inbound(who, message.number, message.timestamp)

    async def _handle(self, message: Inbound, who: str, output: OutputChannel,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        if not await self.limiter.admit(self.name(), who, output):
            return
        if message.kind == "unsupported":
            logger.info("whatsapp: %s message answered with the text-only reply", _kind_label(message.message_type))
            await output.send_text_message(who, ONLY_TEXT_REPLY)
            return
        if len(message.text) > MAX_MESSAGE_CHARS:
            await output.send_text_message(who, TOO_LONG_REPLY)
            return
        if message.kind == "payload":
            self.state.options.forget(who)
            text = message.text
        else:
            text = self.state.options.resolve(who, message.text)
        await on_new_message(UserMessage(clean_text(text), output, who, input_channel=self.name(), metadata={}))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        if not self.config.enabled:
            logger.info("whatsapp: WHATSAPP_APP_SECRET is not set; the WhatsApp channel is off")
            return webhook
        for setting, value in (("WHATSAPP_VERIFY_TOKEN", self.config.verify_token),
                               ("WHATSAPP_ACCESS_TOKEN", self.config.access_token),
                               ("WHATSAPP_PHONE_NUMBER_ID", self.config.phone_number_id)):
            if not value:
                logger.warning("whatsapp: %s is not set; the channel cannot work fully", setting)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = {key: request.args.get(key) for key in ("hub.mode", "hub.verify_token", "hub.challenge")}
            challenge = verify_challenge({k: v for k, v in args.items() if v is not None}, self.config.verify_token)
            if challenge is None:
                logger.warning("whatsapp: verify handshake refused")
                return response.text("forbidden", status=403)
            return response.text(challenge, status=200, content_type="text/plain; charset=utf-8")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            raw = request.body or b""
            if not valid_signature(self.config.app_secret, raw, request.headers.get("X-Hub-Signature-256")):
                logger.warning("whatsapp: webhook with a missing or wrong signature refused")
                return response.text("forbidden", status=403)
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return response.json({"error": "The body must be JSON."}, status=400)
            try:
                messages = parse_webhook(body, self.config.phone_number_id, now=self.state.clock())
            except PayloadError:
                return response.json({"error": "Not a WhatsApp webhook body."}, status=400)
            recent = self.state.recent
            assert recent is not None
            verdicts = [recent.classify(m.message_id, m.timestamp) for m in messages]
            fresh = [m for m, verdict in zip(messages, verdicts) if verdict == RecentMessages.NEW]
            if verdicts.count(RecentMessages.REPEAT):
                logger.info("whatsapp: %d repeated delivery(ies) ignored", verdicts.count(RecentMessages.REPEAT))
            if verdicts.count(RecentMessages.STALE):
                logger.warning("whatsapp: %d message(s) older than WHATSAPP_MAX_MESSAGE_AGE ignored",
                               verdicts.count(RecentMessages.STALE))
            if fresh:
                task = asyncio.create_task(self.process(fresh, on_new_message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return response.text("ok", status=200)

        @webhook.listener("after_server_stop")
        async def close_client(*_: Any) -> None:
            await self.state.client.close()

        return webhook

"""Rasa's Twilio channel, with Twilio's request signature checked and the number pseudonymised.

Served at ``/webhooks/twilio/webhook`` when a Twilio auth token is configured (credentials keys
``account_sid``, ``auth_token``, ``twilio_number``, ``webhook_url``, ``trust_proxy``, or env
``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_NUMBER``, ``TWILIO_WEBHOOK_URL``,
``TWILIO_TRUST_PROXY``); without a token no routes.

- ``X-Twilio-Signature`` is checked with twilio's own ``RequestValidator`` over the URL Twilio
  called and every form field (blank ones included). ``webhook_url`` is that public URL (behind
  a proxy the server's own URL differs); when unset it is rebuilt from the request. Behind a
  TLS-terminating proxy the request arrives over http: with ``TWILIO_TRUST_PROXY=true`` the
  scheme and host come from X-Forwarded-Proto / X-Forwarded-Host (the value the nearest proxy
  set, the last one of a list). Without it these headers are ignored: anyone can send them, and a
  server reachable without the proxy must not let them choose the URL a signature covers.
  Missing or wrong: 403, nothing processed.
- The sender id in Rasa is ``pseudonym(From, "tw")``; the number is kept in memory
  (``NumberBook``) to send the reply, which goes out through Twilio's REST client in a thread.
  For a conversation with an active hand-off case (the parent's consent) it is also kept in the
  case store, encrypted, so that a professional's reply reaches the parent from any server, also
  after a restart (bot/services/cases/delivery.py); such a reply's delivery is recorded (delivered, or why
  not: Twilio's error 63016 is WhatsApp's 24-hour window).
- Repeated ``MessageSid``s are ignored; a message without text (only media) gets a kind reply.
- Logs hold no number, no pseudonym and no text: only what happened (and error kinds).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from bot import settings
from bot.rasa.channels.input_limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, clean_text
from bot.services import erasure, ratelimit
from bot.services.cases import delivery
from bot.services.cases.delivery import DELIVERED, DELIVERY_KEY, NO_NUMBER, Outcome, ReplyRoutes
from bot.services.pseudonym import NumberBook, Pseudonymizer, RecentIds, default_pseudonymizer

logger = logging.getLogger(__name__)

ONLY_TEXT_REPLY = (
    "Ik kan alleen tekst lezen. Foto's, spraakberichten en bestanden kan ik niet openen. "
    "Wil je je vraag in een paar woorden typen?"
)
PREFIX = "tw"
WINDOW_ERROR_CODES = {63016}  # "outside the allowed window" (WhatsApp through Twilio)


def _setting(credentials: Dict[Text, Any], key: str, env_key: str) -> Optional[str]:
    value = credentials.get(key)
    if value in (None, ""):
        value = getattr(settings.current(), env_key) or None
    return str(value) if value is not None else None


def form_parameters(raw_body: bytes) -> RequestParameters:
    """The form fields as Twilio signed them: every field, blank values kept."""
    try:
        text = (raw_body or b"").decode("utf-8")
    except UnicodeDecodeError:
        return RequestParameters()
    return RequestParameters(parse_qs(text, keep_blank_values=True))


def _truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "ja", "on"}


def _forwarded(request: Request, header: str) -> Optional[str]:
    """The value of an X-Forwarded-* header the nearest proxy set (the last of a list)."""
    values = [v.strip() for v in (request.headers.get(header) or "").split(",") if v.strip()]
    return values[-1] if values else None


def public_url(request: Request, configured: Optional[str], trust_proxy: bool = False) -> str:
    """The URL Twilio requested: the configured public URL (plus query), else rebuilt from the
    request; X-Forwarded-Proto / X-Forwarded-Host only count when the proxy is trusted."""
    query = f"?{request.query_string}" if request.query_string else ""
    if configured:
        return configured.split("?")[0] + query
    scheme, host = request.scheme, request.host
    if trust_proxy:
        scheme = (_forwarded(request, "X-Forwarded-Proto") or scheme).lower()
        host = _forwarded(request, "X-Forwarded-Host") or host
        if scheme == "https" and host.endswith(":443"):
            host = host[:-4]
    return f"{scheme}://{host}{request.path}{query}"


class PseudonymTwilioOutput(TwilioOutput):
    """TwilioOutput that sends to the number behind a pseudonym, without blocking the event loop."""

    def __init__(self, account_sid: Optional[Text], auth_token: Optional[Text],
                 twilio_number: Optional[Text], book: NumberBook,
                 routes: Optional[ReplyRoutes] = None) -> None:
        super().__init__(account_sid, auth_token, twilio_number)
        self.book = book
        self.reply_routes = routes

    def _create(self, data: Dict[Text, Any]) -> Any:
        """Twilio's REST call (blocking; run in a thread)."""
        return self.messages.create(**data)

    async def _number(self, recipient: Any) -> Optional[str]:
        """The number behind a pseudonym: this process's memory, else the case store."""
        if not isinstance(recipient, str):
            return None
        contact = self.book.lookup(recipient)
        if contact is not None:
            return contact.number
        route = await self.reply_routes.route(recipient) if self.reply_routes is not None else None
        return route.number if route is not None else None

    async def _send_checked(self, message_data: Dict[Text, Any]) -> Tuple[Any, Outcome]:
        number = await self._number(message_data.get("to"))
        if number is None:
            logger.warning("twilio: no number known for the recipient; message dropped")
            return None, NO_NUMBER
        data = {**message_data, "to": number}
        try:
            return await asyncio.to_thread(self._create, data), DELIVERED
        except TwilioRestException as error:
            logger.error("twilio: sending failed (status %s, code %s)", error.status, error.code)
            return None, delivery.refused(error.code or error.status, WINDOW_ERROR_CODES)
        except Exception as error:  # network and the like; never the content
            logger.error("twilio: sending failed (%s)", type(error).__name__)
        return None, delivery.unreachable()

    async def _send_message(self, message_data: Dict[Text, Any]) -> Any:
        message, _ = await self._send_checked(message_data)
        return message

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Rasa's way (a part per paragraph); a professional's reply (``DELIVERY_KEY``, from the
        console) has its outcome recorded."""
        outcomes = []
        for part in text.strip().split("\n\n"):
            _, outcome = await self._send_checked({"to": recipient_id, "from_": self.twilio_number, "body": part})
            outcomes.append(outcome)
        delivery_id = kwargs.get(DELIVERY_KEY)
        if delivery_id and self.reply_routes is not None:
            await self.reply_routes.settle(delivery_id, delivery.first_failure(outcomes))


class SignedTwilioInput(TwilioInput):
    """Twilio (SMS / WhatsApp via Twilio) that only accepts requests signed by Twilio."""

    output_class = PseudonymTwilioOutput

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        c = credentials or {}
        return cls(
            _setting(c, "account_sid", "TWILIO_ACCOUNT_SID"),
            _setting(c, "auth_token", "TWILIO_AUTH_TOKEN"),
            _setting(c, "twilio_number", "TWILIO_NUMBER"),
            webhook_url=_setting(c, "webhook_url", "TWILIO_WEBHOOK_URL"),
            trust_proxy=_truthy(_setting(c, "trust_proxy", "TWILIO_TRUST_PROXY")),
            routes=delivery.default_routes(),
        )

    def __init__(self, account_sid: Optional[Text], auth_token: Optional[Text],
                 twilio_number: Optional[Text], debug_mode: bool = False,
                 webhook_url: Optional[str] = None, pseudonymizer: Optional[Pseudonymizer] = None,
                 book: Optional[NumberBook] = None,
                 limiter: Optional[ratelimit.RateLimiter] = None, trust_proxy: bool = False,
                 routes: Optional[ReplyRoutes] = None) -> None:
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=debug_mode)
        self.reply_routes = routes
        self.trust_proxy = trust_proxy
        self.limiter = limiter or ratelimit.default_limiter()
        self.webhook_url = webhook_url
        self._pseudonymizer = pseudonymizer
        self.book = book or NumberBook()
        erasure.on_erasure(self.book.forget)  # "wis mijn gegevens" forgets the number too
        self.recent = RecentIds(10_000)

    @property
    def pseudonymizer(self) -> Pseudonymizer:
        if self._pseudonymizer is None:
            self._pseudonymizer = default_pseudonymizer()
        return self._pseudonymizer

    def get_output_channel(self) -> OutputChannel:
        return self.output_class(self.account_sid, self.auth_token, self.twilio_number, self.book, self.reply_routes)

    def signed(self, request: Request, params: RequestParameters) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        if not self.auth_token or not signature:
            return False
        validator = RequestValidator(self.auth_token)
        return bool(validator.validate(public_url(request, self.webhook_url, self.trust_proxy), params, signature))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        if not self.auth_token:
            logger.info("twilio: no auth token configured; the Twilio channel is off")
            return webhook

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            params = form_parameters(request.body)
            if not self.signed(request, params):
                logger.warning("twilio: request with a missing or wrong signature refused")
                return response.text("forbidden", status=403)
            number, text = params.get("From"), params.get("Body")
            if not number:
                return response.text("", status=400)
            message_sid = params.get("MessageSid") or params.get("SmsSid")
            if message_sid and self.recent.seen_before(message_sid):
                return response.text("", status=204)
            who = self.pseudonymizer.pseudonym(number, PREFIX)
            self.book.remember(who, number)
            output = self.get_output_channel()
            try:
                if not await self.limiter.admit(self.name(), who, output):
                    return response.text("", status=204)
                if not text or not text.strip():
                    await output.send_text_message(who, ONLY_TEXT_REPLY)
                elif len(text) > MAX_MESSAGE_CHARS:
                    await output.send_text_message(who, TOO_LONG_REPLY)
                else:
                    await on_new_message(UserMessage(clean_text(text.replace("¡", "@")), output, who,
                                                     input_channel=self.name(), metadata={}))
            except Exception as error:  # no text, no number in the log
                logger.error("twilio: message handling failed (%s)", type(error).__name__)
            if self.reply_routes is not None:  # after the turn: it may have opened the case
                await self.reply_routes.note_inbound(who, number)
            return response.text("", status=204)

        return webhook

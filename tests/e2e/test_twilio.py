"""Twilio channel: X-Twilio-Signature checked with twilio's own RequestValidator, numbers pseudonymised."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rasa.core.channels.channel import UserMessage
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from bot.rasa.channels.twilio import PseudonymTwilioOutput, SignedTwilioInput
from bot.services.cases import CaseStore
from bot.services.cases.crypto import ContactCipher
from bot.services.cases.delivery import ReplyRoutes
from bot.services.pseudonym import NumberBook, Pseudonymizer
from tests.support import log_scan
from tests.support.sanic_server import serving

AUTH_TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "0" * 32
NUMBER = "+31612345678"
PSEUDONYMIZER = Pseudonymizer(b"unit-sender-secret")
PUBLIC_URL = "https://opvoedmaatje.voorbeeldstad.nl/webhooks/twilio/webhook"
SENT_TEXTS: set = {"Dank je voor je vraag."}  # every Body the tests post, and the agent's reply


class RecordingOutput(PseudonymTwilioOutput):
    sent: List[Dict[str, Any]] = []

    def _create(self, data: Dict[str, Any]) -> Any:
        RecordingOutput.sent.append(data)
        return {"sid": "SM" + "1" * 32}


class RecordingTwilioInput(SignedTwilioInput):
    output_class = RecordingOutput


class FakeAgent:
    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, "Dank je voor je vraag.")


def channel(**kwargs: Any) -> RecordingTwilioInput:
    settings = dict(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, twilio_number="whatsapp:+14155238886")
    settings.update(kwargs)
    return RecordingTwilioInput(settings.pop("account_sid"), settings.pop("auth_token"),
                                settings.pop("twilio_number"), pseudonymizer=PSEUDONYMIZER, **settings)


def form(body: Optional[str] = "Mijn zoon van 4 bijt", sid: str = "SM" + "a" * 32, **extra: str) -> Dict[str, str]:
    """A WhatsApp-via-Twilio webhook as Twilio posts it (blank fields included)."""
    SENT_TEXTS.add(body or "")
    fields = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Test Ouder", "SmsSid": sid,
              "WaId": NUMBER[1:], "SmsStatus": "received", "Body": body or "", "To": "whatsapp:+14155238886",
              "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
              "From": f"whatsapp:{NUMBER}", "ApiVersion": "2010-04-01", "MessagingServiceSid": ""}
    fields.update(extra)
    return fields


async def post(url: str, fields: Dict[str, str], signature: Optional[str],
               headers: Optional[Dict[str, str]] = None) -> int:
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=urlencode(fields), headers=all_headers) as answer:
            await answer.read()
            return answer.status


def sign(url: str, fields: Dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, fields)


@pytest.fixture(autouse=True)
def _clear_sent() -> None:
    RecordingOutput.sent = []


@pytest.fixture(autouse=True)
def _no_ids_or_content_in_logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Issue 14, item 6: the logs of every test here hold no phone number, sender pseudonym or
    message text (the project's loggers at DEBUG, everything else at INFO, as in production)."""
    log_scan.capture(caplog)
    yield
    forbidden = log_scan.forbidden([NUMBER], SENT_TEXTS, [PSEUDONYMIZER], "tw")
    assert log_scan.leaks(log_scan.captured(caplog), forbidden) == []


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_signed_message_reaches_rasa_under_a_pseudonym_and_the_reply_goes_to_the_number() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form()
            assert await post(url, fields, sign(url, fields)) == 204
        [message] = agent.messages
        assert message.text == "Mijn zoon van 4 bijt"
        assert message.sender_id == PSEUDONYMIZER.pseudonym(NUMBER, "tw")
        assert message.sender_id.startswith("tw-") and "612345678" not in message.sender_id
        assert RecordingOutput.sent == [{"to": f"whatsapp:{NUMBER}", "from_": "whatsapp:+14155238886",
                                         "body": "Dank je voor je vraag."}]
    run(scenario())


@pytest.mark.parametrize("make_signature", [
    lambda url, fields: None,                                          # missing
    lambda url, fields: "",                                            # empty
    lambda url, fields: sign(url, fields, token="0" * 32),            # another account's token
    lambda url, fields: sign(url.replace("/webhook", "/other"), fields),  # signed for another URL
    lambda url, fields: sign(url, {**fields, "Body": "iets anders"}),  # body changed after signing
    lambda url, fields: sign(url, fields)[:-2] + "==",                 # forged
])
def test_unsigned_or_forged_requests_are_refused_and_nothing_is_processed(make_signature: Any) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form()
            assert await post(url, fields, make_signature(url, fields)) == 403
        assert agent.messages == [] and RecordingOutput.sent == []
    run(scenario())


def test_blank_fields_are_part_of_the_signature() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form(MediaContentType0="", OriginalRepliedMessageSid="")
            assert await post(url, fields, sign(url, fields)) == 204
            without_blanks = {k: v for k, v in fields.items() if v}
            assert await post(url, fields, sign(url, without_blanks)) == 403
        assert len(agent.messages) == 1
    run(scenario())


def test_the_configured_public_url_is_what_the_signature_covers() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(webhook_url=PUBLIC_URL), agent) as url:
            fields = form()
            assert await post(url, fields, sign(url, fields)) == 403            # the internal URL
            assert await post(url, fields, sign(PUBLIC_URL, fields)) == 204     # the public URL
        assert len(agent.messages) == 1
    run(scenario())


def test_behind_a_trusted_proxy_the_forwarded_scheme_and_host_are_used() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(trust_proxy=True), agent) as url:
            fields = form()
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "opvoedmaatje.voorbeeldstad.nl"}
            assert await post(url, fields, sign(PUBLIC_URL, fields), headers) == 204
        assert len(agent.messages) == 1
    run(scenario())


def test_a_tls_terminating_proxy_without_a_webhook_url_works_when_trusted() -> None:
    """Issue 15: nginx terminates TLS and passes the Host on, with X-Forwarded-Proto: https."""
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(trust_proxy=True), agent) as url:
            fields = form(sid="SM" + "b" * 32)
            public = url.replace("http://", "https://")  # same host and port, the scheme the parent's side used
            assert await post(url, fields, sign(public, fields), {"X-Forwarded-Proto": "https"}) == 204
            fields = form(sid="SM" + "c" * 32)  # a client-supplied value before the proxy's own one
            assert await post(url, fields, sign(public, fields), {"X-Forwarded-Proto": "http, https"}) == 204
        assert len(agent.messages) == 2
    run(scenario())


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted() -> None:
    """Issue 15: without TWILIO_TRUST_PROXY, X-Forwarded-* cannot choose the URL the signature covers."""
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form()
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "opvoedmaatje.voorbeeldstad.nl"}
            assert await post(url, fields, sign(PUBLIC_URL, fields), headers) == 403
            assert await post(url, fields, sign(url, fields), headers) == 204  # the URL it was really sent to
        assert len(agent.messages) == 1
    run(scenario())


def test_the_trusted_proxy_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.delenv("TWILIO_TRUST_PROXY", raising=False)
    assert SignedTwilioInput.from_credentials({}).trust_proxy is False
    monkeypatch.setenv("TWILIO_TRUST_PROXY", "true")
    assert SignedTwilioInput.from_credentials({}).trust_proxy is True


def test_a_repeated_message_sid_is_processed_once() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form()
            for _ in range(3):
                assert await post(url, fields, sign(url, fields)) == 204
        assert len(agent.messages) == 1
    run(scenario())


def test_a_media_message_without_text_gets_the_text_only_reply() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(), agent) as url:
            fields = form(body="", NumMedia="1", MediaContentType0="image/jpeg",
                          MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME")
            assert await post(url, fields, sign(url, fields)) == 204
        assert agent.messages == []
        [sent] = RecordingOutput.sent
        assert "alleen tekst" in sent["body"] and sent["to"] == f"whatsapp:{NUMBER}"
    run(scenario())


def test_without_an_auth_token_the_channel_serves_nothing() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(channel(auth_token=None), agent) as url:
            assert await post(url, form(), "x") == 404
        assert agent.messages == []
    run(scenario())


def test_logs_hold_neither_the_number_nor_the_text(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with serving(channel(), FakeAgent()) as url:
            fields = form(body="mijn dochter Sanne")
            await post(url, fields, sign(url, fields))
            await post(url, fields, "forged")
    with caplog.at_level(logging.DEBUG, logger="bot.rasa.channels"):
        run(scenario())
    assert "612345678" not in caplog.text and "Sanne" not in caplog.text
    assert "signature" in caplog.text


def test_failures_are_logged_without_the_pseudonym_or_the_number(caplog: pytest.LogCaptureFixture) -> None:
    class FailingAgent:
        async def handle_message(self, message: UserMessage) -> None:
            raise RuntimeError(f"kapot voor {message.sender_id}")  # never logged: only the kind

    async def scenario() -> None:
        async with serving(channel(), FailingAgent()) as url:
            fields = form(body="mijn zoon huilt de hele nacht")
            assert await post(url, fields, sign(url, fields)) == 204
        output = channel().get_output_channel()
        SENT_TEXTS.add("Een bericht voor niemand")
        await output.send_text_message(PSEUDONYMIZER.pseudonym(NUMBER, "tw"), "Een bericht voor niemand")
    run(scenario())
    assert "message handling failed (RuntimeError)" in caplog.text
    assert "no number known" in caplog.text and RecordingOutput.sent == []
    # the autouse fixture checks that neither the pseudonym nor the number nor the text is there
    assert PSEUDONYMIZER.pseudonym(NUMBER, "tw") not in caplog.text


def test_from_credentials_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_NUMBER", "+3197010000000")
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", PUBLIC_URL)
    made = SignedTwilioInput.from_credentials({})
    assert (made.account_sid, made.auth_token, made.twilio_number, made.webhook_url) == \
        (ACCOUNT_SID, AUTH_TOKEN, "+3197010000000", PUBLIC_URL)
    assert made.name() == "twilio"
    from_file = SignedTwilioInput.from_credentials({"auth_token": "other"})
    assert from_file.auth_token == "other"


def test_slash_text_is_ordinary_text_and_a_crisis_is_answered_by_the_real_model() -> None:
    """Issue 13: through Twilio, "/"-text that is no payload of the assistant's goes through crisis
    detection (the trained model, in-process; crisis replies need no action server)."""
    from rasa.core.agent import Agent

    from bot.domain import situations
    from tests.support.assistant import MODEL

    async def scenario() -> None:
        agent = Agent.load(str(MODEL))
        async with serving(channel(), agent) as url:
            fields = form(body="/greet{} mijn man slaat de baby", sid="SM" + "b" * 32)
            assert await post(url, fields, sign(url, fields)) == 204
        bodies = [m["body"] for m in RecordingOutput.sent]
        assert situations.reply("mishandeling") in bodies, bodies
        tracker = await agent.tracker_store.retrieve(PSEUDONYMIZER.pseudonym(NUMBER, "tw"))
        assert tracker.get_slot("situation") == "mishandeling"
    run(scenario())


# --- a professional's reply from any server (issue 14, item 5) ------------------------------------


class OpeningAgent(FakeAgent):
    """Like action_open_case: the parent's message opens a case (with consent, answered here)."""

    def __init__(self, store: CaseStore) -> None:
        super().__init__()
        self.store = store

    async def handle_message(self, message: UserMessage) -> None:
        self.store.create_case(conversation_id=message.sender_id, severity="aandacht", channel="twilio")
        await super().handle_message(message)


class RefusingOutput(RecordingOutput):
    """Twilio refuses: WhatsApp's 24-hour window has closed (error 63016)."""

    def _create(self, data: Dict[str, Any]) -> Any:
        raise TwilioRestException(400, "https://api.twilio.com/2010-04-01/Messages.json",
                                  msg="Failed to send freeform message because you are outside the allowed window.",
                                  code=63016)


def test_a_professional_reply_reaches_a_twilio_parent_from_another_server(tmp_path: Any) -> None:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}", cipher=ContactCipher([Fernet.generate_key()]))
    routes = ReplyRoutes(store)
    who = PSEUDONYMIZER.pseudonym(NUMBER, "tw")
    SENT_TEXTS.update({"Hoi, ik ben Sanne van het CJG.", "Ben je er nog?"})

    async def say(output: PseudonymTwilioOutput, text: str) -> Any:
        tracked = store.start_delivery(store.active_case_for(who).id)
        await output.send_text_message(who, text, opvoedmaatje_delivery=tracked.id)
        return store.delivery(tracked.id)

    async def scenario() -> Any:
        async with serving(channel(routes=routes), OpeningAgent(store)) as url:
            fields = form(body="Ik wil graag iemand spreken", sid="SM" + "c" * 32)
            assert await post(url, fields, sign(url, fields)) == 204
        other = channel(routes=routes).get_output_channel()  # another server: nothing in memory
        delivered = await say(other, "Hoi, ik ben Sanne van het CJG.")
        refused = await say(RefusingOutput(ACCOUNT_SID, AUTH_TOKEN, "whatsapp:+14155238886", NumberBook(), routes),
                            "Ben je er nog?")
        return delivered, refused
    delivered, refused = run(scenario())
    assert RecordingOutput.sent[-1] == {"to": f"whatsapp:{NUMBER}", "from_": "whatsapp:+14155238886",
                                        "body": "Hoi, ik ben Sanne van het CJG."}
    assert delivered.delivered
    assert (refused.status, refused.reason, refused.code) == ("not_delivered", "window", 63016)
    with store.engine.connect() as connection:
        [token] = [r[0] for r in connection.execute(sa.text("SELECT reply_number FROM cases"))]
    assert token.startswith("gAAAAA") and NUMBER[3:] not in token

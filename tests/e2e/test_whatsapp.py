"""WhatsApp (Meta Cloud API) channel: webhook security, parsing, replies, against real HTTP.

Unit tests run the channel's Sanic blueprint in-process (registered the way Rasa registers it,
with a fake agent) and a local Graph API stand-in (tests/support/graph_standin.py). The ``test_e2e_*``
tests post real-format webhooks to the running assistant (session fixture of tests/support/assistant.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional

import aiohttp
import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rasa.core.channels.channel import UserMessage

from bot.rasa.channels import whatsapp as wa
from bot.services.cases import CaseStore
from bot.services.cases.crypto import ContactCipher
from bot.services.cases.delivery import ReplyRoutes
from bot.services.pseudonym import NumberBook, Pseudonymizer
from bot.services.ratelimit import LIMITED_REPLY, RateLimiter
from tests.support import log_scan
from tests.support.graph_standin import GraphStandIn, shape_problems
from tests.support.pg_schema import store_urls
from tests.support.sanic_server import free_port, serving
from tests.support.web_fixture import CHANNEL_ENV
from tests.support.whatsapp import NUMBER, PHONE_ID, SECRET, sign, webhook

VERIFY = "unit-verify-token"
TOKEN = "unit-access-token"
PSEUDONYMIZER = Pseudonymizer(b"unit-sender-secret")


# ---------------------------------------------------------------- helpers


# what the tests send, so that the log scan below can look for it
SENT_NUMBERS: set = {NUMBER}
SENT_TEXTS: set = set()


def _base(number: str, message_id: Optional[str], timestamp: Optional[float]) -> Dict[str, Any]:
    SENT_NUMBERS.add(number)
    return {"from": number, "id": message_id or f"wamid.{uuid.uuid4().hex}",
            "timestamp": str(int(timestamp if timestamp is not None else time.time()))}


def text_message(body: str, message_id: Optional[str] = None, number: str = NUMBER,
                 timestamp: Optional[float] = None) -> Dict[str, Any]:
    SENT_TEXTS.add(body)
    return {**_base(number, message_id, timestamp), "type": "text", "text": {"body": body}}


def button_reply(reply_id: str, title: str, number: str = NUMBER) -> Dict[str, Any]:
    return {**_base(number, None, None), "type": "interactive",
            "context": {"from": "15550001234", "id": "wamid.previous"},
            "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}}


def list_reply(reply_id: str, title: str, number: str = NUMBER) -> Dict[str, Any]:
    return {**_base(number, None, None), "type": "interactive",
            "context": {"from": "15550001234", "id": "wamid.previous"},
            "interactive": {"type": "list_reply",
                            "list_reply": {"id": reply_id, "title": title, "description": ""}}}


def image_message(number: str = NUMBER) -> Dict[str, Any]:
    return {**_base(number, None, None), "type": "image",
            "image": {"caption": "kijk eens", "mime_type": "image/jpeg",
                      "sha256": "a" * 64, "id": "1234567890"}}


def audio_message(number: str = NUMBER) -> Dict[str, Any]:
    return {**_base(number, None, None), "type": "audio",
            "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "b" * 64, "id": "987", "voice": True}}


def status_update(status: str = "delivered") -> Dict[str, Any]:
    return {"id": f"wamid.{uuid.uuid4().hex}", "status": status, "timestamp": str(int(time.time())),
            "recipient_id": NUMBER,
            "conversation": {"id": "c1", "origin": {"type": "service"}},
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}


class FakeAgent:
    """Stands in for Rasa's agent: records messages, answers with a text and buttons."""

    def __init__(self, delay: float = 0.0, buttons: Optional[List[Dict[str, str]]] = None) -> None:
        self.messages: List[UserMessage] = []
        self.delay = delay
        self.buttons = buttons

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.buttons:
            await message.output_channel.send_text_with_buttons(message.sender_id, "Kies maar.", self.buttons)
        else:
            await message.output_channel.send_text_message(message.sender_id, "Dank je voor je vraag.")


def make_channel(graph: GraphStandIn, attempts: int = 4, clock: Any = time.time,
                 limiter: Optional[RateLimiter] = None, routes: Optional[ReplyRoutes] = None,
                 **config: Any) -> wa.WhatsAppInput:
    settings = dict(app_secret=SECRET, verify_token=VERIFY, access_token=TOKEN,
                    phone_number_id=PHONE_ID, api_base=graph.base_url)
    settings.update(config)
    cfg = wa.WhatsAppConfig(**settings)
    state = wa.ChannelState(config=cfg, book=NumberBook(clock=clock),
                            client=wa.GraphClient(cfg, attempts=attempts, backoff=0.01, max_backoff=0.05),
                            clock=clock, routes=routes)
    return wa.WhatsAppInput(cfg, pseudonymizer=PSEUDONYMIZER, state=state,
                            limiter=limiter or RateLimiter(per_minute=0))


async def post(http: aiohttp.ClientSession, url: str, body: Any, signature: Optional[str] = "sign",
               raw: Optional[bytes] = None) -> aiohttp.ClientResponse:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(data)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with http.post(url, data=data, headers=headers) as answer:
        await answer.read()
        return answer


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def graph() -> Any:
    with GraphStandIn(TOKEN, PHONE_ID) as standin:
        yield standin


@pytest.fixture(autouse=True)
def _fresh_graph(request: pytest.FixtureRequest) -> None:
    if "graph" in request.fixturenames:
        request.getfixturevalue("graph").reset()


AGENT_TEXTS = ("Dank je voor je vraag.", "Kies maar.", "Hoe gaat het nu?", "Nog een bericht",
               "Binnen het venster", "Een medewerker belt je morgen.")
TEST_RECIPIENTS = ("wa-handoff", "wa-unknown")


@pytest.fixture(autouse=True)
def _no_ids_or_content_in_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Any:
    """Issue 14, item 6: every test of this module runs with its logs captured (the channel's own
    loggers at DEBUG, everything else at INFO, as in production), and afterwards the logs hold no
    phone number, no sender pseudonym and no message text. End-to-end tests also scan the
    running assistant's logs."""
    log_scan.capture(caplog)
    yield
    forbidden = log_scan.forbidden(SENT_NUMBERS, SENT_TEXTS | set(AGENT_TEXTS), [PSEUDONYMIZER], "wa")
    assert log_scan.leaks(log_scan.captured(caplog), forbidden + list(TEST_RECIPIENTS)) == []
    if "assistant" in request.fixturenames:
        e2e = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode())
        server_logs = request.getfixturevalue("assistant").logs()
        assert log_scan.leaks(server_logs, log_scan.forbidden(SENT_NUMBERS, SENT_TEXTS, [e2e], "wa")) == []


# ---------------------------------------------------------------- signatures and handshake


@pytest.mark.parametrize("header,ok", [
    (lambda raw: sign(raw), True),
    (lambda raw: sign(raw, "another-secret"), False),            # forged with a wrong secret
    (lambda raw: sign(raw + b" "), False),                       # body changed after signing
    (lambda raw: sign(raw).replace("sha256=", "sha1="), False),  # wrong scheme
    (lambda raw: sign(raw)[:-1], False),                         # truncated
    (lambda raw: "", False),                                     # empty
    (lambda raw: None, False),                                   # missing
    (lambda raw: "sha256=" + "é" * 64, False),                   # non-ascii garbage
])
def test_signature_check(header: Any, ok: bool) -> None:
    raw = json.dumps(webhook(text_message("hallo"))).encode()
    assert wa.valid_signature(SECRET, raw, header(raw)) is ok


def test_signature_check_refuses_everything_without_a_secret() -> None:
    raw = b"{}"
    assert not wa.valid_signature("", raw, sign(raw, ""))


@pytest.mark.parametrize("params,status", [
    ({"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 200),
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 403),
    ({"hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "subscribe", "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "subscribe", "hub.verify_token": VERIFY}, 403),
    ({}, 403),
])
def test_verify_handshake(graph: GraphStandIn, params: Dict[str, str], status: int) -> None:
    async def scenario() -> None:
        async with serving(make_channel(graph), FakeAgent()) as url, aiohttp.ClientSession() as http:
            async with http.get(url, params=params) as answer:
                assert answer.status == status
                if status == 200:
                    assert await answer.text() == "1158201444"
                    assert answer.headers["Content-Type"].startswith("text/plain")
    run(scenario())


def test_verify_handshake_refused_when_no_verify_token_is_configured(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        channel = make_channel(graph, verify_token="")
        async with serving(channel, FakeAgent()) as url, aiohttp.ClientSession() as http:
            async with http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "",
                                             "hub.challenge": "1"}) as answer:
                assert answer.status == 403
    run(scenario())


# ---------------------------------------------------------------- inbound webhook over HTTP


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, None, "", "forged"])
def test_forged_or_missing_signature_is_refused_and_nothing_is_processed(graph: GraphStandIn,
                                                                          signature: Optional[str]) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            answer = await post(http, url, webhook(text_message("hallo"), image_message()), signature=signature)
            assert answer.status == 403
        assert agent.messages == []
        assert graph.attempts == 0
    run(scenario())


def test_signature_of_another_app_secret_is_refused(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        raw = json.dumps(webhook(text_message("hallo"))).encode()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            answer = await post(http, url, None, raw=raw, signature=sign(raw, "not-our-secret"))
            assert answer.status == 403
        assert agent.messages == []
    run(scenario())


@pytest.mark.parametrize("raw", [b"not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b'{"object": "x"}',
                                 b'{"entry": "nope"}'])
def test_wrong_json_with_a_good_signature_is_400(graph: GraphStandIn, raw: bytes) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            answer = await post(http, url, None, raw=raw)
            assert answer.status == 400
        assert agent.messages == []
    run(scenario())


def test_text_message_reaches_rasa_under_a_pseudonym_and_the_reply_goes_to_the_number(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            answer = await post(http, url, webhook(text_message("Mijn zoon van 3 slaapt slecht")))
            assert answer.status == 200
        [message] = agent.messages
        assert message.text == "Mijn zoon van 3 slaapt slecht"
        assert message.sender_id == PSEUDONYMIZER.pseudonym(NUMBER, "wa")
        assert NUMBER not in message.sender_id and "612345678" not in message.sender_id
        assert message.input_channel == "whatsapp"
        assert NUMBER not in json.dumps(message.metadata or {})
        [sent] = graph.sent
        assert sent["to"] == NUMBER and sent["type"] == "text"
        assert sent["text"]["body"] == "Dank je voor je vraag."
    run(scenario())


@pytest.mark.parametrize("message,payload", [
    (button_reply("/more_tips", "Meer tips"), "/more_tips"),
    (list_reply("/support_nearby", "Hulp in de buurt"), "/support_nearby"),
    ({**_base(NUMBER, None, None), "type": "button",
      "button": {"payload": "/greet", "text": "Verder praten"}}, "/greet"),
])
def test_interactive_replies_are_sent_to_rasa_as_their_payload(graph: GraphStandIn, message: Dict[str, Any],
                                                               payload: str) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, webhook(message))).status == 200
        assert [m.text for m in agent.messages] == [payload]
    run(scenario())


@pytest.mark.parametrize("message", [image_message(), audio_message(),
                                     {**_base(NUMBER, None, None), "type": "sticker", "sticker": {"id": "1"}},
                                     {**_base(NUMBER, None, None), "type": "location",
                                      "location": {"latitude": 52.1, "longitude": 5.1}},
                                     {**_base(NUMBER, None, None), "type": "unsupported",
                                      "errors": [{"code": 131051, "title": "Message type unknown"}]}])
def test_media_and_other_messages_get_the_text_only_reply(graph: GraphStandIn, message: Dict[str, Any]) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, webhook(message))).status == 200
        assert agent.messages == []
        [sent] = graph.sent
        assert sent["to"] == NUMBER and "alleen tekst" in sent["text"]["body"]
    run(scenario())


def test_status_updates_are_ignored(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            body = webhook(statuses=[status_update("sent"), status_update("delivered"), status_update("read")])
            assert (await post(http, url, body)).status == 200
        assert agent.messages == [] and graph.attempts == 0
    run(scenario())


def test_a_duplicate_delivery_is_processed_once(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        body = webhook(text_message("hallo", message_id="wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQUZG"))
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            for _ in range(3):
                assert (await post(http, url, body)).status == 200
        assert len(agent.messages) == 1
        assert len(graph.sent) == 1
    run(scenario())


def test_a_delivery_whose_message_is_older_than_the_window_is_ignored(graph: GraphStandIn) -> None:
    """Issue 15: a signed body replayed a day later (or a very late redelivery) is not processed,
    even by a process that never saw its id; a recent one still is."""
    async def scenario() -> None:
        agent = FakeAgent()
        old = webhook(text_message("oud bericht", timestamp=time.time() - 2 * 24 * 3600))
        recent = webhook(text_message("nieuw bericht", timestamp=time.time() - 60))
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, old)).status == 200
            assert (await post(http, url, recent)).status == 200
        assert [m.text for m in agent.messages] == ["nieuw bericht"]
    run(scenario())


def test_the_window_is_a_setting() -> None:
    cfg = wa.WhatsAppConfig.from_env({"max_message_age": "600"})
    assert cfg.max_message_age == 600
    assert wa.WhatsAppConfig.from_env({"max_message_age": "nonsense"}).max_message_age == 24 * 3600
    state = wa.ChannelState(config=cfg, book=NumberBook(), client=wa.GraphClient(cfg))
    assert state.recent is not None and state.recent.window == 600


def test_the_memory_of_message_ids_forgets_ids_past_the_window_and_stays_bounded() -> None:
    now = [1_000_000.0]
    recent = wa.RecentMessages(window=3600, max_entries=100, clock=lambda: now[0])
    assert recent.classify("a", now[0]) == "new"
    assert recent.classify("a", now[0]) == "repeat"
    now[0] += 1800
    assert recent.classify("a", now[0] - 1800) == "repeat", "a redelivery inside the window"
    now[0] += 1801
    assert recent.classify("a", now[0] - 3601) == "stale", "the same id past the window: by its timestamp"
    assert len(recent) == 0, "ids past the window are forgotten"
    for i in range(1000):
        assert recent.classify(f"id{i}", now[0]) == "new"
    assert len(recent) == 100


def test_a_message_for_another_phone_number_id_is_left_out_with_a_warning(
        graph: GraphStandIn, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, webhook(text_message("hallo"), phone_number_id="999"))).status == 200
            assert (await post(http, url, webhook(text_message("goedemorgen")))).status == 200
        assert [m.text for m in agent.messages] == ["goedemorgen"]  # only our own number's parent
    with caplog.at_level(logging.WARNING, logger="bot.rasa.channels.whatsapp"):
        run(scenario())
    assert any("another phone number id" in r.getMessage() for r in caplog.records)


def test_the_webhook_answers_before_the_message_is_processed(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent(delay=1.5)
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            started = time.monotonic()
            assert (await post(http, url, webhook(text_message("hallo")))).status == 200
            assert time.monotonic() - started < 1.0
        assert len(agent.messages) == 1 and len(graph.sent) == 1
    run(scenario())


def test_several_messages_in_one_delivery_keep_their_order(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        body = webhook(text_message("een"), text_message("twee"), text_message("drie"))
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, body)).status == 200
        assert [m.text for m in agent.messages] == ["een", "twee", "drie"]
    run(scenario())


def test_very_long_text_gets_the_too_long_reply_and_is_not_processed(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, webhook(text_message("a" * 1_000_000)))).status == 200
        assert agent.messages == []
        [sent] = graph.sent
        assert "lang" in sent["text"]["body"]
    run(scenario())


def test_a_sender_over_the_rate_limit_is_told_once_and_not_processed(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        channel = make_channel(graph, limiter=RateLimiter(per_minute=2))
        body = webhook(*(text_message(f"bericht {i}") for i in range(5)))
        other = webhook(text_message("van een andere ouder", number="31699999999"), number="31699999999")
        async with serving(channel, agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, body)).status == 200
            assert (await post(http, url, other)).status == 200
        flooding = PSEUDONYMIZER.pseudonym(NUMBER, "wa")
        assert [m.text for m in agent.messages if m.sender_id == flooding] == ["bericht 0", "bericht 1"]
        assert [m.text for m in agent.messages if m.sender_id != flooding] == ["van een andere ouder"]
        bodies = [sent["text"]["body"] for sent in graph.sent if sent.get("type") == "text"]
        assert bodies.count(wa.whatsapp_text(LIMITED_REPLY)) == 1
        assert "113" in LIMITED_REPLY and "112" in LIMITED_REPLY
    run(scenario())


def test_a_typed_number_selects_an_option_offered_as_numbered_text(graph: GraphStandIn) -> None:
    options = [{"title": f"Optie nummer {i} met een hele lange titel", "payload": f"/choice_{i}"} for i in range(1, 5)]

    async def scenario() -> None:
        agent = FakeAgent(buttons=options)
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            await post(http, url, webhook(text_message("hallo")))
            await asyncio.sleep(0.2)
            await post(http, url, webhook(text_message("2")))
        assert [m.text for m in agent.messages] == ["hallo", "/choice_2"]
        assert "1. Optie nummer 1" in graph.sent[0]["text"]["body"]
    run(scenario())


@pytest.mark.parametrize("numbered,answer,expected", [
    (True, "2", "/support_nearby"),
    (True, " 2. ", "/support_nearby"),
    (True, "3", "3"),                      # no third option
    (False, "2", "2"),                     # buttons were sent: a number is just text
    (False, "meer TIPS", "/more_tips"),    # a typed button title counts as the button
    (True, "ik wil meer tips", "ik wil meer tips"),
])
def test_option_memory(numbered: bool, answer: str, expected: str) -> None:
    memory = wa.OptionMemory()
    memory.offer("wa-1", [("Meer tips", "/more_tips"), ("Hulp in de buurt", "/support_nearby")], numbered)
    assert memory.resolve("wa-1", answer) == expected
    assert memory.resolve("wa-1", answer) == answer  # an offer is used once


def test_option_memory_forgets_after_its_ttl() -> None:
    now = [1000.0]
    memory = wa.OptionMemory(ttl=60, clock=lambda: now[0])
    memory.offer("wa-1", [("Meer tips", "/more_tips")], True)
    now[0] += 61
    assert memory.resolve("wa-1", "1") == "1"


def test_without_an_app_secret_the_channel_serves_nothing(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        async with serving(make_channel(graph, app_secret=""), agent) as url, aiohttp.ClientSession() as http:
            assert (await post(http, url, webhook(text_message("hallo")), signature=sign(b"", ""))).status == 404
            async with http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                             "hub.challenge": "1"}) as answer:
                assert answer.status == 404
        assert agent.messages == []
    run(scenario())


def test_from_credentials_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s1")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "v1")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "t1")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "42")
    monkeypatch.delenv("WHATSAPP_API_BASE", raising=False)
    monkeypatch.delenv("WHATSAPP_TEMPLATE", raising=False)
    channel = wa.WhatsAppInput.from_credentials({})
    assert channel.name() == "whatsapp" and channel.url_prefix() == "whatsapp"
    cfg = channel.config
    assert (cfg.app_secret, cfg.verify_token, cfg.access_token, cfg.phone_number_id) == ("s1", "v1", "t1", "42")
    assert cfg.api_base == "https://graph.facebook.com/v21.0"
    assert cfg.template == "opvoedmaatje_followup"
    monkeypatch.delenv("WHATSAPP_APP_SECRET")
    assert not wa.WhatsAppInput.from_credentials(None).config.enabled


# ---------------------------------------------------------------- parsing


def test_parse_webhook_reads_every_kind_in_order() -> None:
    body = webhook(text_message("hoi", message_id="m1"), button_reply("/affirm", "Ja"), image_message(),
                   statuses=[status_update()])
    found = wa.parse_webhook(body, PHONE_ID)
    assert [(m.kind, m.text) for m in found] == [("text", "hoi"), ("payload", "/affirm"), ("unsupported", "")]
    assert found[0].message_id == "m1" and found[0].number == NUMBER


@pytest.mark.parametrize("message", [
    {"type": "text", "text": {"body": "x"}},                        # no id, no from
    {**_base(NUMBER, None, None), "type": "reaction", "reaction": {"message_id": "m", "emoji": "👍"}},
    "garbage", 42, None,
])
def test_parse_webhook_skips_what_is_not_a_parent_message(message: Any) -> None:
    assert wa.parse_webhook(webhook(message), PHONE_ID) == []


@pytest.mark.parametrize("body", [None, [], "x", {}, {"entry": None}, {"entry": {}}])
def test_parse_webhook_refuses_what_is_no_webhook(body: Any) -> None:
    with pytest.raises(wa.PayloadError):
        wa.parse_webhook(body, PHONE_ID)


def test_parse_webhook_survives_odd_inner_shapes() -> None:
    body = {"entry": [None, {"changes": "x"}, {"changes": [None, {"value": []}, {"value": {"messages": "x"}}]}]}
    assert wa.parse_webhook(body, PHONE_ID) == []


# ---------------------------------------------------------------- outbound shaping


@pytest.mark.parametrize("size", [1, 4096, 4097, 10_000, 100_000])
def test_split_text_keeps_every_word_and_the_limit(size: int) -> None:
    words = ("Slaap is belangrijk. " * (size // 20 + 1))[:size]
    pieces = wa.split_text(words)
    assert all(0 < len(p) <= wa.MAX_TEXT_CHARS for p in pieces)
    assert " ".join(pieces).split() == words.split()


def test_split_text_prefers_paragraph_breaks() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert wa.split_text(f"{first}\n\n{second}") == [first, second]


def test_split_text_cuts_a_text_without_spaces_hard_and_handles_emoji() -> None:
    pieces = wa.split_text("😀" * 9000)
    assert [len(p) for p in pieces] == [4096, 4096, 808]
    assert wa.split_text("") == [] and wa.split_text("   ") == []


def _buttons(n: int, title: str = "Knop") -> List[Dict[str, str]]:
    return [{"title": f"{title} {i}", "payload": f"/option_{i}"} for i in range(1, n + 1)]


@pytest.mark.parametrize("buttons,kind", [
    (_buttons(1), "button"),
    (_buttons(3), "button"),
    ([{"title": "Meer tips", "payload": "/more_tips"}, {"title": "Hulp in de buurt", "payload": "/support_nearby"},
      {"title": "Praat met iemand", "payload": "/ask_human"}], "button"),
    (_buttons(4), "list"),
    (_buttons(10), "list"),
    ([{"title": "Eenentwintig tekens!!", "payload": "/a"}, {"title": "Kort", "payload": "/b"}], "list"),  # 21 > 20
    (_buttons(11), "numbered"),
    ([{"title": "Een titel van meer dan 24 tekens", "payload": "/a"}], "numbered"),
])
def test_buttons_become_reply_buttons_a_list_or_numbered_text(buttons: List[Dict[str, str]], kind: str) -> None:
    bodies, numbered = wa.message_bodies("Wat wil je nu?", wa._buttons(buttons))
    for body in bodies:
        assert shape_problems({"messaging_product": "whatsapp", "to": NUMBER, **body}) == []
    last = bodies[-1]
    if kind == "numbered":
        assert numbered and last["type"] == "text"
        for i, b in enumerate(buttons, 1):
            assert f"{i}. {b['title']}" in last["text"]["body"]
    else:
        assert not numbered and last["type"] == "interactive" and last["interactive"]["type"] == kind
        ids = ([b["reply"]["id"] for b in last["interactive"]["action"].get("buttons", [])]
               or [r["id"] for s in last["interactive"]["action"].get("sections", []) for r in s["rows"]])
        assert ids == [b["payload"] for b in buttons]


def test_a_long_text_with_buttons_goes_out_as_text_then_the_buttons() -> None:
    text = "Een lange uitleg. " * 200  # 3600 characters: too long for an interactive body
    bodies, _ = wa.message_bodies(text, [("Meer tips", "/more_tips")])
    assert [b["type"] for b in bodies] == ["text", "interactive"]
    assert bodies[0]["text"]["body"] == text.strip()
    assert bodies[1]["interactive"]["body"]["text"] == wa.OPTIONS_PROMPT


def test_markdown_links_are_written_out() -> None:
    assert wa.whatsapp_text("Kijk op [Thuisarts](https://www.thuisarts.nl) of **bel**.") == \
        "Kijk op Thuisarts: https://www.thuisarts.nl of *bel*."


# ---------------------------------------------------------------- output channel against the stand-in


def _output(graph: GraphStandIn, attempts: int = 4, now: Optional[float] = None) -> wa.WhatsAppOutput:
    clock = (lambda: now) if now is not None else time.time
    return make_channel(graph, attempts=attempts, clock=clock).get_output_channel()  # type: ignore[return-value]


def test_replies_carry_the_bearer_token_and_a_valid_shape(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        out = _output(graph)
        who = PSEUDONYMIZER.pseudonym(NUMBER)
        out.state.book.remember(who, NUMBER)
        await out.send_response(who, {"text": "Hoi", "buttons": [{"title": "Meer tips", "payload": "/more_tips"}]})
        await out.send_response(who, {"text": "x " * 3000})
        await out.state.client.close()
    run(scenario())
    assert graph.rejected == []
    assert [m["type"] for m in graph.sent] == ["interactive", "text", "text"]
    assert all(m["to"] == NUMBER and m["messaging_product"] == "whatsapp" for m in graph.sent)


def test_a_wrong_access_token_is_not_retried(graph: GraphStandIn) -> None:
    async def scenario() -> None:
        channel = make_channel(graph, access_token="wrong-token")
        who = PSEUDONYMIZER.pseudonym(NUMBER)
        channel.state.book.remember(who, NUMBER)
        await channel.get_output_channel().send_text_message(who, "Hoi")
        await channel.state.client.close()
    run(scenario())
    assert graph.sent == [] and graph.attempts == 1


def test_outside_the_24_hour_window_a_template_is_sent_once_and_the_text_withheld(graph: GraphStandIn) -> None:
    now = 1_800_000_000.0
    who = PSEUDONYMIZER.pseudonym(NUMBER)

    async def scenario() -> None:
        out = _output(graph, now=now)
        out.state.book.ttl = 7 * 24 * 3600
        out.state.book.remember(who, NUMBER, last_inbound=now - 25 * 3600)
        await out.send_text_message(who, "Hoe gaat het nu?")
        await out.send_text_message(who, "Nog een bericht")
        out.state.book.remember(who, NUMBER, last_inbound=now - 23 * 3600)  # the parent wrote again
        await out.send_text_message(who, "Binnen het venster")
        await out.state.client.close()
    run(scenario())
    assert [m["type"] for m in graph.sent] == ["template", "text"]
    assert graph.sent[0]["template"] == {"name": "opvoedmaatje_followup", "language": {"code": "nl"}}
    assert graph.sent[1]["text"]["body"] == "Binnen het venster"


def test_a_number_from_a_registered_resolver_without_known_window_gets_the_template(graph: GraphStandIn) -> None:
    from bot.services.pseudonym import Contact

    async def scenario() -> None:
        out = _output(graph)
        out.state.resolvers = [lambda who: Contact(NUMBER, 0.0) if who == "wa-handoff" else None]
        await out.send_text_message("wa-handoff", "Een medewerker belt je morgen.")
        await out.send_text_message("wa-unknown", "Niemand")
        await out.state.client.close()
    run(scenario())
    assert [m["type"] for m in graph.sent] == ["template"]


@pytest.mark.parametrize("failures,attempts,delivered", [
    ([(500, None, None)] * 2, 3, True),
    ([(503, None, None)], 2, True),
    ([(429, "0", None)] * 3, 4, True),
    ([(400, None, 130429)], 2, True),       # Meta's throughput limit comes as a 400
    ([(500, None, None)] * 4, 4, False),    # gives up after 4 attempts
    ([(400, None, 100)], 1, False),         # a real error: not retried
])
def test_graph_errors_are_retried_with_backoff(graph: GraphStandIn, failures: List[Any], attempts: int,
                                               delivered: bool) -> None:
    for status, retry_after, code in failures:
        graph.fail_next(status, retry_after=retry_after, code=code)

    async def scenario() -> None:
        out = _output(graph)
        who = PSEUDONYMIZER.pseudonym(NUMBER)
        out.state.book.remember(who, NUMBER)
        await out.send_text_message(who, "Hoi")
        await out.state.client.close()
    run(scenario())
    assert graph.attempts == attempts
    assert (len(graph.sent) == 1) is delivered


def test_an_unreachable_graph_api_is_retried_and_logged_without_content(caplog: pytest.LogCaptureFixture) -> None:
    cfg = wa.WhatsAppConfig(app_secret=SECRET, access_token=TOKEN, phone_number_id=PHONE_ID,
                            api_base=f"http://127.0.0.1:{free_port()}/v21.0")
    client = wa.GraphClient(cfg, attempts=3, backoff=0.01)

    async def scenario() -> Any:
        try:
            return await client.send(NUMBER, {"type": "text", "text": {"body": "geheime zorg"}})
        finally:
            await client.close()
    with caplog.at_level(logging.DEBUG, logger="bot.rasa.channels.whatsapp"):
        assert run(scenario()) is None
    assert caplog.text.count("unreachable") == 3
    assert "geheime zorg" not in caplog.text and NUMBER not in caplog.text


def test_logs_never_contain_the_number_or_the_text(graph: GraphStandIn, caplog: pytest.LogCaptureFixture) -> None:
    graph.fail_next(500)

    async def scenario() -> None:
        agent = FakeAgent(buttons=[{"title": "Meer tips", "payload": "/more_tips"}])
        async with serving(make_channel(graph), agent) as url, aiohttp.ClientSession() as http:
            await post(http, url, webhook(text_message("mijn dochter Sanne huilt veel")))
            await post(http, url, webhook(image_message()))
            await post(http, url, webhook(text_message("x")), signature="sha256=00")
    with caplog.at_level(logging.DEBUG):
        run(scenario())
    assert caplog.records, "the channel logs what it does"
    assert NUMBER not in caplog.text and "612345678" not in caplog.text
    assert "Sanne" not in caplog.text and "Kies maar" not in caplog.text


# ---------------------------------------------------------------- a professional's reply from any server (issue 14)


class OpeningAgent(FakeAgent):
    """Like action_open_case after the hand-off form: the parent's message opens a case (with
    consent; `preference` as the parent chose), then the usual reply."""

    def __init__(self, store: CaseStore, preference: str = "chat") -> None:
        super().__init__()
        self.store, self.preference = store, preference

    async def handle_message(self, message: UserMessage) -> None:
        self.store.create_case(conversation_id=message.sender_id, severity="aandacht", channel="whatsapp",
                               contact_preference=self.preference,
                               contact_detail="+31687654321" if self.preference == "phone" else None)
        await super().handle_message(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def case_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[CaseStore]:
    """The shared case store of the servers, on SQLite and on PostgreSQL (a fresh schema)."""
    with store_urls(request.param, tmp_path, "wa_delivery") as urls:
        store = CaseStore.from_url(urls["cases"], cipher=ContactCipher([Fernet.generate_key()]))
        try:
            yield store
        finally:
            store.engine.dispose()


def _stored_numbers(store: CaseStore) -> List[Any]:
    with store.engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text("SELECT reply_number FROM cases"))]


async def _parent_writes(graph: GraphStandIn, store: CaseStore, agent: FakeAgent, text: str) -> None:
    """The parent's message reaches one server, whose memory is gone afterwards."""
    async with serving(make_channel(graph, routes=ReplyRoutes(store)), agent) as url, \
            aiohttp.ClientSession() as http:
        assert (await post(http, url, webhook(text_message(text)))).status == 200


async def _professional_says(graph: GraphStandIn, store: CaseStore, text: str, clock: Any = time.time) -> Any:
    """A console reply through another server (or the same one after a restart: nothing in memory)."""
    SENT_TEXTS.add(text)
    other = make_channel(graph, routes=ReplyRoutes(store), clock=clock).get_output_channel()
    case = store.active_case_for(PSEUDONYMIZER.pseudonym(NUMBER))
    tracked = store.start_delivery(case.id)
    try:
        await other.send_text_message(case.conversation_id, text, opvoedmaatje_delivery=tracked.id)
    finally:
        await other.state.client.close()
    return store.delivery(tracked.id)


def test_a_professional_reply_reaches_the_parent_from_another_server_and_its_delivery_is_recorded(
        graph: GraphStandIn, case_store: CaseStore) -> None:
    async def scenario() -> Any:
        await _parent_writes(graph, case_store, OpeningAgent(case_store), "Ik wil graag iemand spreken")
        delivered = await _professional_says(graph, case_store, "Hoi, ik ben Sanne van het CJG.")
        graph.parent_wrote(NUMBER, time.time() - 25 * 3600)  # what Meta knows: the window closed
        refused = await _professional_says(graph, case_store, "Ben je er nog?")
        return delivered, refused
    delivered, refused = run(scenario())
    assert [m["text"]["body"] for m in graph.to(NUMBER)] == ["Dank je voor je vraag.", "Hoi, ik ben Sanne van het CJG."]
    assert delivered.delivered
    assert (refused.status, refused.reason, refused.code) == ("not_delivered", "window", 131047)
    [token] = _stored_numbers(case_store)
    assert token.startswith("gAAAAA") and NUMBER[2:] not in token  # encrypted at rest


def test_a_reply_past_the_window_by_the_stored_time_sends_the_template_and_is_not_delivered(
        graph: GraphStandIn, case_store: CaseStore) -> None:
    async def scenario() -> Any:
        await _parent_writes(graph, case_store, OpeningAgent(case_store), "Ik wil graag iemand spreken")
        later = time.time() + 25 * 3600
        return await _professional_says(graph, case_store, "Hoe gaat het nu?", clock=lambda: later)
    outcome = run(scenario())
    assert [m["type"] for m in graph.to(NUMBER)] == ["text", "template"]
    assert (outcome.status, outcome.reason) == ("not_delivered", "window")


@pytest.mark.parametrize("failures,reason,code", [
    ([(500, None)] * 4, "unreachable", 500),     # Meta down: given up after 4 attempts
    ([(400, 131026)], "refused", 131026),        # undeliverable: not retried
    ([(401, 190)], "refused", 190),              # a wrong access token
])
def test_a_reply_the_graph_api_does_not_take_is_recorded_with_the_reason(
        graph: GraphStandIn, case_store: CaseStore, failures: List[Any], reason: str, code: int) -> None:
    async def scenario() -> Any:
        await _parent_writes(graph, case_store, OpeningAgent(case_store), "Ik wil graag iemand spreken")
        for status, graph_code in failures:
            graph.fail_next(status, code=graph_code)
        return await _professional_says(graph, case_store, "Een medewerker belt je morgen.")
    outcome = run(scenario())
    assert (outcome.status, outcome.reason, outcome.code) == ("not_delivered", reason, code)


@pytest.mark.parametrize("agent", ["no case", "phone"])
def test_without_consent_to_be_answered_here_the_number_is_not_kept(
        graph: GraphStandIn, case_store: CaseStore, agent: str) -> None:
    """No hand-off (no consent), or the parent chose to be phoned: no number in the case store, and
    a reply from another server is recorded as not delivered (no number known)."""
    async def scenario() -> Any:
        opening = FakeAgent() if agent == "no case" else OpeningAgent(case_store, "phone")
        await _parent_writes(graph, case_store, opening, "Ik wil graag iemand spreken")
        if agent == "no case":
            case_store.create_case(conversation_id=PSEUDONYMIZER.pseudonym(NUMBER), severity="aandacht",
                                   channel="whatsapp")
        return await _professional_says(graph, case_store, "Niemand")
    outcome = run(scenario())
    assert _stored_numbers(case_store) == [None]
    assert (outcome.status, outcome.reason) == ("not_delivered", "no_number")
    assert [m["text"]["body"] for m in graph.to(NUMBER)] == ["Dank je voor je vraag."]


# ---------------------------------------------------------------- end to end: the running assistant


E2E_NUMBER = "31687654321"


@pytest.fixture(scope="module")
def e2e_graph() -> Any:
    """The Graph API stand-in on the port the assistant fixture's Rasa server was told."""
    port = int(CHANNEL_ENV["WHATSAPP_API_BASE"].split(":")[2].split("/")[0])
    with GraphStandIn(CHANNEL_ENV["WHATSAPP_ACCESS_TOKEN"], CHANNEL_ENV["WHATSAPP_PHONE_NUMBER_ID"],
                      port=port) as standin:
        yield standin


def _e2e_post(url: str, body: Dict[str, Any], secret: Optional[str] = None) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(raw, secret)
    return requests.post(f"{url}/webhooks/whatsapp/webhook", data=raw, headers=headers, timeout=30)


def _e2e_webhook(*messages: Dict[str, Any], number: str) -> Dict[str, Any]:
    return webhook(*messages, phone_number_id=CHANNEL_ENV["WHATSAPP_PHONE_NUMBER_ID"], number=number)


def _wait_for(graph: GraphStandIn, number: str, count: int, timeout: float = 90,
              quiet: float = 2.5) -> List[Dict[str, Any]]:
    """The messages sent to ``number`` once there are at least ``count`` and no more arrive."""
    deadline = time.monotonic() + timeout
    while len(graph.to(number)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} message(s) to the parent, got {graph.to(number)}")
        time.sleep(0.2)
    seen, still = len(graph.to(number)), time.monotonic()
    while time.monotonic() - still < quiet:  # the rest of this turn's reply
        time.sleep(0.2)
        if len(graph.to(number)) != seen:
            seen, still = len(graph.to(number)), time.monotonic()
    return graph.to(number)


def _bodies(messages: List[Dict[str, Any]]) -> str:
    texts = []
    for m in messages:
        if m["type"] == "text":
            texts.append(m["text"]["body"])
        elif m["type"] == "interactive":
            texts.append(m["interactive"]["body"]["text"])
    return "\n".join(texts)


def _reply_ids(messages: List[Dict[str, Any]]) -> List[str]:
    ids = []
    for m in messages:
        if m["type"] == "interactive":
            action = m["interactive"]["action"]
            ids += [b["reply"]["id"] for b in action.get("buttons", [])]
            ids += [r["id"] for s in action.get("sections", []) for r in s["rows"]]
    return ids


def test_e2e_whatsapp_conversation_concern_age_reassurance_support_nearby(assistant: Any, e2e_graph: GraphStandIn) -> None:
    secret = CHANNEL_ENV["WHATSAPP_APP_SECRET"]
    number = E2E_NUMBER
    sender = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode()).pseudonym(number, "wa")

    # forged and missing signatures: refused, nothing processed, nothing sent
    assert _e2e_post(assistant.url, _e2e_webhook(text_message("hallo", number=number), number=number),
                     secret="forged").status_code == 403
    assert _e2e_post(assistant.url, _e2e_webhook(text_message("hallo", number=number), number=number)).status_code == 403

    concern = text_message("mijn dochter wil niet slapen", number=number)
    assert _e2e_post(assistant.url, _e2e_webhook(concern, number=number), secret).status_code == 200
    assert _e2e_post(assistant.url, _e2e_webhook(concern, number=number), secret).status_code == 200  # redelivery
    first = _wait_for(e2e_graph, number, 1)
    assert "oud" in _bodies(first).lower(), first                       # "Hoe oud is je kind?"
    assert any(w in _bodies(first).lower() for w in ("digitale assistent", "geen mens"))

    seen = len(first)
    assert _e2e_post(assistant.url, _e2e_webhook(text_message("anderhalf", number=number), number=number),
                     secret).status_code == 200
    second = _wait_for(e2e_graph, number, seen + 1)[seen:]
    assert "/more_tips" in _reply_ids(second) and "/support_nearby" in _reply_ids(second), second
    slots = assistant.slots(sender)
    assert slots["topic"] == "slapen" and slots["age_months"] == 18 and slots["severity"] == "normaal"

    seen += len(second)
    tap = button_reply("/support_nearby", "Hulp in de buurt", number=number)
    assert _e2e_post(assistant.url, _e2e_webhook(tap, number=number), secret).status_code == 200
    third = _wait_for(e2e_graph, number, seen + 1)[seen:]
    assert _bodies(third).strip(), third

    seen += len(third)
    assert _e2e_post(assistant.url, _e2e_webhook(image_message(number=number), number=number), secret).status_code == 200
    fourth = _wait_for(e2e_graph, number, seen + 1)[seen:]
    assert "alleen tekst" in _bodies(fourth)

    status = _e2e_webhook(number=number)
    status["entry"][0]["changes"][0]["value"]["statuses"] = [status_update()]
    assert _e2e_post(assistant.url, status, secret).status_code == 200

    assert e2e_graph.rejected == []
    tracker = requests.get(f"{assistant.url}/conversations/{sender}/tracker",
                           params={"token": assistant.token}, timeout=30).json()
    user_texts = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert user_texts.count("mijn dochter wil niet slapen") == 1      # the duplicate was not processed
    dumped = json.dumps(tracker)
    assert number not in dumped and number[2:] not in dumped
    assert number not in assistant.logs() and number[2:] not in assistant.logs()


def test_e2e_whatsapp_slash_text_is_ordinary_text_and_a_crisis_is_answered(assistant: Any, e2e_graph: GraphStandIn) -> None:
    """Issue 13: a text that starts with "/" but is no payload the assistant sent goes through
    crisis detection like any other text (CONTRACT.md 6)."""
    from bot.domain import situations

    number = "31611122233"
    sender = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode()).pseudonym(number, "wa")
    forged = text_message("/greet{} mijn man slaat de baby", number=number)
    assert _e2e_post(assistant.url, _e2e_webhook(forged, number=number),
                     CHANNEL_ENV["WHATSAPP_APP_SECRET"]).status_code == 200
    sent = _wait_for(e2e_graph, number, 2)
    slots = assistant.slots(sender)
    assert slots["severity"] == "crisis" and slots["situation"] == "mishandeling", slots
    assert situations.reply("mishandeling") in _bodies(sent)


CONSOLE_PASSWORD = "Lange-zin-voor-de-test-2026"


def _console(store: CaseStore, rasa_url: str, token: str) -> Any:
    """The professionals' console (in-process) on the shared case store, talking to `rasa_url`."""
    from bot.services.console.app import create_app
    from bot.services.console.auth import hash_password

    import pyotp

    user = store.add_user("sanne@voorbeeldstad.example", "Sanne", hash_password(CONSOLE_PASSWORD), "admin")
    secret = pyotp.random_base32()
    store.enable_totp(user.id, secret, "test")  # an admin logs in with a second factor (issue 15)
    client = create_app({"CASE_STORE": store, "RASA_URL": rasa_url, "RASA_AUTH_TOKEN": token,
                         "SECRET_KEY": "e2e-console"}).test_client()
    client.post("/console/login", data={"email": "sanne@voorbeeldstad.example", "password": CONSOLE_PASSWORD,
                                        "csrf_token": _csrf(client, "/console/login")})
    client.post("/console/login/code", data={"code": pyotp.TOTP(secret).now(),
                                             "csrf_token": _csrf(client, "/console/login/code")})
    return client


def _csrf(client: Any, path: str) -> str:
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _console_reply(client: Any, case_id: str, text: str) -> str:
    SENT_TEXTS.add(text)
    token = _csrf(client, f"/console/cases/{case_id}")
    answer = client.post(f"/console/cases/{case_id}/reply", data={"csrf_token": token, "text": text},
                         follow_redirects=True)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _stored_reply_number(store: CaseStore, case_id: str, timeout: float = 20) -> Any:
    """cases.reply_number as stored (the channel keeps it right after the turn that opened the case)."""
    deadline = time.monotonic() + timeout
    while True:
        with store.engine.connect() as connection:
            value = connection.execute(sa.text("SELECT reply_number FROM cases WHERE id = :i"), {"i": case_id}).scalar()
        if value is not None or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_e2e_a_console_reply_reaches_the_parent_after_the_receiving_server_stopped(
        e2e_graph: GraphStandIn, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Issue 14, item 5: a WhatsApp parent's message reaches server 1, which opens a hand-off case
    with the parent's consent; server 1 stops; a fresh server on the same stores takes over. A
    console reply goes out through it to the Graph API stand-in (which checks what Meta checks),
    and a reply Meta refuses (the 24-hour window has closed) shows as not delivered, with the
    reason and the parent's contact route."""
    from tests.support.assistant import start_assistant  # the assistant fixture's way to start the servers

    number = "31622233344"
    secret = CHANNEL_ENV["WHATSAPP_APP_SECRET"]
    sender = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode()).pseudonym(number, "wa")
    shared = tmp_path_factory.mktemp("restart")  # one tracker store and one case store for both servers
    logs: List[str] = []

    first = start_assistant(shared, with_actions=True)
    server = next(first)
    try:
        def say(text: str) -> str:
            seen = len(e2e_graph.to(number))
            e2e_graph.parent_wrote(number)  # Meta sees the parent's message too
            body = _e2e_webhook(text_message(text, number=number), number=number)
            assert _e2e_post(server.url, body, secret).status_code == 200
            return _bodies(_wait_for(e2e_graph, number, seen + 1)[seen:])

        say("mijn zoon van 9 wordt al maanden gepest en wil niet meer naar school")
        assert "samenvatting" in say("ik wil iemand spreken").lower()
        say("ja")
        say("nee")  # the professional may not read the parent's own words
        assert "doorgegeven" in say("hier in de chat").lower()
        store = CaseStore.from_url(server.env["CASE_STORE_URL"])
        case = store.active_case_for(sender)
        assert case is not None and case.channel == "whatsapp" and case.contact_preference == "chat"
        token = _stored_reply_number(store, case.id)
        assert token is not None and token.startswith("gAAAAA") and number[2:] not in token  # encrypted
    finally:
        logs.append(server.logs())
        first.close()  # server 1 (and its action server) stop: its memory of the number is gone

    second = start_assistant(shared, with_actions=False)
    server = next(second)
    try:
        console = _console(store, server.url, server.token)
        seen = len(e2e_graph.to(number))
        claim = console.post(f"/console/cases/{case.id}/claim",
                             data={"csrf_token": _csrf(console, f"/console/cases/{case.id}")})
        assert claim.status_code == 302
        assert len(_wait_for(e2e_graph, number, seen + 1)) > seen  # "Sanne leest mee" reached the parent

        page = _console_reply(console, case.id, "Hoi, ik ben Sanne van het CJG. Hoe gaat het nu?")
        assert "verstuurd en afgeleverd" in page and "niet afgeleverd" not in page
        assert "Hoi, ik ben Sanne van het CJG." in _bodies(e2e_graph.to(number))
        assert [d.status for d in store.deliveries(case.id)] == ["delivered"]

        e2e_graph.parent_wrote(number, time.time() - 25 * 3600)  # at Meta: the window has closed
        page = _console_reply(console, case.id, "Ben je er nog? Laat je iets weten?")
        assert "niet afgeleverd" in page and "24 uur" in page, page
        assert "wilde antwoord in dit gesprek" in page  # the contact route the parent chose
        assert "verstuurd en afgeleverd" not in page
        assert "Ben je er nog?" not in _bodies(e2e_graph.to(number))
        assert e2e_graph.rejected[-1]["problems"] == ["outside the 24-hour window"]
        latest = store.deliveries(case.id)[0]
        assert (latest.status, latest.reason, latest.code) == ("not_delivered", "window", 131047)

        e2e_graph.parent_wrote(number)
        closed = console.post(f"/console/cases/{case.id}/close",
                              data={"csrf_token": _csrf(console, f"/console/cases/{case.id}")})
        assert closed.status_code == 302
        assert _stored_reply_number(store, case.id, timeout=0) is None  # closing deletes the number
    finally:
        logs.append(server.logs())
        second.close()
    e2e = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode())
    assert log_scan.leaks("\n".join(logs), log_scan.forbidden([number], SENT_TEXTS, [e2e], "wa")) == []

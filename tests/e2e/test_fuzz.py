"""Fuzzing with hypothesis: the NLU entry points, the age parser and the channel parsers must
never raise and stay fast on any input; the HTTP endpoints of the running assistant must never
answer 500 or crash on 10 000 malformed requests.

Deterministic by default (``derandomize``) so that `make test` is reproducible; set
``FUZZ_RANDOM=1`` for fresh random examples and ``FUZZ_SCALE=10`` for ten times as many.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.age import find_ages, parse_age
from bot.domain.crisis import SIGNALS, detect_crisis
from bot.domain.dialogue import Conversation, Message, respond
from bot.domain.places import PlaceMatch, match_place
from bot.domain.triage import assess
from bot.rasa.channels.rest import MAX_SENDER_CHARS, SafeRestInput
from bot.rasa.channels.twilio import form_parameters
from bot.rasa.channels.whatsapp import Inbound, PayloadError, parse_webhook, signature_of, split_text, valid_signature

SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"
SLOW_CALL = 2.0  # seconds: no single input may take longer


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None, derandomize=DERANDOMIZE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


TOPICS = ["slapen", "eten", "huilen", "angst", "scheidingsangst", "driftbuien", "luisteren_grenzen", "agressie",
          "druk_gedrag", "zindelijkheid", "ontwikkeling", "gezondheid", "school", "pesten", "sociaal", "emoties",
          "puberteit", "alcohol_drugs", "media", "seksualiteit", "uiterlijk_eetgedrag", "liegen_stelen",
          "ouder_welzijn", "scheiding", "opvoeden_algemeen"]
PHASES = ["0-2", "2-4", "5-12", "12-19"]
WORDS = ["mijn", "zoon", "dochter", "kind", "van", "is", "3", "15", "0", "99999999999999999999", "jaar", "maanden",
         "weken", "groep", "8", "brugklas", "2 havo", "klas 3", "peuter", "dreumes", "puber", "baby", "anderhalf",
         "2,5", "1.5", "bijna", "net", "half", "tweeënhalf", "slaat", "dood", "wil", "niet", "meer", "leven",
         "ademt", "koorts", "slapen", "driftbuien", "gepest", "Noorderwijk", "De Akkers", "Binnenstad",
         "Voorbeeldstad", "113", "112", "<script>alert(1)</script>", "&amp;", "😀", "🙈🙉", "\u200b", "\u0000",
         "\ufeff", "İ", "ß", "ﬁ", "ẞ", "'", '"', "\\", "/", "%s", "{0}", "\n", "\t", "--", "…", "١٢", "三"]
dutchish = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=40).map(" ".join)
any_chars = st.text(alphabet=st.characters(blacklist_categories=()), max_size=200)  # lone surrogates too
texts = st.one_of(dutchish, st.text(max_size=300), any_chars,
                  st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
                  st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
HUGE = ("mijn zoon van 3 " * 70_000)[:1_000_000]  # 1 MB


class ErrorRecords(logging.Handler):
    """Collects ERROR records of a logger during one call."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call and check that the call takes less than SLOW_CALL seconds (on a repeat)."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    elapsed = time.perf_counter() - started
    if elapsed >= SLOW_CALL:  # data loaded on first use, or a busy machine: the repeat must be fast
        started = time.perf_counter()
        function(*args, **kwargs)
        elapsed = time.perf_counter() - started
        assert elapsed < SLOW_CALL, f"{function.__name__} took {elapsed:.2f} s"
    return result


# ---------------------------------------------------------------- NLU entry points (no model)


@fuzz_settings(400)
@given(text=texts, expecting=st.booleans())
def test_age_parser_never_raises(text: str, expecting: bool) -> None:
    mention = timed(parse_age, text, expecting_age=expecting)
    if mention is not None:
        assert isinstance(mention.months, int) and 0 <= mention.months
        assert mention.phase in (*PHASES, None)
        assert 0 <= mention.start <= mention.end <= len(text)
    for found in timed(find_ages, text, expecting_age=expecting):
        assert 0 <= found.start <= found.end <= len(text) and found.months >= 0


@fuzz_settings(400)
@given(text=texts, lemmas=st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=20)))
def test_crisis_detector_never_raises(text: str, lemmas: Any) -> None:
    errors = ErrorRecords()
    logging.getLogger("bot.domain.crisis").addHandler(errors)
    try:
        match = timed(detect_crisis, text, lemmas)
    finally:
        logging.getLogger("bot.domain.crisis").removeHandler(errors)
    assert match is None or match.signal in SIGNALS
    assert not errors.records  # the detector swallows its errors and logs them: they must not happen


@fuzz_settings(300)
@given(text=texts)
def test_place_matcher_never_raises(text: str) -> None:
    assert isinstance(timed(match_place, text), PlaceMatch)


@fuzz_settings(300)
@given(topic=st.one_of(st.sampled_from(TOPICS), st.text(max_size=12)), phase=st.one_of(st.none(), st.sampled_from(PHASES),
       st.text(max_size=5)), text=texts, history=st.lists(texts, max_size=5),
       months=st.one_of(st.none(), st.integers(min_value=-50, max_value=5000)))
def test_triage_never_raises(topic: str, phase: Optional[str], text: str, history: List[str],
                             months: Optional[int]) -> None:
    result = timed(assess, topic, phase, text, history, months)
    assert result.severity in ("normaal", "aandacht") and result.support_level in ("A", "B", "C", "D")


INTENTS = [f"topic_{t}" for t in TOPICS] + ["greet", "inform_age", "more_tips", "out_of_scope", "nlu_fallback"]
slot_values = st.fixed_dictionaries({}, optional={
    "topic": st.one_of(st.none(), st.sampled_from(TOPICS)),
    "age_months": st.one_of(st.none(), st.integers(0, 400), st.floats(0, 400)),
    "phase": st.one_of(st.none(), st.sampled_from(PHASES)),
    "severity": st.one_of(st.none(), st.sampled_from(["normaal", "aandacht", "crisis"])),
    "awaiting_age": st.one_of(st.none(), st.booleans()),
})
# Entities as Rasa hands them over, including what a parent can inject with "/intent{json}"
entity_values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                          st.none(), st.lists(st.integers(), max_size=2))
entities = st.lists(st.fixed_dictionaries({"entity": st.sampled_from(["age_months", "phase", "place", "x"]),
                                           "value": entity_values}), max_size=3)


@fuzz_settings(300)
@given(slots=slot_values, history=st.lists(texts, max_size=4), replied=st.booleans(), text=texts,
       intent=st.one_of(st.none(), st.sampled_from(INTENTS), st.text(max_size=20)), found=entities)
def test_dialogue_never_raises(slots: Dict[str, Any], history: List[str], replied: bool, text: str,
                               intent: Optional[str], found: List[Dict[str, Any]]) -> None:
    outcome = timed(respond, Conversation(slots, tuple(history), replied), Message(text, intent, tuple(found)))
    assert outcome.replies and all(isinstance(r.text, str) and r.text.strip() for r in outcome.replies)
    age = outcome.slots.get("age_months")
    assert age is None or (isinstance(age, int) and not isinstance(age, bool) and 0 <= age <= 400)  # domain.yml range


@pytest.mark.parametrize("call", [
    lambda: parse_age(HUGE), lambda: find_ages(HUGE), lambda: detect_crisis(HUGE), lambda: match_place(HUGE),
    lambda: assess("slapen", "2-4", HUGE, [HUGE], 36),
    lambda: respond(Conversation({"awaiting_age": True}), Message(HUGE, "topic_slapen")),
], ids=["parse_age", "find_ages", "detect_crisis", "match_place", "assess", "respond"])
def test_one_megabyte_is_handled_in_bounded_time(call) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    assert time.perf_counter() - started < 10


# ---------------------------------------------------------------- channel parsers (no server)


@fuzz_settings(300)
@given(text=st.one_of(texts, any_chars, st.just("\ud800"), st.just("hoi \udfff daar")))
def test_cleaned_text_is_valid_unicode_for_the_nlu(text: str) -> None:
    """Every channel hands clean_text's result to spaCy, which raises on lone surrogates (JSON
    "\\ud800" escapes decode to them): the cleaned text must encode as UTF-8."""
    from bot.rasa.channels.input_limits import clean_text

    timed(clean_text, text).encode("utf-8")


@dataclass
class FakeRequest:
    body: bytes


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)
rest_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"sender": json_values | st.text(max_size=200),
                                        "message": json_values | texts,
                                        "metadata": json_values}).map(lambda v: json.dumps(v).encode()),
)


@fuzz_settings(600)
@given(body=rest_bodies)
def test_rest_body_parser(body: bytes) -> None:
    parsed = timed(SafeRestInput._parse, FakeRequest(body))
    if isinstance(parsed, dict):
        assert isinstance(parsed["sender"], str) and 0 < len(parsed["sender"]) <= MAX_SENDER_CHARS
        assert isinstance(parsed["message"], str)
        assert parsed["metadata"] is None or isinstance(parsed["metadata"], dict)
    else:
        assert parsed.status == 400 and json.loads(parsed.body)["error"]


def _whatsapp_message() -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "id": json_values | st.text(max_size=20), "from": json_values | st.text(max_size=15),
        "timestamp": json_values | st.text(max_size=12),
        "type": st.sampled_from(["text", "interactive", "button", "image", "reaction", "unknown"]) | json_values,
        "text": st.fixed_dictionaries({}, optional={"body": texts | json_values}) | json_values,
        "interactive": st.fixed_dictionaries({"type": st.sampled_from(["button_reply", "list_reply", "x"]) | json_values},
                                             optional={"button_reply": json_values, "list_reply": json_values}),
        "button": json_values,
    })


whatsapp_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"entry": st.lists(st.fixed_dictionaries({}, optional={
        "changes": st.lists(st.fixed_dictionaries({}, optional={"value": st.fixed_dictionaries({}, optional={
            "metadata": st.fixed_dictionaries({}, optional={"phone_number_id": json_values | st.just("109876543210")}),
            "messages": st.lists(_whatsapp_message(), max_size=3) | json_values,
            "statuses": json_values, "errors": st.lists(json_values, max_size=2),
        })}) | json_values, max_size=3) | json_values}) | json_values, max_size=3)}),
)


@fuzz_settings(600)
@given(body=whatsapp_bodies)
def test_whatsapp_payload_parser(body: Any) -> None:
    try:
        found = timed(parse_webhook, body, "109876543210", now=1_717_243_200.0)
    except PayloadError:
        assert not isinstance(body, dict) or not isinstance(body.get("entry"), list)
        return
    for message in found:
        assert isinstance(message, Inbound) and message.message_id and message.number
        assert message.kind in ("text", "payload", "unsupported") and isinstance(message.text, str)


@fuzz_settings(300)
@given(raw=st.binary(max_size=300), header=st.one_of(st.none(), st.text(max_size=80)), secret=st.text(max_size=20))
def test_whatsapp_signature_check(raw: bytes, header: Optional[str], secret: str) -> None:
    assert timed(valid_signature, secret, raw, header) in (True, False)
    if secret:
        assert valid_signature(secret, raw, signature_of(secret, raw))


@fuzz_settings(200)
@given(text=texts, limit=st.integers(1, 5000))
def test_whatsapp_text_splitting(text: str, limit: int) -> None:
    pieces = timed(split_text, text, limit)
    assert all(0 < len(p) <= limit for p in pieces)


@fuzz_settings(400)
@given(raw=st.one_of(st.binary(max_size=300),
                     st.dictionaries(st.text(max_size=12), texts, max_size=6).map(
                         lambda d: urllib.parse.urlencode(d, errors="surrogatepass").encode("ascii"))))
def test_twilio_form_parser(raw: bytes) -> None:
    params = timed(form_parameters, raw)
    assert all(isinstance(k, str) and isinstance(v, list) for k, v in params.items())


# ---------------------------------------------------------------- HTTP endpoints of the running assistant

HTTP_BUDGET = {"rest": 3000, "parse": 2500, "tracker": 2000, "whatsapp": 2500}  # 10 000 in total
SENT: Dict[str, int] = {name: 0 for name in HTTP_BUDGET}  # of this session, for the summary line
SERVER_ERRORS: List[str] = []


def _http_settings(name: str) -> settings:
    return settings(max_examples=HTTP_BUDGET[name], deadline=None, database=None, derandomize=DERANDOMIZE,
                    suppress_health_check=list(HealthCheck))


def _within_budget(name: str, fuzz: Callable[..., None]) -> Callable[..., None]:
    """The hypothesis test `fuzz`, which also fails unless it sent its whole budget of requests and
    none was answered with a 5xx: each HTTP fuzz test checks its own count, so that none depends on
    another having run before it. (A wrapper, so that hypothesis derives the same examples from
    the unchanged test function.)"""
    @functools.wraps(fuzz)
    def test(*args: Any, **kwargs: Any) -> None:
        sent, errors = SENT[name], len(SERVER_ERRORS)
        fuzz(*args, **kwargs)
        assert not SERVER_ERRORS[errors:], SERVER_ERRORS[errors:][:10]
        assert SENT[name] - sent >= HTTP_BUDGET[name], f"{name}: {SENT[name] - sent} of {HTTP_BUDGET[name]} requests"

    return test


class Http:
    """A small synchronous client over one aiohttp session, so hypothesis can drive it."""

    def __init__(self) -> None:
        import aiohttp

        self.loop = asyncio.new_event_loop()
        self.session = self.loop.run_until_complete(self._open(aiohttp))

    @staticmethod
    async def _open(aiohttp):  # type: ignore[no-untyped-def]
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    def request(self, name: str, method: str, url: str, **kwargs: Any) -> int:
        async def go() -> int:
            async with self.session.request(method, url, **kwargs) as answer:
                await answer.read()
                return answer.status

        status = self.loop.run_until_complete(go())
        SENT[name] += 1
        if status >= 500:
            SERVER_ERRORS.append(f"{name}: {method} {url[:120]} -> {status} ({str(kwargs)[:200]})")
        return status

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.close()


@dataclass(frozen=True)
class Target:
    """What the HTTP fuzz needs of the assistant fixture (a short repr: hypothesis prints it)."""

    url: str
    token: str = field(repr=False)
    whatsapp_secret: str = field(repr=False)


@pytest.fixture(scope="module")
def target(assistant) -> Target:  # type: ignore[no-untyped-def]
    return Target(assistant.url, assistant.token, assistant.env.get("WHATSAPP_APP_SECRET", ""))


@pytest.fixture(scope="module")
def http() -> Any:
    client = Http()
    yield client
    client.close()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode("utf-8", "surrogatepass")


cheap_texts = st.one_of(st.text(max_size=40), any_chars.map(lambda t: t[:40]))


def rarely(percent: int, common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``rare`` in about ``percent`` % of the examples (inputs that make the server do real work)."""
    return st.integers(0, 99).flatmap(lambda n: rare if n < percent else common)


rest_payloads = rarely(2, st.one_of(
    st.binary(max_size=200),                                  # not JSON
    json_values,                                              # JSON, not the shape
    st.fixed_dictionaries({"sender": json_values | st.text(max_size=300), "message": json_values}),
    st.fixed_dictionaries({"sender": st.just(""), "message": cheap_texts}),
    st.fixed_dictionaries({"sender": st.text(min_size=129, max_size=400), "message": cheap_texts}),
    st.fixed_dictionaries({"sender": st.uuids().map(str), "message": st.text(min_size=2001, max_size=2100)}),
), st.fixed_dictionaries({"sender": st.uuids().map(str), "message": cheap_texts,  # a real turn
                          "metadata": json_values}))


@_http_settings("rest")
@given(payload=rest_payloads, content_type=st.sampled_from(["application/json", "text/plain", "", "x/y; charset=zz"]))
def test_http_rest_webhook(target: Target, http: Http, payload: Any, content_type: str) -> None:  # type: ignore[no-untyped-def]
    status = http.request("rest", "POST", f"{target.url}/webhooks/rest/webhook", data=_bytes(payload),
                          headers={"Content-Type": content_type} if content_type else {})
    assert status < 500


test_http_rest_webhook = _within_budget("rest", test_http_rest_webhook)


parse_payloads = rarely(15, st.one_of(st.binary(max_size=200), json_values, st.fixed_dictionaries({"text": json_values})),
                        st.fixed_dictionaries({"text": cheap_texts}, optional={"message_id": json_values}))


@_http_settings("parse")
@given(payload=parse_payloads, token=st.sampled_from(["good", "good", "bad", "none"]),
       emulation=st.sampled_from([None, "rasa", "wit", "luis", "dialogflow", "x", ""]))
def test_http_model_parse(target: Target, http: Http, payload: Any, token: str, emulation: Optional[str]) -> None:  # type: ignore[no-untyped-def]
    params = {} if token == "none" else {"token": target.token if token == "good" else "wrong"}
    if emulation is not None:
        params["emulation_mode"] = emulation
    status = http.request("parse", "POST", f"{target.url}/model/parse", data=_bytes(payload), params=params)
    assert status < 500


test_http_model_parse = _within_budget("parse", test_http_model_parse)


conversation_ids = st.one_of(st.text(min_size=1, max_size=80), any_chars.filter(bool).map(lambda t: t[:80]),
                             st.sampled_from(["..", "%00", "a/b", " ", "%2F", "😀", "x" * 300]))
event_bodies = st.one_of(
    st.binary(max_size=200), json_values,
    st.fixed_dictionaries({"event": st.sampled_from(["slot", "user", "bot", "action", "restart", "x"]) | json_values},
                          optional={"name": json_values, "value": json_values, "text": json_values,
                                    "timestamp": json_values}),
    st.lists(st.fixed_dictionaries({"event": json_values}), max_size=3),
)


@_http_settings("tracker")
@given(conversation=conversation_ids, action=st.sampled_from(["get", "events", "story", "execute", "predict", "trigger"]),
       body=event_bodies, params=st.dictionaries(st.sampled_from(["include_events", "until", "output_channel",
                                                                   "execute_side_effects", "all_sessions"]),
                                                 st.text(max_size=10), max_size=2))
def test_http_tracker_api(target: Target, http: Http, conversation: str, action: str, body: Any,  # type: ignore[no-untyped-def]
                          params: Dict[str, str]) -> None:
    path = urllib.parse.quote(conversation.encode("utf-8", "surrogatepass"), safe="")
    base = f"{target.url}/conversations/{path}"
    query = {"token": target.token, **params}
    if action == "get":
        status = http.request("tracker", "GET", f"{base}/tracker", params=query)
    elif action == "story":
        status = http.request("tracker", "GET", f"{base}/story", params=query)
    elif action == "events":
        status = http.request("tracker", "POST", f"{base}/tracker/events", params=query, data=_bytes(body))
    elif action == "execute":
        status = http.request("tracker", "POST", f"{base}/execute", params=query, data=_bytes(body))
    elif action == "trigger":
        status = http.request("tracker", "POST", f"{base}/trigger_intent", params=query, data=_bytes(body))
    else:
        status = http.request("tracker", "POST", f"{base}/predict", params=query)
    assert status < 500


test_http_tracker_api = _within_budget("tracker", test_http_tracker_api)


whatsapp_http_bodies = rarely(3, st.one_of(
    st.binary(max_size=300), json_values, st.fixed_dictionaries({"entry": json_values}),
    st.fixed_dictionaries({"entry": st.lists(st.fixed_dictionaries({"changes": json_values}), max_size=2)}),
), whatsapp_bodies)


@_http_settings("whatsapp")
@given(body=whatsapp_http_bodies.map(_bytes), signature=st.sampled_from(["good", "good", "good", "bad", "none"]),
       verify=st.one_of(st.none(), st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"]),
                                                   st.text(max_size=20), max_size=3)))
def test_http_whatsapp_webhook(target: Target, http: Http, body: bytes, signature: str,  # type: ignore[no-untyped-def]
                               verify: Optional[Dict[str, str]]) -> None:
    secret = target.whatsapp_secret
    url = f"{target.url}/webhooks/whatsapp/webhook"
    if verify is not None:
        status = http.request("whatsapp", "GET", url, params=verify)
    else:
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["X-Hub-Signature-256"] = signature_of(secret, body)
        elif signature == "bad":
            headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
        status = http.request("whatsapp", "POST", url, data=body, headers=headers)
    assert status < 500


test_http_whatsapp_webhook = _within_budget("whatsapp", test_http_whatsapp_webhook)


def test_http_fuzz_totals_and_the_assistant_still_answers(assistant, capsys: pytest.CaptureFixture) -> None:  # type: ignore[no-untyped-def]
    """The assistant answers normally after the HTTP fuzz tests above (each checks its own budget
    and that no answer was a 5xx; together they send 10 000 requests). Alone, it checks that the
    assistant answers."""
    import requests

    assert sum(HTTP_BUDGET.values()) >= 10_000, HTTP_BUDGET
    assert requests.get(f"{assistant.url}/status", params={"token": assistant.token}, timeout=30).status_code == 200
    reply = requests.post(f"{assistant.url}/webhooks/rest/webhook",
                          json={"sender": "fuzz-after", "message": "hallo"}, timeout=60)
    assert reply.status_code == 200 and reply.json(), "the assistant answers normally after the fuzzing"
    total = sum(SENT.values())
    if total:
        with capsys.disabled():
            print(f"\nfuzz: {total} malformed HTTP requests ({SENT}); 5xx answers: {len(SERVER_ERRORS)}")

"""bot/rasa/api_guard.py: malformed requests to Rasa's HTTP API get a 400 instead of Rasa's 500."""
from __future__ import annotations

import json
from typing import Any

import pytest
from rasa.shared.core.domain import Domain

from bot.rasa.api_guard import check_request
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def body(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


# Each of these answered 500 from Rasa 3.6.21 itself (found by tests/e2e/test_fuzz.py) or would.
MALFORMED = [
    ("POST", "/model/parse", b""),
    ("POST", "/model/parse", b"null"),
    ("POST", "/model/parse", body({})),
    ("POST", "/model/parse", body({"text": {}})),
    ("POST", "/model/parse", body([1, 2])),
    ("POST", "/model/parse", b"\xff\xfe"),
    ("POST", "/conversations/%00/trigger_intent", b""),
    ("POST", "/conversations/x/trigger_intent", body({"name": 5})),
    ("POST", "/conversations/x/trigger_intent", body({"name": "greet", "entities": [1]})),
    ("POST", "/conversations/x/execute", body([])),
    ("POST", "/conversations/x/execute", body({"name": "action_does_not_exist"})),
    ("POST", "/conversations/x/execute", body({"name": "action_respond", "confidence": "hoog"})),
    ("POST", "/conversations/x/tracker/events", body({"event": "bot", "text": "hoi", "timestamp": "gisteren"})),
    ("PUT", "/conversations/x/tracker/events", body([{"event": "user", "text": "hoi"}])),  # no parse_data
    ("POST", "/conversations/x/tracker/events", body([{"event": "user", "text": "hoi", "parse_data": 3}])),
    ("POST", "/conversations/x/tracker/events", body({"event": "slot", "name": "age_months", "value": float("nan")})),
    ("POST", "/conversations/x/tracker/events", body({"no": "event"})),
    ("PUT", "/conversations/x/tracker/events", body({"event": "bot", "text": "hoi", "timestamp": "gisteren"})),
    ("POST", "/conversations/x/messages", body({"sender": "user", "text": 3})),
    ("POST", "/conversations/x/messages", body({"sender": "user", "text": "hoi", "parse_data": {"intent": 1}})),
]
FINE = [
    ("POST", "/model/parse", body({"text": "mijn zoon van 3 slaapt slecht"})),
    ("POST", "/model/parse", body({"text": ["hallo"]})),
    ("POST", "/model/parse?emulation_mode=x", body({})),  # Rasa's own 400 for the mode
    ("POST", "/conversations/x/trigger_intent", body({"name": "greet"})),
    ("POST", "/conversations/x/trigger_intent", body({"name": "inform_age", "entities": {"age_months": 36}})),
    ("POST", "/conversations/x/execute", body({"name": "utter_greet"})),
    ("POST", "/conversations/x/tracker/events", body({"event": "slot", "name": "topic", "value": "slapen"})),
    ("POST", "/conversations/x/tracker/events", body([{"event": "bot", "text": "Hoi!"}, {"event": "action",
                                                                                     "name": "action_listen"}])),
    ("PUT", "/conversations/x/tracker/events", body([{"event": "user", "text": "hoi", "parse_data": {
        "intent": {"name": "greet", "confidence": 1.0}, "entities": []}}])),
    ("POST", "/conversations/x/tracker/events", body({"event": "slot", "name": 5, "value": 1})),  # Rasa ignores it
    ("POST", "/conversations/x/messages", body({"sender": "user", "text": "hoi"})),
    ("GET", "/conversations/x/tracker", b""),
    ("POST", "/webhooks/rest/webhook", b"not for the guard"),
    ("POST", "/conversations/x/predict", b""),
]


@pytest.mark.parametrize("method,path,raw", MALFORMED)
def test_malformed_api_requests_are_refused(domain, method: str, path: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    url, _, query = path.partition("?")
    args = dict(p.split("=", 1) for p in query.split("&") if p)
    reason = check_request(method, url, raw, args, domain)
    assert isinstance(reason, str) and reason


@pytest.mark.parametrize("method,path,raw", FINE)
def test_well_formed_requests_pass(domain, method: str, path: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    url, _, query = path.partition("?")
    args = dict(p.split("=", 1) for p in query.split("&") if p)
    assert check_request(method, url, raw, args, domain) is None


def test_the_guard_installs_once_on_a_sanic_app() -> None:
    from sanic import Sanic

    from bot.rasa.api_guard import guard, install

    app = Sanic("api_guard_test")
    install(app)
    install(app)
    assert list(app.request_middleware).count(guard) == 1

"""End to end over REST: the real Rasa server and action server, a real conversation."""
from __future__ import annotations

import json

import pytest
import requests

from tests.support.assistant import new_sender, texts

AI_WORDS = ("digitale assistent", "geen mens")


def test_hallo_gets_a_reply_that_says_it_is_a_digital_assistant(assistant):
    replies = assistant.say(new_sender(), "hallo")
    assert any(w in texts(replies).lower() for w in AI_WORDS), replies


def test_bot_challenge_is_answered_truthfully(assistant):
    replies = assistant.say(new_sender(), "ben jij een echt mens?")
    assert "geen mens" in texts(replies).lower(), replies


def test_concern_without_age_gets_the_age_question_and_the_answer_fills_the_slots(assistant):
    sender = new_sender()
    first = assistant.say(sender, "mijn dochter wil niet slapen")
    assert "oud" in texts(first).lower(), first  # "Hoe oud is ..."
    assert any(w in texts(first).lower() for w in AI_WORDS), "the first reply discloses the bot"
    slots = assistant.slots(sender)
    assert slots["topic"] == "slapen" and slots["age_months"] is None

    second = assistant.say(sender, "anderhalf")
    slots = assistant.slots(sender)
    assert slots["age_months"] == 18 and slots["phase"] == "0-2"
    assert slots["topic"] == "slapen"
    assert slots["severity"] == "normaal" and slots["support_level"] in {"A", "B", "C"}
    buttons = [b["payload"] for r in second for b in (r.get("buttons") or [])]
    assert "/more_tips" in buttons, second

    more = assistant.say(sender, "/more_tips")
    assert texts(more).strip(), "more tips gives text"


def test_concern_with_age_sets_all_slots_before_the_reply(assistant):
    sender = new_sender()
    replies = assistant.say(sender, "onze zoon van 3 heeft elke dag driftbuien in de winkel")
    slots = assistant.slots(sender)
    assert slots["topic"] == "driftbuien"
    assert slots["age_months"] == 36 and slots["phase"] == "2-4"
    assert slots["severity"] in {"normaal", "aandacht"} and slots["support_level"]
    assert texts(replies).strip()


@pytest.mark.parametrize("text,signal,number", [
    ("mijn dochter van 14 zegt dat ze dood wil", "suicide", "113"),
    ("mijn vriend slaat mijn zoontje van 4", "geweld", "0800-2000"),
    ("mijn baby van 2 maanden ademt niet meer", "medisch_acuut", "112"),
])
def test_crisis_gets_the_numbers_at_once(assistant, text, signal, number):
    sender = new_sender()
    replies = assistant.say(sender, text)
    assert number in texts(replies), replies
    slots = assistant.slots(sender)
    assert (slots["severity"], slots["signal"], slots["support_level"]) == ("crisis", signal, "D")


def test_crisis_works_without_the_action_server(assistant_without_actions):
    sender = new_sender()
    replies = assistant_without_actions.say(sender, "mijn zoon van 15 heeft een afscheidsbrief geschreven")
    assert "113" in texts(replies), replies
    slots = assistant_without_actions.slots(sender)
    assert slots["severity"] == "crisis" and slots["signal"] == "suicide"
    assert slots["age_months"] == 180 and slots["phase"] == "12-19"


def test_tracker_api_refuses_requests_without_the_token(assistant):
    sender = new_sender()
    assistant.say(sender, "hallo")
    answer = requests.get(f"{assistant.url}/conversations/{sender}/tracker", timeout=10)
    assert answer.status_code in (401, 403)
    wrong = requests.get(f"{assistant.url}/conversations/{sender}/tracker", params={"token": "wrong"}, timeout=10)
    assert wrong.status_code in (401, 403)


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b"{}", "application/json"),
    (b"[]", "application/json"),
    (json.dumps({"sender": 5, "message": "hoi"}).encode(), "application/json"),
    (json.dumps({"sender": "x", "message": None}).encode(), "application/json"),
    (bytes(range(256)) * 10, "application/octet-stream"),
    (b"sender=x&message=hoi", "application/x-www-form-urlencoded"),
    ("<script>alert(1)</script>".encode(), "text/html"),
])
def test_bad_input_gets_a_4xx_and_the_server_keeps_serving(assistant, body, content_type):
    answer = requests.post(f"{assistant.url}/webhooks/rest/webhook", data=body,
                           headers={"Content-Type": content_type}, timeout=30)
    assert 400 <= answer.status_code < 500, answer.status_code
    assert requests.get(f"{assistant.url}/", timeout=10).status_code == 200


def test_a_1mb_message_gets_a_kind_reply(assistant):
    answer = requests.post(f"{assistant.url}/webhooks/rest/webhook",
                           json={"sender": new_sender(), "message": "a" * 1_000_000}, timeout=60)
    assert answer.status_code == 200
    assert "lang" in texts(answer.json()).lower()


@pytest.mark.parametrize("text", ["", "   ", "<b>hallo</b><script>x()</script>", "\x00\x01\x02", "🙂" * 50])
def test_odd_text_gets_a_reply_not_an_error(assistant, text):
    answer = requests.post(f"{assistant.url}/webhooks/rest/webhook",
                           json={"sender": new_sender(), "message": text}, timeout=60)
    assert answer.status_code == 200
    assert isinstance(answer.json(), list)


def test_logs_carry_no_message_text_and_no_sender_id(assistant):
    sender = new_sender()
    secret_words = "zebrapaard vertelt geheimen over mijn dochter van 3"
    assistant.say(sender, secret_words)
    logs = assistant.logs()
    assert logs, "the servers write logs"
    assert "zebrapaard" not in logs
    assert sender not in logs


def test_without_the_action_server_a_concern_gets_a_kind_reply(assistant_without_actions):
    replies = assistant_without_actions.say(new_sender(), "mijn dochter van 4 slaapt heel slecht")
    text = texts(replies)
    assert "mis" in text and "112" in text, replies


# ---------------------------------------------------------------- issue 15: limits per client address

def _from(address: str) -> requests.Session:
    """A session whose connections come from ``address`` (any 127.x.y.z is this machine's
    loopback), so each test is its own client address and 127.0.0.1 (the other tests, exempt
    as the machine's own address) is not touched."""
    from requests.adapters import HTTPAdapter

    class FromAddress(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs["source_address"] = (address, 0)
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("http://", FromAddress())
    return session


def _loopback_address() -> str:
    import random

    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _rotate_senders(assistant, session, count, headers=None):  # type: ignore[no-untyped-def]
    """One message from each of ``count`` new senders: the status codes, the first 429, and the
    sender of the last message."""
    statuses, refused, sender = [], None, ""
    for _ in range(count):
        sender = new_sender()
        answer = session.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                              json={"sender": sender, "message": "hallo"},
                              headers=(headers(len(statuses)) if headers else None))
        statuses.append(answer.status_code)
        if answer.status_code == 429 and refused is None:
            refused = answer
    return statuses, refused, sender


def test_100_senders_from_one_address_are_limited_with_a_kind_429(assistant):
    from bot.services.ratelimit import ADDRESS_SETTINGS, LIMITED_REPLY

    allowed = ADDRESS_SETTINGS["RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR"][0]
    assert allowed < 100
    session = _from(_loopback_address())
    first = new_sender()
    assert session.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                        json={"sender": first, "message": "hallo"}).status_code == 200
    statuses, refused, last = _rotate_senders(assistant, session, 100)  # a new `sender` every time
    assert statuses[:allowed - 1] == [200] * (allowed - 1), statuses
    assert set(statuses[allowed - 1:]) == {429}, "rotating `sender` does not sidestep the limit"
    body = refused.json()
    assert body["text"] == LIMITED_REPLY and "112" in body["text"] and "113" in body["text"]
    assert int(refused.headers["Retry-After"]) >= 1 and body["retry_after"] >= 1
    # a conversation that had started goes on; other addresses are not affected
    again = session.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                         json={"sender": first, "message": "ben jij een echt mens?"})
    assert again.status_code == 200 and "geen mens" in texts(again.json()).lower()
    assert _from(_loopback_address()).post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                                           json={"sender": new_sender(), "message": "hallo"}).status_code == 200
    assert assistant.say(new_sender(), "hallo"), "the machine's own address (no proxy) is exempt"
    # a refused sender's message was not processed: nothing of it is in the tracker store
    tracker = requests.get(f"{assistant.url}/conversations/{last}/tracker",
                           params={"token": assistant.token}, timeout=30).json()
    assert not [e for e in tracker.get("events") or [] if e.get("event") == "user"]


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(assistant):
    from bot.services.ratelimit import ADDRESS_SETTINGS

    allowed = ADDRESS_SETTINGS["RATE_LIMIT_NEW_SENDERS_PER_ADDRESS_PER_HOUR"][0]
    session = _from(_loopback_address())
    # a new "client address" in X-Forwarded-For with every new sender: the server trusts no proxy
    # (RASA_TRUSTED_PROXIES unset), so the socket peer counts, and that is one address
    statuses, _, _ = _rotate_senders(
        assistant, session, allowed + 5,
        headers=lambda n: {"X-Forwarded-For": f"203.0.113.{n % 250 + 1}", "X-Real-IP": f"198.51.100.{n % 250 + 1}"})
    assert statuses[:allowed] == [200] * allowed and set(statuses[allowed:]) == {429}, statuses
    # nor does a forwarding header make the machine's own address exempt-by-pretence: with one
    # a client on 127.0.0.1 is an ordinary client (a proxy on this host would add one)
    from bot.services.ratelimit import ProxyTrust, client_address

    trust = ProxyTrust.from_env(assistant.env)
    assert client_address("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, trust) == "127.0.0.1"


def test_metadata_outside_the_allow_list_does_not_reach_the_tracker(assistant):
    sender = new_sender()
    metadata = {"language": "nl", "tracking_id": "zebrapaard-123", "profile": {"name": "Anna", "age": 34},
                "blob": "x" * 20_000, "utter_action": "utter_crisis"}
    answer = requests.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                           json={"sender": sender, "message": "hallo", "metadata": metadata})
    assert answer.status_code == 200 and answer.json()
    other = new_sender()
    assert requests.post(f"{assistant.url}/webhooks/rest/webhook", timeout=60,
                         json={"sender": other, "message": "hallo",
                               "metadata": {"language": "<script>", "x": 1}}).status_code == 200
    for conversation, expected in ((sender, "nl"), (other, None)):
        tracker = requests.get(f"{assistant.url}/conversations/{conversation}/tracker",
                               params={"token": assistant.token}, timeout=30)
        assert tracker.status_code == 200
        users = [e for e in tracker.json()["events"] if e.get("event") == "user"]
        assert users, tracker.json()
        stored = json.dumps(tracker.json())
        assert "zebrapaard" not in stored and "Anna" not in stored and "x" * 1000 not in stored
        assert "<script>" not in stored
        for event in users:
            kept = event.get("metadata") or {}
            assert kept.get("language") == expected
            assert not {"tracking_id", "profile", "blob", "utter_action", "x"} & set(kept), kept


def test_only_allow_listed_metadata_is_kept():
    from bot.rasa.channels.metadata import allowed_metadata

    assert allowed_metadata({"language": "nl", "x": 1, "session": "abc"}) == {"language": "nl"}
    assert allowed_metadata({"language": "nl-BE"}) == {"language": "nl-BE"}
    for bad in ({"language": "nederlands"}, {"language": ["nl"]}, {"language": "<b>"}, {"x": "y"}, {}):
        assert allowed_metadata(bad) == {}
    for not_a_dict in (None, "{}", ["language"], 5):
        assert allowed_metadata(not_a_dict) == {}


def test_the_rest_token_is_a_bearer_header_when_configured():
    from bot.rasa.channels.rest import authorised

    class Request:
        def __init__(self, headers):  # type: ignore[no-untyped-def]
            self.headers = {k.lower(): v for k, v in headers.items()}

    token = "a-long-random-rest-token-0123456789"
    assert authorised(Request({}), "")  # make run: open on localhost
    assert authorised(Request({"Authorization": f"Bearer {token}"}), token)
    assert authorised(Request({"Authorization": f"bearer  {token}"}), token)
    for headers in ({}, {"Authorization": token}, {"Authorization": "Bearer wrong"},
                    {"Authorization": f"Basic {token}"}, {"Authorization": f"Bearer {token}x"}):
        assert not authorised(Request(headers), token), headers

"""End to end over REST: the real Rasa server and action server, a real conversation."""
from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import new_sender, texts

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

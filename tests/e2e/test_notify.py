"""Notifications of a new case: a real local SMTP server (aiosmtpd) and a local webhook."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from bot.services import notify
from bot.services.cases import CaseStore
from tests.support.smtp_server import Inbox, smtp_server
from tests.support.web_fixture import free_port

SECRET_WORDS = "Mijn zoon slaat mij elke avond"
BASE = "https://jeugd.voorbeeldstad.example"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def case(tmp_path: Path):
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    return store.create_case(conversation_id="conv-secret-42", severity="crisis", signal="geweld",
                             topic="agressie", age_months=150, phase="12-19", words_consent=True,
                             parent_words=[SECRET_WORDS], contact_preference="phone",
                             contact_detail="+31612345678", municipality="Voorbeeldstad")


def _no_content(text: str) -> None:
    for secret in (SECRET_WORDS, "agressie", "conv-secret-42", "+31612345678", "0612345678", "geweld"):
        assert secret not in text


def _env(port: int, **extra: str) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "NOTIFY_EMAIL_FROM": "bot@voorbeeldstad.example",
            "NOTIFY_EMAIL_TO": "jeugd@voorbeeldstad.example, dienst@voorbeeldstad.example",
            "CONSOLE_BASE_URL": BASE + "/", **extra}


def test_email_arrives_with_urgency_and_link_and_no_content(smtp, case) -> None:
    inbox, port = smtp
    notifier = notify.notifier_from_env(_env(port), background=False)
    assert notifier.send_now(case) == 1
    assert inbox.arrived.wait(5)
    sender, recipients, raw = inbox.messages[0]
    assert sender == "bot@voorbeeldstad.example"
    assert recipients == ["jeugd@voorbeeldstad.example", "dienst@voorbeeldstad.example"]
    message: Message = message_from_bytes(raw)
    body = message.get_payload(decode=True).decode("utf-8")
    assert "crisis" in message["Subject"] and message["X-Opvoedmaatje-Urgency"] == "crisis"
    assert message["X-Priority"] == "1"
    assert f"{BASE}/console/cases/{case.id}" in body
    assert "Urgentie: crisis" in body
    _no_content(raw.decode("utf-8", "replace"))


def test_background_sending_does_not_wait_for_a_hanging_server(case, caplog) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never greets
    try:
        channel = notify.EmailNotifier("127.0.0.1", silent.getsockname()[1], "a@b.nl", ["c@d.nl"], timeout=1.0)
        notifier = notify.CaseNotifier([channel], BASE, background=True)
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="bot.services.notify"):
            future = notifier.notify_new_case(case)
            assert time.monotonic() - started < 0.5  # the parent's reply is not held up
            assert future.result(timeout=10) == 0
    finally:
        silent.close()
    assert "failed" in caplog.text and case.id in caplog.text
    _no_content(caplog.text)


def test_unreachable_smtp_is_logged_without_content(case, caplog) -> None:
    notifier = notify.notifier_from_env(_env(free_port()), background=False)
    with caplog.at_level(logging.ERROR, logger="bot.services.notify"):
        assert notifier.send_now(case) == 0
    assert "EmailNotifier" in caplog.text
    _no_content(caplog.text)


class Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 - http.server hook name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[type, str]]:
    handler = type("RecordingHook", (Hook,), {"received": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_is_signed_and_carries_no_content(hook, case) -> None:
    handler, url = hook
    notifier = notify.notifier_from_env({"NOTIFY_WEBHOOK_URL": url, "NOTIFY_WEBHOOK_SECRET": "s3cret",
                                         "CONSOLE_BASE_URL": BASE}, background=False)
    assert notifier.send_now(case) == 1
    headers, body = handler.received[0]
    payload = json.loads(body)
    assert payload == {"event": "case.created", "case_id": case.id, "urgency": "crisis",
                       "created_at": case.created_at.isoformat(), "url": f"{BASE}/console/cases/{case.id}"}
    timestamp, signature = headers[notify.TIMESTAMP_HEADER], headers[notify.SIGNATURE_HEADER]
    assert notify.verify("s3cret", timestamp, body, signature)
    assert not notify.verify("wrong", timestamp, body, signature)
    assert not notify.verify("s3cret", timestamp, body.replace(b"crisis", b"normaal"), signature)
    assert not notify.verify("s3cret", str(int(timestamp) - 3600), body, signature)  # stale
    _no_content(body.decode())


def test_webhook_without_secret_is_unsigned(hook, case) -> None:
    handler, url = hook
    notify.notifier_from_env({"NOTIFY_WEBHOOK_URL": url}, background=False).send_now(case)
    headers, _ = handler.received[0]
    assert notify.SIGNATURE_HEADER not in headers


def test_webhook_error_is_logged_not_raised(hook, case, caplog) -> None:
    handler, url = hook
    handler.status = 500
    with caplog.at_level(logging.ERROR, logger="bot.services.notify"):
        assert notify.notifier_from_env({"NOTIFY_WEBHOOK_URL": url}, background=False).send_now(case) == 0
    assert "WebhookNotifier" in caplog.text
    _no_content(caplog.text)


def test_both_channels_and_none(smtp, hook, case, caplog) -> None:
    inbox, port = smtp
    handler, url = hook
    both = notify.notifier_from_env(_env(port, NOTIFY_WEBHOOK_URL=url), background=False)
    assert both.send_now(case) == 2 and inbox.messages and handler.received
    nothing = notify.notifier_from_env({}, background=False)
    assert nothing.channels == []
    with caplog.at_level(logging.WARNING, logger="bot.services.notify"):
        assert nothing.notify_new_case(case) is None
    assert "no notification channel" in caplog.text


@pytest.mark.parametrize("env, expected", [
    ({}, "http://127.0.0.1:8080"),
    ({"WEB_PORT": "9000"}, "http://127.0.0.1:9000"),
    ({"CONSOLE_BASE_URL": "https://x.example/"}, "https://x.example"),
])
def test_console_base_url(env: dict, expected: str) -> None:
    assert notify.console_base_url(env) == expected


def test_a_crisis_while_a_professional_holds_the_conversation_is_alerted_by_email_and_webhook(
        smtp, hook, tmp_path) -> None:
    """Issue 13: the case is marked (the console lists it first) and both channels say so, with no
    content."""
    from bot.domain import handoff

    inbox, port = smtp
    handler, url = hook
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'alert.db'}")
    held = store.create_case(conversation_id="conv-held", severity="normaal", topic="driftbuien")
    other = store.create_case(conversation_id="conv-other", severity="crisis", signal="suicide")
    notifier = notify.notifier_from_env({**_env(port), "NOTIFY_WEBHOOK_URL": url}, background=False)

    assert handoff.alert_professional(store, "conv-nobody", "geweld", "vermist", notifier) is None
    alerted = handoff.alert_professional(store, "conv-held", "geweld", "vermist", notifier)
    assert (alerted.severity, alerted.signal, alerted.situation) == ("crisis", "geweld", "vermist")
    assert alerted.alerted_at is not None
    assert [c.id for c in store.list_cases()] == [held.id, other.id]  # the alert comes first

    assert inbox.arrived.wait(5)
    message: Message = message_from_bytes(inbox.messages[0][2])
    body = message.get_payload(decode=True).decode("utf-8")
    assert "crisissignaal" in message["Subject"] and message["X-Priority"] == "1"
    assert "crisisnummers" in body and f"{BASE}/console/cases/{held.id}" in body
    payload = json.loads(handler.received[0][1])
    assert payload["event"] == "case.crisis_alert" and payload["case_id"] == held.id
    for raw in (inbox.messages[0][2].decode("utf-8", "replace"), handler.received[0][1].decode()):
        assert "conv-held" not in raw and "driftbuien" not in raw and "vermist" not in raw


# ---------------------------------------------------------------- issue 15: STARTTLS by default


@pytest.mark.parametrize("host,setting,expected", [
    ("smtp.voorbeeldstad.nl", None, True),      # the default: encrypted
    ("smtp.voorbeeldstad.nl", "false", False),  # switched off on purpose
    ("smtp.voorbeeldstad.nl", "true", True),
    ("localhost", None, False),                 # a relay on this machine
    ("127.0.0.1", None, False),
    ("::1", None, False),
    ("localhost", "true", True),
])
def test_smtp_uses_starttls_unless_switched_off_or_local(host, setting, expected) -> None:
    env = {"SMTP_HOST": host, "NOTIFY_EMAIL_TO": "team@voorbeeldstad.example"}
    if setting is not None:
        env["SMTP_STARTTLS"] = setting
    (channel,) = notify.notifier_from_env(env, background=False).channels
    assert channel.uses_starttls is expected


def test_a_remote_smtp_server_is_spoken_to_over_starttls_before_the_login(case, monkeypatch) -> None:
    calls = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            calls.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self, context=None):
            calls.append(("starttls", context is not None))

        def login(self, user, password):
            calls.append(("login", user))

        def send_message(self, message):
            calls.append(("send",))

    monkeypatch.setattr(notify.smtplib, "SMTP", FakeSMTP)
    env = {"SMTP_HOST": "smtp.voorbeeldstad.nl", "SMTP_PORT": "587", "SMTP_USER": "bot",
           "SMTP_PASSWORD": "pw", "NOTIFY_EMAIL_TO": "team@voorbeeldstad.example"}
    assert notify.notifier_from_env(env, background=False).send_now(case) == 1
    assert calls == [("connect", "smtp.voorbeeldstad.nl", 587), ("starttls", True), ("login", "bot"), ("send",)]

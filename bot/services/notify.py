"""Tell the professionals that a new case is waiting: by e-mail (SMTP) and/or by webhook.

A notification carries the urgency, the time and a link to the case in the console, NEVER the
content of the conversation or the parent's words. Sending happens in a background thread with
short timeouts, so it never delays the parent's reply; failures are logged without content.

Environment:
  SMTP_HOST, SMTP_PORT (25), SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS (true/false; default true,
  except for localhost / 127.0.0.1 / ::1: a relay on the same host; a server that does not offer
  STARTTLS then fails the sending, it is never retried in plain text),
  NOTIFY_EMAIL_FROM, NOTIFY_EMAIL_TO (comma-separated): e-mail, when SMTP_HOST and
  NOTIFY_EMAIL_TO are set.
  NOTIFY_WEBHOOK_URL, NOTIFY_WEBHOOK_SECRET: webhook, when NOTIFY_WEBHOOK_URL is set. With a
  secret, the request carries ``X-Opvoedmaatje-Timestamp: <unix seconds>`` and
  ``X-Opvoedmaatje-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``.
  CONSOLE_BASE_URL: where the console is (default http://127.0.0.1:$WEB_PORT).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Optional, Protocol, Sequence

from bot import settings
from bot.vocabulary import TZ

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Opvoedmaatje-Signature"
TIMESTAMP_HEADER = "X-Opvoedmaatje-Timestamp"
URGENCY_TEXT = {
    "crisis": "crisis: pak dit direct op",
    "aandacht": "aandacht: pak dit vandaag op",
    "normaal": "normaal",
}
_executor: Optional[ThreadPoolExecutor] = None
NEW_CASE = "case.created"
CRISIS_ALERT = "case.crisis_alert"  # a crisis while a professional holds the conversation


def console_base_url(environ: settings.Environ = None) -> str:
    values = settings.current(environ)
    base = (values.CONSOLE_BASE_URL or "").strip()
    return (base or f"http://127.0.0.1:{values.WEB_PORT}").rstrip("/")


def case_link(case_id: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/console/cases/{case_id}"


@dataclass(frozen=True)
class Notice:
    """What a notification may carry: no content, ever."""

    case_id: str
    urgency: str
    created_at: str  # ISO 8601
    link: str
    event: str = NEW_CASE  # NEW_CASE | CRISIS_ALERT

    @classmethod
    def of(cls, case: Any, base_url: str, event: str = NEW_CASE) -> "Notice":
        created = case.created_at
        return cls(case_id=case.id, urgency=case.severity,
                   created_at=created.isoformat() if created else "",
                   link=case_link(case.id, base_url), event=event)


class Notifier(Protocol):
    def notify_new_case(self, case: Any) -> None: ...

    def notify_crisis_alert(self, case: Any) -> None: ...


def _local_time(iso: str) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).astimezone(TZ).strftime("%d-%m-%Y %H:%M")
    except ValueError:
        return iso


@dataclass
class EmailNotifier:
    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    user: Optional[str] = None
    password: Optional[str] = None
    # None: STARTTLS unless the host is this machine (see uses_starttls)
    starttls: Optional[bool] = None
    timeout: float = 5.0

    @property
    def uses_starttls(self) -> bool:
        return self.starttls if self.starttls is not None else not is_local_host(self.host)

    def message(self, notice: Notice) -> EmailMessage:
        urgency = URGENCY_TEXT.get(notice.urgency, notice.urgency)
        message = EmailMessage()
        alert = notice.event == CRISIS_ALERT
        message["Subject"] = ("Opvoedmaatje: crisissignaal in een gesprek dat je hebt overgenomen" if alert
                              else f"Opvoedmaatje: nieuwe aanvraag (urgentie {notice.urgency})")
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="opvoedmaatje.local")
        message["X-Opvoedmaatje-Urgency"] = notice.urgency
        if notice.urgency == "crisis" or alert:
            message["X-Priority"] = "1"
            message["Importance"] = "high"
        opening = ("In een gesprek dat een medewerker heeft overgenomen, zag de assistent een "
                   "crisissignaal. De ouder kreeg meteen de crisisnummers.\n\n" if alert else
                   "Er is een nieuwe aanvraag voor contact met een medewerker.\n\n")
        message.set_content(
            opening +
            f"Urgentie: {urgency}\n"
            f"Binnengekomen: {_local_time(notice.created_at)}\n\n"
            f"Bekijk de aanvraag in de console (inloggen nodig):\n{notice.link}\n\n"
            "Deze e-mail bevat bewust geen inhoud van het gesprek.\n"
        )
        return message

    def send(self, notice: Notice) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.uses_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(self.message(notice))


@dataclass
class WebhookNotifier:
    url: str
    secret: Optional[str] = None
    timeout: float = 3.0

    def body(self, notice: Notice) -> bytes:
        payload = {"event": notice.event, "case_id": notice.case_id, "urgency": notice.urgency,
                   "created_at": notice.created_at, "url": notice.link}
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    def send(self, notice: Notice) -> None:
        body = self.body(notice)
        headers = {"Content-Type": "application/json", "User-Agent": "Opvoedmaatje-notify/1"}
        if self.secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self.secret, timestamp, body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            if answer.status >= 300:
                raise urllib.error.HTTPError(self.url, answer.status, "unexpected status", answer.headers, None)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>`` (what a receiver recomputes)."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, max_age: float = 300,
           now: Optional[float] = None) -> bool:
    """For receivers and tests: a valid, fresh signature header value."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    expected = "sha256=" + sign(secret, timestamp, body)
    return age <= max_age and hmac.compare_digest(expected, signature or "")


@dataclass
class CaseNotifier:
    """Sends a `Notice` through every configured channel; never raises."""

    channels: list = field(default_factory=list)
    base_url: str = "http://127.0.0.1:8080"
    background: bool = True

    def send_now(self, case: Any, event: str = NEW_CASE) -> int:
        """Send synchronously; returns how many channels succeeded."""
        notice = Notice.of(case, self.base_url, event)
        sent = 0
        for channel in self.channels:
            try:
                channel.send(notice)
                sent += 1
            except Exception as error:  # noqa: BLE001 - a notification must never break a reply
                # type and case id only: never content
                logger.error("notification by %s for case %s failed: %s", type(channel).__name__,
                             notice.case_id, type(error).__name__)
        return sent

    def notify_new_case(self, case: Any) -> Optional[Future]:
        return self._notify(case, NEW_CASE)

    def notify_crisis_alert(self, case: Any) -> Optional[Future]:
        return self._notify(case, CRISIS_ALERT)

    def _notify(self, case: Any, event: str) -> Optional[Future]:
        if not self.channels:
            logger.warning("case %s: no notification channel configured", getattr(case, "id", "?"))
            return None
        if not self.background:
            self.send_now(case, event)
            return None
        global _executor
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notify")
        return _executor.submit(self.send_now, case, event)


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "ja", "on"}


LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "127.0.0.1", "::1", "[::1]"})


def is_local_host(host: str) -> bool:
    host = (host or "").strip().lower().rstrip(".")
    return host in LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def _starttls_setting(value: Optional[str]) -> Optional[bool]:
    """SMTP_STARTTLS: true / false, or None (unset or unreadable: decided by the host)."""
    folded = (value or "").strip().lower()
    if folded in {"0", "false", "no", "nee", "off"}:
        return False
    return True if _truthy(folded) else None


def smtp_settings(environ: settings.Environ = None) -> Optional[dict]:
    """The arguments of an ``EmailNotifier`` but its recipients, or None without ``SMTP_HOST``
    (also for bot/services/offers/mail.py)."""
    values = settings.current(environ)
    host = (values.SMTP_HOST or "").strip()
    if not host:
        return None
    try:
        port = int(values.value("SMTP_PORT"))
    except ValueError:
        port = int(values.default("SMTP_PORT"))
    return dict(host=host, port=port, sender=values.value("NOTIFY_EMAIL_FROM").strip(),
                user=values.SMTP_USER or None, password=values.SMTP_PASSWORD or None,
                starttls=_starttls_setting(values.SMTP_STARTTLS))


def notifier_from_env(environ: settings.Environ = None, background: bool = True) -> CaseNotifier:
    """The notifier the environment configures (possibly with no channel at all)."""
    values = settings.current(environ)
    channels: list = []
    smtp = smtp_settings(values)
    recipients = [r.strip() for r in (values.NOTIFY_EMAIL_TO or "").split(",") if r.strip()]
    if smtp and recipients:
        channels.append(EmailNotifier(recipients=recipients, **smtp))
    url = (values.NOTIFY_WEBHOOK_URL or "").strip()
    if url:
        channels.append(WebhookNotifier(url=url, secret=values.NOTIFY_WEBHOOK_SECRET or None))
    return CaseNotifier(channels=channels, base_url=console_base_url(values), background=background)

"""E-mail to a resident about their proposal (issue 20), through the project's SMTP notifier
(bot/services/notify.py: the same SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS and
NOTIFY_EMAIL_FROM). Only when the resident left an address and agreed to be mailed. The log
names neither the address nor the text."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Optional

from bot import settings
from bot.services.notify import EmailNotifier, smtp_settings

logger = logging.getLogger(__name__)

SUBJECT = "Je voorstel voor het aanbod van de gemeente"
ACCEPTED = (
    "Hallo{name},\n\n"
    "Bedankt voor je voorstel. We hebben het bekeken en nemen het op in het aanbod.\n"
    "Binnenkort kunnen ouders het vinden via Opvoedmaatje.\n"
    "Misschien nemen we nog contact met je op voor de details.\n\n"
    "Met vriendelijke groet,\nDe redactie van het aanbod\n"
)
DECLINED = (
    "Hallo{name},\n\n"
    "Bedankt voor je voorstel. We hebben het goed bekeken.\n"
    "We nemen het deze keer niet op in het aanbod.\n"
    "De reden: {reason}\n\n"
    "Over 30 dagen wissen we je naam en e-mailadres.\n\n"
    "Met vriendelijke groet,\nDe redactie van het aanbod\n"
)


@dataclass
class ProposerMail(EmailNotifier):
    """One e-mail to one resident; `text` is set per message."""

    text: str = ""

    def message(self, notice: Any = None) -> EmailMessage:  # type: ignore[override]
        message = EmailMessage()
        message["Subject"] = SUBJECT
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="opvoedmaatje.local")
        message.set_content(self.text)
        return message


class ProposerNotifier:
    def __init__(self, environ: settings.Environ = None):
        self.environ = environ

    def _send(self, address: Optional[str], text: str) -> bool:
        smtp = smtp_settings(self.environ)
        if not address or not smtp:
            return False
        mail = ProposerMail(recipients=[address], text=text, **smtp)
        try:
            mail.send(None)
        except Exception as error:  # noqa: BLE001 - a mail problem never breaks the console
            logger.error("proposal e-mail not sent: %s", type(error).__name__)
            return False
        logger.info("proposal e-mail sent")
        return True

    @staticmethod
    def _name(proposal: Any) -> str:
        return f" {proposal.contact_name}" if proposal.contact_name else ""

    def accepted(self, proposal: Any) -> bool:
        return self._send(proposal.contact_email, ACCEPTED.format(name=self._name(proposal)))

    def declined(self, proposal: Any, reason: str) -> bool:
        return self._send(proposal.contact_email, DECLINED.format(name=self._name(proposal), reason=reason))


def proposer_notifier(environ: settings.Environ = None) -> ProposerNotifier:
    return ProposerNotifier(environ)

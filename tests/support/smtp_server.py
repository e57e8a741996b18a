"""A real local SMTP server (aiosmtpd) for the tests of e-mail: what arrived, and when."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from email import message_from_bytes, policy
from typing import Iterator, List, Tuple

from aiosmtpd.controller import Controller

from tests.support.web_fixture import free_port


class Inbox:
    """The messages the server accepted: (sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.messages: List[Tuple[str, List[str], bytes]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 Message accepted for delivery"

    def texts(self) -> List[str]:
        return [message_from_bytes(raw, policy=policy.default).get_body().get_content()
                for _sender, _to, raw in self.messages]


@contextmanager
def smtp_server() -> Iterator[Tuple[Inbox, int]]:
    """An SMTP server on a free local port, stopped afterwards."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()

"""Scanning logs for what must never be logged (issue 14, item 6): phone numbers, e-mail
addresses, sender ids and pseudonyms, and message texts.

Two scans: the channel tests (test_whatsapp.py, test_twilio.py) check their own captured logs
against the numbers and texts they sent; and at the end of every test run, ``scan_run`` reads the
logs of every server the run started (all ``*.log`` under the session's temporary directory) and
the project's log records in the test process, for the texts and sender ids sent through
``Assistant.say`` (``remember``) and for anything shaped like a phone number, an e-mail address
or a pseudonym (tests/support/run_log_scan.py fails the run when it finds one)."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable, List, Set

import pytest

from bot.services.pseudonym import Pseudonymizer

PSEUDONYM_SHAPE = re.compile(r"\b[a-z]{2}-[0-9a-f]{32}\b")  # what bot.services.pseudonym makes
MIN_TEXT = 5  # shorter texts ("een", "2") occur in ordinary log lines by chance
PHONE_SHAPE = re.compile(r"(?<![\w.])(?:\+?31|0)6[\s-]?\d{8}\b")  # a Dutch mobile number
EMAIL_SHAPE = re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
# what the parents of this test run said, and who they were (filled by ``remember``)
SENT_TEXTS: Set[str] = set()
SENDERS: Set[str] = set()
# the project's log records in the test process, as production logs them (``RunRecords``)
RUN_RECORDS: List[str] = []


def forbidden(numbers: Iterable[str], texts: Iterable[str], pseudonymizers: Iterable[Pseudonymizer],
              prefix: str) -> List[str]:
    """Each number as sent and its last nine digits, its pseudonym, and the message texts."""
    found: List[str] = []
    pseudonymizers = list(pseudonymizers)
    for number in numbers:
        digits = re.sub(r"\D", "", number)
        found += [number, digits[-9:]]
        found += [p.pseudonym(number, prefix) for p in pseudonymizers]
    found += [t for t in texts if len(t.strip()) >= MIN_TEXT]
    return found


def leaks(text: str, forbidden_strings: Iterable[str]) -> List[str]:
    """What of `forbidden_strings`, or anything shaped like a pseudonym, `text` holds."""
    found = sorted({f for f in forbidden_strings if f and f in text})
    return found + PSEUDONYM_SHAPE.findall(text)


def capture(caplog: pytest.LogCaptureFixture) -> None:
    """Capture as production logs: the project's loggers at DEBUG, everything else at INFO."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")


def captured(caplog: pytest.LogCaptureFixture) -> str:
    """The text of the records of the test's setup and call (from a fixture's teardown, where
    ``caplog.records`` holds only the teardown's)."""
    records = caplog.get_records("setup") + caplog.get_records("call")
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)


def remember(sender: str, text: str) -> None:
    """A message of this run (``Assistant.say``): its text and sender id must not be logged."""
    SENDERS.add(sender)
    if isinstance(text, str) and len(text.strip()) >= MIN_TEXT and not text.startswith("/"):
        SENT_TEXTS.add(text)


class RunRecords(logging.Handler):
    """Keeps the message of every record of the project's loggers in the test process."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            RUN_RECORDS.append(f"{record.getMessage()} {record.exc_text or ''}")
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not a leak
            pass


def shaped_leaks(text: str) -> List[str]:
    """Anything in `text` shaped like a Dutch mobile number, an e-mail address or a pseudonym."""
    return PHONE_SHAPE.findall(text) + EMAIL_SHAPE.findall(text) + PSEUDONYM_SHAPE.findall(text)


def scan_run(log_root: Path) -> List[str]:
    """'where: what' for every leak in the server logs under `log_root` and in the run's records."""
    found: List[str] = []
    forbidden_strings = sorted(SENT_TEXTS | SENDERS)
    sources = [(str(p.relative_to(log_root)), p.read_text(errors="replace")) for p in sorted(log_root.rglob("*.log"))]
    sources.append(("test process", "\n".join(RUN_RECORDS)))
    for where, text in sources:
        for leak in sorted(set(leaks(text, forbidden_strings) + shaped_leaks(text))):
            found.append(f"{where}: {leak[:60]}")
    return found

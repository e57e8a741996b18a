"""Scanning captured logs for what must never be logged (issue 14, item 6): phone numbers,
sender pseudonyms and message texts. Used by the channel tests (test_whatsapp.py, test_twilio.py)."""
from __future__ import annotations

import logging
import re
from typing import Iterable, List

import pytest

from bot.channels.pseudonym import Pseudonymizer

PSEUDONYM_SHAPE = re.compile(r"\b[a-z]{2}-[0-9a-f]{32}\b")  # what bot.channels.pseudonym makes
MIN_TEXT = 5  # shorter texts ("een", "2") occur in ordinary log lines by chance


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

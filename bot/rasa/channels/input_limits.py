"""Limits and clean-up shared by every channel that takes a parent's text."""
from __future__ import annotations

import re
import unicodedata

MAX_MESSAGE_CHARS = 2000
TOO_LONG_REPLY = (
    "Je bericht is erg lang. Kun je je vraag in een paar zinnen opschrijven? "
    "Dan kan ik je beter helpen."
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# lone surrogates (a JSON "\ud800" escape) make spaCy raise; replace them
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Normalise unicode and drop control characters; keep the words as the parent wrote them."""
    text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()

"""Switching the conversation's language (issue 17): by a button or by asking.

A button sends ``/switch_language{"language":"en"}``; Rasa reads it as the intent
``switch_language`` with the entity ``language``, which fills the slot. These payloads are the
only ones a parent may send without the assistant having offered them (the web page's language
menu sends them), so the crisis detector accepts them as payloads (``is_switch_payload``).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, FrozenSet, Optional

from bot.domain.languages.detector import load_rules

SWITCH_INTENT = "switch_language"
LANGUAGE_ENTITY = "language"
_PAYLOAD = re.compile(r'^/switch_language\{\s*"language"\s*:\s*"([a-z]{2})"\s*\}$')


@lru_cache(maxsize=1)
def _languages() -> FrozenSet[str]:
    return frozenset(load_rules().languages)


def payload(language: str) -> str:
    """The button payload that switches the conversation to ``language``."""
    return f"/{SWITCH_INTENT}{json.dumps({LANGUAGE_ENTITY: language}, separators=(',', ':'))}"


def requested_language(text: Any) -> Optional[str]:
    """The language a switch payload asks for, if ``text`` is one for a language the assistant has."""
    match = _PAYLOAD.match(text.strip()) if isinstance(text, str) else None
    if match and match.group(1) in _languages():
        return match.group(1)
    return None


def is_switch_payload(text: Any) -> bool:
    return requested_language(text) is not None

"""Anonymised statistics records of Rasa events: fixed labels and counts, never text or sender
ids (the rules are in the docstring of bot/rasa/stats_broker.py, the broker that sends them).

Pure functions, shared by the broker (Rasa glue), the insight consumer and the erasure; no Rasa
import here.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import weakref
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from bot import settings, vocabulary

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_QUEUE = settings.Settings.default("EVENT_BROKER_QUEUE")
DEFAULT_EXCHANGE = settings.Settings.default("EVENT_BROKER_EXCHANGE")

# The contract's fixed value sets (CONTRACT.md sections 1-5) of the slots that are counted.
SLOT_VALUES: Dict[str, frozenset] = {
    name: frozenset(vocabulary.SLOT_VALUES[name])
    for name in ("topic", "phase", "severity", "support_level", "signal", "situation")
}
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # intent, action and channel names


def _label(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and _LABEL.match(value) else None


def moment_of(event: Dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    try:
        return datetime.fromtimestamp(float(stamp), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(tz=timezone.utc)


def conversation_hash(hash_key: str, sender_id: Any, day: str) -> Optional[str]:
    """Daily-rotating keyed hash of the sender id; None without a key."""
    if not hash_key or not isinstance(sender_id, str):
        return None
    message = f"{day}\x00{sender_id}".encode("utf-8", "surrogatepass")
    return hmac.new(hash_key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:16]


def anonymise(event: Dict[str, Any], hash_key: str = "") -> Optional[Dict[str, Any]]:
    """The statistics record for one Rasa event, or None when the event is not counted."""
    if not isinstance(event, dict):
        return None
    kind = event.get("event")
    record: Dict[str, Any]
    if kind == "user":
        parse_data = event.get("parse_data")
        intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
        record = {"type": "user",
                  "intent": _label(intent.get("name")) if isinstance(intent, dict) else None,
                  "channel": _label(event.get("input_channel"))}
    elif kind == "slot":
        name, value = event.get("name"), event.get("value")
        allowed = SLOT_VALUES.get(name) if isinstance(name, str) else None
        if allowed is None or not isinstance(value, str) or value not in allowed:
            return None
        record = {"type": "slot", "slot": name, "value": value}
    elif kind == "action":
        name = _label(event.get("name"))
        if name is None or name == "action_listen":
            return None
        record = {"type": "action", "action": name}
    elif kind == "bot":
        metadata = event.get("metadata")
        fallback = isinstance(metadata, dict) and metadata.get("opvoedmaatje_fallback") is True
        record = {"type": "bot", "fallback": fallback}
    elif kind == "session_started":
        record = {"type": "session"}
    else:
        return None
    moment = moment_of(event)
    day = moment.strftime("%Y-%m-%d")
    record.update(schema=SCHEMA_VERSION, day=day, hour=moment.hour)
    conversation = conversation_hash(hash_key, event.get("sender_id"), day)
    if conversation:
        record["conversation"] = conversation
    return record


def event_key(link_key: str, event: Dict[str, Any]) -> Optional[str]:
    """A keyed hash naming one Rasa event (sender, time, kind, name, value): the same event
    published twice has the same key, so the insight consumer counts it once."""
    if not link_key or not isinstance(event, dict):
        return None
    parts = [event.get("sender_id"), event.get("timestamp"), event.get("event"), event.get("name"),
             event.get("value") if isinstance(event.get("value"), (str, int, float, bool)) else None]
    message = "\x00".join(repr(part) for part in parts).encode("utf-8", "surrogatepass")
    return hmac.new(link_key.encode("utf-8"), b"key\x00" + message, hashlib.sha256).hexdigest()[:32]


def insight_labels(event: Dict[str, Any], neighbourhoods: Dict[str, str]) -> List[Dict[str, Any]]:
    """The extra fixed-label records of one event for the insight (issue 18): the neighbourhood
    slot when its value is one of the catalogue's neighbourhoods (``neighbourhoods``: casefolded
    name -> name), and the language of a user message's page. Never text or ids."""
    from bot.services.insight.labels import language_label

    if not isinstance(event, dict):
        return []
    kind = event.get("event")
    if kind == "slot" and event.get("name") == "neighbourhood" and isinstance(event.get("value"), str):
        name = neighbourhoods.get(event["value"].strip().casefold())
        return [{"type": "label", "label": "neighbourhood", "value": name}] if name else []
    if kind == "user":
        metadata = event.get("metadata")
        language = language_label(metadata.get("language")) if isinstance(metadata, dict) else None
        return [{"type": "label", "label": "language", "value": language}] if language else []
    return []


_key_holders: "weakref.WeakSet[Any]" = weakref.WeakSet()  # objects with a .link_key, for link_keys()


def register_link_key(holder: Any) -> None:
    """Make ``holder.link_key`` (a statistics broker's key) known to link_keys() while it lives."""
    _key_holders.add(holder)


def link_keys(environ: Any = None) -> List[str]:
    """The keys the conversation hashes of this process are made with: ``STATS_HASH_KEY`` and the
    key of every statistics broker alive here (``register_link_key``; a broker's own random key
    when none is set). The erasure needs them to find a conversation's working rows
    (bot/services/insight/privacy.py)."""
    keys = [str(settings.current(environ).STATS_HASH_KEY or "").strip()]
    keys += [holder.link_key for holder in list(_key_holders)]
    return sorted({key for key in keys if key})


def catalogue_neighbourhoods() -> Dict[str, str]:
    try:
        from bot.domain.catalogue import load_catalogue

        municipality = load_catalogue().municipality
        names = municipality.neighbourhood_names() if municipality else ()
    except Exception as error:  # no catalogue: no neighbourhood labels, never a failure
        logger.warning("stats: no neighbourhoods from the catalogue (%s)", type(error).__name__)
        names = ()
    return {name.casefold(): name for name in names}

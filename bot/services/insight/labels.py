"""The fixed labels of the insight aggregates (issue 18) and their Dutch names for the page.

Only values of these fixed sets are ever stored: the contract's slot values (bot/vocabulary.py),
the catalogue's neighbourhoods, the channels below and the languages below. '' means "not known".
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

from bot import vocabulary

UNKNOWN = ""
UNKNOWN_LABEL = "onbekend"
OTHER_LANGUAGE = "anders"
# ISO 639-1 codes of languages spoken by many parents in Dutch municipalities; others: "anders"
LANGUAGES: Tuple[str, ...] = ("nl", "en", "ar", "tr", "pl", "uk", "de", "fr", "es", "pt", "ro", "bg",
                              "so", "ti", "fa", "ru", "zh", "pap", OTHER_LANGUAGE)
LANGUAGE_NAMES: Dict[str, str] = {
    "nl": "Nederlands", "en": "Engels", "ar": "Arabisch", "tr": "Turks", "pl": "Pools", "uk": "Oekraïens",
    "de": "Duits", "fr": "Frans", "es": "Spaans", "pt": "Portugees", "ro": "Roemeens", "bg": "Bulgaars",
    "so": "Somalisch", "ti": "Tigrinya", "fa": "Perzisch", "ru": "Russisch", "zh": "Chinees",
    "pap": "Papiaments", OTHER_LANGUAGE: "andere taal",
}
# the channels of CONTRACT.md (Rasa's input channel names); others are not counted by name
CHANNELS: Tuple[str, ...] = ("rest", "socketio", "whatsapp", "twilio")
CHANNEL_NAMES: Dict[str, str] = {"rest": "website (REST)", "socketio": "chat op de website",
                                 "whatsapp": "WhatsApp", "twilio": "WhatsApp (Twilio)"}
SEVERITY_NAMES: Dict[str, str] = {"normaal": "normaal", "aandacht": "aandacht", "crisis": "crisis"}
SITUATION_NAMES: Dict[str, str] = {
    "suicidaal_kind": "kind denkt aan zelfdoding", "suicidaal_ouder": "ouder denkt aan zelfdoding",
    "mishandeling": "kindermishandeling", "huiselijk_geweld": "huiselijk geweld",
    "seksueel_misbruik": "seksueel misbruik", "uitbuiting": "uitbuiting", "vermist": "kind vermist",
    "ouder_grens": "ouder aan het eind van de grens", "ouder_psychisch": "ouder in psychische nood",
    "vergiftiging": "vergiftiging", "medisch_baby": "baby medisch acuut", "medisch_acuut": "medisch acuut",
    "eetstoornis_acuut": "eetstoornis acuut",
}
_CODE = re.compile(r"^([a-z]{2,3})(?:[-_][A-Za-z]{2})?$")


def language_label(value: Any) -> Optional[str]:
    """The fixed label for a page language code (``nl``, ``nl-BE``): a known code, ``anders`` for
    another well-formed code, None for anything else."""
    if not isinstance(value, str):
        return None
    match = _CODE.match(value.strip())
    if not match:
        return None
    code = match.group(1).lower()
    return code if code in LANGUAGES else OTHER_LANGUAGE


def channel_label(value: Any) -> str:
    return value if isinstance(value, str) and value in CHANNELS else UNKNOWN


def allowed(slot: str, value: Any) -> bool:
    return isinstance(value, str) and value in vocabulary.SLOT_VALUES.get(slot, ())


def name_of(dimension: str, value: str) -> str:
    """The Dutch name of one label for the page, the CSV and the summary."""
    if value == UNKNOWN:
        return UNKNOWN_LABEL
    if dimension == "topic":
        return vocabulary.TOPIC_LABELS.get(value, value)
    if dimension == "phase":
        return vocabulary.PHASE_LABELS.get(value, value)
    if dimension == "support_level":
        return f"{value}: {vocabulary.SUPPORT_LEVEL_LABELS.get(value, value)}"
    if dimension == "situation":
        return SITUATION_NAMES.get(value, value.replace("_", " "))
    if dimension == "language":
        return LANGUAGE_NAMES.get(value, value)
    if dimension == "channel":
        return CHANNEL_NAMES.get(value, value)
    return value

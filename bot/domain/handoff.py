"""Hand-off to a professional: consent, contact preference, opening a case, office hours.

Pure functions; the Rasa glue (a form ``handoff_form`` and ``action_open_case``, see
``actions/handoff.py``) and the console (``bot/services/console``) call them. Texts come from
``bot/knowledge/handoff.yml``. Nothing here logs message text.

Flow: the parent consents to a summary (``handoff_consent``), says whether the professional may
read their own words (``words_consent``), chooses how to be reached (``contact_preference``:
chat | phone | whatsapp | email; 'chat' is anonymous) and, for phone/e-mail, gives the number
or address. Then `open_case` stores the case and notifies the staff.

Data minimisation (issue 14): the number or address itself never becomes a slot value. The slot
``contact_detail`` only records that it was given (`DETAIL_GIVEN`, see `slot_values`);
``action_open_case`` reads the detail again from the parent's own messages in the form
(`detail_from_messages`) and hands it to the case store, which stores it encrypted.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Iterable, Mapping, Optional, Sequence

import yaml

from bot import settings
from bot.domain import translations
from bot.domain.catalogue.hours import (
    ALL_DAY, WEEKDAYS, OpeningHours, current_range, next_start, parse_range, to_local,
)
from bot.vocabulary import (
    MAX_PHASE_MONTHS, SEVERITIES, SIGNALS, SITUATIONS, TOPICS, TZ, phase_for_months,
)
from bot.vocabulary import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

PREFERENCES = ("chat", "phone", "whatsapp", "email")
CRISIS_INTENTS = tuple(f"crisis_{situation}" for situation in SITUATIONS)  # one per situation
WHATSAPP_CHANNELS = ("whatsapp",)

# form slots, in the order they are asked
CONSENT_SLOT = "handoff_consent"
WORDS_SLOT = "words_consent"
PREFERENCE_SLOT = "contact_preference"
DETAIL_SLOT = "contact_detail"
RETRIES_SLOT = "handoff_retries"
FORM_SLOTS = (CONSENT_SLOT, WORDS_SLOT, PREFERENCE_SLOT, DETAIL_SLOT)
MAX_RETRIES = 2  # after this many answers that were not understood, the safe default is taken
DETAIL_GIVEN = "gegeven"  # the value of the slot contact_detail once a number or address was given

MAX_PARSE_CHARS = 10_000
MAX_WORDS_MESSAGES = 20
MAX_WORDS_CHARS = 1_000
MAX_AGE_MONTHS = MAX_PHASE_MONTHS


@lru_cache(maxsize=None)
def texts(language: Optional[str] = None) -> Mapping[str, Any]:
    """handoff.yml, in the parent's language where it has the texts (issue 17)."""
    with open(KNOWLEDGE_DIR / "handoff.yml", encoding="utf-8") as handle:
        dutch = yaml.safe_load(handle)
    language = translations.answers_in(language)
    return dutch if language == translations.DUTCH else translations.merged(dutch, translations.section(language, "handoff"))


@dataclass(frozen=True)
class Say:
    """One message for the parent (same shape as ``bot.domain.replies.Reply``)."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


# --- parsing the parent's answers ----------------------------------------------------------

_YES = re.compile(
    r"\b(ja+|jawel|jazeker|jep|jup|yes|graag|prima|goed|oke+|ok|okay|akkoord|zeker|dat mag|mag"
    r"|is goed|doe maar|natuurlijk)\b|👍|✅")
_NO = re.compile(
    r"\b(nee+|neen|nope|no|niet|liever niet|geen|nooit|laat maar|hoeft niet|niet doen|stop"
    r"|toch niet)\b|👎|❌")
_CANCEL = re.compile(r"\b(laat maar|toch niet|stop|hoeft niet|nee|neen|niet meer|annuleer)\b")

_KEYWORDS: dict[str, re.Pattern[str]] = {
    "chat": re.compile(r"^(chat\w*|hier|anoniem|typen|gesprek)$"),
    "phone": re.compile(r"^(bel|bellen|belt|terugbellen|opbellen|telefoon\w*|telefonisch|tel|gebeld|call)$"),
    "whatsapp": re.compile(r"^(whatsapp\w*|app|appen|appje|appjes|app't|whatsappen|wa)$"),
    "email": re.compile(r"^(e-?mail\w*|mail\w*|gemaild)$"),
}
_NEGATORS = {"niet", "geen", "nooit"}
_CLAUSE = re.compile(r"[,;!?]|\.(?:\s|$)|\b(?:maar|of|en)\b")
_TOKEN = re.compile(r"[\w'@.+-]+", re.UNICODE)
_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})(?![\w@])")
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(\+|00)?\(?\d[\d\s().-]{6,20}\d(?!\d)")


def _clean(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    return text[:MAX_PARSE_CHARS].replace("\x00", " ")


def parse_yes_no(text: str, intent: Optional[str] = None) -> Optional[bool]:
    """True for yes, False for no, None when unclear. The NLU intent (affirm/deny) wins."""
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    lowered = _clean(text).lower()
    if not lowered.strip() or lowered.startswith("/"):
        return None
    yes, no = bool(_YES.search(lowered)), bool(_NO.search(lowered))
    if yes and not no:
        return True
    if no and not yes:
        return False
    if yes and no and re.match(r"\s*(nee+|neen|no)\b", lowered):
        return False  # "nee, dat is goed zo" -> no
    return None


def extract_email(text: str) -> Optional[str]:
    """The first e-mail address in the text (domain lower-cased), or None."""
    match = _EMAIL.search(_clean(text))
    if not match:
        return None
    local, _, domain = match.group(1).partition("@")
    address = f"{local}@{domain.lower()}"
    return address if len(address) <= 254 and ".." not in address else None


def normalise_phone(raw: str) -> Optional[str]:
    """A Dutch or international phone number in E.164 form (+31612345678), or None."""
    stripped = raw.strip()
    digits = re.sub(r"\D", "", stripped)
    international = stripped.startswith("+") or stripped.startswith("00")
    if stripped.startswith("00"):
        digits = digits[2:]
    if international:
        if digits.startswith("31"):
            national = digits[2:].lstrip("0")
            return f"+31{national}" if len(national) == 9 else None
        return f"+{digits}" if 8 <= len(digits) <= 15 and not digits.startswith("0") else None
    if digits.startswith("0") and len(digits) == 10 and digits[1] != "0":
        return f"+31{digits[1:]}"
    return None


def extract_phone(text: str) -> Optional[str]:
    """The first valid phone number in the text, normalised (see `normalise_phone`)."""
    for match in _PHONE_CANDIDATE.finditer(_clean(text)):
        number = normalise_phone(match.group(0))
        if number:
            return number
    return None


@dataclass(frozen=True)
class ContactChoice:
    preference: Optional[str]  # chat | phone | whatsapp | email; None = not understood
    detail: Optional[str] = None  # normalised phone number or e-mail address
    candidates: tuple[str, ...] = ()  # every preference mentioned (not negated), in order


def parse_contact_preference(text: str) -> ContactChoice:
    """How the parent wants to be reached, from Dutch text.

    "bel me maar" -> phone; "via whatsapp" -> whatsapp; "mail me" -> email; "hier in de chat"
    -> chat; "niet bellen, liever mailen" -> email; a phone number or e-mail address alone
    chooses phone or email and is returned as the detail.
    """
    cleaned = _clean(text)
    lowered = cleaned.lower()
    email = extract_email(cleaned)
    phone = extract_phone(cleaned)
    normalised = lowered.replace("whats app", "whatsapp").replace("e mail", "email")
    tokens: list[str] = []
    clause_of: list[int] = []  # a negation works within its clause only
    for clause_number, clause in enumerate(_CLAUSE.split(normalised)):
        for token in _TOKEN.findall(clause):
            tokens.append(token.strip(".'-"))
            clause_of.append(clause_number)
    found: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if "@" in token:
            continue
        for kind, pattern in _KEYWORDS.items():
            if pattern.match(token):
                found.append((index, kind))
                break
    negated: set[int] = set()
    for n, token in enumerate(tokens):
        if token not in _NEGATORS:
            continue
        same = [i for i, _k in found if clause_of[i] == clause_of[n] and i not in negated]
        after = [i for i in same if n < i <= n + 2]
        before = [i for i in same if n - 3 <= i < n]
        if after:
            negated.add(after[0])
        elif before:
            negated.add(before[-1])
    candidates: list[str] = []
    for index, kind in found:
        if index not in negated and kind not in candidates:
            candidates.append(kind)
    if "liever" in tokens and len(candidates) > 1:
        # "bellen mag, maar liever mail": the option right after 'liever' wins
        at = tokens.index("liever")
        preferred = [k for i, k in found if i > at and i not in negated]
        if preferred:
            candidates.remove(preferred[0])
            candidates.insert(0, preferred[0])

    preference: Optional[str] = candidates[0] if candidates else None
    if preference is None:
        if email:
            preference = "email"
        elif phone:
            preference = "phone"
    elif preference == "chat" and (email or phone) and len(candidates) == 1 and "hier" not in tokens:
        preference = "email" if email else "phone"
    detail = None
    if preference == "email":
        detail = email
    elif preference in ("phone", "whatsapp"):
        detail = phone
    return ContactChoice(preference, detail, tuple(candidates))


def needs_contact_detail(preference: Optional[str], channel: Optional[str]) -> bool:
    """Phone and e-mail need a number or address; WhatsApp only outside the WhatsApp channel."""
    if preference in ("phone", "email"):
        return True
    return preference == "whatsapp" and (channel or "") not in WHATSAPP_CHANNELS


# --- the consent form (pure logic of the Rasa form `handoff_form`) ------------------------------

def required_slots(slots: Mapping[str, Any], channel: Optional[str]) -> list[str]:
    """The form's slots still relevant: none after a refusal, the detail only when needed."""
    if slots.get(CONSENT_SLOT) is False:
        return []
    wanted = [CONSENT_SLOT, WORDS_SLOT, PREFERENCE_SLOT]
    if needs_contact_detail(slots.get(PREFERENCE_SLOT), channel):
        wanted.append(DETAIL_SLOT)
    return wanted


def validated_slots(slots: Mapping[str, Any], channel: Optional[str]) -> list[str]:
    """The slots the form's validation keeps: the questions, plus the consent and the retry
    counter (so a refusal or a 'not understood' is recorded and the form does not stall)."""
    wanted = required_slots(slots, channel)
    return wanted + [s for s in (CONSENT_SLOT, DETAIL_SLOT, RETRIES_SLOT) if s not in wanted]


def next_question(slots: Mapping[str, Any], channel: Optional[str]) -> Optional[str]:
    """The slot to ask for next, or None when the form is done."""
    return next((s for s in required_slots(slots, channel) if slots.get(s) is None), None)


def _retry(slots: Mapping[str, Any], fallback: dict[str, Any]) -> dict[str, Any]:
    """Not understood: count it; after MAX_RETRIES take the safe default `fallback`."""
    retries = int(slots.get(RETRIES_SLOT) or 0) + 1
    if retries > MAX_RETRIES:
        return {**fallback, RETRIES_SLOT: 0.0}
    return {RETRIES_SLOT: float(retries)}


def extract_answer(
    requested_slot: Optional[str],
    text: str,
    intent: Optional[str],
    slots: Mapping[str, Any],
    channel: Optional[str],
) -> dict[str, Any]:
    """Slot values from the parent's answer to the question for `requested_slot`.

    Returns {} for a crisis message (so the form gives way and the crisis rules answer).
    An answer that is not understood increases ``handoff_retries`` (the question is asked
    again); after MAX_RETRIES the privacy-safe default is taken: no consent, or contact in
    the chat. Declining at the contact questions cancels the hand-off.
    """
    if requested_slot not in FORM_SLOTS or intent in CRISIS_INTENTS or intent == "delete_data":
        return {}
    text = _clean(text)
    if requested_slot in (CONSENT_SLOT, WORDS_SLOT):
        answer = parse_yes_no(text, intent)
        if answer is None:
            return _retry(slots, {requested_slot: False})
        return {requested_slot: answer, RETRIES_SLOT: 0.0}

    lowered = text.lower()
    choice = parse_contact_preference(text)
    if choice.preference is None and (intent == "deny" or _CANCEL.search(lowered)):
        return {CONSENT_SLOT: False, RETRIES_SLOT: 0.0}

    if requested_slot == PREFERENCE_SLOT:
        if choice.preference is None:
            return _retry(slots, {PREFERENCE_SLOT: "chat"})
        preference = choice.preference
        if preference == "whatsapp" and not choice.detail and (channel or "") in WHATSAPP_CHANNELS:
            preference = "chat"  # on WhatsApp itself: the answer comes in this conversation
        values: dict[str, Any] = {PREFERENCE_SLOT: preference, RETRIES_SLOT: 0.0}
        if choice.detail and preference != "chat":
            values[DETAIL_SLOT] = choice.detail
        return values

    # requested_slot == DETAIL_SLOT
    preference = slots.get(PREFERENCE_SLOT)
    if choice.preference == "chat" and not (choice.detail and "hier" not in lowered):
        return {PREFERENCE_SLOT: "chat", DETAIL_SLOT: None, RETRIES_SLOT: 0.0}
    email, phone = extract_email(text), extract_phone(text)
    if preference == "email" and email:
        return {DETAIL_SLOT: email, RETRIES_SLOT: 0.0}
    if preference in ("phone", "whatsapp") and phone:
        return {DETAIL_SLOT: phone, RETRIES_SLOT: 0.0}
    if email:  # an address where a number was asked: the parent chose e-mail after all
        return {PREFERENCE_SLOT: "email", DETAIL_SLOT: email, RETRIES_SLOT: 0.0}
    if phone:
        kind = "whatsapp" if choice.preference == "whatsapp" else "phone"
        return {PREFERENCE_SLOT: kind, DETAIL_SLOT: phone, RETRIES_SLOT: 0.0}
    return _retry(slots, {PREFERENCE_SLOT: "chat", DETAIL_SLOT: None})


def slot_values(answer: Mapping[str, Any]) -> dict[str, Any]:
    """What the tracker may keep of `extract_answer`'s result: a contact detail becomes
    `DETAIL_GIVEN`, so the number or address is never set as a slot (nor sent to the event
    broker, nor kept in later tracker events)."""
    values = dict(answer)
    if values.get(DETAIL_SLOT) is not None:
        values[DETAIL_SLOT] = DETAIL_GIVEN
    return values


def detail_for(preference: Optional[str], text: str) -> Optional[str]:
    """The phone number or e-mail address for `preference` in one message, normalised."""
    if preference == "email":
        return extract_email(text)
    if preference in ("phone", "whatsapp"):
        return extract_phone(text)
    return None


def detail_from_messages(preference: Optional[str], texts: Sequence[str]) -> Optional[str]:
    """The contact detail the parent gave in the form: from the newest message that holds one
    for `preference` (the message that completed the form, normally the last one)."""
    for text in reversed(list(texts)):
        if isinstance(text, str) and not text.startswith("/"):
            detail = detail_for(preference, text)
            if detail:
                return detail
    return None


def ask(slot: str, slots: Mapping[str, Any], channel: Optional[str] = None) -> Say:
    """The question for `slot` (the 'not understood' variant after a failed answer)."""
    key = slot
    if slot == DETAIL_SLOT:
        key = f"contact_detail_{slots.get(PREFERENCE_SLOT) or 'phone'}"
    retrying = bool(slots.get(RETRIES_SLOT))
    t = texts(slots.get("language"))
    entry = t["ask"].get(key) or t["ask"]["contact_preference"]
    buttons = tuple((str(t), str(p)) for t, p in entry.get("buttons") or ())
    if slot == PREFERENCE_SLOT and (channel or "") in WHATSAPP_CHANNELS:
        buttons = tuple(b for b in buttons if b[1] != "Via WhatsApp")
    text = t["retry"].get(key, entry["text"]) if retrying else entry["text"]
    return Say(" ".join(str(text).split()), buttons)


# --- the case ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class HandoffRequest:
    """What the dialogue knows when the parent has consented to a hand-off."""

    conversation_id: str
    severity: str = "aandacht"
    channel: Optional[str] = None
    municipality: Optional[str] = None
    topic: Optional[str] = None
    age_months: Optional[int] = None
    signal: Optional[str] = None
    situation: Optional[str] = None
    words_consent: bool = False
    parent_words: tuple[str, ...] = ()
    contact_preference: str = "chat"
    contact_detail: Optional[str] = None
    language: Optional[str] = None  # the language the parent wrote in (issue 17)


def select_parent_words(messages: Iterable[Any]) -> tuple[str, ...]:
    """The parent's own messages worth passing on: no button payloads, capped in size."""
    kept = []
    for message in messages:
        if not isinstance(message, str):
            continue
        text = " ".join(message.replace("\x00", " ").split())
        if text and not text.startswith("/"):
            kept.append(text[:MAX_WORDS_CHARS])
    return tuple(kept[-MAX_WORDS_MESSAGES:])


def request_from_slots(
    conversation_id: str,
    slots: Mapping[str, Any],
    channel: Optional[str] = None,
    parent_messages: Sequence[str] = (),
    contact_detail: Optional[str] = None,
) -> Optional[HandoffRequest]:
    """A request from the conversation's slots after the form; None without consent.

    `contact_detail` is the number or address read from the parent's messages (the slot holds
    only `DETAIL_GIVEN`); a slot holding the detail itself (a tracker from before this was
    changed) is still accepted."""
    if slots.get(CONSENT_SLOT) is not True:
        return None
    if contact_detail is None and slots.get(DETAIL_SLOT) != DETAIL_GIVEN:
        contact_detail = slots.get(DETAIL_SLOT)
    words = slots.get(WORDS_SLOT) is True
    months = slots.get("age_months")
    return HandoffRequest(
        conversation_id=conversation_id,
        severity=slots.get("severity") or "aandacht",
        channel=channel,
        municipality=slots.get("municipality"),
        topic=slots.get("topic"),
        age_months=int(months) if isinstance(months, (int, float)) and not isinstance(months, bool) else None,
        signal=slots.get("signal"),
        situation=slots.get("situation"),
        words_consent=words,
        parent_words=select_parent_words(parent_messages) if words else (),
        contact_preference=slots.get(PREFERENCE_SLOT) or "chat",
        contact_detail=contact_detail,
        language=slots.get("language"),
    )


def _phase(months: Optional[int]) -> Optional[str]:
    if months is None:
        return None
    return phase_for_months(months)


def sanitise(request: HandoffRequest) -> dict[str, Any]:
    """The case fields from a request: fixed ids only, words only with consent, valid detail."""
    topic = request.topic if request.topic in TOPICS else None
    situation = request.situation if request.situation in SITUATIONS else None
    signal = request.signal if request.signal in SIGNALS else None
    if situation and signal != SITUATIONS[situation]:
        signal = SITUATIONS[situation]
    severity = request.severity if request.severity in SEVERITIES else "aandacht"
    if signal:
        severity = "crisis"
    months = request.age_months
    if isinstance(months, bool) or not isinstance(months, int) or not 0 <= months <= MAX_AGE_MONTHS:
        months = None
    preference = request.contact_preference if request.contact_preference in PREFERENCES else "chat"
    detail = detail_for(preference, request.contact_detail or "")
    if preference == "whatsapp" and detail is None and (request.channel or "") in WHATSAPP_CHANNELS:
        preference = "chat"
    words = select_parent_words(request.parent_words) if request.words_consent else ()

    def short(value: Optional[str], size: int) -> Optional[str]:
        return str(value)[:size] if value else None

    return dict(
        conversation_id=str(request.conversation_id)[:255],
        channel=short(request.channel, 32),
        municipality=short(request.municipality, 100),
        topic=topic,
        age_months=months,
        phase=_phase(months),
        severity=severity,
        situation=situation,
        signal=signal,
        words_consent=bool(request.words_consent),
        parent_words=words,
        contact_preference=preference,
        contact_detail=detail,
        language=translations.answers_in(request.language),
    )


def open_case(store: Any, request: HandoffRequest, notifier: Any = None,
              now: Optional[datetime] = None) -> Any:
    """Store the case (or return the conversation's case that is still active, raised in
    severity if needed) and notify the professionals. Notification failures never raise."""
    fields = sanitise(request)
    existing = store.active_case_for(fields["conversation_id"])
    if existing is not None:
        before = existing.severity
        case = store.escalate(existing.id, fields["severity"], fields["signal"])
        if case.severity == "crisis" and before != "crisis":
            _notify(notifier, case)
        return case
    case = store.create_case(**fields, now=now)
    _notify(notifier, case)
    return case


def _notify(notifier: Any, case: Any) -> None:
    if notifier is None:
        return
    try:
        notifier.notify_new_case(case)
    except Exception as error:  # noqa: BLE001 - the parent's reply must never fail on this
        logger.error("notification for case %s failed: %s", case.id, type(error).__name__)


def alert_professional(store: Any, conversation_id: str, signal: Optional[str],
                       situation: Optional[str], notifier: Any = None,
                       now: Optional[datetime] = None) -> Any:
    """A crisis came in while a professional holds the conversation: mark the case (the console
    shows it at the top) and notify. None when the conversation has no active case."""
    case = store.active_case_for(conversation_id)
    if case is None:
        return None
    situation = situation if situation in SITUATIONS else None
    signal = SITUATIONS[situation] if situation else (signal if signal in SIGNALS else None)
    case = store.record_crisis_alert(case.id, signal, situation, now)
    if notifier is not None:
        try:
            notifier.notify_crisis_alert(case)
        except Exception as error:  # noqa: BLE001 - the parent's reply must never fail on this
            logger.error("crisis alert for case %s failed: %s", case.id, type(error).__name__)
    return case


def should_stay_paused(store: Any, conversation_id: str) -> bool:
    """True while a professional holds this conversation (for a new session's start)."""
    case = store.active_case_for(conversation_id)
    return case is not None and case.status == "claimed"


# --- office hours ----------------------------------------------------------------------------
# The catalogue's opening-hours model (bot.domain.catalogue.hours): the same weekday ranges, the same
# Dutch public holidays (the `holidays` package) and the same time zone (bot.vocabulary).

DEFAULT_OFFICE_HOURS = settings.Settings.default("OFFICE_HOURS")


@dataclass(frozen=True)
class OfficeHours(OpeningHours):
    """When professionals answer: opening hours (see bot.domain.catalogue.hours) and where they came
    from ("catalogue", "env" or "default"). Closed on public holidays unless `holiday` or
    `open_on_holidays` says otherwise."""

    source: str = "default"


def parse_office_hours(spec: str) -> OfficeHours:
    """Parse e.g. ``"ma-vr 09:00-17:00"`` or ``"ma,di,do 09:00-12:00,13:00-17:00; vr 09:00-12:00"``."""
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for part in (p.strip() for p in (spec or "").split(";")):
        if not part:
            continue
        day_text, _, range_text = part.partition(" ")
        selected: set[int] = set()
        for piece in day_text.lower().split(","):
            first, _, last = piece.partition("-")
            if first not in WEEKDAYS or (last and last not in WEEKDAYS):
                raise ValueError(f"unknown weekday in {part!r}; use {', '.join(WEEKDAYS)}")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
            selected.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        for chunk in range_text.split(","):
            start, end = parse_range(chunk)  # the catalogue's ranges; HoursError is a ValueError
            for day in selected:
                days[day].append((start, end))
    if not any(days):
        raise ValueError("no office hours given")
    return OfficeHours(days=tuple(tuple(sorted(d)) for d in days), source="env")


def _catalogue_municipality() -> Any:
    try:
        from bot.domain.catalogue.loader import load_catalogue

        return load_catalogue().municipality
    except Exception:  # noqa: BLE001 - no (valid) catalogue: use the configured default
        logger.debug("no municipality in the support catalogue")
        return None


def _names(municipality: Any) -> set[str]:
    names = {str(getattr(municipality, "name", "")).casefold()}
    names.update(str(a).casefold() for a in getattr(municipality, "aliases", ()) or ())
    return names


def office_hours(municipality: Optional[str] = None, environ: settings.Environ = None) -> OfficeHours:
    """The municipality's office hours from the catalogue; else env OFFICE_HOURS; else
    weekdays 09:00-17:00 (closed on Dutch public holidays)."""
    found = _catalogue_municipality()
    if found is not None and (municipality is None or municipality.casefold() in _names(found)):
        hours = getattr(found, "office_hours", None)
        if hours is not None and getattr(hours, "always", False):
            return OfficeHours(days=(ALL_DAY,) * 7, open_on_holidays=True, source="catalogue")
        if hours is not None and any(getattr(hours, "days", ())):
            return OfficeHours(days=tuple(tuple(d) for d in hours.days), holiday=hours.holiday,
                               open_on_holidays=bool(hours.open_on_holidays), source="catalogue")
    spec = (settings.current(environ).OFFICE_HOURS or "").strip()
    if spec:
        try:
            return parse_office_hours(spec)
        except ValueError as error:
            logger.error("OFFICE_HOURS is invalid (%s); using %s", error, DEFAULT_OFFICE_HOURS)
    return parse_office_hours(DEFAULT_OFFICE_HOURS)


def _day_phrase(day: date, today: date, language: Optional[str] = None) -> str:
    t = texts(language)
    names, months, phrases = t["day_names"], t["month_names"], t["day_phrases"]
    delta = (day - today).days
    if delta == 0:
        return str(phrases["today"])
    if delta == 1:
        return str(phrases["tomorrow"])
    weekday = names[day.weekday()]
    if delta < 7:
        return str(phrases["weekday"]).format(weekday=weekday)
    return str(phrases["date"]).format(weekday=weekday, day=day.day, month=months[day.month - 1])


def _clock(moment: datetime) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def when_answered(now: Optional[datetime] = None, municipality: Optional[str] = None,
                  hours: Optional[OfficeHours] = None, language: Optional[str] = None) -> str:
    """When a professional will answer, in B1 Dutch ("Een medewerker reageert maandag na 9:00 uur.")."""
    hours = hours or office_hours(municipality)
    local = to_local(now)
    current = current_range(hours, local)
    if current is not None and current[1] - (local.hour * 60 + local.minute) >= 30:
        return str(texts(language)["answered_open"])
    template = texts(language)["answered_closing" if current is not None else "answered_later"]
    after = local
    if current is not None:  # closing within half an hour: count from closing time
        after = datetime.combine(local.date(), time(0), tzinfo=TZ) + timedelta(minutes=current[1])
    opening = next_start(hours, after)
    if opening is None:
        return str(texts(language)["answered_unknown"])
    return str(template).format(day=_day_phrase(opening.date(), local.date(), language),
                                                  time=_clock(opening))


def urgent_lines(language: Optional[str] = None) -> str:
    """The 24/7 lines for urgent matters."""
    return " ".join(str(texts(language)["urgent_lines"]).split())


def case_failed(language: Optional[str] = None) -> list[Say]:
    """The case could not be stored: where to go instead, and the 24/7 lines."""
    return [Say(" ".join(str(texts(language)["case_failed"]).split())), Say(urgent_lines(language))]


def after_case_opened(case: Any, now: Optional[datetime] = None, already_open: bool = False) -> list[Say]:
    """What the parent hears once the case exists, in the case's language."""
    language = getattr(case, "language", None)
    t = texts(language)
    first = t["already_open"] if already_open else t["case_opened"]
    contact = t["contact"].get(case.contact_preference, t["contact"]["chat"])
    return [
        Say(f"{first} {contact} {t['read_along']}"),
        Say(when_answered(now, case.municipality, language=language)),
        Say(urgent_lines(language)),
    ]


def refusal(language: Optional[str] = None) -> list[Say]:
    """A refusal is respected; the 24/7 lines stay in view."""
    return [Say(" ".join(str(texts(language)["refused"]).split())), Say(urgent_lines(language))]


def console_text(key: str, language: Optional[str] = None, **values: Any) -> str:
    """Texts the console sends into the parent's conversation (claimed, reply, closed), in the
    case's language."""
    template = str(texts(language)["console"][key])
    return template.format(**values) if key == "reply" else " ".join(template.split()).format(**values)

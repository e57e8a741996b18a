"""Choose offers from the catalogue for a parent's concern, and describe them in B1 Dutch (or in
the parent's language: offer_texts.yml and bot/domain/translations.py).

Rules (CONTRACT.md s3 and the seed's specific working factors):
- normaal: levels A and B; the parent's own neighbourhood first, then the whole municipality,
  then national. Light problems: group offers first (unless the parent prefers not to). With
  ``want_more=True`` level C (courses, groups) comes first. The results mix A and B when both exist.
- aandacht: level D, individual offers first (group first only when the parent prefers a group);
  level B fills up when there is too little D. When none of them is open now, the last place goes
  to a 24/7 line the parent can call now.
- crisis: the 24/7 national crisis lines first (those for the crisis `signal` before the others),
  then local professionals.
Crisis lines (offers with `signals`) are only recommended at crisis.

Reason ids: ``<kind>_<area>`` with kind informal (A), information (B), parenting_support (C),
professional (D) and area nearby, municipality, elsewhere (another neighbourhood, parent's own not
known) or national; plus ``crisis_line``, ``always_open`` and ``for_child`` (an offer for children
themselves, e.g. De Kindertelefoon).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

from bot import vocabulary
from bot.domain import translations

from .hours import format_minutes, is_open, next_opening, to_local
from .loader import load_catalogue
from .model import LEVELS, Catalogue, Offer, reference

logger = logging.getLogger(__name__)

SEVERITIES = vocabulary.SEVERITIES
LEVEL_KIND = {"A": "informal", "B": "information", "C": "parenting_support", "D": "professional"}
AREA_NAMES = ("nearby", "municipality", "elsewhere", "national")
OFFER_TEXTS = Path(__file__).with_name("offer_texts.yml")
# the topic of the local follow-up after a crisis line, per crisis signal
SIGNAL_TOPICS = {"medisch_acuut": "gezondheid", "ouder_acuut": "ouder_welzijn"}


@lru_cache(maxsize=None)
def offer_texts(language: str = translations.DUTCH) -> Dict[str, Any]:
    """offer_texts.yml, with the language's own texts where it has them."""
    dutch = yaml.safe_load(OFFER_TEXTS.read_text(encoding="utf-8"))
    return translations.merged(dutch, translations.section(translations.answers_in(language), "offers"))


@dataclass(frozen=True)
class Recommendation:
    """One recommended offer; `next_open` is set when it is closed now (Amsterdam time)."""

    offer: Offer
    open_now: bool
    next_open: datetime | None
    reason: str
    at: datetime | None = None  # the moment open_now was computed for


def _canonical_neighbourhood(catalogue: Catalogue, neighbourhood: str | None) -> str | None:
    """The catalogue's own spelling of a neighbourhood (name or alias, any case), or None."""
    if not neighbourhood or catalogue.municipality is None:
        return None
    wanted = neighbourhood.strip().casefold()
    for hood in catalogue.municipality.neighbourhoods:
        if wanted in {hood.name.casefold(), *(a.casefold() for a in hood.aliases)}:
            return hood.name
    return None


def _area(offer: Offer, neighbourhood: str | None) -> int:
    if offer.scope == "neighbourhood":
        return 0 if neighbourhood and offer.serves_neighbourhood(neighbourhood) else 2
    return 1 if offer.scope == "municipality" else 3


def _format_rank(offer: Offer, group_first: bool) -> int:
    order = ("group", "self_help", "individual") if group_first else ("individual", "self_help", "group")
    return order.index(offer.format) if offer.format in order else len(order)


def _specific(offer: Offer, topic: str | None) -> int:
    return 0 if topic is not None and topic in offer.topics else 1


def _reason(offer: Offer, neighbourhood: str | None) -> str:
    if not offer.for_parents:
        return "for_child"
    return f"{LEVEL_KIND[offer.level]}_{AREA_NAMES[_area(offer, neighbourhood)]}"


def _reachable_now(offer: Offer) -> bool:
    contact = offer.contact
    return bool(contact.phone or contact.chat or contact.whatsapp)


def _ensure_levels(ranked: list[Offer], limit: int, levels: tuple[str, ...]) -> list[Offer]:
    """Top `limit` of `ranked`, swapping in the best offer of a missing level when possible."""
    top = ranked[:limit]
    if limit < len(levels):
        return top
    for level in levels:
        if any(o.level == level for o in top):
            continue
        best = next((o for o in ranked[limit:] if o.level == level and o.for_parents), None)
        if best is None:
            continue
        counts = {lvl: sum(1 for o in top if o.level == lvl) for lvl in LEVELS}
        for i in range(len(top) - 1, -1, -1):
            if counts[top[i].level] > 1 or not top[i].for_parents:
                top[i] = best
                break
    return top


def _eligible(offer: Offer, topic: str | None, phase: str | None, neighbourhood: str | None) -> bool:
    if not offer.covers_phase(phase):
        return False
    if offer.scope == "neighbourhood" and neighbourhood is not None:
        return offer.serves_neighbourhood(neighbourhood)
    return True


def recommend(catalogue: Catalogue | None, topic: str | None, phase: str | None,
              severity: str | None, neighbourhood: str | None = None,
              prefers_group: bool | None = None, now: datetime | None = None, limit: int = 3,
              want_more: bool = False, signal: str | None = None,
              language: str | None = None) -> list[Recommendation]:
    """At most `limit` offers for this concern, best first (see the module docstring). With the
    parent's `language` (issue 17), of offers that are otherwise alike those given in it come first."""
    if limit <= 0:
        return []
    if catalogue is None:
        catalogue = load_catalogue()
    ref = reference()
    topic = topic if isinstance(topic, str) and topic in ref.topics else None
    phase = phase if isinstance(phase, str) and phase in ref.phases else None
    severity = severity if isinstance(severity, str) and severity in SEVERITIES else "normaal"
    signal = signal if isinstance(signal, str) and signal in ref.signals else None
    hood = _canonical_neighbourhood(catalogue, neighbourhood if isinstance(neighbourhood, str) else None)
    at = to_local(now)
    index = {o.id: i for i, o in enumerate(catalogue.offers)}
    pool = [o for o in catalogue.offers if _eligible(o, topic, phase, hood)]

    if language and language != "nl":  # the catalogue's order is the tie-breaker: it goes first there
        order = sorted(catalogue.offers, key=lambda o: (language not in o.languages, index[o.id]))
        index = {o.id: i for i, o in enumerate(order)}
    if severity == "crisis":
        chosen = _crisis(pool, topic, signal, hood, at, index)[:limit]
        reasons = {o.id: "crisis_line" if o.signals else _reason(o, hood) for o in chosen}
    elif severity == "aandacht":
        chosen, reasons = _attention(pool, topic, hood, prefers_group, at, limit, index)
    else:
        chosen = _normal(pool, topic, hood, prefers_group, want_more, limit, index)
        reasons = {o.id: _reason(o, hood) for o in chosen}
    return [
        Recommendation(offer=o, open_now=is_open(o.hours, at), next_open=next_opening(o.hours, at),
                       reason=reasons[o.id], at=at)
        for o in chosen
    ]


def _normal(pool: list[Offer], topic: str | None, hood: str | None, prefers_group: bool | None,
            want_more: bool, limit: int, index: dict[str, int]) -> list[Offer]:
    levels = {"A", "B", "C"} if want_more else {"A", "B"}
    group_first = prefers_group is not False  # light problem: groups first, unless not wanted
    candidates = [o for o in pool if o.level in levels and not o.signals and o.covers_topic(topic)]

    def place_and_format(o: Offer) -> tuple[int, int]:
        area, fmt = _area(o, hood), _format_rank(o, group_first)
        # a preference the parent stated outweighs nearness; otherwise nearness comes first
        return (area, fmt) if prefers_group is None else (fmt, area)

    ranked = sorted(candidates, key=lambda o: (
        not o.for_parents,
        0 if (want_more and o.level == "C") else 1,
        place_and_format(o),
        _specific(o, topic),
        LEVELS.index(o.level),
        index[o.id],
    ))
    return _ensure_levels(ranked, limit, ("C",) if want_more else ("A", "B"))


def _attention(pool: list[Offer], topic: str | None, hood: str | None, prefers_group: bool | None,
               at: datetime, limit: int, index: dict[str, int]) -> tuple[list[Offer], dict[str, str]]:
    group_first = prefers_group is True  # heavier problem: individual first, unless a group is wanted
    candidates = [o for o in pool if o.level in ("D", "B") and not o.signals and o.covers_topic(topic)]
    ranked = sorted(candidates, key=lambda o: (
        not o.for_parents,
        0 if o.level == "D" else 1,
        _format_rank(o, group_first),
        _specific(o, topic),
        _area(o, hood),
        index[o.id],
    ))
    chosen = ranked[:limit]
    reasons = {o.id: _reason(o, hood) for o in chosen}
    if limit >= 2 and chosen and not any(is_open(o.hours, at) for o in chosen):
        alternative = next((o for o in pool if o.hours.always and not o.signals and o.for_parents
                            and _reachable_now(o) and o not in chosen
                            and (o.covers_topic(topic) or o.covers_topic("ouder_welzijn"))), None)
        if alternative is not None:
            chosen = chosen[: limit - 1] + [alternative]
            reasons[alternative.id] = "always_open"
    return chosen, reasons


def _crisis(pool: list[Offer], topic: str | None, signal: str | None, hood: str | None,
            at: datetime, index: dict[str, int]) -> list[Offer]:
    candidates = [o for o in pool if o.level == "D"]
    follow_up_topic = SIGNAL_TOPICS.get(signal or "", topic)

    def tier(o: Offer) -> int:
        matches = o.covers_topic(topic)
        if signal is not None:
            if o.signals and o.signals[0] == signal and matches:
                return 0
            if signal in o.signals and matches:
                return 1
            if not o.signals and matches:
                return 2
            return 3 if signal in o.signals else 4
        if o.signals:
            return 0 if matches else 1
        return 2 if matches else 3

    def signal_position(o: Offer) -> int:
        return o.signals.index(signal) if signal in o.signals else len(ref_signals)

    ref_signals = reference().signals
    return sorted(candidates, key=lambda o: (
        tier(o),
        signal_position(o),
        not o.hours.always,
        not is_open(o.hours, at),  # local follow-up: what is open now first
        _specific(o, follow_up_topic) if not o.signals else 0,
        not o.for_parents,
        _format_rank(o, False),
        _area(o, hood),
        index[o.id],
    ))


# --- text for parents ---------------------------------------------------------------------------

def _short_url(url: str) -> str:
    text = url.split("://", 1)[-1]
    return text[:-1] if text.endswith("/") else text


def _when(moment: datetime, at: datetime | None, t: Dict[str, Any]) -> str:
    clock = format_minutes(moment.hour * 60 + moment.minute)
    weekday = t["day_names"][moment.weekday()]
    if at is not None:
        days = (moment.date() - at.date()).days
        if days == 0:
            return t["when"]["today"].format(clock=clock)
        if days == 1:
            return t["when"]["tomorrow"].format(clock=clock)
        if days >= 7:
            return t["when"]["date"].format(weekday=weekday, day=moment.day,
                                             month=t["month_names"][moment.month - 1], clock=clock)
    return t["when"]["weekday"].format(weekday=weekday, clock=clock)


def _status(rec: Recommendation, t: Dict[str, Any]) -> str:
    hours, says = rec.offer.hours, t["status"]
    if hours.always:
        return says["always"]
    if rec.open_now:
        return says["open"]
    if rec.next_open is not None:
        return says["closed_until"].format(when=_when(to_local(rec.next_open), rec.at, t))
    if hours.by_appointment:
        return says["appointment"]
    return says["closed"]


def _contact_lines(offer: Offer, t: Dict[str, Any]) -> list[str]:
    c, says = offer.contact, t["contact"]
    lines = []
    if c.phone:
        lines.append(says["phone"].format(phone=c.phone))
    if c.whatsapp:
        lines.append(says["whatsapp"].format(number=c.whatsapp) if c.whatsapp != c.phone
                     else says["whatsapp_same"])
    if c.website:
        lines.append(says["website"].format(url=_short_url(c.website)))
    elif c.chat:
        lines.append(says["chat"].format(url=_short_url(c.chat)))
    if c.email and not (c.phone and c.website):
        lines.append(says["email"].format(email=c.email))
    if c.address:
        lines.append(says["address"].format(address=c.address))
    return lines


def format_offer(rec: Recommendation, language: str = translations.DUTCH) -> str:
    """One short block in B1 Dutch (or the parent's language): name, what it is, how to reach it,
    open now or when. The name and description are the municipality's own (the description in the
    parent's language where the catalogue gives one)."""
    t = offer_texts(language)
    offer = rec.offer
    description = offer.description_in(language)
    parts = [offer.name, description]
    contact = _contact_lines(offer, t)
    if contact:
        parts.append(". ".join(contact) + ".")
    status = _status(rec, t)
    if offer.hours_note:
        status += " " + " ".join(offer.hours_note.split())
    cost = t["cost"].get(offer.cost)
    said = f"{description} {status}".casefold()
    if offer.cost_note:
        status += " " + " ".join(offer.cost_note.split())
    elif cost and not (offer.cost == "free" and (t["free_word"] in said or "gratis" in said)):
        status += " " + cost
    parts.append(status)
    return "\n".join(parts)


def format_recommendations(recs: list[Recommendation]) -> str:
    """Several offers, separated by an empty line."""
    return "\n\n".join(format_offer(r) for r in recs)

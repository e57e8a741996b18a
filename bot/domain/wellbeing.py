"""After the answer (issue 19): the parent's own wellbeing, and an opt-in follow-up.

Pure Python, no Rasa and no database: what to ask and say; the actions (actions/followups.py)
store and cancel follow-ups, the worker (bot/services/followups/) sends them. Texts: knowledge/followups.yml.

- The wellbeing question ("En hoe gaat het met jóu?", Goed / Gaat wel / Zwaar) comes once per
  conversation, after a topic answer about sleep, crying, eating or tantrums for a child of 0-2
  or 2-4, and after any ``ouder_welzijn`` answer. "Zwaar" gets informal support (from the
  catalogue when it has some), the huisarts, De Luisterlijn and the offer of a person.
- The follow-up offer ("Zal ik over een week vragen hoe het gaat?", 1 or 2 weeks, or no) comes
  once per conversation after a normal or attention answer, on a channel that can deliver it.
- Never two questions in one turn: the wellbeing question first; the offer then follows the
  parent's "Goed" or "Gaat wel".
- The follow-up's answers: "Beter" closes kindly; "Hetzelfde" asks once more a week later; a
  second "Hetzelfde", or "Slechter", re-triages to ``aandacht`` and offers a person.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from bot.domain import replies
from bot.domain.replies import Reply
from bot.vocabulary import KNOWLEDGE_DIR

# the channels a follow-up can reach (bot/services/cases/schema.py FOLLOWUP_CHANNELS says the same); not
# Twilio, and never e-mail
FOLLOWUP_CHANNELS = ("rest", "socketio", "whatsapp")

PARENT_TOPIC = "ouder_welzijn"
FOLLOWUP_SEVERITIES = ("normaal", "aandacht")
ASKED_SLOT, OFFERED_SLOT = "wellbeing_asked", "followup_offered"
GOOD, OK, HARD = "good", "ok", "hard"
BETTER, SAME, WORSE = "better", "same", "worse"
WELLBEING_INTENTS = {"wellbeing_good": GOOD, "wellbeing_ok": OK, "wellbeing_hard": HARD}
OFFER_INTENTS = {"followup_one_week": 1, "followup_two_weeks": 2, "followup_decline": 0}
ANSWER_INTENTS = {"followup_better": BETTER, "followup_same": SAME, "followup_worse": WORSE}
MAX_FOLLOWUPS = 2  # a second "Hetzelfde" re-triages
WEB_CHANNELS = ("socketio",)


@lru_cache(maxsize=1)
def texts() -> Dict[str, Any]:
    path = KNOWLEDGE_DIR / "followups.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _buttons(section: str, names: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
    data = texts()[section]["buttons"] if section != "buttons_person" else texts()["buttons_person"]
    return tuple((data[name]["title"], data[name]["payload"]) for name in names)


def payloads() -> List[str]:
    """Every button payload this module sends (its intents are in domain.yml)."""
    found = [p for _, p in _buttons("wellbeing", (GOOD, OK, HARD))]
    found += [p for _, p in _buttons("offer", ("one_week", "two_weeks", "decline"))]
    found += [p for _, p in _buttons("followup", (BETTER, SAME, WORSE))]
    return found


@dataclass
class Turn:
    """What to say and which slots to set."""

    replies: List[Reply] = field(default_factory=list)
    slots: Dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- after a topic answer


def wellbeing_topics() -> frozenset:
    """The topics after which the wellbeing question comes for a young child (followups.yml)."""
    return frozenset(texts()["wellbeing"]["topics"])


def wellbeing_phases() -> frozenset:
    return frozenset(texts()["wellbeing"]["phases"])


def wants_wellbeing(topic: Optional[str], phase: Optional[str], severity: Optional[str]) -> bool:
    if severity not in FOLLOWUP_SEVERITIES:
        return False
    return topic == PARENT_TOPIC or (topic in wellbeing_topics() and phase in wellbeing_phases())


def may_offer_followup(channel: Optional[str], topic: Optional[str], severity: Optional[str]) -> bool:
    return channel in FOLLOWUP_CHANNELS and bool(topic) and severity in FOLLOWUP_SEVERITIES


def wellbeing_question() -> Reply:
    return Reply(texts()["wellbeing"]["question"], _buttons("wellbeing", (GOOD, OK, HARD)))


def followup_offer(lead: str = "") -> Reply:
    question = texts()["offer"]["question"]
    return Reply(f"{lead} {question}".strip(), _buttons("offer", ("one_week", "two_weeks", "decline")))


def after_answer(slots: Mapping[str, Any], channel: Optional[str], topic: Optional[str],
                 phase: Optional[str], severity: Optional[str]) -> Turn:
    """The one question that follows a topic answer, if any: wellbeing first, else the offer."""
    if wants_wellbeing(topic, phase, severity) and not slots.get(ASKED_SLOT):
        return Turn([wellbeing_question()], {ASKED_SLOT: True})
    if may_offer_followup(channel, topic, severity) and not slots.get(OFFERED_SLOT):
        return Turn([followup_offer()], {OFFERED_SLOT: True})
    return Turn()


# ---------------------------------------------------------------- the wellbeing answer


def wellbeing_answer(answer: str, slots: Mapping[str, Any], channel: Optional[str],
                     informal_offers: Sequence[str] = ()) -> Turn:
    """"Goed" / "Gaat wel": a short word, then the follow-up offer (once). "Zwaar": support for
    the parent and the offer of a person (that is this turn's one question)."""
    t = texts()["wellbeing"]
    if answer == HARD:
        informal = t["hard_informal"] if informal_offers else t["hard_informal_plain"]
        support = "\n".join([informal] + [f"• {offer}" for offer in informal_offers])
        return Turn([Reply(f"{t['hard']}\n\n{support}"),
                     Reply(t["hard_help"]),
                     Reply(t["hard_offer"], _buttons("buttons_person", ("accept", "refuse")))])
    lead = t[GOOD] if answer == GOOD else t[OK]
    severity = slots.get("severity") or "normaal"
    if may_offer_followup(channel, slots.get("topic"), severity) and not slots.get(OFFERED_SLOT):
        return Turn([followup_offer(lead)], {OFFERED_SLOT: True})
    return Turn([Reply(lead)])


# ---------------------------------------------------------------- the offer's answer


def agreed(weeks: int, channel: Optional[str]) -> Reply:
    t = texts()["offer"]
    text = t["agreed_two_weeks"] if weeks == 2 else t["agreed_one_week"]
    if channel in WEB_CHANNELS:
        text = f"{text} {t['agreed_web']}"
    return Reply(text)


def declined() -> Reply:
    return Reply(texts()["offer"]["declined"])


def not_possible() -> Reply:
    return Reply(texts()["offer"]["not_possible"])


# ---------------------------------------------------------------- the follow-up itself


def ago(weeks: int) -> str:
    return texts()["followup"]["ago"][2 if weeks == 2 else 1]


def followup_message(topic: str, weeks: int) -> Reply:
    """"Je vroeg een week geleden over slapen. Hoe gaat het nu?" with Beter / Hetzelfde / Slechter."""
    t = texts()["followup"]
    question = t["question"].format(ago=ago(weeks), label=replies.label(topic))
    return Reply(f"{question} {t['stop_hint']}", _buttons("followup", (BETTER, SAME, WORSE)))


def followup_template_parameters(topic: str, weeks: int) -> List[str]:
    """The WhatsApp template's body parameters: {{1}} how long ago, {{2}} the topic's label."""
    return [ago(weeks), replies.label(topic)]


@dataclass
class Verdict:
    """The follow-up answer's consequence: ``close``, ``again`` (one more follow-up a week
    later) or ``attention`` (re-triaged, a person offered)."""

    kind: str
    turn: Turn


def followup_answer(answer: str, attempt: int) -> Verdict:
    t = texts()["followup"]
    if answer == BETTER:
        return Verdict("close", Turn([Reply(t["better"])]))
    if answer == SAME and attempt < MAX_FOLLOWUPS:
        return Verdict("again", Turn([Reply(t["same_again"])]))
    turn = Turn([Reply(t["attention"]),
                 Reply(t["attention_offer"], _buttons("buttons_person", ("accept", "refuse")))],
                {"severity": "aandacht", "support_level": "D"})
    return Verdict("attention", turn)


def unknown_followup() -> Reply:
    return Reply(texts()["followup"]["unknown"])


# ---------------------------------------------------------------- "stop"

_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def is_stop_request(text: Optional[str]) -> bool:
    """The whole message asks to stop the follow-ups ("stop", "stop maar", "geen vragen meer")."""
    folded = " ".join(_PUNCTUATION.sub(" ", (text or "").lower()).split())
    return bool(folded) and folded in set(texts()["stop"]["words"])


def stopped(count: int = 1) -> Reply:
    return Reply(texts()["stop"]["done" if count else "none"])


def informal_offers(catalogue: Any, slots: Mapping[str, Any], limit: int = 2) -> List[str]:
    """The names of the catalogue's informal support for a parent (level A: a parents' group,
    an inloop), nearest first; none when the catalogue has none or cannot be read."""
    from bot.domain.catalogue.recommend import recommend

    try:
        found = recommend(catalogue, topic=PARENT_TOPIC, phase=slots.get("phase"), severity="normaal",
                          neighbourhood=slots.get("neighbourhood"), limit=6)
    except Exception:  # noqa: BLE001 - the support numbers are said anyway
        return []
    return [rec.offer.name for rec in found if rec.offer.level == "A"][:limit]

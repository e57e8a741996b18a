"""Thin rasa-sdk actions of issue 19 over bot/domain/wellbeing.py and bot/services/followups/ (the store)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import case_store
from bot.domain import wellbeing
from bot.domain.catalogue import load_catalogue
from bot.services.followups import FollowUpStore

logger = logging.getLogger(__name__)

FOLLOWUP_SLOT = "followup_id"
PENDING_SLOT = "followup_pending"  # the rule "stop the follow-ups" (data/rules/followups.yml)


def _intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _say(dispatcher: CollectingDispatcher, replies: List[wellbeing.Reply]) -> None:
    for reply in replies:
        buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
        dispatcher.utter_message(text=reply.text, buttons=buttons or None)


def _store() -> FollowUpStore:
    return FollowUpStore.of(case_store())


def _slots(turn: wellbeing.Turn) -> List[Dict[Text, Any]]:
    return [SlotSet(name, value) for name, value in turn.slots.items()]


class ActionWellbeing(Action):
    """The answer to "En hoe gaat het met jóu?"."""

    def name(self) -> Text:
        return "action_wellbeing"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        answer = wellbeing.WELLBEING_INTENTS.get(_intent(tracker) or "", wellbeing.OK)
        slots = tracker.current_slot_values()
        offers = wellbeing.informal_offers(load_catalogue(), slots) if answer == wellbeing.HARD else []
        turn = wellbeing.wellbeing_answer(answer, slots, tracker.get_latest_input_channel(), offers)
        _say(dispatcher, turn.replies)
        return _slots(turn) + [SlotSet(wellbeing.ASKED_SLOT, True)]


class ActionFollowupOffer(Action):
    """The answer to "Zal ik over een week vragen hoe het gaat?": store the follow-up, or not."""

    def name(self) -> Text:
        return "action_followup_offer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        weeks = wellbeing.OFFER_INTENTS.get(_intent(tracker) or "", 0)
        events: List[Dict[Text, Any]] = [SlotSet(wellbeing.OFFERED_SLOT, True)]
        if not weeks:
            _say(dispatcher, [wellbeing.declined()])
            return events
        slots = tracker.current_slot_values()
        channel = tracker.get_latest_input_channel()
        topic, severity = slots.get("topic"), slots.get("severity") or "normaal"
        if not wellbeing.may_offer_followup(channel, topic, severity):
            _say(dispatcher, [wellbeing.not_possible()])
            return events
        try:
            _store().schedule(tracker.sender_id, channel, topic, slots.get("phase"), severity, weeks)
        except Exception as error:  # noqa: BLE001 - a kind reply; the type only in the log
            logger.error("follow-up not stored (%s)", type(error).__name__)
            _say(dispatcher, [wellbeing.not_possible()])
            return events
        _say(dispatcher, [wellbeing.agreed(weeks, channel)])
        return events + [SlotSet(PENDING_SLOT, True)]


class ActionFollowupAnswer(Action):
    """Beter / Hetzelfde / Slechter, to a follow-up the worker sent."""

    def name(self) -> Text:
        return "action_followup_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        answer = wellbeing.ANSWER_INTENTS.get(_intent(tracker) or "", wellbeing.SAME)
        store = _store()
        followup = None
        asked = tracker.get_slot(FOLLOWUP_SLOT)
        if isinstance(asked, str) and asked:
            followup = store.get(asked)
            if followup is not None and (followup.conversation_id != tracker.sender_id
                                         or followup.status not in ("sent", "answered")):
                followup = None
        followup = followup or store.last_sent(tracker.sender_id)
        if followup is None:  # erased, or never there: go on kindly
            _say(dispatcher, [wellbeing.unknown_followup()])
            return []
        store.answered(followup.id)
        verdict = wellbeing.followup_answer(answer, followup.attempt)
        again = False
        if verdict.kind == "again":
            try:
                store.schedule(followup.conversation_id, followup.channel, followup.topic, followup.phase,
                               followup.severity, 1, attempt=followup.attempt + 1)
                again = True
            except Exception as error:  # noqa: BLE001
                logger.error("second follow-up not stored (%s)", type(error).__name__)
        _say(dispatcher, verdict.turn.replies)
        events = [SlotSet("topic", followup.topic), SlotSet(FOLLOWUP_SLOT, None), SlotSet(PENDING_SLOT, again)]
        return events + _slots(verdict.turn)


class ActionFollowupStop(Action):
    """After a goodbye: when the message asked to "stop", cancel the follow-ups and say so."""

    def name(self) -> Text:
        return "action_followup_stop"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if not wellbeing.is_stop_request((tracker.latest_message or {}).get("text")):
            return []
        store = _store()
        count = store.cancel(tracker.sender_id)
        if count or store.for_conversation(tracker.sender_id):  # silent for a parent who never had one
            _say(dispatcher, [wellbeing.stopped(1)])
        return [SlotSet(FOLLOWUP_SLOT, None), SlotSet(PENDING_SLOT, False)]

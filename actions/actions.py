"""Thin rasa-sdk actions: translate the tracker for ``bot.domain.dialogue`` and its outcome back."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.domain import dialogue
from bot.domain.catalogue import load_catalogue


def _current_session(tracker: Tracker) -> List[Dict[Text, Any]]:
    events = tracker.events or []
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    return events[starts[-1] + 1:] if starts else list(events)


def conversation_of(tracker: Tracker) -> dialogue.Conversation:
    session = _current_session(tracker)
    user_texts = [e.get("text") or "" for e in session if e.get("event") == "user"]
    return dialogue.Conversation(
        slots=tracker.current_slot_values(),
        history=tuple(user_texts[:-1]),
        has_replied=any(e.get("event") == "bot" for e in session),
        channel=tracker.get_latest_input_channel(),
    )


SAFETY_CHECK, SAFETY_NO = dialogue.SAFETY_INTENTS


def _question_asked_about(tracker: Tracker) -> Dict[Text, Any]:
    """The parent's message that the safety question was about (its parse data)."""
    for event in reversed(_current_session(tracker)):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") == SAFETY_CHECK:
            return event.get("parse_data") or {}
    return {}


def message_of(tracker: Tracker) -> dialogue.Message:
    latest = tracker.latest_message or {}
    intent = (latest.get("intent") or {}).get("name")
    if intent == SAFETY_CHECK:  # the concern in the message the safety question is about
        return dialogue.Message(
            text=latest.get("text") or "",
            intent=dialogue.answerable_intent(latest.get("intent_ranking") or []),
            entities=tuple(latest.get("entities") or ()),
        )
    if intent == SAFETY_NO:  # "nee" to the safety question: answer the message it was about
        asked = _question_asked_about(tracker)
        return dialogue.Message(
            text=asked.get("text") or "",
            intent=dialogue.answerable_intent(asked.get("intent_ranking") or []),
            entities=tuple(asked.get("entities") or ()),
            after_safety_question=True,
        )
    return dialogue.Message(
        text=latest.get("text") or "",
        intent=intent,
        entities=tuple(latest.get("entities") or ()),
    )


def deliver(outcome: dialogue.Outcome, dispatcher: CollectingDispatcher) -> List[Dict[Text, Any]]:
    for reply in outcome.replies:
        buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
        dispatcher.utter_message(text=reply.text, buttons=buttons or None)
    return [SlotSet(name, value) for name, value in outcome.slots.items()]


class ActionRespond(Action):
    def name(self) -> Text:
        return "action_respond"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return deliver(dialogue.respond(conversation_of(tracker), message_of(tracker)), dispatcher)


class ActionMoreTips(Action):
    def name(self) -> Text:
        return "action_more_tips"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return deliver(dialogue.more_tips(conversation_of(tracker)), dispatcher)


class ActionSupportNearby(Action):
    def name(self) -> Text:
        return "action_support_nearby"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        outcome = dialogue.support_nearby(conversation_of(tracker), message_of(tracker), load_catalogue())
        return deliver(outcome, dispatcher)


class ActionNoteConcern(Action):
    """With the safety question: the contract's slots of the concern (topic, age, phase, severity,
    support level) are set as for any concern, but nothing is said until the parent answers."""

    def name(self) -> Text:
        return "action_note_concern"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        outcome = dialogue.respond(conversation_of(tracker), message_of(tracker))
        return [SlotSet(name, value) for name, value in outcome.slots.items() if name in dialogue.CONCERN_SLOTS]


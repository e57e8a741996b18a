"""Rasa glue of the hand-off (rasa-sdk): the form ``handoff_form`` and ``action_open_case``.

The action server registers every module of the ``actions`` package (rasa-sdk imports them all),
so nothing needs to import this one. The logic lives in `bot.domain.handoff` (pure, tested
without Rasa).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.domain import handoff
from bot.services import ratelimit
from bot.services.cases import CaseStore
from bot.services.notify import notifier_from_env

logger = logging.getLogger(__name__)

FORM_NAME = "handoff_form"
REQUESTED_SLOT = "requested_slot"
_lock = threading.Lock()
_store: Optional[CaseStore] = None
_notifier: Any = None


def case_store() -> CaseStore:
    """The case store of CASE_STORE_URL, migrated once per process."""
    global _store
    with _lock:
        if _store is None:
            _store = CaseStore.from_url()
        return _store


def notifier() -> Any:
    global _notifier
    with _lock:
        if _notifier is None:
            _notifier = notifier_from_env()
        return _notifier


def _say(dispatcher: CollectingDispatcher, says: List[handoff.Say]) -> None:
    for say in says:
        buttons = [{"title": t, "payload": p} for t, p in say.buttons]
        dispatcher.utter_message(text=say.text, buttons=buttons or None)


def _answer(tracker: Tracker, slot: str) -> Dict[Text, Any]:
    """The slot values of the parent's answer; a phone number or e-mail address is kept out of
    the slots (only "gegeven" is set): action_open_case reads it from the message again."""
    if tracker.get_slot(REQUESTED_SLOT) != slot or tracker.active_loop_name != FORM_NAME:
        return {}
    latest = tracker.latest_message or {}
    return handoff.slot_values(handoff.extract_answer(
        slot, latest.get("text") or "", (latest.get("intent") or {}).get("name"),
        tracker.current_slot_values(), tracker.get_latest_input_channel()))


class ValidateHandoffForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: Dict[Text, Any]) -> List[Text]:
        return handoff.validated_slots(tracker.current_slot_values(), tracker.get_latest_input_channel())

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
        return SlotSet(REQUESTED_SLOT, handoff.next_question(tracker.current_slot_values(),
                                                             tracker.get_latest_input_channel()))

    def extract_handoff_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return _answer(tracker, handoff.CONSENT_SLOT)

    def extract_words_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return _answer(tracker, handoff.WORDS_SLOT)

    def extract_contact_preference(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return _answer(tracker, handoff.PREFERENCE_SLOT)

    def extract_contact_detail(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return _answer(tracker, handoff.DETAIL_SLOT)

    def extract_handoff_retries(self, *_: Any) -> Dict[Text, Any]:
        return {}  # set together with the answers above

    # the values are checked in extract_answer already; these keep rasa-sdk from warning
    def validate_handoff_consent(self, value: Any, *_: Any) -> Dict[Text, Any]:
        return {handoff.CONSENT_SLOT: value}

    def validate_words_consent(self, value: Any, *_: Any) -> Dict[Text, Any]:
        return {handoff.WORDS_SLOT: value}

    def validate_contact_preference(self, value: Any, *_: Any) -> Dict[Text, Any]:
        return {handoff.PREFERENCE_SLOT: value}

    def validate_contact_detail(self, value: Any, *_: Any) -> Dict[Text, Any]:
        # whatever reaches the slot, the number or address itself is never set
        return handoff.slot_values({handoff.DETAIL_SLOT: value})

    def validate_handoff_retries(self, value: Any, *_: Any) -> Dict[Text, Any]:
        return {handoff.RETRIES_SLOT: value}


class _Ask:
    """Asks for `slot` (a mixin, not an Action, so rasa-sdk does not register it)."""

    slot = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        _say(dispatcher, [handoff.ask(self.slot, tracker.current_slot_values(),
                                      tracker.get_latest_input_channel())])
        return []


class ActionAskHandoffConsent(_Ask, Action):
    slot = handoff.CONSENT_SLOT


class ActionAskWordsConsent(_Ask, Action):
    slot = handoff.WORDS_SLOT


class ActionAskContactPreference(_Ask, Action):
    slot = handoff.PREFERENCE_SLOT


class ActionAskContactDetail(_Ask, Action):
    slot = handoff.DETAIL_SLOT


def parent_messages(tracker: Tracker) -> List[str]:
    """The parent's texts in this session, before the hand-off form started."""
    events = tracker.events or []
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    session = events[starts[-1] + 1:] if starts else list(events)
    form_starts = [i for i, e in enumerate(session)
                   if e.get("event") == "active_loop" and e.get("name") == FORM_NAME]
    before = session[:form_starts[-1]] if form_starts else session
    texts = [e.get("text") or "" for e in before if e.get("event") == "user"]
    return texts


def form_messages(tracker: Tracker) -> List[str]:
    """The parent's texts since the hand-off form last started (its answers), oldest first; the
    latest message last, also when the tracker's events do not hold it yet."""
    events = tracker.events or []
    starts = [i for i, e in enumerate(events)
              if e.get("event") == "active_loop" and e.get("name") == FORM_NAME]
    answers = events[starts[-1] + 1:] if starts else []
    texts = [e.get("text") or "" for e in answers if e.get("event") == "user"]
    latest = (tracker.latest_message or {}).get("text")
    if isinstance(latest, str) and latest and (not texts or texts[-1] != latest):
        texts.append(latest)
    return texts


class ActionOpenCase(Action):
    """After the form: open the case (with consent) or respect the refusal."""

    def name(self) -> Text:
        return "action_open_case"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reset = [SlotSet(slot, None) for slot in handoff.FORM_SLOTS] + [SlotSet(handoff.RETRIES_SLOT, 0.0)]
        slots = tracker.current_slot_values()
        detail = None
        if slots.get(handoff.DETAIL_SLOT) == handoff.DETAIL_GIVEN:
            # the slot only says "gegeven": the detail is read from the parent's answers
            detail = handoff.detail_from_messages(slots.get(handoff.PREFERENCE_SLOT), form_messages(tracker))
            if detail is None:
                logger.warning("hand-off: a contact detail was given but is not found in the answers")
        request = handoff.request_from_slots(tracker.sender_id, slots,
                                             tracker.get_latest_input_channel(),
                                             parent_messages(tracker), contact_detail=detail)
        if request is None:
            _say(dispatcher, handoff.refusal(tracker.get_slot("language")))
            return reset
        try:
            store = case_store()
            already = store.active_case_for(tracker.sender_id) is not None
            if not already and not ratelimit.case_allowed(tracker.sender_id, tracker.get_latest_input_channel()):
                logger.warning("hand-off: case limit reached for this conversation or address")
                _say(dispatcher, handoff.case_failed(tracker.get_slot("language")))
                return reset
            case = handoff.open_case(store, request, notifier())
        except Exception as error:  # noqa: BLE001 - tell the parent where to go instead
            logger.error("opening a case failed: %s", type(error).__name__)
            _say(dispatcher, handoff.case_failed(tracker.get_slot("language")))
            return reset
        _say(dispatcher, handoff.after_case_opened(case, already_open=already))
        return reset


class ActionAlertProfessional(Action):
    """A crisis while a professional holds the conversation: the parent already has the static
    crisis reply; this marks the case in the console and notifies the professionals."""

    def name(self) -> Text:
        return "action_alert_professional"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            handoff.alert_professional(case_store(), tracker.sender_id, tracker.get_slot("signal"),
                                       tracker.get_slot("situation"), notifier())
        except Exception as error:  # noqa: BLE001 - the crisis reply has been sent already
            logger.error("crisis alert failed: %s", type(error).__name__)
        return []

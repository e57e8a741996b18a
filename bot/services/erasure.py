""""wis mijn gegevens": what erases a conversation (CONTRACT.md 6, issue 14).

The rule ``forget this conversation`` (data/rules/dialogue.yml) answers the intent ``delete_data``
with the static response ``utter_delete_data`` (no action server needed). The project's tracker
store (bot/rasa/tracker_store.py) sees that action in the turn it is asked to save and, instead of
saving, deletes every stored event of the conversation and, through the case store, every case
of it (with the contact details). Rasa saves a tracker once per turn, after the replies, so
nothing of the conversation is written back.

The reply carries the flag ``opvoedmaatje_erased`` (domain.yml): on socket.io as a separate
``bot_uttered`` event ``{"opvoedmaatje_erased": true}`` after the text (so the web page clears its
own copy), on every channel in the bot message's metadata.

What else a process holds of a conversation registers with ``on_erasure`` and is told to forget it
(the WhatsApp channel's number book: the reply has gone out by then, Rasa saves after the replies).
The number a case keeps to answer the parent in the conversation (``cases.reply_number``) goes
with the case; the conversation's follow-ups (issue 19, table ``followups``) are deleted too, and
the insight's working rows of it (issue 18, ``insight_state``: bot/services/insight/privacy.py).
"""
from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Iterable, List, Optional

from rasa.shared.core.events import ActionExecuted, UserUttered

logger = logging.getLogger(__name__)

ERASE_ACTION = "utter_delete_data"
ERASED_FLAG = "opvoedmaatje_erased"
_forgetters: List["weakref.WeakMethod[Callable[[str], None]]"] = []


def on_erasure(forget: Callable[[str], None]) -> None:
    """Register a bound method that forgets a conversation (called with its sender id when it is
    erased); held weakly, so a channel that goes away is not kept alive."""
    _forgetters.append(weakref.WeakMethod(forget))


def forget_everywhere(sender_id: str) -> int:
    """Tell every registered holder to forget the conversation; how many did. Never raises."""
    told = 0
    for reference in list(_forgetters):
        forget = reference()
        if forget is None:
            _forgetters.remove(reference)
            continue
        try:
            forget(sender_id)
            told += 1
        except Exception as error:  # noqa: BLE001 - one holder failing must not stop the erasure
            logger.error("erasure: a holder could not forget a conversation (%s)", type(error).__name__)
    return told


def erasure_requested(events: Iterable[Any]) -> bool:
    """True when the latest turn (the events after the parent's last message) ran ERASE_ACTION."""
    for event in reversed(list(events)):
        if isinstance(event, ActionExecuted) and event.action_name == ERASE_ACTION:
            return True
        if isinstance(event, UserUttered):
            return False
    return False


class CaseEraser:
    """Deletes the cases of a conversation in the case store of CASE_STORE_URL (opened when first
    needed, in the process that erases: the Rasa server). It never migrates the schema (the
    other processes do); a case store without its tables holds no case. What is left of the
    cases' audit rows is one row ``erased`` per case (``CaseStore.delete_for_conversation``)."""

    def __init__(self, store: Any = None, url: Optional[str] = None) -> None:
        from bot.services.cases.store import StoreWhenNeeded

        self._cases = StoreWhenNeeded(store, url)

    @property
    def store(self) -> Any:
        return self._cases.store

    def erase(self, conversation_id: str) -> int:
        """Delete every case of the conversation, with its contact details, reply number and
        delivery records; the count."""
        if not self._cases.ready():
            return 0
        count = int(self.store.delete_for_conversation(conversation_id, actor="parent"))
        from bot.services.followups.store import FollowUpStore  # issue 19: the follow-ups go too

        followups = FollowUpStore(self.store.engine)
        if followups.ready():
            followups.delete_for_conversation(conversation_id)
        from bot.services.insight.privacy import erase_conversation  # issue 18: its labels of the day go too

        erase_conversation(self.store.engine, conversation_id)
        return count

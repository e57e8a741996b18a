"""The web chat's follow-up for when the parent comes back (issue 19).

The worker puts a due follow-up into the conversation (the tracker store) and Rasa sends it to
the page if it is open. A parent who comes back later presents the stored, signed session id
(``session_request``); the socket.io channel (bot/rasa/channels/socketio.py) then asks this module for
the conversation's follow-up that was sent and not yet answered, and shows it again. The message
carries ``opvoedmaatje_followup`` (its id), by which the page (bot/services/web/static/chat.js) shows it once.
Never raises: a failure is logged by its type and counts as "nothing waiting".
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

from bot.domain import wellbeing
from bot.services.cases.store import StoreWhenNeeded

from .store import FollowUpStore

logger = logging.getLogger(__name__)

FOLLOWUP_MARK = "opvoedmaatje_followup"
WEB_CHANNEL = "socketio"


class PendingFollowUps:
    def __init__(self, store: Any = None, url: Optional[str] = None) -> None:
        self._cases = StoreWhenNeeded(store, url)

    def message_for(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The bot message of the conversation's unanswered web follow-up, or None."""
        if not self._cases.ready():
            return None
        followups = FollowUpStore(self._cases.store.engine)
        if not followups.ready():
            return None
        followup = followups.last_sent(conversation_id)
        if followup is None or followup.channel != WEB_CHANNEL:
            return None
        reply = wellbeing.followup_message(followup.topic, followup.weeks)
        return {"text": reply.text, FOLLOWUP_MARK: followup.id,
                "quick_replies": [{"content_type": "text", "title": title, "payload": payload}
                                  for title, payload in reply.buttons]}

    async def waiting(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        try:
            return await asyncio.to_thread(self.message_for, conversation_id)
        except Exception as error:  # noqa: BLE001 - the chat goes on without it
            logger.error("web follow-up: lookup failed (%s)", type(error).__name__)
            return None

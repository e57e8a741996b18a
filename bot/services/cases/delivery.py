"""A professional's reply to a WhatsApp or Twilio parent, from any server (issue 14, item 5).

A channel receives the parent's number with every message but keeps it in memory only
(``bot.services.pseudonym.NumberBook``): another replica, or the same server after a restart,
does not know it. So for a conversation with an active hand-off case, where the parent chose to
be answered in the conversation (a case exists only with the parent's consent), the channel
keeps the number in the case store, encrypted (``CaseStore.keep_reply_number``), with the time
of the parent's last message. Closing or erasing the case deletes it.

The console starts a delivery (``CaseStore.start_delivery``) and puts its id in the bot event's
metadata (``DELIVERY_KEY``). Rasa hands that metadata to the output channel of the parent's
latest channel, on whichever server the console called; the channel looks the number up (memory,
else the case store), sends, and settles the delivery: delivered, or not with the reason
(``Outcome``). Rasa sends before it answers the console's call, so the console reads the outcome
right after. Nothing here logs a number, a pseudonym or a case's content.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Collection, Optional, TypeVar

from .store import ReplyRoute, StoreWhenNeeded

logger = logging.getLogger(__name__)

DELIVERY_KEY = "opvoedmaatje_delivery"  # the bot event's metadata: the delivery to settle
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """Whether a message reached the parent; when not, why (``DELIVERY_REASONS``) and the
    messaging service's error code or HTTP status."""

    delivered: bool
    reason: Optional[str] = None
    code: Optional[int] = None


DELIVERED = Outcome(True)
NO_NUMBER = Outcome(False, "no_number")


def refused(code: Optional[int], window_codes: Collection[int] = ()) -> Outcome:
    """The service refused the message: outside the parent's 24-hour window when `code` is one
    of the service's `window_codes` (WhatsApp 131047, Twilio 63016), else refused."""
    return Outcome(False, "window" if code in window_codes else "refused", code)


def unreachable(code: Optional[int] = None) -> Outcome:
    return Outcome(False, "unreachable", code)


def first_failure(outcomes: Collection[Outcome]) -> Outcome:
    """One message sent in parts: delivered only when every part was."""
    return next((o for o in outcomes if not o.delivered), DELIVERED)


class ReplyRoutes:
    """The case store as the channels use it: async, and never raising (a failure is logged by
    its type and counts as "nothing known")."""

    def __init__(self, store: Any = None, url: Optional[str] = None) -> None:
        self._cases = StoreWhenNeeded(store, url)

    async def _call(self, what: str, work: Callable[[], T], failed: T) -> T:
        def run() -> T:
            return work() if self._cases.ready() else failed

        try:
            return await asyncio.to_thread(run)
        except Exception as error:  # noqa: BLE001 - a reply must never fail on the case store
            logger.error("reply route: %s failed (%s)", what, type(error).__name__)
            return failed

    async def note_inbound(self, conversation_id: str, number: str, at: Optional[float] = None) -> bool:
        """The parent wrote: keep the number for the conversation's active case (if any, and
        only with the parent's choice to be answered here)."""
        when = datetime.fromtimestamp(at, tz=timezone.utc) if at else None
        return await self._call("keeping the number",
                                lambda: self._cases.store.keep_reply_number(conversation_id, number, when), False)

    async def route(self, conversation_id: str) -> Optional[ReplyRoute]:
        """The number kept for the conversation's active case, or None."""
        return await self._call("looking up the number", lambda: self._cases.store.reply_route(conversation_id),
                                None)

    async def settle(self, delivery_id: str, outcome: Outcome) -> None:
        """Record what became of the console's reply `delivery_id`."""
        settled = await self._call("recording a delivery", lambda: self._cases.store.settle_delivery(
            str(delivery_id)[:32], outcome.delivered, outcome.reason, outcome.code), False)
        if outcome.delivered:
            logger.info("reply of a professional delivered")
        else:
            logger.warning("reply of a professional not delivered (%s, code %s)", outcome.reason, outcome.code)
        if not settled:
            logger.warning("reply route: the delivery was unknown or settled already")


@lru_cache(maxsize=1)
def default_routes() -> ReplyRoutes:
    """The process-wide routes on the case store of CASE_STORE_URL (the channels of Rasa's server)."""
    return ReplyRoutes()


__all__ = ["DELIVERED", "DELIVERY_KEY", "NO_NUMBER", "Outcome", "ReplyRoutes", "default_routes", "first_failure",
           "refused", "unreachable"]

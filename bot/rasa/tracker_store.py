"""Rasa's SQL tracker store, made safe for a database restart (endpoints.yml
``tracker_store: type: bot.rasa.tracker_store.ResilientSQLTrackerStore``).

Rasa wraps every tracker store in a ``FailSafeTrackerStore``: when reading a tracker fails it
carries on with a *new, empty* tracker, and when saving fails it keeps the tracker in memory. With
Rasa's plain ``SQLTrackerStore`` a PostgreSQL restart therefore goes wrong in two ways:

1. the pooled connections are dead after the restart, so the first request of each server fails
   to read its tracker even though the database is back (no ``pool_pre_ping``);
2. a save that follows a failed read appends the events of that empty tracker *after* the
   stored ones, counted by position: the stored conversation gets replies without messages.

This store (a) checks pooled connections before use (``pool_pre_ping``), (b) retries reads and
saves for up to ``TRACKER_STORE_RETRY_SECONDS`` (default 5) while the database restarts, and
(c) refuses to save a tracker whose read failed, so Rasa keeps that one turn in memory only and
the stored conversation stays intact. It recovers by itself: the next read that works clears (c).

It also erases (issue 14, bot/services/erasure.py): when the turn it is asked to save ran
``utter_delete_data`` ("wis mijn gegevens"), it deletes every stored event of the conversation and
the conversation's cases in the case store instead of saving. When the database does not let it,
the conversation is erased at its next message before anything else is read or saved, and the
cases at a later save.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Optional, Text

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker

from bot import settings
from bot.services.erasure import CaseEraser, erasure_requested, forget_everywhere

logger = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = float(settings.Settings.default("TRACKER_STORE_RETRY_SECONDS"))
MAX_UNSURE = 10_000
CASE_RETRY_SECONDS = 60.0  # how often cases whose erasure failed are tried again
# Errors of an unreachable or restarting database (not of bad SQL or bad data).
_TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


class TrackerNotSaved(RuntimeError):
    """The tracker was read while the database was unavailable: saving it could corrupt the stored one."""


def _transient(error: BaseException) -> bool:
    return isinstance(error, _TRANSIENT) or bool(getattr(error, "connection_invalidated", False))


class ResilientSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with pre-ping, bounded retries and no saves after a failed read."""

    def __init__(self, *args: Any, retry_seconds: Optional[float] = None, case_store: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        if retry_seconds is None:
            try:
                retry_seconds = float(settings.current().value("TRACKER_STORE_RETRY_SECONDS"))
            except ValueError:
                retry_seconds = DEFAULT_RETRY_SECONDS
        self.retry_seconds = max(0.0, float(retry_seconds))
        self._unsure: "OrderedDict[str, float]" = OrderedDict()  # senders whose last read failed
        # the case store of CASE_STORE_URL unless one is given (tests)
        self.case_eraser = CaseEraser(case_store)
        self._events_to_erase: "OrderedDict[str, float]" = OrderedDict()  # erasure failed: retry first
        self._cases_to_erase: "OrderedDict[str, float]" = OrderedDict()
        self._cases_tried = float("-inf")

    async def _with_retries(self, what: str, operation):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return await operation()
            except Exception as error:  # noqa: BLE001 - sorted by _transient: only transient errors are retried
                if not _transient(error) or time.monotonic() + delay > deadline:
                    raise
                logger.warning("tracker store: %s failed (%s); retrying in %.1f s", what, type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    @staticmethod
    def _remember(senders: "OrderedDict[str, float]", sender_id: str) -> None:
        senders[sender_id] = time.monotonic()
        senders.move_to_end(sender_id)
        while len(senders) > MAX_UNSURE:
            senders.popitem(last=False)

    # Reads go through Rasa's public ``retrieve`` and ``retrieve_full_tracker`` (both read with
    # the private ``SQLTrackerStore._retrieve``, which this store leaves alone).
    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(sender_id, super().retrieve)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(conversation_id, super().retrieve_full_tracker)

    async def _read(self, sender_id: Text,
                    parent: Callable[[Text], Awaitable[Optional[DialogueStateTracker]]]) -> Optional[DialogueStateTracker]:
        async def read() -> Optional[DialogueStateTracker]:
            if sender_id in self._events_to_erase:
                # the parent asked to erase it and that failed: erase now, before anything else
                await self._delete_events(sender_id)
                self._events_to_erase.pop(sender_id, None)
                return None
            return await parent(sender_id)

        try:
            tracker = await self._with_retries("reading a tracker", read)
        except Exception:  # noqa: BLE001 - remembered, then raised again unchanged
            self._remember(self._unsure, sender_id)
            raise
        self._unsure.pop(sender_id, None)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_requested(tracker.events):
            await self.erase(tracker.sender_id)
            return
        if self._cases_to_erase:
            await self._retry_case_erasures()
        if tracker.sender_id in self._unsure or tracker.sender_id in self._events_to_erase:
            # Rasa built this tracker without the stored history; appending it would corrupt that.
            raise TrackerNotSaved("the tracker was read while the database was unavailable")
        parent = super().save
        await self._with_retries("saving a tracker", lambda: parent(tracker))

    # --- erasure ("wis mijn gegevens", bot/services/erasure.py) -------------------------------------------

    async def _delete_events(self, sender_id: Text) -> int:
        with self.session_scope() as session:
            count = (session.query(self.SQLEvent)
                     .filter(self.SQLEvent.sender_id == sender_id)
                     .delete(synchronize_session=False))
            session.commit()
        return int(count or 0)

    async def erase(self, sender_id: Text) -> bool:
        """Delete every stored event of the conversation and every case of it. Never raises (Rasa
        would keep the tracker in memory): what fails is retried, the events at the
        conversation's next message (nothing of it is read or saved before), the cases at a
        later save. Logs counts only. True when both were deleted."""
        events_erased = cases_erased = True
        events = cases = 0
        forget_everywhere(sender_id)  # in this process: the WhatsApp number book
        try:
            events = await self._with_retries("erasing a conversation", lambda: self._delete_events(sender_id))
            self._events_to_erase.pop(sender_id, None)
        except Exception as error:  # noqa: BLE001 - an erasure is never lost: remembered and retried
            events_erased = False
            self._remember(self._events_to_erase, sender_id)
            logger.error("erasure: deleting a conversation failed (%s); retried at its next message",
                         type(error).__name__)
        try:
            cases = await self._erase_cases(sender_id)
            self._cases_to_erase.pop(sender_id, None)
        except Exception as error:  # noqa: BLE001 - an erasure is never lost: remembered and retried
            cases_erased = False
            self._remember(self._cases_to_erase, sender_id)
            logger.error("erasure: deleting the cases of a conversation failed (%s); retried later",
                         type(error).__name__)
        if events_erased:
            logger.info("erasure: a conversation deleted on request (%d stored events, %d case(s))", events, cases)
        return events_erased and cases_erased

    async def _erase_cases(self, sender_id: Text) -> int:
        # in a thread: a case store that does not answer must not hold up every conversation
        return await asyncio.get_running_loop().run_in_executor(None, self.case_eraser.erase, sender_id)

    async def _retry_case_erasures(self) -> None:
        now = time.monotonic()
        if now - self._cases_tried < CASE_RETRY_SECONDS:
            return
        self._cases_tried = now
        for sender_id in list(self._cases_to_erase):
            try:
                await self._erase_cases(sender_id)
            except Exception as error:  # noqa: BLE001 - tried again at the next message
                logger.error("erasure: deleting the cases of a conversation failed again (%s)", type(error).__name__)
                return
            self._cases_to_erase.pop(sender_id, None)

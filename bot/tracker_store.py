"""Rasa's SQL tracker store, made safe for a database restart (endpoints.yml
``tracker_store: type: bot.tracker_store.ResilientSQLTrackerStore``).

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
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from typing import Any, Optional, Text

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 5.0
MAX_UNSURE = 10_000
# Errors of an unreachable or restarting database (not of bad SQL or bad data).
_TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


class TrackerNotSaved(RuntimeError):
    """The tracker was read while the database was unavailable: saving it could corrupt the stored one."""


def _transient(error: BaseException) -> bool:
    return isinstance(error, _TRANSIENT) or bool(getattr(error, "connection_invalidated", False))


class ResilientSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with pre-ping, bounded retries and no saves after a failed read."""

    def __init__(self, *args: Any, retry_seconds: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        if retry_seconds is None:
            try:
                retry_seconds = float(os.environ.get("TRACKER_STORE_RETRY_SECONDS") or DEFAULT_RETRY_SECONDS)
            except ValueError:
                retry_seconds = DEFAULT_RETRY_SECONDS
        self.retry_seconds = max(0.0, float(retry_seconds))
        self._unsure: "OrderedDict[str, float]" = OrderedDict()  # senders whose last read failed

    async def _with_retries(self, what: str, operation):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return await operation()
            except Exception as error:
                if not _transient(error) or time.monotonic() + delay > deadline:
                    raise
                logger.warning("tracker store: %s failed (%s); retrying in %.1f s", what, type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        parent = super()._retrieve
        try:
            tracker = await self._with_retries("reading a tracker",
                                               lambda: parent(sender_id, fetch_events_from_all_sessions))
        except Exception:
            self._unsure[sender_id] = time.monotonic()
            self._unsure.move_to_end(sender_id)
            while len(self._unsure) > MAX_UNSURE:
                self._unsure.popitem(last=False)
            raise
        self._unsure.pop(sender_id, None)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.sender_id in self._unsure:
            # Rasa built this tracker without the stored history; appending it would corrupt that.
            raise TrackerNotSaved("the tracker was read while the database was unavailable")
        parent = super().save
        await self._with_retries("saving a tracker", lambda: parent(tracker))

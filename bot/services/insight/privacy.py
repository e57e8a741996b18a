"""The insight's working rows and privacy (issue 18): retention and "wis mijn gegevens".

The consumer keeps two working tables beside the daily aggregates (bot/services/insight/sink.py):
``insight_seen`` (the keys of records already counted, with their day) and ``insight_state`` (per
day and conversation hash, the labels of that conversation so far). Both are needed for two days
at most (``KEEP_DAYS``).

- ``purge_working_rows`` deletes them past those days by the clock, also when no records arrive
  (the sink deletes them only when a newer record comes in). The retention purge runs it
  (bot/services/purge.py: ``make purge``, the hourly purge of ``make run``, the CronJob).
- ``erase_conversation`` deletes the ``insight_state`` rows of one conversation when a parent
  asks to erase it (bot/services/erasure.py). The conversation hash is an HMAC of the UTC day and the
  sender id (``bot.services.insight.events.conversation_hash``): it is computed for every day the working
  rows can still hold, under every key this process knows (``STATS_HASH_KEY`` and the key of each
  statistics broker in this process). A row of ``insight_seen`` cannot be tied to a sender id (it is
  a keyed hash of one event, with its time): it holds no conversation hash and goes by retention.

The daily aggregates (``insight_daily``: labels and counts, no id, no text) stay: a count already
made cannot be told apart from the others and names nobody.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, List, Mapping, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.services.cases.schema import insight_seen, insight_state

from .sink import KEEP_DAYS

logger = logging.getLogger(__name__)


def _today(now: Optional[datetime] = None) -> date:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).date()


def working_cutoff(now: Optional[datetime] = None) -> date:
    """Working rows of a day before this one are past their retention (the sink's own rule,
    counted from today instead of from the newest record)."""
    return _today(now) - timedelta(days=KEEP_DAYS)


def _has_tables(engine: Engine) -> bool:
    inspector = sa.inspect(engine)
    return inspector.has_table(insight_seen.name) and inspector.has_table(insight_state.name)


def purge_working_rows(engine: Engine, now: Optional[datetime] = None) -> Tuple[int, int]:
    """Delete the working rows past their retention: (keys, conversation states) deleted.
    Nothing to do on a database without the insight's tables."""
    if not _has_tables(engine):
        return 0, 0
    cutoff = working_cutoff(now)
    with engine.begin() as connection:
        keys = connection.execute(insight_seen.delete().where(insight_seen.c.day < cutoff)).rowcount
        states = connection.execute(insight_state.delete().where(insight_state.c.day < cutoff)).rowcount
    return max(0, keys or 0), max(0, states or 0)


def erasure_days(now: Optional[datetime] = None) -> List[date]:
    """The days whose state rows may still exist: the retention window, one day more (the
    hourly purge may not have run yet) and tomorrow (a clock a little ahead)."""
    today = _today(now)
    return [today + timedelta(days=offset) for offset in range(-(KEEP_DAYS + 1), 2)]


def hash_keys(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """Every key the conversation hashes of this process can be made with."""
    from bot.services.insight.events import link_keys

    return link_keys(environ)


def conversation_hashes(sender_id: str, keys: Iterable[str], days: Iterable[date]) -> List[Tuple[date, str]]:
    """(day, conversation hash) of the sender on each day under each key."""
    from bot.services.insight.events import conversation_hash

    keys = list(keys)
    found = {(day, conversation_hash(key, sender_id, day.isoformat())) for key in keys for day in days}
    return sorted((day, h) for day, h in found if h)


def erase_conversation(engine: Engine, sender_id: str, now: Optional[datetime] = None,
                       keys: Optional[Iterable[str]] = None,
                       environ: Optional[Mapping[str, str]] = None) -> int:
    """Delete the insight's working rows of one conversation (its daily labels); how many.
    Without a key (no statistics in this process) nothing can be identified, so nothing is done."""
    keys = list(hash_keys(environ) if keys is None else keys)
    if not keys or not isinstance(sender_id, str) or not _has_tables(engine):
        return 0
    pairs = conversation_hashes(sender_id, keys, erasure_days(now))
    if not pairs:
        return 0
    where = sa.or_(*[sa.and_(insight_state.c.day == day, insight_state.c.conversation == h) for day, h in pairs])
    with engine.begin() as connection:
        deleted = connection.execute(insight_state.delete().where(where)).rowcount
    return max(0, deleted or 0)

"""Retention (issue 14): delete what is past the municipality's retention period.

``python -m bot.services.purge`` (``make purge``; for cron, and the Kubernetes CronJob in
deploy/k8s/purge.yaml) deletes

1. from the tracker store (``TRACKER_STORE_URL``, Rasa's table ``events``): every conversation
   whose newest stored event is older than the retention period, all its rows;
2. from the case store (``CASE_STORE_URL``): the expired cases (``CaseStore.purge_expired``:
   closed cases counted from closing, the others from creation), and every contact detail or
   reply number a closed case still holds (``CaseStore.clear_closed_contacts``; closing clears
   them already, this catches a case closed by other means);
3. the follow-ups (issue 19) whose due date is past the retention period;
4. the name and e-mail address of residents' proposals declined more than 30 days ago (issue 20);
5. the insight's working rows (issue 18, ``insight_seen`` and ``insight_state``: record keys and
   daily conversation hashes) older than two days, also when no statistics arrive
   (bot/services/insight/privacy.py); the daily aggregates (no ids, no text) stay.

The retention period is ``bot.services.cases.retention_days()``: ``CASE_RETENTION_DAYS``, else the
catalogue's ``municipality.retention_days``, else 90 days. It logs counts only, never a sender id,
a case id or text. ``make run`` runs it at start and then every hour (bot/serve.py); ``--every
SECONDS`` keeps it running on its own (the docker compose service ``purge``).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import settings

logger = logging.getLogger("bot.services.purge")

EVENTS = sa.table("events", sa.column("sender_id", sa.String), sa.column("timestamp", sa.Float))
BATCH = 500  # conversations per transaction


@dataclass(frozen=True)
class PurgeResult:
    days: int
    conversations: int
    events: int
    cases: int
    contacts: int = 0  # closed cases whose contact details or reply number were deleted


def _url(url: str) -> str:
    return "postgresql://" + url[len("postgres://"):] if url.startswith("postgres://") else url


def tracker_engine(url: str, environ: Optional[Mapping[str, str]] = None) -> Engine:
    """An engine on the tracker store's database, as Rasa's SQL tracker store opens it
    (PostgreSQL: ``POSTGRESQL_SCHEMA`` as the search path)."""
    url = _url(url)
    backend = sa.engine.make_url(url).get_backend_name()
    if backend == "sqlite":
        return sa.create_engine(url, connect_args={"timeout": 30})
    kwargs: dict = {"pool_pre_ping": True}
    schema = settings.current(environ).POSTGRESQL_SCHEMA
    if backend == "postgresql" and schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    return sa.create_engine(url, **kwargs)


def _chunks(items: Sequence[str], size: int) -> List[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def purge_conversations(engine: Engine, cutoff: datetime, batch: int = BATCH) -> Tuple[int, int]:
    """Delete every conversation whose newest event is older than `cutoff`: (conversations, rows).
    A conversation that gets a new event while this runs is kept (checked again per batch)."""
    if not sa.inspect(engine).has_table("events"):
        return 0, 0  # Rasa has not started on this database yet
    limit = cutoff.timestamp()
    newest = sa.func.max(sa.func.coalesce(EVENTS.c.timestamp, 0.0))
    stale = sa.select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id).having(newest < limit)
    with engine.connect() as connection:
        senders = [row[0] for row in connection.execute(stale)]
    conversations = rows = 0
    for chunk in _chunks(senders, batch):
        with engine.begin() as connection:
            still = [row[0] for row in connection.execute(stale.where(EVENTS.c.sender_id.in_(list(chunk))))]
            if still:
                result = connection.execute(sa.delete(EVENTS).where(EVENTS.c.sender_id.in_(still)))
                conversations += len(still)
                rows += max(0, result.rowcount or 0)
    return conversations, rows


def purge(
    now: Optional[datetime] = None,
    days: Optional[int] = None,
    tracker_url: Optional[str] = None,
    case_store: Any = None,
    environ: Optional[Mapping[str, str]] = None,
) -> PurgeResult:
    """One purge of both stores (the clock `now` and the period `days` can be given)."""
    from bot.services.cases import CaseStore, retention_days, store_url

    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    days = retention_days(environ) if days is None else int(days)
    if days <= 0:
        raise ValueError("the retention period must be at least one day")
    engine = tracker_engine(tracker_url or settings.defaults(environ)["TRACKER_STORE_URL"], environ)
    try:
        conversations, rows = purge_conversations(engine, now - timedelta(days=days))
    finally:
        engine.dispose()
    store = case_store if case_store is not None else CaseStore.from_url(store_url(environ))
    cases = store.purge_expired(now=now, days=days)
    contacts = store.clear_closed_contacts()
    from bot.services.followups.store import FollowUpStore

    followups = FollowUpStore(store.engine)
    if followups.ready():
        expired = followups.purge_expired(now=now, days=days)
        if expired:
            logger.info("retention (%d days): deleted %d follow-up(s)", days, expired)
    # residents' proposals (issue 20): name and e-mail address of a declined one, 30 days after
    from bot.services.offers.store import CatalogueStore

    cleared = CatalogueStore(store).purge_declined_contacts(now=now)
    if cleared:
        logger.info("declined proposals: deleted the contact details of %d", cleared)
    from bot.services.insight.privacy import purge_working_rows  # issue 18: keys and daily hashes, 2 days

    keys, states = purge_working_rows(store.engine, now=now)
    if keys or states:
        logger.info("insight: deleted %d record key(s) and %d conversation state(s) past two days", keys, states)
    result = PurgeResult(days=days, conversations=conversations, events=rows, cases=cases, contacts=contacts)
    logger.info("retention (%d days): deleted %d conversation(s) (%d stored events) and %d case(s); "
                "contact details of %d closed case(s)", result.days, result.conversations, result.events,
                result.cases, result.contacts)
    return result


def _parse_now(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.services.purge",
        description="Delete conversations and cases past the retention period (counts only in the log).")
    parser.add_argument("--days", type=int, help="retention in days (default: CASE_RETENTION_DAYS, else "
                        "the catalogue's retention_days, else 90)")
    parser.add_argument("--now", type=_parse_now, help="ISO date-time to count from (default: now)")
    parser.add_argument("--every", type=float, metavar="SECONDS",
                        help="keep running and purge every SECONDS (default: once)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.days is not None and args.days <= 0:
        parser.error("--days must be positive")
    while True:
        try:
            purge(now=args.now, days=args.days)
            failed = False
        except Exception as error:  # noqa: BLE001 - the type only: a message may hold ids
            logger.error("retention purge failed (%s)", type(error).__name__)
            failed = True
        if not args.every:
            return 1 if failed else 0
        time.sleep(max(1.0, args.every))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The follow-ups in the case store (table ``followups``, migration 0009).

A follow-up holds the conversation's pseudonymous id, its channel, topic, phase, severity, the
due date and the bookkeeping of sending it; nothing else. Claiming is safe with several workers:
on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` (a worker never waits for, nor takes, a row
another worker holds), on SQLite a conditional ``UPDATE ... WHERE status = 'scheduled'`` per row
(only one writer's update matches). A claim that is older than ``lease`` (a worker that died
between claiming and sending) may be claimed again, at most ``MAX_TRIES`` times in all.
Nothing here logs an id or a conversation.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.services.cases.schema import FOLLOWUP_CHANNELS, followups
from bot.services.cases.store import from_db_time, to_db_time, utcnow
from bot.vocabulary import SEVERITIES

logger = logging.getLogger(__name__)

SCHEDULED, CLAIMED, SENT, ANSWERED, CANCELLED, FAILED = (
    "scheduled", "claimed", "sent", "answered", "cancelled", "failed")
MAX_TRIES = 3
DEFAULT_LEASE = timedelta(minutes=10)
WEEKS = (1, 2)


@dataclass(frozen=True)
class FollowUp:
    id: str
    conversation_id: str
    channel: str
    topic: str
    phase: Optional[str]
    severity: str
    due_at: datetime
    status: str
    attempt: int
    tries: int
    created_at: datetime
    claimed_at: Optional[datetime] = None
    sent_at: Optional[datetime] = None

    @property
    def weeks(self) -> int:
        """How many weeks ago the parent asked (1 or 2), from the bookkeeping."""
        days = (self.due_at - self.created_at).days
        return 2 if days >= 11 else 1


def _row(row: Any) -> FollowUp:
    return FollowUp(id=row.id, conversation_id=row.conversation_id, channel=row.channel, topic=row.topic,
                    phase=row.phase, severity=row.severity, due_at=from_db_time(row.due_at),
                    status=row.status, attempt=row.attempt, tries=row.tries,
                    created_at=from_db_time(row.created_at), claimed_at=from_db_time(row.claimed_at),
                    sent_at=from_db_time(row.sent_at))


class FollowUpStore:
    """Follow-ups on the case store's engine (its schema migrated by ``CaseStore``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, case_store: Any) -> "FollowUpStore":
        return cls(case_store.engine)

    def ready(self) -> bool:
        return sa.inspect(self.engine).has_table("followups")

    # --- the conversation ----------------------------------------------------------------

    def schedule(self, conversation_id: str, channel: str, topic: str, phase: Optional[str],
                 severity: str, weeks: int, now: Optional[datetime] = None, attempt: int = 1) -> FollowUp:
        """A follow-up `weeks` from `now`; any earlier scheduled one of the conversation is
        replaced (one at a time per conversation)."""
        if channel not in FOLLOWUP_CHANNELS:
            raise ValueError("no follow-ups on this channel")
        if weeks not in WEEKS:
            raise ValueError("a follow-up comes after one or two weeks")
        if severity not in SEVERITIES or severity == "crisis":
            raise ValueError("a follow-up is for a normal or attention answer")
        now = now or utcnow()
        values = dict(id=uuid.uuid4().hex, conversation_id=conversation_id, channel=channel, topic=topic,
                      phase=phase, severity=severity, due_at=to_db_time(now + timedelta(weeks=weeks)),
                      status=SCHEDULED, attempt=attempt, tries=0, created_at=to_db_time(now))
        with self.engine.begin() as connection:
            connection.execute(followups.update()
                               .where(followups.c.conversation_id == conversation_id)
                               .where(followups.c.status == SCHEDULED).values(status=CANCELLED))
            connection.execute(followups.insert().values(**values))
        found = self.get(values["id"])
        assert found is not None
        return found

    def get(self, followup_id: str) -> Optional[FollowUp]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(followups).where(followups.c.id == followup_id)).first()
        return _row(row) if row is not None else None

    def for_conversation(self, conversation_id: str) -> List[FollowUp]:
        """The conversation's follow-ups, newest first."""
        query = (sa.select(followups).where(followups.c.conversation_id == conversation_id)
                 .order_by(followups.c.created_at.desc(), followups.c.attempt.desc()))
        with self.engine.connect() as connection:
            return [_row(r) for r in connection.execute(query)]

    def last_sent(self, conversation_id: str) -> Optional[FollowUp]:
        """The follow-up the parent may be answering: the latest one sent."""
        query = (sa.select(followups).where(followups.c.conversation_id == conversation_id)
                 .where(followups.c.status == SENT).order_by(followups.c.sent_at.desc()).limit(1))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _row(row) if row is not None else None

    def pending(self, conversation_id: str) -> bool:
        """Whether a follow-up waits to be sent."""
        query = (sa.select(sa.func.count()).select_from(followups)
                 .where(followups.c.conversation_id == conversation_id)
                 .where(followups.c.status.in_((SCHEDULED, CLAIMED))))
        with self.engine.connect() as connection:
            return bool(connection.execute(query).scalar())

    def answered(self, followup_id: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(followups.update().where(followups.c.id == followup_id)
                                        .where(followups.c.status == SENT).values(status=ANSWERED))
        return result.rowcount == 1

    def cancel(self, conversation_id: str) -> int:
        """"stop": every follow-up of the conversation that was not sent yet; the count."""
        with self.engine.begin() as connection:
            result = connection.execute(followups.update()
                                        .where(followups.c.conversation_id == conversation_id)
                                        .where(followups.c.status.in_((SCHEDULED, CLAIMED)))
                                        .values(status=CANCELLED))
        return max(0, result.rowcount or 0)

    def delete_for_conversation(self, conversation_id: str) -> int:
        """"wis mijn gegevens": every follow-up of the conversation, whatever its status."""
        with self.engine.begin() as connection:
            result = connection.execute(followups.delete().where(followups.c.conversation_id == conversation_id))
        return max(0, result.rowcount or 0)

    def purge_expired(self, now: Optional[datetime] = None, days: int = 90) -> int:
        """Retention: delete the follow-ups whose due date is more than `days` ago."""
        cutoff = to_db_time((now or utcnow()) - timedelta(days=days))
        with self.engine.begin() as connection:
            result = connection.execute(followups.delete().where(followups.c.due_at < cutoff))
        return max(0, result.rowcount or 0)

    # --- the worker ------------------------------------------------------------------------

    def _claimable(self, now: datetime, lease: timedelta) -> Any:
        stale = to_db_time(now - lease)
        return sa.and_(followups.c.due_at <= to_db_time(now), followups.c.tries < MAX_TRIES,
                       sa.or_(followups.c.status == SCHEDULED,
                              sa.and_(followups.c.status == CLAIMED, followups.c.claimed_at < stale)))

    def claim_due(self, now: Optional[datetime] = None, limit: int = 20,
                  lease: timedelta = DEFAULT_LEASE) -> List[FollowUp]:
        """Claim up to `limit` due follow-ups for this worker; no other worker gets them."""
        now = now or utcnow()
        claimable = self._claimable(now, lease)
        claim = dict(status=CLAIMED, claimed_at=to_db_time(now), tries=followups.c.tries + 1)
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as connection:
                ids = [r.id for r in connection.execute(
                    sa.select(followups.c.id).where(claimable).order_by(followups.c.due_at).limit(limit)
                    .with_for_update(skip_locked=True))]
                if ids:
                    connection.execute(followups.update().where(followups.c.id.in_(ids)).values(**claim))
        else:
            with self.engine.connect() as connection:
                candidates = [r.id for r in connection.execute(
                    sa.select(followups.c.id).where(claimable).order_by(followups.c.due_at).limit(limit))]
            ids = []
            for followup_id in candidates:
                with self.engine.begin() as connection:
                    result = connection.execute(followups.update().where(followups.c.id == followup_id)
                                                .where(claimable).values(**claim))
                if result.rowcount == 1:
                    ids.append(followup_id)
        found = [self.get(i) for i in ids]
        return [f for f in found if f is not None]

    def mark_sent(self, followup_id: str, now: Optional[datetime] = None) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(followups.update().where(followups.c.id == followup_id)
                                        .where(followups.c.status == CLAIMED)
                                        .values(status=SENT, sent_at=to_db_time(now or utcnow())))
        return result.rowcount == 1

    def release(self, followup_id: str) -> None:
        """Sending failed: scheduled again for the next round, or failed after MAX_TRIES."""
        with self.engine.begin() as connection:
            connection.execute(followups.update().where(followups.c.id == followup_id)
                               .where(followups.c.status == CLAIMED)
                               .values(status=sa.case((followups.c.tries >= MAX_TRIES, FAILED), else_=SCHEDULED),
                                       claimed_at=None))

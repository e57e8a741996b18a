"""Statistics records (bot/rasa/stats_broker.py) -> daily aggregates in the case store's database.

A *question* is a topic a parent asked about in one conversation on one day: it is counted when
the assistant settles its support level, with the labels known then (channel, language, topic,
phase, severity, level, neighbourhood). Labels that come later in the same conversation (the
neighbourhood, local support shown, a hand-off asked for) move that question to its final cell,
so it is still counted once. A *crisis* is counted once per situation per conversation and day.

Each record is applied in one transaction together with its key (``insight_seen``): a record
that arrives twice is counted once, and the consumer acknowledges a record only after that
commit, so a restart loses none. Working rows older than two days are deleted (here when newer
records come in; by the retention purge in any case, and a conversation's on erasure:
bot/services/insight/privacy.py).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Dict, List, Mapping, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.services.cases.schema import insight_daily, insight_seen, insight_state
from bot.vocabulary import CRISIS

from .labels import LANGUAGES, UNKNOWN, allowed, channel_label

logger = logging.getLogger(__name__)

KEEP_DAYS = 2
HANDOFF_INTENTS = ("ask_human",)
HANDOFF_ACTIONS = ("handoff_form",)
LOCAL_SUPPORT_ACTIONS = ("action_support_nearby",)
CONTEXT_SLOTS = ("topic", "phase", "severity", "support_level")
_KEY = re.compile(r"^[0-9a-z]{8,40}$")
_CONVERSATION = re.compile(r"^[0-9a-f]{16}$")
_NEIGHBOURHOOD = re.compile(r"^[^\x00-\x1f<>]{1,100}$")


@dataclass(frozen=True)
class Cell:
    """The labels of one aggregate row (without the day)."""

    channel: str = UNKNOWN
    language: str = UNKNOWN
    topic: str = UNKNOWN
    phase: str = UNKNOWN
    severity: str = UNKNOWN
    support_level: str = UNKNOWN
    neighbourhood: str = UNKNOWN
    situation: str = UNKNOWN
    handoff: bool = False
    local_support: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


DIMENSIONS = tuple(Cell.__dataclass_fields__)


@dataclass
class State:
    """What is known of one conversation today: its labels, the question counted last and the
    crisis situations counted."""

    context: Dict[str, Any] = field(default_factory=dict)
    question: Optional[Cell] = None
    situations: List[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps({"c": self.context, "q": self.question.as_dict() if self.question else None,
                           "s": self.situations}, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> "State":
        raw = json.loads(text)
        return cls(dict(raw.get("c") or {}), Cell(**raw["q"]) if raw.get("q") else None, list(raw.get("s") or []))


Delta = Tuple[Cell, int]


def _move(state: State, new: Cell) -> List[Delta]:
    old = state.question
    state.question = new
    if old is None:
        return [(new, 1)]
    return [] if old == new else [(old, -1), (new, 1)]


def step(state: State, record: Mapping[str, Any]) -> List[Delta]:
    """Update `state` with one record; the changes to the aggregates it makes."""
    ctx, kind = state.context, record.get("type")
    if kind == "user":
        channel = channel_label(record.get("channel"))
        if channel:
            ctx["channel"] = channel
        intent = record.get("intent") if isinstance(record.get("intent"), str) else ""
        ctx["crisis_turn"] = intent.startswith("crisis_")
        if intent in HANDOFF_INTENTS and state.question and not state.question.handoff:
            return _move(state, replace(state.question, handoff=True))
        return []
    if kind == "label":
        label, value = record.get("label"), record.get("value")
        if label == "language" and value in LANGUAGES:
            ctx["language"] = value
        elif label == "neighbourhood" and isinstance(value, str) and _NEIGHBOURHOOD.match(value):
            ctx["neighbourhood"] = value
        else:
            return []
        if state.question and getattr(state.question, label) == UNKNOWN:
            return _move(state, replace(state.question, **{label: value}))
        return []
    if kind == "action":
        action = record.get("action")
        question = state.question
        if question is None:
            return []
        if action in LOCAL_SUPPORT_ACTIONS and not question.local_support:
            return _move(state, replace(question, local_support=True))
        if action in HANDOFF_ACTIONS and not question.handoff:
            return _move(state, replace(question, handoff=True))
        return []
    if kind != "slot":
        return []
    slot, value = record.get("slot"), record.get("value")
    if not allowed(str(slot), value):
        return []
    if slot == "situation":
        if value in state.situations:
            return []
        state.situations.append(value)
        return [(Cell(channel=ctx.get("channel", UNKNOWN), language=ctx.get("language", UNKNOWN),
                      phase=ctx.get("phase", UNKNOWN), severity=CRISIS, support_level="D",
                      neighbourhood=ctx.get("neighbourhood", UNKNOWN), situation=value), 1)]
    if slot not in CONTEXT_SLOTS:
        return []
    ctx[slot] = value
    if slot != "support_level" or ctx.get("crisis_turn") or not ctx.get("topic"):
        return []  # a crisis message is counted by its situation
    cell = Cell(channel=ctx.get("channel", UNKNOWN), language=ctx.get("language", UNKNOWN),
                topic=ctx["topic"], phase=ctx.get("phase", UNKNOWN), severity=ctx.get("severity", UNKNOWN),
                support_level=value, neighbourhood=ctx.get("neighbourhood", UNKNOWN))
    question = state.question
    if question is not None and question.topic == cell.topic:  # the same question, settled again
        return _move(state, replace(cell, handoff=question.handoff, local_support=question.local_support))
    state.question = cell
    return [(cell, 1)]


def record_day(record: Mapping[str, Any]) -> Optional[date]:
    try:
        return date.fromisoformat(str(record.get("day")))
    except ValueError:
        return None


class InsightSink:
    """Applies statistics records to the aggregates, each record once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._purged_before: Optional[date] = None

    @classmethod
    def from_url(cls, url: Optional[str] = None) -> "InsightSink":
        from bot.services.cases import CaseStore, store_url

        return cls(CaseStore.from_url(url or store_url(), migrate=True).engine)

    def apply(self, record: Mapping[str, Any]) -> bool:
        """Count one record; False when it was counted before or cannot be counted."""
        return self.apply_many([record])[0]

    def apply_many(self, records: List[Any]) -> List[bool]:
        """Count records in order, in one transaction (all or none)."""
        days = [record_day(r) if isinstance(r, Mapping) else None for r in records]
        for attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    counted = [self._apply(connection, r, d) if d is not None else False
                               for r, d in zip(records, days)]
                break
            except IntegrityError:  # another writer was first with a key or a cell: look again
                if attempt == 2:
                    raise
        latest = max((d for d in days if d is not None), default=None)
        if latest is not None:
            self._purge(latest)
        return counted

    def _apply(self, connection: Connection, record: Mapping[str, Any], day: date) -> bool:
        key = record.get("key")
        if isinstance(key, str) and _KEY.match(key):
            seen = connection.execute(sa.select(insight_seen.c.key).where(insight_seen.c.key == key)).first()
            if seen is not None:
                return False
            connection.execute(insight_seen.insert().values(key=key, day=day))
        conversation = record.get("conversation")
        if not isinstance(conversation, str) or not _CONVERSATION.match(conversation):
            return True  # nothing links it to a conversation: not counted
        where = sa.and_(insight_state.c.day == day, insight_state.c.conversation == conversation)
        row = connection.execute(sa.select(insight_state.c.labels).where(where)).first()
        state = State.loads(row[0]) if row else State()
        deltas = step(state, record)
        text = state.dumps()
        if row is None:
            connection.execute(insight_state.insert().values(day=day, conversation=conversation, labels=text))
        elif text != row[0]:
            connection.execute(insight_state.update().where(where).values(labels=text))
        for cell, delta in deltas:
            add(connection, day, cell, delta)
        return True

    def _purge(self, day: date) -> None:
        cutoff = day - timedelta(days=KEEP_DAYS)
        if self._purged_before is not None and self._purged_before >= cutoff:
            return
        self._purged_before = cutoff
        with self.engine.begin() as connection:
            connection.execute(insight_seen.delete().where(insight_seen.c.day < cutoff))
            connection.execute(insight_state.delete().where(insight_state.c.day < cutoff))


def add(connection: Connection, day: date, cell: Cell, delta: int) -> None:
    """Add `delta` questions to the row of (day, cell); rows that reach 0 are deleted."""
    values = cell.as_dict()
    where = sa.and_(insight_daily.c.day == day, *[insight_daily.c[name] == value for name, value in values.items()])
    updated = connection.execute(insight_daily.update().where(where).values(
        questions=insight_daily.c.questions + delta)).rowcount
    if not updated and delta > 0:
        connection.execute(insight_daily.insert().values(day=day, questions=delta, **values))
    elif delta < 0:
        connection.execute(insight_daily.delete().where(sa.and_(where, insight_daily.c.questions <= 0)))

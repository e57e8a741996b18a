"""The case store: cases handed to a professional, console users and the audit log.

SQLite by default (``var/cases.db``), PostgreSQL through ``CASE_STORE_URL=postgresql://...``.
The schema is migrated with Alembic at start (`CaseStore.from_url` -> `migrate`). Methods
return frozen dataclasses, never ORM rows. Times are stored as naive UTC and returned as
timezone-aware UTC datetimes. Contact details are stored encrypted (`bot.services.cases.crypto`, key from
``CASE_STORE_KEY``); ``Case.contact_detail`` decrypts only when it is read.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot import settings

from .crypto import UNREADABLE, ContactCipher, InvalidToken, default_cipher, is_token
from .schema import (
    ANSWER_IN_CONVERSATION, AUDIT_ACTIONS, CONTACT_PREFERENCES, DELIVERY_REASONS, ROLES, SEVERITIES,
    case_audit, case_deliveries, cases, console_users, teams,
)

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
URL_ENV = "CASE_STORE_URL"
DEFAULT_URL = settings.Settings.default(URL_ENV)  # var/cases.db
RETENTION_ENV = "CASE_RETENTION_DAYS"
DEFAULT_TEAM_ENV = "CASE_DEFAULT_TEAM"  # the team a new case goes to (created when missing)
DEFAULT_RETENTION_DAYS = 90
SYSTEM_ACTOR = "system"
URGENCY_RANK = {"crisis": 0, "aandacht": 1, "normaal": 2}
ACTIVE = ("open", "claimed")
# what closing a case (and the purge, for a case closed otherwise) clears: every way to reach the parent
NO_CONTACT = {"contact_detail": None, "reply_number": None, "last_inbound_at": None}


class CaseError(Exception):
    """A case operation that cannot be done (unknown case, wrong status)."""


class ClaimConflict(CaseError):
    """The case is not open any more: someone else claimed or closed it."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_db_time(when: Optional[datetime]) -> Optional[datetime]:
    """Aware -> naive UTC; naive values are taken as UTC already."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def from_db_time(when: Optional[datetime]) -> Optional[datetime]:
    return when.replace(tzinfo=timezone.utc) if when is not None else None


@dataclass(frozen=True)
class Case:
    """A structured summary for the professional (Meldcode step 1), nothing more."""

    id: str
    conversation_id: str
    channel: Optional[str]
    municipality: Optional[str]
    topic: Optional[str]
    age_months: Optional[int]
    phase: Optional[str]
    severity: str
    signal: Optional[str]
    words_consent: bool
    parent_words: tuple[str, ...]
    contact_preference: str
    # the phone number or e-mail address as stored: a Fernet token (bot/services/cases/crypto.py)
    contact_token: Optional[str] = field(repr=False)
    status: str
    assigned_to: Optional[int]
    assigned_name: Optional[str]
    created_at: datetime
    claimed_at: Optional[datetime]
    closed_at: Optional[datetime]
    situation: Optional[str] = None  # CONTRACT.md 4b
    alerted_at: Optional[datetime] = None  # a crisis while a professional held the conversation
    team_id: Optional[int] = None  # whose professionals may see it; None: admins only
    team_name: Optional[str] = None
    language: Optional[str] = None  # the parent's language (issue 17); None: Dutch, or from before 0012
    _cipher: Optional[ContactCipher] = field(default=None, repr=False, compare=False)

    @property
    def contact_detail(self) -> Optional[str]:
        """The phone number or e-mail address in clear: decrypted here, only when read (the
        console shows it to the professional). `UNREADABLE` when the key does not fit."""
        if self.contact_token is None:
            return None
        if not is_token(self.contact_token):  # stored in clear by a version before 0003
            return self.contact_token
        try:
            return (self._cipher or default_cipher()).decrypt(self.contact_token)
        except InvalidToken:
            logger.warning("case %s: the contact detail cannot be decrypted with CASE_STORE_KEY", self.id)
            return UNREADABLE

    @property
    def anonymous(self) -> bool:
        """No way to reach the parent outside the conversation was given."""
        return self.contact_token is None

    @property
    def urgency_rank(self) -> int:
        return URGENCY_RANK.get(self.severity, 3)


@dataclass(frozen=True)
class User:
    id: int
    email: str
    display_name: str
    password_hash: str
    role: str
    active: bool
    created_at: datetime
    session_version: int = 0  # bumped by logout and a password change (older sessions refused)
    team_id: Optional[int] = None
    # the second factor as stored: a Fernet token of the TOTP secret (decrypted by `totp_secret`)
    totp_token: Optional[str] = field(default=None, repr=False)
    totp_last_step: Optional[int] = None  # the last 30-second step a code was accepted for

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def has_totp(self) -> bool:
        """The user logs in with a code from an authenticator app after the password."""
        return self.totp_token is not None

    def may_see(self, case: "Case") -> bool:
        """Admins see every case; a professional only the cases of their own team (a case
        without a team: admins only)."""
        if self.is_admin:
            return True
        return self.team_id is not None and case.team_id == self.team_id


@dataclass(frozen=True)
class Team:
    id: int
    name: str


@dataclass(frozen=True)
class ReplyRoute:
    """What a channel needs to answer in the conversation: the number, and when the parent
    last wrote there (WhatsApp's 24-hour window)."""

    number: str = field(repr=False)
    last_inbound: Optional[datetime]


@dataclass(frozen=True)
class Delivery:
    """Whether one reply of a professional reached the parent; no content."""

    id: str
    case_id: str
    created_at: datetime
    status: str  # pending | delivered | not_delivered
    reason: Optional[str] = None  # DELIVERY_REASONS, when not delivered
    code: Optional[int] = None  # the messaging service's error code or HTTP status
    settled_at: Optional[datetime] = None

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    case_id: Optional[str]


def store_url(environ: settings.Environ = None) -> str:
    """CASE_STORE_URL (``postgres://`` accepted as ``postgresql://``), else var/cases.db."""
    url = (settings.current(environ).CASE_STORE_URL or "").strip() or DEFAULT_URL
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the case store; SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": 30, **kwargs.pop("connect_args", {})}
        engine = sa.create_engine(url, connect_args=connect_args, future=True, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, future=True, **kwargs)


def retention_days(environ: settings.Environ = None) -> int:
    """CASE_RETENTION_DAYS, else the catalogue's ``municipality.retention_days``, else 90."""
    raw = (settings.current(environ).CASE_RETENTION_DAYS or "").strip()
    if raw:
        try:
            days = int(raw)
            if days > 0:
                return days
        except ValueError:
            pass
        logger.warning("%s is not a positive whole number; ignored", RETENTION_ENV)
    try:
        from bot.domain.catalogue.loader import load_catalogue

        municipality = load_catalogue().municipality
        if municipality is not None and municipality.retention_days:
            return int(municipality.retention_days)
    except Exception:  # the catalogue is optional here; any failure means "not set"
        logger.debug("no retention period in the catalogue")
    return DEFAULT_RETENTION_DAYS


class CaseStore:
    """Cases, console users and the audit log in one database."""

    def __init__(self, engine: Engine, cipher: Optional[ContactCipher] = None):
        self.engine = engine
        self._cipher = cipher

    @classmethod
    def from_url(cls, url: Optional[str] = None, migrate: bool = True,
                 cipher: Optional[ContactCipher] = None, **engine_kwargs: Any) -> "CaseStore":
        store = cls(create_engine(url or store_url(), **engine_kwargs), cipher)
        if migrate:
            store.migrate()
        return store

    @property
    def cipher(self) -> ContactCipher:
        """The contact details' cipher: given, else CASE_STORE_KEY (or var/case-store-key),
        loaded when first needed."""
        if self._cipher is None:
            self._cipher = default_cipher()
            if not self._cipher.from_environment and self.engine.dialect.name != "sqlite":
                logger.warning("case store: CASE_STORE_KEY is not set; contact details are encrypted "
                               "with a key generated in var/ that other servers do not have")
        return self._cipher

    # --- schema ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """One migrating process at a time on a SQLite file (the web and action servers start
        together); held until the migration is committed."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_alembic(self, direction: str, revision: str) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._file_lock():
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # released at commit: a second process waits, then finds the schema done
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(7342001)"))
                config.attributes["connection"] = connection
                config.attributes["cipher"] = lambda: self.cipher  # 0003 encrypts details in clear
                getattr(command, direction)(config, revision)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (``alembic upgrade head``)."""
        self._run_alembic("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` ('base' drops every table of the store)."""
        self._run_alembic("downgrade", revision)

    def current_revision(self) -> Optional[str]:
        from alembic.runtime.migration import MigrationContext

        from .schema import VERSION_TABLE

        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    # --- rows -> dataclasses ----------------------------------------------------------------

    def _case(self, row: Any) -> Case:
        words: tuple[str, ...] = ()
        if row.parent_words:
            try:
                words = tuple(str(w) for w in json.loads(row.parent_words))
            except (ValueError, TypeError):
                words = ()
        return Case(
            id=row.id, conversation_id=row.conversation_id, channel=row.channel,
            municipality=row.municipality, topic=row.topic, age_months=row.age_months,
            phase=row.phase, severity=row.severity, signal=row.signal,
            words_consent=bool(row.words_consent), parent_words=words,
            contact_preference=row.contact_preference, contact_token=row.contact_detail,
            status=row.status, assigned_to=row.assigned_to,
            assigned_name=getattr(row, "assigned_name", None),
            created_at=from_db_time(row.created_at), claimed_at=from_db_time(row.claimed_at),
            closed_at=from_db_time(row.closed_at), situation=row.situation,
            alerted_at=from_db_time(row.alerted_at),
            team_id=getattr(row, "team_id", None), team_name=getattr(row, "team_name", None),
            language=getattr(row, "language", None),
            _cipher=self.cipher if row.contact_detail else None,
        )

    @staticmethod
    def _user(row: Any) -> User:
        return User(id=row.id, email=row.email, display_name=row.display_name,
                    password_hash=row.password_hash, role=row.role, active=bool(row.active),
                    created_at=from_db_time(row.created_at),
                    session_version=int(getattr(row, "session_version", 0) or 0),
                    team_id=getattr(row, "team_id", None),
                    totp_token=getattr(row, "totp_secret", None),
                    totp_last_step=getattr(row, "totp_last_step", None))

    def _case_query(self) -> sa.sql.Select:
        joined = (cases.outerjoin(console_users, cases.c.assigned_to == console_users.c.id)
                  .outerjoin(teams, cases.c.team_id == teams.c.id))
        return sa.select(cases, console_users.c.display_name.label("assigned_name"),
                         teams.c.name.label("team_name")).select_from(joined)

    # --- audit -------------------------------------------------------------------------------

    @staticmethod
    def _audit(connection: Connection, action: str, actor: str, case_id: Optional[str],
               now: Optional[datetime]) -> None:
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        connection.execute(case_audit.insert().values(
            at=to_db_time(now or utcnow()), actor=(actor or SYSTEM_ACTOR)[:254], action=action,
            case_id=case_id,
        ))

    def audit(self, action: str, actor: str, case_id: Optional[str] = None,
              now: Optional[datetime] = None) -> None:
        """Record who did what on which case (no content)."""
        with self.engine.begin() as connection:
            self._audit(connection, action, actor, case_id, now)

    def audit_log(self, case_id: Optional[str] = None, limit: int = 500) -> list[AuditEntry]:
        """Newest first."""
        query = sa.select(case_audit).order_by(case_audit.c.at.desc(), case_audit.c.id.desc()).limit(limit)
        if case_id is not None:
            query = query.where(case_audit.c.case_id == case_id)
        with self.engine.connect() as connection:
            return [AuditEntry(r.id, from_db_time(r.at), r.actor, r.action, r.case_id)
                    for r in connection.execute(query)]

    # --- cases -------------------------------------------------------------------------------

    def create_case(
        self,
        *,
        conversation_id: str,
        severity: str,
        contact_preference: str = "chat",
        channel: Optional[str] = None,
        municipality: Optional[str] = None,
        topic: Optional[str] = None,
        age_months: Optional[int] = None,
        phase: Optional[str] = None,
        signal: Optional[str] = None,
        situation: Optional[str] = None,
        words_consent: bool = False,
        parent_words: Sequence[str] = (),
        contact_detail: Optional[str] = None,
        team_id: Optional[int] = None,
        now: Optional[datetime] = None,
        language: Optional[str] = None,
    ) -> Case:
        """Store a new open case. The parent's words are dropped unless `words_consent`; the
        contact detail is stored encrypted. Without `team_id` the case goes to the default team
        (`default_team_id`)."""
        if not conversation_id:
            raise ValueError("a case needs the conversation id")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        if contact_preference not in CONTACT_PREFERENCES:
            raise ValueError(f"unknown contact preference {contact_preference!r}")
        words = [str(w) for w in parent_words] if words_consent else []
        case_id = uuid.uuid4().hex
        created = to_db_time(now or utcnow())
        if team_id is None:
            team_id = self.default_team_id()
        with self.engine.begin() as connection:
            connection.execute(cases.insert().values(
                id=case_id, conversation_id=conversation_id[:255], channel=channel,
                municipality=municipality, topic=topic, age_months=age_months, phase=phase,
                severity=severity, signal=signal, situation=situation,
                words_consent=bool(words_consent),
                parent_words=json.dumps(words, ensure_ascii=False) if words else None,
                contact_preference=contact_preference,
                contact_detail=self.cipher.encrypt(contact_detail) if contact_detail else None,
                status="open", assigned_to=None, created_at=created, team_id=team_id,
                language=language[:8] if language else None,
            ))
            self._audit(connection, "created", SYSTEM_ACTOR, case_id, now)
        logger.info("case %s created (severity %s)", case_id, severity)
        case = self.get(case_id)
        assert case is not None
        return case

    def get(self, case_id: str) -> Optional[Case]:
        with self.engine.connect() as connection:
            row = connection.execute(self._case_query().where(cases.c.id == case_id)).first()
        return self._case(row) if row is not None else None

    def active_case_for(self, conversation_id: str) -> Optional[Case]:
        """The open or claimed case of this conversation, if any (newest)."""
        query = (self._case_query()
                 .where(cases.c.conversation_id == conversation_id)
                 .where(cases.c.status.in_(ACTIVE))
                 .order_by(cases.c.created_at.desc()))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return self._case(row) if row is not None else None

    def list_cases(self, statuses: Sequence[str] = ("open", "claimed"), limit: int = 500,
                   for_user: Optional[User] = None) -> list[Case]:
        """By urgency: a crisis alert in a held conversation first (newest alert first), then
        crisis, aandacht, normaal; oldest first within. With `for_user`, only the cases that
        user may see (`User.may_see`)."""
        rank = sa.case((cases.c.alerted_at.isnot(None), -1), (cases.c.severity == "crisis", 0),
                       (cases.c.severity == "aandacht", 1), else_=2)
        query = (self._case_query().where(cases.c.status.in_(tuple(statuses)))
                 .order_by(rank, cases.c.alerted_at.desc(), cases.c.created_at.asc(), cases.c.id)
                 .limit(limit))
        if for_user is not None and not for_user.is_admin:
            if for_user.team_id is None:
                return []
            query = query.where(cases.c.team_id == for_user.team_id)
        with self.engine.connect() as connection:
            return [self._case(r) for r in connection.execute(query)]

    def claim(self, case_id: str, user: User, now: Optional[datetime] = None) -> Case:
        """Assign an open case to `user` (atomic); ClaimConflict when it is not open."""
        with self.engine.begin() as connection:
            result = connection.execute(
                cases.update()
                .where(cases.c.id == case_id)
                .where(cases.c.status == "open")
                .values(status="claimed", assigned_to=user.id, claimed_at=to_db_time(now or utcnow()))
            )
            if result.rowcount != 1:
                raise ClaimConflict(f"case {case_id} is not open")
            self._audit(connection, "claimed", user.email, case_id, now)
        case = self.get(case_id)
        assert case is not None
        return case

    def close(self, case_id: str, user: User, now: Optional[datetime] = None) -> Case:
        """Close an open or claimed case. Its contact details are deleted at once (issue 14: the
        parent's phone number or e-mail address is kept no longer than the case needs it)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                cases.update()
                .where(cases.c.id == case_id)
                .where(cases.c.status.in_(("open", "claimed")))
                .values(status="closed", closed_at=to_db_time(now or utcnow()), **NO_CONTACT)
            )
            if result.rowcount != 1:
                raise CaseError(f"case {case_id} is not open or claimed")
            self._audit(connection, "closed", user.email, case_id, now)
        case = self.get(case_id)
        assert case is not None
        return case

    def escalate(self, case_id: str, severity: str, signal: Optional[str] = None) -> Case:
        """Raise the severity of a case (never lowers it); keeps an earlier signal."""
        case = self.get(case_id)
        if case is None:
            raise CaseError(f"no case {case_id}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        values: dict[str, Any] = {}
        if URGENCY_RANK[severity] < case.urgency_rank:
            values["severity"] = severity
        if signal and not case.signal:
            values["signal"] = signal
        if values:
            with self.engine.begin() as connection:
                connection.execute(cases.update().where(cases.c.id == case_id).values(**values))
            case = self.get(case_id)
            assert case is not None
        return case

    def record_crisis_alert(self, case_id: str, signal: Optional[str], situation: Optional[str],
                            now: Optional[datetime] = None) -> Case:
        """A crisis came in while the case was held: crisis severity, the signal and situation
        when the case had none, and the time of the alert (shown in the console)."""
        case = self.escalate(case_id, "crisis", signal)
        values: dict[str, Any] = {"alerted_at": to_db_time(now or utcnow())}
        if situation and not case.situation:
            values["situation"] = situation[:32]
        with self.engine.begin() as connection:
            connection.execute(cases.update().where(cases.c.id == case_id).values(**values))
        logger.info("case %s: crisis alert", case_id)
        case = self.get(case_id)
        assert case is not None
        return case

    @staticmethod
    def _remove(connection: Connection, case_ids: Sequence[str]) -> None:
        """Delete the cases and their delivery records (the foreign key cascades too)."""
        connection.execute(case_deliveries.delete().where(case_deliveries.c.case_id.in_(tuple(case_ids))))
        connection.execute(cases.delete().where(cases.c.id.in_(tuple(case_ids))))

    def _delete(self, connection: Connection, case_ids: Sequence[str], actor: str,
                now: Optional[datetime]) -> int:
        if not case_ids:
            return 0
        self._remove(connection, case_ids)
        for case_id in case_ids:
            self._audit(connection, "deleted", actor, case_id, now)
        return len(case_ids)

    def delete_case(self, case_id: str, actor: str, now: Optional[datetime] = None) -> bool:
        with self.engine.begin() as connection:
            exists = connection.execute(sa.select(cases.c.id).where(cases.c.id == case_id)).first()
            return bool(self._delete(connection, [case_id] if exists else [], actor, now))

    def delete_for_conversation(self, conversation_id: str, actor: str = "parent",
                                now: Optional[datetime] = None) -> int:
        """Delete every case of a conversation (the parent asked to forget it). The audit rows of
        those cases are reduced to one row ``erased`` per case: when, and who asked; no case id,
        no professional, nothing of what was done."""
        with self.engine.begin() as connection:
            ids = [r.id for r in connection.execute(
                sa.select(cases.c.id).where(cases.c.conversation_id == conversation_id))]
            if not ids:
                return 0
            connection.execute(case_audit.delete().where(case_audit.c.case_id.in_(tuple(ids))))
            self._remove(connection, ids)
            for _ in ids:
                self._audit(connection, "erased", actor, None, now)
        return len(ids)

    def clear_closed_contacts(self) -> int:
        """Delete every way to reach the parent that a closed case still holds (closing clears
        them; this catches a case closed by other means). The number of cases cleared."""
        held = sa.or_(*(cases.c[column].isnot(None) for column in NO_CONTACT))
        with self.engine.begin() as connection:
            result = connection.execute(cases.update().where(cases.c.status == "closed").where(held)
                                        .values(**NO_CONTACT))
        return max(0, result.rowcount or 0)

    # --- answering in the conversation (issue 14, item 5) ------------------------------------

    def keep_reply_number(self, conversation_id: str, number: str,
                          last_inbound: Optional[datetime] = None) -> bool:
        """Keep the WhatsApp or Twilio number of a conversation (encrypted) and when the parent
        last wrote, on its active case, when the parent chose to be answered in the
        conversation (``ANSWER_IN_CONVERSATION``; a case exists only with the parent's consent
        to the hand-off). False, and nothing stored, when there is no such case."""
        active = (sa.select(cases.c.id).where(cases.c.conversation_id == conversation_id)
                  .where(cases.c.status.in_(ACTIVE))
                  .where(cases.c.contact_preference.in_(ANSWER_IN_CONVERSATION)))
        with self.engine.begin() as connection:
            ids = [r.id for r in connection.execute(active)]
            if ids:
                connection.execute(cases.update().where(cases.c.id.in_(ids)).values(
                    reply_number=self.cipher.encrypt(number),
                    last_inbound_at=to_db_time(last_inbound or utcnow())))
        return bool(ids)

    def reply_route(self, conversation_id: str) -> Optional[ReplyRoute]:
        """The number to answer the conversation's active case on, or None (no case, no number
        kept, or a key that does not fit)."""
        query = (sa.select(cases.c.id, cases.c.reply_number, cases.c.last_inbound_at)
                 .where(cases.c.conversation_id == conversation_id).where(cases.c.status.in_(ACTIVE))
                 .where(cases.c.reply_number.isnot(None)).order_by(cases.c.created_at.desc()).limit(1))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        try:
            number = self.cipher.decrypt(row.reply_number)
        except InvalidToken:
            logger.warning("case %s: the reply number cannot be decrypted with CASE_STORE_KEY", row.id)
            return None
        return ReplyRoute(number, from_db_time(row.last_inbound_at))

    @staticmethod
    def _delivery(row: Any) -> Delivery:
        return Delivery(id=row.id, case_id=row.case_id, created_at=from_db_time(row.created_at),
                        status=row.status, reason=row.reason, code=row.code,
                        settled_at=from_db_time(row.settled_at))

    def start_delivery(self, case_id: str, now: Optional[datetime] = None) -> Delivery:
        """A new reply of a professional on its way: 'pending' until a channel settles it."""
        delivery_id = uuid.uuid4().hex
        with self.engine.begin() as connection:
            connection.execute(case_deliveries.insert().values(
                id=delivery_id, case_id=case_id, created_at=to_db_time(now or utcnow()), status="pending"))
        found = self.delivery(delivery_id)
        assert found is not None
        return found

    def settle_delivery(self, delivery_id: str, delivered: bool, reason: Optional[str] = None,
                        code: Optional[int] = None, now: Optional[datetime] = None) -> bool:
        """Record the outcome of a pending delivery (once: a settled one stays as it is)."""
        if not delivered and reason not in DELIVERY_REASONS:
            raise ValueError(f"unknown delivery reason {reason!r}")
        values = dict(status="delivered" if delivered else "not_delivered",
                      reason=None if delivered else reason, code=None if delivered else code,
                      settled_at=to_db_time(now or utcnow()))
        with self.engine.begin() as connection:
            result = connection.execute(case_deliveries.update().where(case_deliveries.c.id == delivery_id)
                                        .where(case_deliveries.c.status == "pending").values(**values))
        return result.rowcount == 1

    def delivery(self, delivery_id: str) -> Optional[Delivery]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(case_deliveries)
                                     .where(case_deliveries.c.id == delivery_id)).first()
        return self._delivery(row) if row is not None else None

    def deliveries(self, case_id: str, limit: int = 20) -> list[Delivery]:
        """The case's replies to WhatsApp or Twilio, newest first."""
        query = (sa.select(case_deliveries).where(case_deliveries.c.case_id == case_id)
                 .order_by(case_deliveries.c.created_at.desc(), case_deliveries.c.id).limit(limit))
        with self.engine.connect() as connection:
            return [self._delivery(r) for r in connection.execute(query)]

    def purge_expired(self, now: Optional[datetime] = None, days: Optional[int] = None) -> int:
        """Delete cases whose retention ended: closed ones counted from closing, others from
        creation. Audit rows stay (they hold no content); a 'deleted' row is added per case."""
        days = retention_days() if days is None else days
        cutoff = to_db_time((now or utcnow()) - timedelta(days=days))
        last_activity = sa.func.coalesce(cases.c.closed_at, cases.c.created_at)
        with self.engine.begin() as connection:
            rows = connection.execute(
                sa.select(cases.c.id, cases.c.status).where(last_activity < cutoff)).all()
            unhandled = sum(1 for r in rows if r.status != "closed")
            count = self._delete(connection, [r.id for r in rows], f"{SYSTEM_ACTOR}:retention", now)
        if count:
            logger.info("retention (%d days): deleted %d case(s)", days, count)
        if unhandled:
            logger.warning("retention: %d of them were never closed", unhandled)
        return count

    # --- teams ---------------------------------------------------------------------------------

    def add_team(self, name: str, actor: str = SYSTEM_ACTOR, now: Optional[datetime] = None) -> Team:
        name = " ".join((name or "").split())[:100]
        if not name:
            raise ValueError("a team needs a name")
        with self.engine.begin() as connection:
            if connection.execute(sa.select(teams.c.id).where(teams.c.name == name)).first():
                raise ValueError(f"a team named {name!r} exists already")
            connection.execute(teams.insert().values(name=name))
            self._audit(connection, "team_created", actor, None, now)
        team = self.team_by_name(name)
        assert team is not None
        return team

    def team_by_name(self, name: str) -> Optional[Team]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(teams).where(teams.c.name == name)).first()
        return Team(row.id, row.name) if row is not None else None

    def teams(self) -> list[Team]:
        with self.engine.connect() as connection:
            return [Team(r.id, r.name) for r in connection.execute(sa.select(teams).order_by(teams.c.name))]

    def default_team_id(self, environ: settings.Environ = None) -> Optional[int]:
        """The team a new case goes to: the team named by CASE_DEFAULT_TEAM (created when
        missing), else the only team when there is exactly one, else none (admins only)."""
        name = " ".join((settings.current(environ).CASE_DEFAULT_TEAM or "").split())[:100]
        if name:
            team = self.team_by_name(name)
            if team is None:
                try:
                    team = self.add_team(name)
                except (ValueError, sa.exc.IntegrityError):  # created by another process meanwhile
                    team = self.team_by_name(name)
            return team.id if team is not None else None
        with self.engine.connect() as connection:
            ids = [r.id for r in connection.execute(sa.select(teams.c.id).limit(2))]
        return ids[0] if len(ids) == 1 else None

    def set_user_team(self, user_id: int, team_id: Optional[int], actor: str,
                      now: Optional[datetime] = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id)
                               .values(team_id=team_id))
            self._audit(connection, "user_team_changed", actor, None, now)

    # --- console users -------------------------------------------------------------------------

    def add_user(self, email: str, display_name: str, password_hash: str, role: str = "professional",
                 actor: str = SYSTEM_ACTOR, now: Optional[datetime] = None,
                 team_id: Optional[int] = None) -> User:
        email = normalise_email(email)
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if not email or "@" not in email:
            raise ValueError("an email address is needed")
        with self.engine.begin() as connection:
            if connection.execute(sa.select(console_users.c.id)
                                  .where(console_users.c.email == email)).first():
                raise ValueError(f"a user with e-mail {email} exists already")
            connection.execute(console_users.insert().values(
                email=email, display_name=(display_name or email.split("@")[0])[:100],
                password_hash=password_hash, role=role, active=True,
                created_at=to_db_time(now or utcnow()), team_id=team_id,
            ))
            self._audit(connection, "user_created", actor, None, now)
        user = self.user_by_email(email)
        assert user is not None
        return user

    def user(self, user_id: int) -> Optional[User]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(console_users).where(console_users.c.id == user_id)).first()
        return self._user(row) if row is not None else None

    def user_by_email(self, email: str) -> Optional[User]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(console_users)
                                     .where(console_users.c.email == normalise_email(email))).first()
        return self._user(row) if row is not None else None

    def users(self) -> list[User]:
        with self.engine.connect() as connection:
            return [self._user(r) for r in connection.execute(
                sa.select(console_users).order_by(console_users.c.email))]

    def set_user_active(self, user_id: int, active: bool, actor: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id)
                               .values(active=active))
            self._audit(connection, "user_activated" if active else "user_deactivated", actor, None, None)

    def set_password(self, user_id: int, password_hash: str, actor: str) -> None:
        """A new password; every console session of the user ends (the session version moves)."""
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id)
                               .values(password_hash=password_hash,
                                       session_version=console_users.c.session_version + 1))
            self._audit(connection, "password_changed", actor, None, None)

    def end_sessions(self, user_id: int, actor: Optional[str] = None) -> int:
        """Bump the user's session version, so every copy of their console session is refused
        from now on (logout). With `actor`, a ``logout`` row goes in the audit log. Returns the
        new version (0 for an unknown user)."""
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id)
                               .values(session_version=console_users.c.session_version + 1))
            version = connection.execute(sa.select(console_users.c.session_version)
                                         .where(console_users.c.id == user_id)).scalar()
            if actor is not None and version is not None:
                self._audit(connection, "logout", actor, None, None)
        return int(version or 0)

    # --- the console's second factor (TOTP, migration 0007) -------------------------------------

    def totp_secret(self, user_id: int) -> Optional[str]:
        """The user's TOTP secret in clear (decrypted here, only to check a code), or None: no
        second factor, or a key that does not fit (then no code is ever accepted)."""
        with self.engine.connect() as connection:
            token = connection.execute(sa.select(console_users.c.totp_secret)
                                       .where(console_users.c.id == user_id)).scalar()
        if token is None:
            return None
        try:
            return self.cipher.decrypt(token)
        except InvalidToken:
            logger.warning("console user %s: the TOTP secret cannot be decrypted with CASE_STORE_KEY", user_id)
            return None

    def enable_totp(self, user_id: int, secret: str, actor: str, step: Optional[int] = None,
                    now: Optional[datetime] = None) -> None:
        """Store the user's TOTP secret (encrypted) and the step of the code that confirmed it
        (never accepted again). Every other console session of the user ends. Audited
        ``totp_enabled``, without the secret."""
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id).values(
                totp_secret=self.cipher.encrypt(secret), totp_last_step=step,
                session_version=console_users.c.session_version + 1))
            self._audit(connection, "totp_enabled", actor, None, now)

    def disable_totp(self, user_id: int, actor: str, now: Optional[datetime] = None) -> None:
        """Delete the user's TOTP secret; every console session of the user ends. Audited
        ``totp_disabled``."""
        with self.engine.begin() as connection:
            connection.execute(console_users.update().where(console_users.c.id == user_id).values(
                totp_secret=None, totp_last_step=None,
                session_version=console_users.c.session_version + 1))
            self._audit(connection, "totp_disabled", actor, None, now)

    def use_totp_step(self, user_id: int, step: int) -> bool:
        """Record that a code of `step` was accepted; False when a code of this or a later step
        was accepted before (a replay), or the user has no second factor. Atomic: of two
        requests with the same code, one wins."""
        with self.engine.begin() as connection:
            result = connection.execute(
                console_users.update()
                .where(console_users.c.id == user_id)
                .where(console_users.c.totp_secret.isnot(None))
                .where(sa.or_(console_users.c.totp_last_step.is_(None), console_users.c.totp_last_step < step))
                .values(totp_last_step=step))
        return result.rowcount == 1


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


class StoreWhenNeeded:
    """The case store of CASE_STORE_URL, opened at first use and never migrated here (the web and
    action servers migrate it): for the Rasa server, which needs it now and then (erasure, and
    the channels' reply numbers). A store without its tables holds no case."""

    def __init__(self, store: Optional[CaseStore] = None, url: Optional[str] = None) -> None:
        self._store = store
        self._url = url
        self._lock = threading.Lock()
        self._has_tables = store is not None

    @property
    def store(self) -> CaseStore:
        with self._lock:
            if self._store is None:
                self._store = CaseStore.from_url(self._url or store_url(), migrate=False)
            return self._store

    def ready(self) -> bool:
        """Whether the case store has its tables (checked until it has)."""
        if not self._has_tables:
            self._has_tables = sa.inspect(self.store.engine).has_table("cases")
        return self._has_tables

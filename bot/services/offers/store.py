"""The catalogue editors' store (issue 20): the draft, published versions with diffs, rollback,
YAML import and export, and the offers residents propose.

Tables in bot/services/cases/schema.py (migration 0011); the audit log is the case store's. The running
servers read the newest version through bot/domain/catalogue/published.py. Every document that is
stored as a draft or a version passed the same validation as ``make catalogue-check``.
"""
from __future__ import annotations

import difflib
import io
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Mapping, Optional

import sqlalchemy as sa
import yaml
from sqlalchemy.exc import IntegrityError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.domain.catalogue.model import Catalogue, Issue
from bot.domain.catalogue.published import DOCUMENT_PATH, ensure_seeded
from bot.domain.catalogue.validate import ValidationReport, display_path, validate_text
from bot.services.cases.schema import catalogue_draft, catalogue_versions, offer_proposals
from bot.services.cases.store import CaseStore

logger = logging.getLogger(__name__)

DECLINED_CONTACT_DAYS = 30
ALLOWED_INCLUDES = ("national.yml",)  # the shipped national file, next to the stored document
MAX_IMPORT_BYTES = 1024 * 1024
DOCUMENT_DISPLAY = display_path(DOCUMENT_PATH)


class CatalogueInvalid(Exception):
    """The document would not pass catalogue-check; `issues` says where and why."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__(f"{len(issues)} error(s)")


class NothingToPublish(Exception):
    """The draft is the same as the version in use."""


class PublishConflict(Exception):
    """Another editor published at the same moment; try again."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _aware(when: Optional[datetime]) -> Optional[datetime]:
    return when.replace(tzinfo=timezone.utc) if when is not None else None


def _yaml() -> YAML:
    handler = YAML(typ="rt")
    handler.width = 4096  # no re-wrapping of long lines: the diff shows real changes only
    handler.indent(mapping=2, sequence=4, offset=2)
    handler.preserve_quotes = True
    return handler


def parse(text: str) -> Any:
    return _yaml().load(text)


def dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def own_offers(catalogue: Catalogue) -> list:
    """The offers of the municipality's own document (not the included national file)."""
    return [o for o in catalogue.offers if o.origin == DOCUMENT_DISPLAY]


def markup_issues(text: str) -> list[Issue]:
    """Texts parents read hold no HTML: a '<' or '>' in any value of the document is an error."""
    found: list[Issue] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str) and ("<" in node or ">" in node):
            found.append(Issue(DOCUMENT_DISPLAY, None, path, "'<' and '>' are not allowed (no HTML or script)"))

    data = yaml.load(text, Loader=yaml.CSafeLoader)  # values only: the fast C parser will do
    walk(data, "")
    includes = data.get("include") if isinstance(data, Mapping) else None
    for i, name in enumerate(includes or []):
        if str(name).strip() not in ALLOWED_INCLUDES:  # no other file of the server is read
            found.append(Issue(DOCUMENT_DISPLAY, None, f"include[{i}]",
                               f"only {', '.join(ALLOWED_INCLUDES)} can be included here"))
    return found


@dataclass(frozen=True)
class Version:
    number: int
    created_at: datetime
    actor: str
    action: str
    summary: str
    diff: str


@dataclass(frozen=True)
class Proposal:
    id: str
    created_at: datetime
    status: str
    what: str
    audience: str
    topic: Optional[str]
    place: str
    when_text: str
    contact_name: Optional[str]
    contact_email: Optional[str]
    decided_at: Optional[datetime]
    decided_by: Optional[str]
    decline_reason: Optional[str]
    offer_id: Optional[str]


def _summary(old: Optional[str], new: str) -> str:
    """'2 toegevoegd (a, b); 1 gewijzigd (c); 0 verwijderd' by offer id."""
    def offers(text: Optional[str]) -> dict[str, Any]:
        if not text:
            return {}
        try:
            data = yaml.load(text, Loader=yaml.CSafeLoader)  # values only: the fast C parser will do
        except Exception:  # noqa: BLE001 - a summary is a nicety
            return {}
        items = data.get("offers") if isinstance(data, Mapping) else None
        return {str(o.get("id")): o for o in items or [] if isinstance(o, Mapping)}

    before, after = offers(old), offers(new)
    added = [k for k in after if k not in before]
    removed = [k for k in before if k not in after]
    changed = [k for k in after if k in before and after[k] != before[k]]
    parts = []
    for label, ids in (("toegevoegd", added), ("gewijzigd", changed), ("verwijderd", removed)):
        if ids:
            shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            parts.append(f"{len(ids)} {label} ({shown})")
    if not parts and old != new:
        parts.append("algemene gegevens gewijzigd")
    return ("; ".join(parts) or "geen wijzigingen")[:500]


def unified_diff(old: Optional[str], new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_name, tofile=new_name))


def _catalogue_files_state() -> tuple:
    """(name, modification time) of the catalogue files a document can include."""
    return tuple((p.name, p.stat().st_mtime_ns) for p in sorted(DOCUMENT_PATH.parent.glob("*.yml")))


@lru_cache(maxsize=16)
def _checked(text: str, today: date, files_state: tuple) -> ValidationReport:
    try:
        early = markup_issues(text)  # before validation: an include is read by the validator
    except Exception:  # noqa: BLE001 - not YAML: the validation says where and why
        early = []
    if early:
        raise CatalogueInvalid(early)
    report = CatalogueStore.validate(text)
    if report.errors or report.catalogue is None:
        raise CatalogueInvalid(report.errors)
    return report


class CatalogueStore:
    """Draft, versions and proposals in the case store's database."""

    def __init__(self, cases: CaseStore):
        self.cases = cases
        self.engine = cases.engine

    def ensure_seeded(self) -> None:
        ensure_seeded(self.engine)

    # --- validation ---------------------------------------------------------------------------

    @staticmethod
    def validate(text: str) -> ValidationReport:
        return validate_text(text, DOCUMENT_PATH, check_gaps=False)

    def _checked(self, text: str) -> ValidationReport:
        """The report of a valid document, else CatalogueInvalid. Every page of the editor checks
        the draft again: the same text is checked once a day, and again when a catalogue file
        that it may include changes."""
        return _checked(text, date.today(), _catalogue_files_state())

    # --- the draft ------------------------------------------------------------------------------

    def draft_text(self) -> str:
        self.ensure_seeded()
        with self.engine.connect() as connection:
            text = connection.execute(sa.select(catalogue_draft.c.document)
                                      .where(catalogue_draft.c.id == 1)).scalar()
        return text if text is not None else (self.version_text(self.newest()) or "")

    def draft_catalogue(self) -> Catalogue:
        return self._checked(self.draft_text()).catalogue  # type: ignore[return-value]

    def _store_draft(self, text: str, actor: str) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(catalogue_draft.update().where(catalogue_draft.c.id == 1).values(
                document=text, updated_at=_utcnow(), actor=actor[:254])).rowcount
            if not done:
                connection.execute(catalogue_draft.insert().values(
                    id=1, document=text, updated_at=_utcnow(), actor=actor[:254]))

    def raw_offer(self, offer_id: str) -> Optional[dict]:
        data = parse(self.draft_text())
        for offer in data.get("offers") or []:
            if str(offer.get("id")) == offer_id:
                return offer
        return None

    def with_offer(self, raw: Mapping[str, Any], replaces: Optional[str] = None) -> tuple[str, int]:
        """The draft text with `raw` in place of offer `replaces` (or added at the end), and
        the offer's index in the document."""
        data = parse(self.draft_text())
        offers = data.get("offers")
        if offers is None:
            offers = data["offers"] = CommentedSeq()
        new = CommentedMap(raw)
        index = next((i for i, o in enumerate(offers) if replaces and str(o.get("id")) == replaces), None)
        if index is None:
            offers.append(new)
            index = len(offers) - 1
        else:
            offers[index] = new
        return dump(data), index

    def check_offer(self, raw: Mapping[str, Any], replaces: Optional[str] = None
                    ) -> tuple[list[Issue], Optional[Catalogue], int]:
        """(errors, catalogue when valid, index of the offer) for the draft with this offer."""
        text, index = self.with_offer(raw, replaces)
        report = self.validate(text)
        return report.errors, report.catalogue, index

    def save_offer(self, raw: Mapping[str, Any], actor: str, replaces: Optional[str] = None) -> None:
        text, _index = self.with_offer(raw, replaces)
        self._checked(text)
        self._store_draft(text, actor)
        self.cases.audit("offer_saved", actor, str(raw.get("id"))[:32])

    def delete_offer(self, offer_id: str, actor: str) -> bool:
        data = parse(self.draft_text())
        offers = data.get("offers") or []
        index = next((i for i, o in enumerate(offers) if str(o.get("id")) == offer_id), None)
        if index is None:
            return False
        del offers[index]
        text = dump(data)
        self._checked(text)
        self._store_draft(text, actor)
        self.cases.audit("offer_deleted", actor, offer_id[:32])
        return True

    def import_text(self, text: str, actor: str) -> ValidationReport:
        """A YAML file from outside becomes the draft (after the same checks as catalogue-check)."""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
            raise CatalogueInvalid([Issue(DOCUMENT_DISPLAY, None, "", "file is too large", kind="yaml")])
        report = self._checked(text)
        if report.catalogue is not None and report.catalogue.municipality is None:
            raise CatalogueInvalid([Issue(DOCUMENT_DISPLAY, None, "kind",
                                          "only a municipality file can be imported")])
        self._store_draft(text, actor)
        self.cases.audit("catalogue_imported", actor)
        return report

    def draft_changed(self) -> bool:
        newest = self.newest()
        return newest is None or self.draft_text() != self.version_text(newest)

    # --- versions -------------------------------------------------------------------------------

    def newest(self) -> Optional[int]:
        self.ensure_seeded()
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.max(catalogue_versions.c.number))).scalar()

    def version_text(self, number: Optional[int]) -> Optional[str]:
        if number is None:
            return None
        with self.engine.connect() as connection:
            return connection.execute(sa.select(catalogue_versions.c.document)
                                      .where(catalogue_versions.c.number == number)).scalar()

    def versions(self, limit: int = 100) -> list[Version]:
        self.ensure_seeded()
        query = sa.select(catalogue_versions).order_by(catalogue_versions.c.number.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [Version(r.number, _aware(r.created_at), r.actor, r.action, r.summary, r.diff)
                    for r in connection.execute(query)]

    def version(self, number: int) -> Optional[Version]:
        with self.engine.connect() as connection:
            r = connection.execute(sa.select(catalogue_versions)
                                   .where(catalogue_versions.c.number == number)).first()
        return Version(r.number, _aware(r.created_at), r.actor, r.action, r.summary, r.diff) if r else None

    def _add_version(self, text: str, actor: str, action: str) -> int:
        self._checked(text)
        newest = self.newest()
        old = self.version_text(newest)
        if old == text:
            raise NothingToPublish()
        number = (newest or 0) + 1
        try:
            with self.engine.begin() as connection:
                connection.execute(catalogue_versions.insert().values(
                    number=number, created_at=_utcnow(), actor=actor[:254], action=action, document=text,
                    diff=unified_diff(old, text, f"versie {newest}", f"versie {number}"),
                    summary=_summary(old, text)))
        except IntegrityError as error:  # another editor published this number a moment ago
            raise PublishConflict() from error
        return number

    def publish(self, actor: str) -> int:
        """The draft becomes the newest version: the servers use it within a minute."""
        number = self._add_version(self.draft_text(), actor, "publish")
        self.cases.audit("catalogue_published", actor, f"v{number}")
        return number

    def rollback(self, number: int, actor: str) -> int:
        """A new version with the document of version `number`; the draft becomes that too."""
        text = self.version_text(number)
        if text is None:
            raise KeyError(number)
        new = self._add_version(text, actor, "rollback")
        self._store_draft(text, actor)
        self.cases.audit("catalogue_rolled_back", actor, f"v{number}")
        return new

    # --- proposals from residents ------------------------------------------------------------

    def _proposal(self, row: Any) -> Proposal:
        cipher = self.cases.cipher

        def clear(token: Optional[str]) -> Optional[str]:
            try:
                return cipher.decrypt(token) if token else None
            except Exception:  # noqa: BLE001 - a key that does not fit: treat as gone
                return None

        return Proposal(row.id, _aware(row.created_at), row.status, row.what, row.audience, row.topic,
                        row.place, row.when_text, clear(row.contact_name), clear(row.contact_email),
                        _aware(row.decided_at), row.decided_by, row.decline_reason, row.offer_id)

    def add_proposal(self, *, what: str, audience: str, topic: Optional[str], place: str, when_text: str,
                     contact_name: Optional[str] = None, contact_email: Optional[str] = None,
                     now: Optional[datetime] = None) -> str:
        proposal_id = uuid.uuid4().hex
        cipher = self.cases.cipher
        with self.engine.begin() as connection:
            connection.execute(offer_proposals.insert().values(
                id=proposal_id, created_at=(now or _utcnow()), status="new", what=what,
                audience=audience, topic=topic, place=place, when_text=when_text,
                contact_name=cipher.encrypt(contact_name) if contact_name else None,
                contact_email=cipher.encrypt(contact_email) if contact_email else None))
        return proposal_id

    def proposals(self, status: Optional[str] = None, limit: int = 200) -> list[Proposal]:
        query = sa.select(offer_proposals).order_by(offer_proposals.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(offer_proposals.c.status == status)
        with self.engine.connect() as connection:
            return [self._proposal(r) for r in connection.execute(query)]

    def proposal(self, proposal_id: str) -> Optional[Proposal]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(offer_proposals)
                                     .where(offer_proposals.c.id == proposal_id)).first()
        return self._proposal(row) if row else None

    def accept_proposal(self, proposal_id: str, offer_id: str, actor: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(offer_proposals.update().where(offer_proposals.c.id == proposal_id).values(
                status="accepted", decided_at=_utcnow(), decided_by=actor[:254], offer_id=offer_id[:64]))
        self.cases.audit("proposal_accepted", actor, proposal_id)

    def decline_proposal(self, proposal_id: str, reason: str, actor: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(offer_proposals.update().where(offer_proposals.c.id == proposal_id).values(
                status="declined", decided_at=_utcnow(), decided_by=actor[:254], decline_reason=reason[:500]))
        self.cases.audit("proposal_declined", actor, proposal_id)

    def purge_declined_contacts(self, now: Optional[datetime] = None,
                                days: int = DECLINED_CONTACT_DAYS) -> int:
        """Clear name and e-mail address of proposals declined more than `days` days ago."""
        moment = now.astimezone(timezone.utc).replace(tzinfo=None) if now and now.tzinfo else (now or _utcnow())
        cutoff = moment - timedelta(days=days)
        with self.engine.begin() as connection:
            return connection.execute(offer_proposals.update().where(
                offer_proposals.c.status == "declined", offer_proposals.c.decided_at < cutoff,
                sa.or_(offer_proposals.c.contact_name.is_not(None), offer_proposals.c.contact_email.is_not(None)),
            ).values(contact_name=None, contact_email=None)).rowcount

"""The case store of the hand-off to a professional (issue 6). See `store`."""
from .store import (
    AuditEntry, Case, CaseError, CaseStore, ClaimConflict, Delivery, ReplyRoute, Team, User, retention_days,
    store_url, utcnow,
)
from .schema import AUDIT_ACTIONS, CONTACT_PREFERENCES, ROLES, SEVERITIES, STATUSES

__all__ = [
    "AuditEntry", "Case", "CaseError", "CaseStore", "ClaimConflict", "Delivery", "ReplyRoute", "Team", "User",
    "retention_days",
    "store_url", "utcnow", "AUDIT_ACTIONS", "CONTACT_PREFERENCES", "ROLES", "SEVERITIES", "STATUSES",
]

"""Console: the roles "beleid" (the insight page, issue 18) and "redactie" (the catalogue editor,
issue 20), and the audit actions of the catalogue editor and the insight export.

The migrations after it: 0009 (follow-ups, issue 19), 0010 (the insight aggregates, issue 18)
and 0011 (the catalogue in the database, issue 20). The downgrade refuses
to run while a user has one of the new roles (demote them first) and drops the new audit rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_ROLES = ("professional", "admin")
NEW_ROLES = OLD_ROLES + ("beleid", "redactie")
OLD_ACTIONS = ("created", "viewed", "claimed", "replied", "closed", "deleted",
               "user_created", "user_deactivated", "user_activated", "password_changed",
               "login", "login_failed", "logout", "team_created", "user_team_changed", "erased",
               "totp_enabled", "totp_disabled", "totp_failed")
EDITOR_ACTIONS = ("offer_saved", "offer_deleted", "catalogue_imported", "catalogue_published",
                  "catalogue_rolled_back", "proposal_accepted", "proposal_declined", "insight_exported")
NEW_ACTIONS = OLD_ACTIONS + EDITOR_ACTIONS


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _check(table: str, name: str, column: str, values: tuple) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, _in(column, values))


def upgrade() -> None:
    _check("console_users", "ck_console_users_role", "role", NEW_ROLES)
    _check("case_audit", "ck_case_audit_action", "action", NEW_ACTIONS)


def downgrade() -> None:
    holders = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM console_users WHERE role IN ('beleid', 'redactie')")).scalar()
    if holders:
        raise RuntimeError(f"{holders} console user(s) hold the role beleid or redactie: change their role first")
    op.execute(sa.text("DELETE FROM case_audit WHERE " + _in("action", EDITOR_ACTIONS)))
    _check("case_audit", "ck_case_audit_action", "action", OLD_ACTIONS)
    _check("console_users", "ck_console_users_role", "role", OLD_ROLES)

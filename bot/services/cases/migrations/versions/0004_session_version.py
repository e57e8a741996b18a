"""Console: a server-side session version per user, and logins in the audit log.

``console_users.session_version`` is bumped by logout and a password change; a console session
that carries an older version is refused. The audit log may hold ``login``, ``login_failed`` and
``logout`` (who and when, never a password).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-19
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("created", "viewed", "claimed", "replied", "closed", "deleted",
               "user_created", "user_deactivated", "user_activated", "password_changed")
NEW_ACTIONS = OLD_ACTIONS + ("login", "login_failed", "logout")


def _check(actions: tuple) -> str:
    return f"action IN ({', '.join(repr(a) for a in actions)})"


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _check(NEW_ACTIONS))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM case_audit WHERE action IN ('login', 'login_failed', 'logout')"))
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _check(OLD_ACTIONS))
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("session_version")

"""Console: a second factor (TOTP) per user.

``console_users.totp_secret`` holds the TOTP secret as a Fernet token (key ``CASE_STORE_KEY``,
bot/services/cases/crypto.py), never in clear; NULL: the user has no second factor.
``console_users.totp_last_step`` is the last 30-second step a code was accepted for, so a code is
never accepted twice. The audit log may hold ``totp_enabled``, ``totp_disabled`` and
``totp_failed`` (who and when, never the secret or the code). The downgrade drops the columns and
those audit rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("created", "viewed", "claimed", "replied", "closed", "deleted",
               "user_created", "user_deactivated", "user_activated", "password_changed",
               "login", "login_failed", "logout", "team_created", "user_team_changed", "erased")
TOTP_ACTIONS = ("totp_enabled", "totp_disabled", "totp_failed")
NEW_ACTIONS = OLD_ACTIONS + TOTP_ACTIONS


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _audit_actions(actions: tuple) -> None:
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _in("action", actions))


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(512)))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger))
    _audit_actions(NEW_ACTIONS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM case_audit WHERE " + _in("action", TOTP_ACTIONS)))
    _audit_actions(OLD_ACTIONS)
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")

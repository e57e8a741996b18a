"""Teams: a professional sees only the cases of their own team.

A ``teams`` table, ``console_users.team_id`` and ``cases.team_id`` (both nullable; a case
without a team is seen only by admins), and the audit actions ``team_created`` and
``user_team_changed``. The downgrade drops the teams and those audit rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("created", "viewed", "claimed", "replied", "closed", "deleted",
               "user_created", "user_deactivated", "user_activated", "password_changed",
               "login", "login_failed", "logout")
NEW_ACTIONS = OLD_ACTIONS + ("team_created", "user_team_changed")


def _check(actions: tuple) -> str:
    return f"action IN ({', '.join(repr(a) for a in actions)})"


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
    )
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer))
        batch.create_foreign_key("fk_console_users_team_id", "teams", ["team_id"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer))
        batch.create_foreign_key("fk_cases_team_id", "teams", ["team_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_cases_team_id", ["team_id"])
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _check(NEW_ACTIONS))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM case_audit WHERE action IN ('team_created', 'user_team_changed')"))
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _check(OLD_ACTIONS))
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_team_id")
        batch.drop_constraint("fk_cases_team_id", type_="foreignkey")
        batch.drop_column("team_id")
    with op.batch_alter_table("console_users") as batch:
        batch.drop_constraint("fk_console_users_team_id", type_="foreignkey")
        batch.drop_column("team_id")
    op.drop_table("teams")

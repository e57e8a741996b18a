"""Delivery you can trust: the number to answer in the conversation, delivery status, 'erased'.

``cases.reply_number`` (a Fernet token of the WhatsApp or Twilio number) and
``cases.last_inbound_at`` let any server deliver a professional's reply, also after a restart;
``case_deliveries`` records per reply whether it reached the parent, and why not. The audit log
may hold ``erased``: what is left of a case's rows once the parent erased the conversation. The
downgrade drops the table and the columns, and turns ``erased`` rows into ``deleted`` ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("created", "viewed", "claimed", "replied", "closed", "deleted",
               "user_created", "user_deactivated", "user_activated", "password_changed",
               "login", "login_failed", "logout", "team_created", "user_team_changed")
NEW_ACTIONS = OLD_ACTIONS + ("erased",)
STATUSES = ("pending", "delivered", "not_delivered")
REASONS = ("window", "refused", "unreachable", "no_number", "unconfirmed", "assistant_down")


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _audit_actions(actions: tuple) -> None:
    with op.batch_alter_table("case_audit") as batch:
        batch.drop_constraint("ck_case_audit_action", type_="check")
        batch.create_check_constraint("ck_case_audit_action", _in("action", actions))


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reply_number", sa.String(512)))
        batch.add_column(sa.Column("last_inbound_at", sa.DateTime))
    op.create_table(
        "case_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(24)),
        sa.Column("code", sa.Integer),
        sa.Column("settled_at", sa.DateTime),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_case_deliveries_status"),
        sa.CheckConstraint("reason IS NULL OR " + _in("reason", REASONS), name="ck_case_deliveries_reason"),
    )
    op.create_index("ix_case_deliveries_case_id", "case_deliveries", ["case_id"])
    _audit_actions(NEW_ACTIONS)


def downgrade() -> None:
    op.execute(sa.text("UPDATE case_audit SET action = 'deleted' WHERE action = 'erased'"))
    _audit_actions(OLD_ACTIONS)
    op.drop_index("ix_case_deliveries_case_id", table_name="case_deliveries")
    op.drop_table("case_deliveries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("last_inbound_at")
        batch.drop_column("reply_number")

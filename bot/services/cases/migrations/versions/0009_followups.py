"""Follow-ups (issue 19): an opt-in question a week or two after the answer.

One table, ``followups``: the conversation's pseudonymous id, its channel, topic, phase and
severity, the due date, and the bookkeeping of sending it (status, which follow-up, tries, when
claimed and sent). No text, no phone number. The downgrade drops the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUSES = ("scheduled", "claimed", "sent", "answered", "cancelled", "failed")
CHANNELS = ("rest", "socketio", "whatsapp")


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("phase", sa.String(8)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("sent_at", sa.DateTime),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_followups_status"),
        sa.CheckConstraint(_in("channel", CHANNELS), name="ck_followups_channel"),
        sa.CheckConstraint("severity IN ('normaal', 'aandacht', 'crisis')", name="ck_followups_severity"),
    )
    op.create_index("ix_followups_conversation_id", "followups", ["conversation_id"])
    op.create_index("ix_followups_due_at", "followups", ["due_at"])
    op.create_index("ix_followups_status", "followups", ["status"])


def downgrade() -> None:
    op.drop_index("ix_followups_status", table_name="followups")
    op.drop_index("ix_followups_due_at", table_name="followups")
    op.drop_index("ix_followups_conversation_id", table_name="followups")
    op.drop_table("followups")

"""Case store: console users, cases, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("role IN ('professional', 'admin')", name="ck_console_users_role"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("municipality", sa.String(100)),
        sa.Column("topic", sa.String(40)),
        sa.Column("age_months", sa.Integer),
        sa.Column("phase", sa.String(8)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("signal", sa.String(24)),
        sa.Column("words_consent", sa.Boolean, nullable=False),
        sa.Column("parent_words", sa.Text),
        sa.Column("contact_preference", sa.String(16), nullable=False),
        sa.Column("contact_detail", sa.String(254)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_to", sa.Integer,
                  sa.ForeignKey("console_users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.CheckConstraint("status IN ('open', 'claimed', 'closed')", name="ck_cases_status"),
        sa.CheckConstraint("severity IN ('normaal', 'aandacht', 'crisis')", name="ck_cases_severity"),
        sa.CheckConstraint("contact_preference IN ('chat', 'phone', 'whatsapp', 'email')",
                           name="ck_cases_contact"),
        sa.CheckConstraint("words_consent OR parent_words IS NULL", name="ck_cases_words_consent"),
    )
    op.create_index("ix_cases_conversation_id", "cases", ["conversation_id"])
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_table(
        "case_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("case_id", sa.String(32)),
        sa.CheckConstraint(
            "action IN ('created', 'viewed', 'claimed', 'replied', 'closed', 'deleted', "
            "'user_created', 'user_deactivated', 'user_activated', 'password_changed')",
            name="ck_case_audit_action",
        ),
    )
    op.create_index("ix_case_audit_at", "case_audit", ["at"])
    op.create_index("ix_case_audit_case_id", "case_audit", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_audit")
    op.drop_index("ix_cases_status", table_name="cases")
    op.drop_index("ix_cases_conversation_id", table_name="cases")
    op.drop_table("cases")
    op.drop_table("console_users")

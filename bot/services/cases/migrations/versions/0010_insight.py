"""Insight for the municipality (issue 18): daily aggregates of the anonymous statistics, and the
consumer's two working tables (record keys already counted, labels per conversation of the day).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_daily",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("support_level", sa.String(2), nullable=False),
        sa.Column("neighbourhood", sa.String(100), nullable=False),
        sa.Column("situation", sa.String(32), nullable=False),
        sa.Column("handoff", sa.Boolean, nullable=False),
        sa.Column("local_support", sa.Boolean, nullable=False),
        sa.Column("questions", sa.Integer, nullable=False),
        sa.UniqueConstraint("day", "channel", "language", "topic", "phase", "severity", "support_level",
                            "neighbourhood", "situation", "handoff", "local_support",
                            name="uq_insight_daily_cell"),
    )
    op.create_index("ix_insight_daily_day", "insight_daily", ["day"])
    op.create_table(
        "insight_seen",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index("ix_insight_seen_day", "insight_seen", ["day"])
    op.create_table(
        "insight_state",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("conversation", sa.String(16), primary_key=True),
        sa.Column("labels", sa.String(1000), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_state")
    op.drop_index("ix_insight_seen_day", table_name="insight_seen")
    op.drop_table("insight_seen")
    op.drop_index("ix_insight_daily_day", table_name="insight_daily")
    op.drop_table("insight_daily")

"""The support catalogue in the database (issue 20): published versions (who, when, diff), the
editors' draft, and the offers residents propose on the public form.

The catalogue is seeded from the shipped file at first use (bot/services/offers/store.py), not here.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_versions",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.CheckConstraint("action IN ('seed', 'publish', 'import', 'rollback')",
                           name="ck_catalogue_versions_action"),
    )
    op.create_table(
        "catalogue_draft",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
    )
    op.create_table(
        "offer_proposals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("audience", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(40)),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("when_text", sa.String(200), nullable=False),
        sa.Column("contact_name", sa.String(512)),
        sa.Column("contact_email", sa.String(512)),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("decided_by", sa.String(254)),
        sa.Column("decline_reason", sa.String(500)),
        sa.Column("offer_id", sa.String(64)),
        sa.CheckConstraint("status IN ('new', 'accepted', 'declined')", name="ck_offer_proposals_status"),
    )
    op.create_index("ix_offer_proposals_created_at", "offer_proposals", ["created_at"])
    op.create_index("ix_offer_proposals_status", "offer_proposals", ["status"])


def downgrade() -> None:
    op.drop_index("ix_offer_proposals_status", table_name="offer_proposals")
    op.drop_index("ix_offer_proposals_created_at", table_name="offer_proposals")
    op.drop_table("offer_proposals")
    op.drop_table("catalogue_draft")
    op.drop_table("catalogue_versions")

"""Cases: the crisis situation, and when the assistant alerted the professional to a crisis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("situation", sa.String(32)))
        batch.add_column(sa.Column("alerted_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("alerted_at")
        batch.drop_column("situation")

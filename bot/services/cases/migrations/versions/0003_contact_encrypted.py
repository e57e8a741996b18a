"""Cases: the contact detail is stored encrypted (a Fernet token, up to 420 characters).

Widens ``cases.contact_detail`` and encrypts the details stored in clear before this revision,
with the store's key (``CASE_STORE_KEY``, see bot/services/cases/crypto.py). The downgrade decrypts them
again (a detail the key cannot read is removed) and narrows the column.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-12
"""
from typing import Any, Callable

from alembic import context, op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_cases = sa.table("cases", sa.column("id", sa.String), sa.column("contact_detail", sa.String))


def _cipher() -> Any:
    factory: Callable[[], Any] = context.config.attributes.get("cipher")  # set by CaseStore.migrate
    if factory is not None:
        return factory()
    from bot.services.cases.crypto import default_cipher

    return default_cipher()


def _rows() -> list:
    return op.get_bind().execute(
        sa.select(_cases.c.id, _cases.c.contact_detail).where(_cases.c.contact_detail.isnot(None))).all()


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("contact_detail", existing_type=sa.String(254), type_=sa.String(512))
    from bot.services.cases.crypto import is_token

    clear = [row for row in _rows() if not is_token(row.contact_detail)]
    if clear:
        cipher = _cipher()
        for row in clear:
            op.get_bind().execute(_cases.update().where(_cases.c.id == row.id)
                                  .values(contact_detail=cipher.encrypt(row.contact_detail)))


def downgrade() -> None:
    from bot.services.cases.crypto import InvalidToken, is_token

    tokens = [row for row in _rows() if is_token(row.contact_detail)]
    if tokens:
        cipher = _cipher()
        for row in tokens:
            try:
                detail = cipher.decrypt(row.contact_detail)
            except InvalidToken:
                detail = None
            op.get_bind().execute(_cases.update().where(_cases.c.id == row.id)
                                  .values(contact_detail=detail))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("contact_detail", existing_type=sa.String(512), type_=sa.String(254))

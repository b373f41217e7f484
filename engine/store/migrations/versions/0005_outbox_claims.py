"""outbox claims and attempt markers: claimed_by/claimed_until (a lease taken before a row is sent, so that
several engine processes on one database send each message once), sending_at (written before the platform
is called, so that a crash or a lost response is reconciled before a re-send) and steps (the parts of a
multi-call post already done)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_until", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("sending_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("steps", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("steps")
        batch_op.drop_column("sending_at")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")

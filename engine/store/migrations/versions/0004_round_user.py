"""rounds.user: who asked for the round, so that admission counts the rounds being made per user (and in
total) in the engine's own tables, in the transaction that writes the round

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

rounds = sa.table(
    "rounds", sa.column("id", sa.Integer()), sa.column("spec", sa.JSON()), sa.column("user", sa.String())
)


def upgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user", sa.String(64), server_default="", nullable=False))
        batch_op.create_index("ix_rounds_state_user", ["state", "user"], unique=False)
    # rounds made before: the user is the one their job spec names
    conn = op.get_bind()
    for rid, spec in conn.execute(sa.select(rounds.c.id, rounds.c.spec)).all():
        user = str(((spec or {}).get("job") or {}).get("user") or "")[:64]
        if user:
            conn.execute(sa.update(rounds).where(rounds.c.id == rid).values(user=user))


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_index("ix_rounds_state_user")
        batch_op.drop_column("user")

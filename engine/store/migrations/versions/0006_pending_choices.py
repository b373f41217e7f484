"""pending_choices: the latest reaction or Refine-button choice of a campaign, waiting out its debounce
(one refinement per reaction storm, durable across a restart)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_choices",
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("round_number", sa.Integer(), nullable=False),
        sa.Column("variant_index", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id"),
    )
    op.create_index(op.f("ix_pending_choices_due_at"), "pending_choices", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_choices_due_at"), table_name="pending_choices")
    op.drop_table("pending_choices")

"""delivery_leases and edit_budgets: several bot replicas on one database follow each job once and share a
per-workspace budget of status edits

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_leases",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(
        "edit_budgets",
        sa.Column("scope", sa.String(120), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("edit_budgets")
    op.drop_table("delivery_leases")

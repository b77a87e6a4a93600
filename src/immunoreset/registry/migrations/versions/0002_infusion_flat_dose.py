"""infusion: flat dose (CAR+ cells in total)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import immunoreset.registry.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("infusion") as batch:
        batch.add_column(
            sa.Column("dose_cells_total", immunoreset.registry.schema.DecimalText(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("infusion") as batch:
        batch.drop_column("dose_cells_total")

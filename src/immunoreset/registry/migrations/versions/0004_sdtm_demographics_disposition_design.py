"""demographics, disposition, adverse-event causality and the study design for SDTM

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PATIENT = (
    ("race", sa.String(60)),
    ("ethnicity", sa.String(40)),
    ("age_years", sa.Integer()),
    ("consent_day", sa.Integer()),
    ("consent_date", sa.Date()),
    ("disposition", sa.String(40)),
    ("disposition_day", sa.Integer()),
    ("disposition_date", sa.Date()),
    ("disposition_reason", sa.String(200)),
)
_ADVERSE_EVENT = (
    ("serious_criteria", sa.String(200)),
    ("relationship", sa.String(20)),
    ("action_taken", sa.String(20)),
)


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("design", sa.Text(), nullable=True))
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("country", sa.String(3), nullable=True))
    with op.batch_alter_table("patient") as batch:
        for name, type_ in _PATIENT:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("adverse_event") as batch:
        for name, type_ in _ADVERSE_EVENT:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("adverse_event") as batch:
        for name, _ in reversed(_ADVERSE_EVENT):
            batch.drop_column(name)
    with op.batch_alter_table("patient") as batch:
        for name, _ in reversed(_PATIENT):
            batch.drop_column(name)
    with op.batch_alter_table("site") as batch:
        batch.drop_column("country")
    with op.batch_alter_table("study") as batch:
        batch.drop_column("design")

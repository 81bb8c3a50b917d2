"""Appraisals keep the device's signed evidence token.

Evidence is pseudonymous by construction (closed claim schema, attest.evidence): keeping it
lets auditors re-check the device's signature and read its claims one by one.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appraisals") as batch:
        batch.add_column(sa.Column("evidence", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appraisals") as batch:
        batch.drop_column("evidence")

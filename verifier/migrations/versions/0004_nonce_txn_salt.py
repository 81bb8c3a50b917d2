"""Challenges bound to a transaction keep the salt their nonce was made from.

The nonce of such a challenge is attest.commitment.transaction_nonce(salt, txn_hash), so
the device's signature covers the relying party's transaction without the device ever
receiving it; the salt goes into the attestation result, where anyone can re-check it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nonces") as batch:
        batch.add_column(sa.Column("txn_salt", sa.LargeBinary(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nonces") as batch:
        batch.drop_column("txn_salt")

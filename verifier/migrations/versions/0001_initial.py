"""Initial schema: tokens, devices, nonces, reference values, appraisals, the log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "appraisals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("device_kid", sa.LargeBinary(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=64), nullable=False),
        sa.Column("cti", sa.LargeBinary(length=32), nullable=False),
        sa.Column("evidence_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("owner_token_id", sa.Integer(), nullable=True),
        sa.Column("ear_cwt", sa.LargeBinary(), nullable=False),
        sa.Column("ear_jwt", sa.Text(), nullable=False),
        sa.Column("checks", sa.Text(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cti"),
        sa.UniqueConstraint("log_index"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_table(
        "devices",
        sa.Column("kid", sa.LargeBinary(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.Integer(), nullable=False),
        sa.Column("cose_key", sa.LargeBinary(length=512), nullable=False),
        sa.Column("enrolled_at", sa.Integer(), nullable=False),
        sa.Column("not_after", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.Integer(), nullable=True),
        sa.Column("replaced_by", sa.LargeBinary(length=32), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_index(op.f("ix_devices_device_id"), "devices", ["device_id"], unique=False)
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    log_head = sa.table("log_head", sa.column("id", sa.Integer), sa.column("size", sa.Integer))
    op.bulk_insert(log_head, [{"id": 1, "size": 0}])
    op.create_table(
        "nonces",
        sa.Column("nonce", sa.LargeBinary(length=64), nullable=False),
        sa.Column("issued_at", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.Integer(), nullable=True),
        sa.Column("owner_token_id", sa.Integer(), nullable=True),
        sa.Column("txn_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=True),
        sa.Column("liveness_method", sa.Integer(), nullable=False),
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index(op.f("ix_nonces_expires_at"), "nonces", ["expires_at"], unique=False)
    op.create_table(
        "reference_manifests",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("appraisal_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["appraisal_id"],
            ["appraisals.id"],
        ),
        sa.PrimaryKeyConstraint("idx"),
    )


def downgrade() -> None:
    op.drop_table("log_entries")
    op.drop_table("reference_manifests")
    op.drop_index(op.f("ix_nonces_expires_at"), table_name="nonces")
    op.drop_table("nonces")
    op.drop_table("log_head")
    op.drop_index(op.f("ix_devices_device_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_table("appraisals")
    op.drop_table("api_tokens")

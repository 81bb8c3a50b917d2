"""Console sessions live on the server, so that logging out ends them (issue 16, finding 11).

The signed cookie carries a random session id; the server keeps only its SHA-256 with the
token it was opened with and its expiry. Logout deletes the row: a cookie captured before
logout names a session that no longer exists.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("sid_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("token_id", sa.Integer, sa.ForeignKey("api_tokens.id"), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")

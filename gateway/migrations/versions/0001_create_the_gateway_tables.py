"""create the gateway tables

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:21:46.681019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("uploaded_by", sa.String(length=42), nullable=False),
        sa.Column("uploader_org", sa.String(length=16), nullable=True),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("gateway_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_documents_uploaded_by"), ["uploaded_by"], unique=False)

    op.create_table(
        "gateway_idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "key", name="uq_gateway_idempotency_account_key"),
    )
    op.create_table(
        "gateway_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("gateway_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_sessions_address"), ["address"], unique=False)

    op.create_table(
        "gateway_siwe_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )


def downgrade() -> None:
    op.drop_table("gateway_siwe_nonces")
    with op.batch_alter_table("gateway_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_sessions_address"))

    op.drop_table("gateway_sessions")
    op.drop_table("gateway_idempotency_keys")
    with op.batch_alter_table("gateway_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_documents_uploaded_by"))

    op.drop_table("gateway_documents")

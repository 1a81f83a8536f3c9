"""relayed actions and relayer leases in the database

One row per relayed action (gateway_relays), so that a status answers from any gateway and after any restart,
and the nonces a signer has in flight are known to every gateway; one lease per relayer account
(gateway_relayer_leases), so that two live gateways never send with one relayer; and which gateway process
reserved each Idempotency-Key, so that another takes a dead one's reservation over.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_relays",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("relayer", sa.String(length=42), nullable=False),
        sa.Column("relayer_nonce", sa.BigInteger(), nullable=False),
        sa.Column("primary_type", sa.String(length=64), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("signer_nonce", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.String(length=78), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("transaction", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.Float(), nullable=False),
        sa.Column("settled_at", sa.Float(), nullable=True),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tx_hash"),
    )
    with op.batch_alter_table("gateway_relays", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gateway_relays_status_relayer_nonce", ["status", "relayer", "relayer_nonce"], unique=False
        )
        batch_op.create_index("ix_gateway_relays_signer_status", ["signer", "status"], unique=False)
        batch_op.create_index("ix_gateway_relays_signer_submitted_at", ["signer", "submitted_at"], unique=False)

    op.create_table(
        "gateway_relayer_leases",
        sa.Column("relayer", sa.String(length=42), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("beat", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.Column("beat_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("relayer"),
    )
    with op.batch_alter_table("gateway_idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateway_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("gateway")
    op.drop_table("gateway_relayer_leases")
    with op.batch_alter_table("gateway_relays", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_relays_signer_submitted_at")
        batch_op.drop_index("ix_gateway_relays_signer_status")
        batch_op.drop_index("ix_gateway_relays_status_relayer_nonce")
    op.drop_table("gateway_relays")

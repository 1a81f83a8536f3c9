"""the chain a mirror holds, and its checks of itself

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:50:00.000000

Issue 14: chain ids repeat (every dev chain is 31337), so the cursor also records block 0's hash; a mirror then
refuses another chain than its own, and `procure index status` and `/healthz` say so. A mirror made before this
records its node's genesis hash the next time the indexer opens it. ``self_checks`` keeps the latest check of
what the mirror serves against the chain, per scope (indexer/self_check.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("genesis_hash", sa.String(length=66), nullable=True))
    op.create_table(
        "self_checks",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("from_block", sa.BigInteger(), nullable=False),
        sa.Column("to_block", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_bad_block", sa.BigInteger(), nullable=True),
        sa.Column("difference", sa.Text(), nullable=True),
        sa.Column("checked_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "scope"),
    )


def downgrade() -> None:
    op.drop_table("self_checks")
    with op.batch_alter_table("cursors", schema=None) as batch_op:
        batch_op.drop_column("genesis_hash")

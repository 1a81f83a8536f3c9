"""block times, and the events of one emitter

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 13:40:00.000000

Issue 16: each mirrored block with events keeps its timestamp (``block_digests.block_time``, seconds since the
epoch), carried from the logs (or one batch of headers) at indexing time, so that release dates, trails and the
gateway's reads need no node. The time is not part of the block's digest (the block hash there already commits to
it), so every digest and chain hash stays as it was. Rows mirrored before this are NULL until the indexer next
opens the mirror, which asks the node for their headers in one batch and fills them in.

An index on ``events`` (chain id, emitter, block number) finds the events of one escrow in chain order: a
procurement's trail (indexer/trail.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("block_digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("block_time", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_emitter_block_number"), ["chain_id", "emitter", "block_number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_chain_id_emitter_block_number"))
    with op.batch_alter_table("block_digests", schema=None) as batch_op:
        batch_op.drop_column("block_time")

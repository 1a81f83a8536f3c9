"""the writer's lease: how long its holder promised to keep renewing it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:30:00.000000

Issue 18: a standby indexer takes over a mirror when the active one's lease runs out. The lease's length is the
holder's (``ttl_ms``, written with every heartbeat), so that a standby configured with another TTL neither takes
over from a live holder early nor waits longer than the holder promised. NULL: a lock row written before this
revision (the reader's own TTL applies).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indexer_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ttl_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indexer_locks", schema=None) as batch_op:
        batch_op.drop_column("ttl_ms")

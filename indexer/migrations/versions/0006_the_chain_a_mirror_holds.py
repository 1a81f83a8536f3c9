"""the chain a mirror holds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:50:00.000000

Issue 14: chain ids repeat (every dev chain is 31337), so the cursor also records block 0's hash; a mirror then
refuses another chain than its own, and `procure index status` and `/healthz` say so. A mirror made before this
records its node's genesis hash the next time the indexer opens it.
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


def downgrade() -> None:
    with op.batch_alter_table("cursors", schema=None) as batch_op:
        batch_op.drop_column("genesis_hash")

"""no share owed to a ministry

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:30:00.000000

Issue 15: a refund goes back to the budget ledger at once (burned and de-obligated from the procurement's line),
which cannot refuse it, so the escrows no longer keep a ministry's share owed: RefundDeferred, RefundClaimed and
``claimRefund`` are gone. The columns issue 11 added for them (0004) go too: the milestones' ``ministry_owed``
and the refunds' ``kind`` (every refund is a transfer now).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import indexer.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A mirror of the contracts of issue 11 cannot follow the budget's contracts (their events changed); dropping
    # the columns only keeps its schema the models'.
    for table in ("milestone_history", "milestones"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("ministry_owed")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("kind")


def downgrade() -> None:
    # What the budget's contracts would have reported under the old columns: nothing owed, every refund sent.
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default=sa.text("'refunded'"))
        )
    for table in ("milestone_history", "milestones"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "ministry_owed",
                    indexer.models.Uint256(precision=78, scale=0),
                    nullable=False,
                    server_default=sa.text("'0'"),
                )
            )
    for table in ("milestone_history", "milestones", "refunds"):
        column = "kind" if table == "refunds" else "ministry_owed"
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)

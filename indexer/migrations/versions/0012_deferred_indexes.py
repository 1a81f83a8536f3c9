"""the secondary indexes a fresh mirror's catch-up builds at its end

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:30:00.000000

Issues 15 and 19: a catch-up into an empty mirror drops the non-unique indexes of the event tables and builds them
once when it reaches its target (indexer/deferred_indexes.py), instead of maintaining them row by row. Which ones
are missing is recorded here, in the transaction that drops them, so that a process killed at any point leaves a
mirror whose next start knows what to build.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deferred_indexes",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deferred_indexes")),
    )


def downgrade() -> None:
    pending = list(op.get_bind().execute(sa.text("SELECT name FROM deferred_indexes")).scalars())
    if pending:  # 0011 has no record of them: they would stay missing for good
        raise RuntimeError(f"indexes {pending} are still deferred: run the indexer to the head (it builds them) first")
    op.drop_table("deferred_indexes")

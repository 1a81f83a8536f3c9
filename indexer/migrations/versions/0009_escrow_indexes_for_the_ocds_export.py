"""escrow indexes for the OCDS export

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:40:00.000000

Issue 16: the OCDS export reads every event table of a batch of procurements by (chain id, escrow IN ...). Without an
index on (chain id, escrow) each batch scanned all the chain's rows of each table, so the export's time grew with
the square of the mirror; these indexes make each batch's reads proportional to its own rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "fundings",
    "evidence",
    "attestations",
    "payments",
    "refunds",
    "reclaims",
    "amendment_approvals",
    "dispute_settlements",
    "dispute_lapses",
    "redirect_rulings",
    "owed_redirects",
    "budget_obligations",
)


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_chain_id_escrow"), ["chain_id", "escrow"], unique=False)


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_chain_id_escrow"))

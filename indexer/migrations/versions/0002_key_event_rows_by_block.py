"""key event rows by block

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:45:00.000000

Every event-derived table's primary key becomes (chain_id, block_number, log_index, tx_hash[, milestone_id])
instead of (chain_id, tx_hash, log_index[, milestone_id]): a key that grows with the chain, so that catching up
appends to each B-tree instead of rewriting pages all over it (see ``indexer.models``). The same rows stay
unique: a log's block and position are fixed on a given chain, and the transaction hash is still in the key.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TABLES = (
    "account_bindings",
    "amendment_approvals",
    "amendments",
    "attestations",
    "dispute_settlements",
    "disputes",
    "escrow_registrations",
    "events",
    "evidence",
    "fundings",
    "mints",
    "organization_updates",
    "pauses",
    "payments",
    "reclaims",
    "refunds",
    "role_changes",
    "signature_uses",
    "token_transfers",
)


def _rekey(table: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"pk_{table}"), type_="primary")
        batch_op.create_primary_key(op.f(f"pk_{table}"), columns)


def upgrade() -> None:
    for table in _EVENT_TABLES:
        _rekey(table, ["chain_id", "block_number", "log_index", "tx_hash"])
    _rekey("milestone_history", ["chain_id", "block_number", "log_index", "tx_hash", "milestone_id"])


def downgrade() -> None:
    for table in _EVENT_TABLES:
        _rekey(table, ["chain_id", "tx_hash", "log_index"])
    _rekey("milestone_history", ["chain_id", "tx_hash", "log_index", "milestone_id"])

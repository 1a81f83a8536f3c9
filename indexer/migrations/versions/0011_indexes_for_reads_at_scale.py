"""indexes for the gateway's reads at scale

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:05:00.000000

Issue 19: on a 1,190,607-event mirror a procurement's events page and its attestations page took 1.4-1.6 s (p99):
for ``WHERE chain_id = ? AND emitter = ? ORDER BY block_number, log_index LIMIT 100`` SQLite walked the primary key
(chain id, block number, ...) to avoid a sort, filtering every event; the attestations page did the same on its
table. An index whose columns end with the page's order serves the filter and the order at once, so the planner
takes it: the events' (chain id, emitter, block number) is widened by the log index, and the attestations' (chain
id, escrow) by (block number, log index). A procurement named by its id (every read of one) looked it up by a scan
of the procurements: (chain id, procurement id) serves it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_chain_id_emitter_block_number"))
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_emitter_block_number_log_index"),
            ["chain_id", "emitter", "block_number", "log_index"],
            unique=False,
        )
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestations_chain_id_escrow"))
        batch_op.create_index(
            batch_op.f("ix_attestations_chain_id_escrow_block_number_log_index"),
            ["chain_id", "escrow", "block_number", "log_index"],
            unique=False,
        )
    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procurements_chain_id_procurement_id"), ["chain_id", "procurement_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procurements_chain_id_procurement_id"))
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestations_chain_id_escrow_block_number_log_index"))
        batch_op.create_index(batch_op.f("ix_attestations_chain_id_escrow"), ["chain_id", "escrow"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_chain_id_emitter_block_number_log_index"))
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_emitter_block_number"), ["chain_id", "emitter", "block_number"], unique=False
        )

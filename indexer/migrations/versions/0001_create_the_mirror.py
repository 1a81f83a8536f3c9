"""create the mirror

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:22:15.406941
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import indexer.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_bindings",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("org_id", sa.String(length=66), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("bound", sa.Boolean(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_account_bindings")),
    )
    op.create_table(
        "accounts",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("org_id", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "account", name=op.f("pk_accounts")),
    )
    op.create_table(
        "amendment_approvals",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("amendment_id", sa.BigInteger(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("old_amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("new_amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("old_due_date", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("new_due_date", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_amendment_approvals")),
    )
    op.create_table(
        "amendments",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("amendment_id", sa.BigInteger(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("proposer", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("new_amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("new_due_date", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("rationale_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_amendments")),
    )
    op.create_table(
        "attestations",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("evaluator", sa.String(length=42), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report_hash", sa.String(length=66), nullable=False),
        sa.Column("relayed", sa.Boolean(), nullable=False),
        sa.Column("relayer", sa.String(length=42), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_attestations")),
    )
    op.create_table(
        "block_digests",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", name=op.f("pk_block_digests")),
    )
    op.create_table(
        "cursors",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("registry_address", sa.String(length=42), nullable=False),
        sa.Column("token_address", sa.String(length=42), nullable=False),
        sa.Column("factory_address", sa.String(length=42), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_cursors")),
    )
    op.create_table(
        "dispute_settlements",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=42), nullable=False),
        sa.Column("supplier_amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("ministry_amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("ruling_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_dispute_settlements")),
    )
    op.create_table(
        "disputes",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("opener", sa.String(length=42), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("reason_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_disputes")),
    )
    op.create_table(
        "escrow_registrations",
        sa.Column("procurement_id", sa.String(length=66), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_escrow_registrations")),
    )
    op.create_table(
        "events",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("emitter", sa.String(length=42), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_events")),
    )
    op.create_table(
        "evidence",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("relayed", sa.Boolean(), nullable=False),
        sa.Column("relayer", sa.String(length=42), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_evidence")),
    )
    op.create_table(
        "fundings",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("funder", sa.String(length=42), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("total_funded", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("initial", sa.Boolean(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_fundings")),
    )
    op.create_table(
        "indexer_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_indexer_locks")),
    )
    op.create_table(
        "milestone_history",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("fails", sa.Integer(), nullable=False),
        sa.Column("owed", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", "milestone_id", name=op.f("pk_milestone_history")),
    )
    with op.batch_alter_table("milestone_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_milestone_history_chain_id_escrow_milestone_id_block_number"),
            ["chain_id", "escrow", "milestone_id", "block_number"],
            unique=False,
        )

    op.create_table(
        "milestones",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("fails", sa.Integer(), nullable=False),
        sa.Column("owed", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "escrow", "milestone_id", name=op.f("pk_milestones")),
    )
    op.create_table(
        "mints",
        sa.Column("appropriation_id", sa.String(length=66), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("treasury", sa.String(length=42), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_mints")),
    )
    op.create_table(
        "organization_updates",
        sa.Column("org_id", sa.String(length=66), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("vault", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_organization_updates")),
    )
    op.create_table(
        "organizations",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(length=66), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("vault", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "org_id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "pauses",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("admin", sa.String(length=42), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_pauses")),
    )
    op.create_table(
        "payments",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_payments")),
    )
    op.create_table(
        "procurements",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("procurement_id", sa.String(length=66), nullable=False),
        sa.Column("ministry_org", sa.String(length=66), nullable=False),
        sa.Column("supplier_org", sa.String(length=66), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("officer", sa.String(length=42), nullable=False),
        sa.Column("panel", sa.Text(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("spec_hash", sa.String(length=66), nullable=False),
        sa.Column("funded", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("milestone_count", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("total_funded", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("total_released", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("total_refunded", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("total_owed", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "escrow", name=op.f("pk_procurements")),
    )
    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procurements_chain_id_procurement_id"), ["chain_id", "procurement_id"], unique=True
        )

    op.create_table(
        "reclaims",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("officer", sa.String(length=42), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_reclaims")),
    )
    op.create_table(
        "refunds",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("vault", sa.String(length=42), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_refunds")),
    )
    op.create_table(
        "role_changes",
        sa.Column("role", sa.String(length=66), nullable=False),
        sa.Column("role_name", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_role_changes")),
    )
    op.create_table(
        "role_memberships",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=66), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("role_name", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "role", "account", name=op.f("pk_role_memberships")),
    )
    op.create_table(
        "signature_uses",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("relayer", sa.String(length=42), nullable=False),
        sa.Column("nonce", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_signature_uses")),
    )
    op.create_table(
        "token_transfers",
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", indexer.models.Uint256(precision=78, scale=0), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_token_transfers")),
    )


def downgrade() -> None:
    op.drop_table("token_transfers")
    op.drop_table("signature_uses")
    op.drop_table("role_memberships")
    op.drop_table("role_changes")
    op.drop_table("refunds")
    op.drop_table("reclaims")
    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procurements_chain_id_procurement_id"))

    op.drop_table("procurements")
    op.drop_table("payments")
    op.drop_table("pauses")
    op.drop_table("organizations")
    op.drop_table("organization_updates")
    op.drop_table("mints")
    op.drop_table("milestones")
    with op.batch_alter_table("milestone_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_history_chain_id_escrow_milestone_id_block_number"))

    op.drop_table("milestone_history")
    op.drop_table("indexer_locks")
    op.drop_table("fundings")
    op.drop_table("evidence")
    op.drop_table("events")
    op.drop_table("escrow_registrations")
    op.drop_table("disputes")
    op.drop_table("dispute_settlements")
    op.drop_table("cursors")
    op.drop_table("block_digests")
    op.drop_table("attestations")
    op.drop_table("amendments")
    op.drop_table("amendment_approvals")
    op.drop_table("accounts")
    op.drop_table("account_bindings")

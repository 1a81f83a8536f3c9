"""indexes for the gateway's reads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:58:48.500662
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_amendments_chain_id_escrow"), ["chain_id", "escrow"], unique=False)

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_chain_id_escrow"), ["chain_id", "escrow"], unique=False)

    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procurements_chain_id_ministry_org"), ["chain_id", "ministry_org"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_procurements_chain_id_supplier_org"), ["chain_id", "supplier_org"], unique=False
        )

    with op.batch_alter_table("role_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_memberships_chain_id_account"), ["chain_id", "account"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("role_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_memberships_chain_id_account"))

    with op.batch_alter_table("procurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procurements_chain_id_supplier_org"))
        batch_op.drop_index(batch_op.f("ix_procurements_chain_id_ministry_org"))

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_chain_id_escrow"))

    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendments_chain_id_escrow"))

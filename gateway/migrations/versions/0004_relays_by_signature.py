"""a relay's signature, so that the same signed action posted again is answered with its first relay

A client that timed out and posts the very same signed action again (no Idempotency-Key) is answered with the
relay that carried it, at any gateway and after any restart, instead of a 409: each relay row keeps the
signature it relayed (0x-hex), indexed. Rows written before have none: a retry of one of those is refused as
before (its nonce is used).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_relays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=132), nullable=True))
        batch_op.create_index("ix_gateway_relays_signature", ["signature"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_relays", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_relays_signature")
        batch_op.drop_column("signature")

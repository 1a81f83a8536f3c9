"""evidence uploads per uploader; used sign-in nonces only

Each upload gets its own record (uploader, organization, filename, content type, time) in gateway_uploads;
gateway_documents keeps only the content (hash, size, when first stored). Existing documents are adopted:
each becomes its uploader's record. Sign-in nonces are stateless from now on, so the table keeps only used
ones: outstanding nonces issued before are dropped (a client asks for a new one).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Each document's first upload, back into its row.
_FIRST_UPLOAD_BACK = """
UPDATE gateway_documents SET
  uploaded_by = (SELECT u.uploaded_by FROM gateway_uploads u WHERE u.id = (
    SELECT MIN(f.id) FROM gateway_uploads f WHERE f.sha256 = gateway_documents.sha256)),
  uploader_org = (SELECT u.uploader_org FROM gateway_uploads u WHERE u.id = (
    SELECT MIN(f.id) FROM gateway_uploads f WHERE f.sha256 = gateway_documents.sha256)),
  filename = (SELECT u.filename FROM gateway_uploads u WHERE u.id = (
    SELECT MIN(f.id) FROM gateway_uploads f WHERE f.sha256 = gateway_documents.sha256)),
  content_type = (SELECT u.content_type FROM gateway_uploads u WHERE u.id = (
    SELECT MIN(f.id) FROM gateway_uploads f WHERE f.sha256 = gateway_documents.sha256))
WHERE EXISTS (SELECT 1 FROM gateway_uploads u WHERE u.sha256 = gateway_documents.sha256)
"""


def upgrade() -> None:
    op.create_table(
        "gateway_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=42), nullable=False),
        sa.Column("uploader_org", sa.String(length=16), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["gateway_documents.sha256"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256", "uploaded_by", name="uq_gateway_uploads_document_uploader"),
    )
    with op.batch_alter_table("gateway_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_uploads_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_gateway_uploads_uploaded_by"), ["uploaded_by"], unique=False)
    op.execute(
        "INSERT INTO gateway_uploads (sha256, uploaded_by, uploader_org, filename, content_type, uploaded_at) "
        "SELECT sha256, uploaded_by, uploader_org, filename, content_type, uploaded_at FROM gateway_documents"
    )
    with op.batch_alter_table("gateway_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_documents_uploaded_by"))
        batch_op.drop_column("content_type")
        batch_op.drop_column("filename")
        batch_op.drop_column("uploaded_by")
        batch_op.drop_column("uploader_org")
        batch_op.alter_column("uploaded_at", new_column_name="stored_at", existing_type=sa.BigInteger())

    op.execute("DELETE FROM gateway_siwe_nonces WHERE used_at IS NULL")
    with op.batch_alter_table("gateway_siwe_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_siwe_nonces_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_siwe_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_siwe_nonces_expires_at"))

    # Each document goes back to one record: its first upload's.
    with op.batch_alter_table("gateway_documents", schema=None) as batch_op:
        batch_op.alter_column("stored_at", new_column_name="uploaded_at", existing_type=sa.BigInteger())
        batch_op.add_column(sa.Column("uploader_org", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("uploaded_by", sa.String(length=42), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("filename", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("content_type", sa.String(length=127), nullable=False, server_default="application/octet-stream")
        )
    op.execute(_FIRST_UPLOAD_BACK)
    with op.batch_alter_table("gateway_documents", schema=None) as batch_op:
        batch_op.alter_column("uploaded_by", server_default=None, existing_type=sa.String(length=42))
        batch_op.alter_column("content_type", server_default=None, existing_type=sa.String(length=127))
        batch_op.create_index(batch_op.f("ix_gateway_documents_uploaded_by"), ["uploaded_by"], unique=False)

    with op.batch_alter_table("gateway_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_uploads_uploaded_by"))
        batch_op.drop_index(batch_op.f("ix_gateway_uploads_sha256"))
    op.drop_table("gateway_uploads")

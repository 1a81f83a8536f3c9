"""The gateway's own tables (sign-in nonces, sessions, idempotency keys, evidence documents).

They live beside the indexer's mirror in the same database, under a ``gateway_`` prefix and their own
metadata, so that neither package has to know the other's schema. Times are unix seconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Document", "GatewayBase", "IdempotencyRecord", "SessionRecord", "SiweNonce"]


class GatewayBase(DeclarativeBase):
    """Declarative base of the gateway's tables."""


class SiweNonce(GatewayBase):
    """A sign-in nonce the server issued; usable once, before it expires."""

    __tablename__ = "gateway_siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class SessionRecord(GatewayBase):
    """A session: the SHA-256 of its bearer token (the token itself is never stored) bound to an address."""

    __tablename__ = "gateway_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class IdempotencyRecord(GatewayBase):
    """The first response to a request carrying an Idempotency-Key, per account."""

    __tablename__ = "gateway_idempotency_keys"
    __table_args__ = (UniqueConstraint("account", "key", name="uq_gateway_idempotency_account_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(42))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[str | None] = mapped_column(Text, default=None)


class Document(GatewayBase):
    """An evidence document in the content-addressed store (var/evidence/), named by its SHA-256."""

    __tablename__ = "gateway_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(127))
    filename: Mapped[str | None] = mapped_column(String(255), default=None)
    uploaded_by: Mapped[str] = mapped_column(String(42), index=True)
    uploader_org: Mapped[str | None] = mapped_column(String(16), default=None)
    uploaded_at: Mapped[int] = mapped_column(BigInteger)

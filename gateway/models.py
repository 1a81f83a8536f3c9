"""The gateway's own tables (used sign-in nonces, sessions, idempotency keys, evidence documents and uploads,
relayed actions and the relayers' leases).

They live beside the indexer's mirror in the same database, under a ``gateway_`` prefix and their own
metadata, so that neither package has to know the other's schema. Times are unix seconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Document",
    "GatewayBase",
    "IdempotencyRecord",
    "RelayRecord",
    "RelayerLease",
    "SessionRecord",
    "SiweNonce",
    "Upload",
]


class GatewayBase(DeclarativeBase):
    """Declarative base of the gateway's tables."""


class SiweNonce(GatewayBase):
    """A sign-in nonce that was used (nonces are signed, not stored, until then: see gateway.services.auth)."""

    __tablename__ = "gateway_siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
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
    gateway: Mapped[str | None] = mapped_column(String(64), default=None)  # the process that reserved it


class Document(GatewayBase):
    """A document's content in the store (var/evidence/), once per SHA-256, whoever uploaded it."""

    __tablename__ = "gateway_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[int] = mapped_column(BigInteger)


class Upload(GatewayBase):
    """One account's upload of a document, with its own metadata: what that uploader (and its organization)
    sees, whoever else uploaded the same bytes."""

    __tablename__ = "gateway_uploads"
    __table_args__ = (UniqueConstraint("sha256", "uploaded_by", name="uq_gateway_uploads_document_uploader"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("gateway_documents.sha256"), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(42), index=True)
    uploader_org: Mapped[str | None] = mapped_column(String(16), default=None)
    filename: Mapped[str | None] = mapped_column(String(255), default=None)
    content_type: Mapped[str] = mapped_column(String(127))
    uploaded_at: Mapped[int] = mapped_column(BigInteger)


class RelayRecord(GatewayBase):
    """One relayed action: written once its transaction is sent, settled (mined or reverted) by any gateway's
    watcher from its receipt. What a status URL answers, from any gateway, after any restart."""

    __tablename__ = "gateway_relays"
    __table_args__ = (
        Index("ix_gateway_relays_status_relayer_nonce", "status", "relayer", "relayer_nonce"),
        Index("ix_gateway_relays_signer_status", "signer", "status"),
        Index("ix_gateway_relays_signer_submitted_at", "signer", "submitted_at"),
        Index("ix_gateway_relays_signature", "signature"),
    )

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)  # 0x-hex, lower case
    relayer: Mapped[str] = mapped_column(String(42))  # checksummed
    relayer_nonce: Mapped[int] = mapped_column(BigInteger)
    primary_type: Mapped[str] = mapped_column(String(64))
    contract: Mapped[str] = mapped_column(String(42))  # the contract acted on, checksummed
    signer: Mapped[str] = mapped_column(String(42))  # checksummed
    signer_nonce: Mapped[int] = mapped_column(BigInteger)  # the registry nonce signed (bounded by the registry)
    signature: Mapped[str | None] = mapped_column(String(132), default=None)  # 0x-hex; None in rows before 0004
    deadline: Mapped[str] = mapped_column(String(78))  # a uint256 in decimal
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    transaction: Mapped[str] = mapped_column(Text)  # the sent transaction's fields as JSON (to explain a revert)
    status: Mapped[str] = mapped_column(String(8))  # pending, mined, reverted
    error: Mapped[str | None] = mapped_column(Text, default=None)  # a revert's name and arguments as JSON
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, default=None)
    submitted_at: Mapped[float] = mapped_column(Float)  # unix time
    settled_at: Mapped[float | None] = mapped_column(Float, default=None)
    gateway: Mapped[str] = mapped_column(String(64))  # the gateway process that sent it (its lease holder id)


class RelayerLease(GatewayBase):
    """Which gateway process sends with a relayer account: one at a time, kept alive by a heartbeat counter."""

    __tablename__ = "gateway_relayer_leases"

    relayer: Mapped[str] = mapped_column(String(42), primary_key=True)  # checksummed
    holder: Mapped[str] = mapped_column(String(64))  # the gateway process (host, pid and a random part)
    beat: Mapped[int] = mapped_column(BigInteger)  # incremented by the holder every heartbeat
    acquired_at: Mapped[float] = mapped_column(Float)  # unix time, for people reading the table
    beat_at: Mapped[float] = mapped_column(Float)  # unix time of the last beat, likewise

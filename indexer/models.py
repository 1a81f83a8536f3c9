"""The SQL mirror of the ledger: one raw row per on-chain event, normalized tables, the cursor and the audit chain.

Every event-derived row is keyed by (chain id, block number, log index, transaction hash): the key that makes
applying a log twice a no-op and lets a reorg delete exactly the rows of orphaned blocks. The block number leads
so that the key grows with the chain: catching up appends to the end of each primary-key B-tree instead of
touching pages all over it (a key led by the transaction hash, which is random, made every transaction rewrite
most of each index and wrote ~2.5 times as many pages). The log index follows, so rows come in chain order (as
the gateway reads them); the transaction hash ends the key because some nodes (eth-tester) number logs per
transaction rather than per block.

Money is integer yen: ``Uint256`` columns are exact (NUMERIC(78, 0) on PostgreSQL, a decimal string on SQLite,
whose own numbers are 64-bit or float) and always read back as Python ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "APPEND_ONLY",
    "EVENT_KEY",
    "TABLES",
    "AccountBinding",
    "AccountRow",
    "AmendmentApproval",
    "AmendmentConsent",
    "AmendmentProposal",
    "AppendOnly",
    "AttestationRow",
    "Base",
    "BlockDigest",
    "BudgetAccessChange",
    "BudgetAccessUse",
    "BudgetAppropriation",
    "BudgetAuthority",
    "BudgetCarryOver",
    "BudgetDeobligation",
    "BudgetDisbursement",
    "BudgetDistribution",
    "BudgetGrantRow",
    "BudgetLineChange",
    "BudgetLineRow",
    "BudgetLineSettlement",
    "BudgetObligation",
    "BudgetScheduleChange",
    "BudgetSeries",
    "BudgetSetting",
    "BudgetTransfer",
    "BudgetTransferDecision",
    "BudgetTransferRequest",
    "BudgetYearClosure",
    "BurnRow",
    "CursorRow",
    "DeferredIndex",
    "DisputeLapse",
    "DisputeOpening",
    "DisputeSettlement",
    "DisregardedVotes",
    "EscrowRegistration",
    "EventRow",
    "EvidenceRow",
    "FundingRow",
    "IndexerLock",
    "MilestoneHistory",
    "MilestoneRow",
    "MintRow",
    "NonceInvalidation",
    "OrganizationRow",
    "OrganizationUpdate",
    "OwedRedirect",
    "PauseRow",
    "PaymentRow",
    "ProcurementRow",
    "ReclaimRow",
    "RedirectRuling",
    "RefundRow",
    "RoleChange",
    "RoleMembership",
    "SignatureUse",
    "TokenTransfer",
    "Uint256",
]

_ADDRESS = 42
_HASH = 66


class Uint256(TypeDecorator[int]):
    """An exact unsigned integer up to 2**256 - 1 (yen amounts, nonces): never a float."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(78))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
            raise ValueError(f"not a uint256: {value!r}")
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so that migrations name constraints the same everywhere."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


EVENT_KEY = ("chain_id", "block_number", "log_index", "tx_hash")  # the primary key of every event-derived row


class AppendOnly:
    """A row that exists because of one log (or one block's logs): a reorg deletes it with its block.

    Every other table holds current state, which a reorg rebuilds (see ``indexer.reorg``).
    """


class _EventKey(AppendOnly):
    """The key of a row derived from one log: (chain id, block number, log index, transaction hash)."""

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805 - declared_attr takes the class
        return (PrimaryKeyConstraint(*EVENT_KEY),)


# ---------------------------------------------------------------- raw events, cursor, audit chain, lock


class EventRow(AppendOnly, Base):
    """Every log of a trusted emitter, decoded; ``args`` is canonical JSON with integers as decimal strings."""

    __tablename__ = "events"
    __table_args__ = (PrimaryKeyConstraint(*EVENT_KEY),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(_HASH))
    tx_index: Mapped[int] = mapped_column(Integer)
    emitter: Mapped[str] = mapped_column(String(_ADDRESS))
    event: Mapped[str] = mapped_column(String(64))
    args: Mapped[str] = mapped_column(Text)


class BlockDigest(AppendOnly, Base):
    """One row per block that produced events: sha256 of its events, and the running hash chain up to it."""

    __tablename__ = "block_digests"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(_HASH))
    event_count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))
    # The block's timestamp (seconds since the epoch). Not digested: the block hash already commits to it, so
    # a line is checked by its header; `audit verify` compares it with a replay. NULL if mirrored before 0008.
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class CursorRow(Base):
    """How far the mirror goes (block number and hash), the hash chain there, and the system it mirrors."""

    __tablename__ = "cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(_HASH))
    chain_hash: Mapped[str] = mapped_column(String(64))
    start_block: Mapped[int] = mapped_column(BigInteger)
    registry_address: Mapped[str] = mapped_column(String(_ADDRESS))
    token_address: Mapped[str] = mapped_column(String(_ADDRESS))
    factory_address: Mapped[str] = mapped_column(String(_ADDRESS))
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    genesis_hash: Mapped[str | None] = mapped_column(String(_HASH), nullable=True)  # which chain: ids are not unique


class SelfCheckRow(Base):
    """The latest check of what the mirror serves against the chain, per scope (recent blocks, or all)."""

    __tablename__ = "self_checks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    from_block: Mapped[int] = mapped_column(BigInteger)
    to_block: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    first_bad_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    difference: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at_ms: Mapped[int] = mapped_column(BigInteger)


class IndexerLock(Base):
    """The single writer's lease: who holds the mirror (host and pid), when it last showed life, for how long."""

    __tablename__ = "indexer_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    heartbeat_ms: Mapped[int] = mapped_column(BigInteger)
    # The holder's lease: it is presumed dead once its heartbeat is older than this (NULL: written before 0010).
    ttl_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DeferredIndex(Base):
    """A secondary index a fresh mirror's catch-up dropped, to be built once it reaches its target (see
    ``indexer.deferred_indexes``): recorded in the transaction that drops it, deleted in the one that builds it."""

    __tablename__ = "deferred_indexes"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)


# ---------------------------------------------------------------- registry: organizations, accounts, roles


class OrganizationRow(Base):
    """An organization as it stands now (active flag and vault follow OrganizationUpdated)."""

    __tablename__ = "organizations"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    vault: Mapped[str] = mapped_column(String(_ADDRESS))
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(_HASH))


class OrganizationUpdate(_EventKey, Base):
    """OrganizationUpdated."""

    __tablename__ = "organization_updates"

    org_id: Mapped[str] = mapped_column(String(_HASH))
    active: Mapped[bool] = mapped_column(Boolean)
    vault: Mapped[str] = mapped_column(String(_ADDRESS))


class AccountRow(Base):
    """An account and the organization it is bound to now (``org_id`` is None once unbound)."""

    __tablename__ = "accounts"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account: Mapped[str] = mapped_column(String(_ADDRESS), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(String(_HASH))
    block_number: Mapped[int] = mapped_column(BigInteger)


class AccountBinding(_EventKey, Base):
    """AccountBound (bound) and AccountUnbound (not bound)."""

    __tablename__ = "account_bindings"

    account: Mapped[str] = mapped_column(String(_ADDRESS))
    org_id: Mapped[str] = mapped_column(String(_HASH))
    sender: Mapped[str] = mapped_column(String(_ADDRESS))
    bound: Mapped[bool] = mapped_column(Boolean)


class RoleMembership(Base):
    """A role held now by an account (RoleGranted adds, RoleRevoked removes)."""

    __tablename__ = "role_memberships"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    account: Mapped[str] = mapped_column(String(_ADDRESS), primary_key=True)
    role_name: Mapped[str] = mapped_column(String(64))
    granted_by: Mapped[str] = mapped_column(String(_ADDRESS))
    block_number: Mapped[int] = mapped_column(BigInteger)


class RoleChange(_EventKey, Base):
    """RoleGranted (granted) and RoleRevoked (not granted)."""

    __tablename__ = "role_changes"

    role: Mapped[str] = mapped_column(String(_HASH))
    role_name: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(_ADDRESS))
    sender: Mapped[str] = mapped_column(String(_ADDRESS))
    granted: Mapped[bool] = mapped_column(Boolean)


class EscrowRegistration(_EventKey, Base):
    """EscrowRegistered: the registry's record that an escrow belongs to a procurement of a ministry."""

    __tablename__ = "escrow_registrations"

    ministry_org: Mapped[str] = mapped_column(String(_HASH))
    procurement_id: Mapped[str] = mapped_column(String(_HASH))
    escrow: Mapped[str] = mapped_column(String(_ADDRESS))


class NonceInvalidation(_EventKey, Base):
    """NoncesInvalidated: a signer used up its nonces ``first_nonce`` to ``new_nonce - 1`` (withdrew the signatures
    made with them); ``sender`` sent the transaction (the signer, or a relayer of its signed request)."""

    __tablename__ = "nonce_invalidations"

    signer: Mapped[str] = mapped_column(String(_ADDRESS))
    first_nonce: Mapped[int] = mapped_column(Uint256)
    new_nonce: Mapped[int] = mapped_column(Uint256)
    sender: Mapped[str] = mapped_column(String(_ADDRESS))


# ---------------------------------------------------------------- token


class TokenTransfer(_EventKey, Base):
    """ERC-20 Transfer of yen (mints come from the zero address)."""

    __tablename__ = "token_transfers"

    sender: Mapped[str] = mapped_column(String(_ADDRESS))
    recipient: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)


class MintRow(_EventKey, Base):
    """Minted: yen issued against a named appropriation line."""

    __tablename__ = "mints"

    appropriation_id: Mapped[str] = mapped_column(String(_HASH))
    recipient: Mapped[str] = mapped_column(String(_ADDRESS))
    treasury: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)


# ---------------------------------------------------------------- procurements and milestones


class ProcurementRow(Base):
    """A procurement escrow: its fixed terms (from ProcurementCreated) and its running books.

    A procurement id is unique within its buying ministry only: two ministries may use the same one.
    """

    __tablename__ = "procurements"
    __table_args__ = (Index(None, "chain_id", "ministry_org", "procurement_id", unique=True),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escrow: Mapped[str] = mapped_column(String(_ADDRESS), primary_key=True)
    procurement_id: Mapped[str] = mapped_column(String(_HASH))
    ministry_org: Mapped[str] = mapped_column(String(_HASH))
    supplier_org: Mapped[str] = mapped_column(String(_HASH))
    supplier: Mapped[str] = mapped_column(String(_ADDRESS))
    officer: Mapped[str] = mapped_column(String(_ADDRESS))
    panel: Mapped[str] = mapped_column(Text)  # JSON list of evaluator addresses, in panel order
    quorum: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    spec_hash: Mapped[str] = mapped_column(String(_HASH))
    funded: Mapped[int] = mapped_column(Uint256)  # the initial funding paid at creation
    milestone_count: Mapped[int] = mapped_column(Integer)
    ruling_period: Mapped[int] = mapped_column(BigInteger)  # seconds a review body has before a dispute lapses
    grace_period: Mapped[int] = mapped_column(BigInteger)  # seconds before an owed-yen redirect may run
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(_HASH))
    log_index: Mapped[int] = mapped_column(Integer)
    total_funded: Mapped[int] = mapped_column(Uint256)
    total_released: Mapped[int] = mapped_column(Uint256)
    total_refunded: Mapped[int] = mapped_column(Uint256)
    total_owed: Mapped[int] = mapped_column(Uint256)  # owed to the supplier and to the ministry
    paused_until: Mapped[int] = mapped_column(BigInteger)  # releases paused before this unix time (0: never)


class MilestoneRow(Base):
    """A milestone as it stands now; ``block_number`` is that of its last change."""

    __tablename__ = "milestones"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escrow: Mapped[str] = mapped_column(String(_ADDRESS), primary_key=True)
    milestone_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(Uint256)
    due_date: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)
    passes: Mapped[int] = mapped_column(Integer)
    fails: Mapped[int] = mapped_column(Integer)
    owed: Mapped[int] = mapped_column(Uint256)
    dispute_lapses_at: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)


class MilestoneHistory(AppendOnly, Base):
    """A milestone's state right after each event that changed it (the first row is its creation)."""

    __tablename__ = "milestone_history"
    __table_args__ = (
        PrimaryKeyConstraint(*EVENT_KEY, "milestone_id"),
        Index(None, "chain_id", "escrow", "milestone_id", "block_number"),  # restoring milestones on a reorg
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    milestone_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    event: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Uint256)
    due_date: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)
    passes: Mapped[int] = mapped_column(Integer)
    fails: Mapped[int] = mapped_column(Integer)
    owed: Mapped[int] = mapped_column(Uint256)
    dispute_lapses_at: Mapped[int] = mapped_column(BigInteger)


class FundingRow(_EventKey, Base):
    """Yen paid into an escrow: the initial funding (ProcurementCreated) and every Funded."""

    __tablename__ = "fundings"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    funder: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    total_funded: Mapped[int] = mapped_column(Uint256)
    initial: Mapped[bool] = mapped_column(Boolean)


class EvidenceRow(_EventKey, Base):
    """EvidenceSubmitted; ``relayed`` when a SignatureUsed of the supplier precedes it in the transaction."""

    __tablename__ = "evidence"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    supplier: Mapped[str] = mapped_column(String(_ADDRESS))
    document_hash: Mapped[str] = mapped_column(String(_HASH))
    uri: Mapped[str] = mapped_column(Text)
    relayed: Mapped[bool] = mapped_column(Boolean)
    relayer: Mapped[str | None] = mapped_column(String(_ADDRESS))


class AttestationRow(_EventKey, Base):
    """Attested: an evaluator's verdict; ``relayed`` when a SignatureUsed of the evaluator precedes it."""

    __tablename__ = "attestations"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    evaluator: Mapped[str] = mapped_column(String(_ADDRESS))
    passed: Mapped[bool] = mapped_column(Boolean)
    report_hash: Mapped[str] = mapped_column(String(_HASH))
    relayed: Mapped[bool] = mapped_column(Boolean)
    relayer: Mapped[str | None] = mapped_column(String(_ADDRESS))


class DisregardedVotes(_EventKey, Base):
    """AttestationsDisregarded: at a decision of the round, these evaluators' votes did not count (they no longer
    may attest); ``evaluators`` is a JSON list of addresses."""

    __tablename__ = "disregarded_votes"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    evaluators: Mapped[str] = mapped_column(Text)


class PaymentRow(_EventKey, Base):
    """PaymentReleased (``kind`` released) and PaymentDeferred (``kind`` deferred)."""

    __tablename__ = "payments"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    supplier: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    kind: Mapped[str] = mapped_column(String(16))


class RefundRow(_EventKey, Base):
    """Refunded: yen an escrow no longer needs, sent back to the budget ledger (``vault``), which burns them and
    de-obligates them from the procurement's line."""

    __tablename__ = "refunds"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    vault: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)


class ReclaimRow(_EventKey, Base):
    """MilestoneReclaimed."""

    __tablename__ = "reclaims"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    officer: Mapped[str] = mapped_column(String(_ADDRESS))
    previous_status: Mapped[str] = mapped_column(String(16))


class AmendmentProposal(_EventKey, Base):
    """AmendmentProposed."""

    __tablename__ = "amendments"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    amendment_id: Mapped[int] = mapped_column(BigInteger)
    milestone_id: Mapped[int] = mapped_column(Integer)
    proposer: Mapped[str] = mapped_column(String(_ADDRESS))
    kind: Mapped[str] = mapped_column(String(16))
    new_amount: Mapped[int] = mapped_column(Uint256)
    new_due_date: Mapped[int] = mapped_column(Uint256)
    rationale_hash: Mapped[str] = mapped_column(String(_HASH))


class AmendmentConsent(_EventKey, Base):
    """AmendmentConsented: the supplier consented to an amendment's content."""

    __tablename__ = "amendment_consents"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    amendment_id: Mapped[int] = mapped_column(BigInteger)
    milestone_id: Mapped[int] = mapped_column(Integer)
    supplier: Mapped[str] = mapped_column(String(_ADDRESS))


class AmendmentApproval(_EventKey, Base):
    """AmendmentApproved: the amendment took effect."""

    __tablename__ = "amendment_approvals"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    amendment_id: Mapped[int] = mapped_column(BigInteger)
    milestone_id: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(_ADDRESS))
    kind: Mapped[str] = mapped_column(String(16))
    old_amount: Mapped[int] = mapped_column(Uint256)
    new_amount: Mapped[int] = mapped_column(Uint256)
    old_due_date: Mapped[int] = mapped_column(Uint256)
    new_due_date: Mapped[int] = mapped_column(Uint256)


class DisputeOpening(_EventKey, Base):
    """DisputeOpened."""

    __tablename__ = "disputes"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    opener: Mapped[str] = mapped_column(String(_ADDRESS))
    previous_status: Mapped[str] = mapped_column(String(16))
    reason_hash: Mapped[str] = mapped_column(String(_HASH))
    lapses_at: Mapped[int] = mapped_column(BigInteger)


class DisputeSettlement(_EventKey, Base):
    """DisputeSettled: the review body's split between supplier and ministry."""

    __tablename__ = "dispute_settlements"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(_ADDRESS))
    supplier_amount: Mapped[int] = mapped_column(Uint256)
    ministry_amount: Mapped[int] = mapped_column(Uint256)
    ruling_hash: Mapped[str] = mapped_column(String(_HASH))


class DisputeLapse(_EventKey, Base):
    """DisputeLapsed: no review body ruled in time; the milestone went back to ``restored_status``, its due date
    moved to ``new_due_date``."""

    __tablename__ = "dispute_lapses"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    restored_status: Mapped[str] = mapped_column(String(16))
    new_due_date: Mapped[int] = mapped_column(BigInteger)


class RedirectRuling(_EventKey, Base):
    """OwedRedirectRuled: a review body ruled that an off-boarded supplier's owed yen go to ``recipient`` (a
    successor account, or the zero address: the ministry) from ``executable_at``."""

    __tablename__ = "redirect_rulings"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(_ADDRESS))
    recipient: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    executable_at: Mapped[int] = mapped_column(BigInteger)
    ruling_hash: Mapped[str] = mapped_column(String(_HASH))


class OwedRedirect(_EventKey, Base):
    """OwedRedirected: a ruling carried out; to a successor (``recipient``, counted as released) or to the zero
    address (the ministry: the debt ends, a refunds row follows for what the escrow held of it)."""

    __tablename__ = "owed_redirects"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    milestone_id: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    ruling_hash: Mapped[str] = mapped_column(String(_HASH))


class PauseRow(_EventKey, Base):
    """PauseChanged: releases paused until ``paused_until`` (a pause, or its renewal), or resumed (0)."""

    __tablename__ = "pauses"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    admin: Mapped[str] = mapped_column(String(_ADDRESS))
    paused_until: Mapped[int] = mapped_column(BigInteger)


class SignatureUse(_EventKey, Base):
    """SignatureUsed: a signed action was relayed and the signer's nonce consumed."""

    __tablename__ = "signature_uses"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    signer: Mapped[str] = mapped_column(String(_ADDRESS))
    relayer: Mapped[str] = mapped_column(String(_ADDRESS))
    nonce: Mapped[int] = mapped_column(Uint256)


# ---------------------------------------------------------------- budgets (BudgetLedger, BudgetOffice)
#
# A line is (series, fiscal year): a series is the year-less part of a line key (ministry, organization, item,
# sub-item), numbered by the ledger on first use (``budget_series``). Codes are bytes32 hex, as the events carry
# them. Every appropriation is at most 2^56 - 1 yen (the ledger's MAX_YEN), so the signed amounts of an enactment
# or a distribution (a cut is negative) fit a BigInteger exactly.


class BudgetSetting(_EventKey, Base):
    """BudgetSet: the registry's budget ledger and its office."""

    __tablename__ = "budget_settings"

    budget: Mapped[str] = mapped_column(String(_ADDRESS))
    office: Mapped[str] = mapped_column(String(_ADDRESS))


class BudgetSeries(_EventKey, Base):
    """SeriesRegistered: a series got its number (its codes)."""

    __tablename__ = "budget_series"

    series: Mapped[int] = mapped_column(BigInteger)
    ministry: Mapped[str] = mapped_column(String(_HASH))
    organization: Mapped[str] = mapped_column(String(_HASH))
    item: Mapped[str] = mapped_column(String(_HASH))
    sub_item: Mapped[str] = mapped_column(String(_HASH))


class BudgetAppropriation(_EventKey, Base):
    """AppropriationEnacted: an item's initial or supplementary budget (``amount`` < 0: a cut), with the item's
    totals after it."""

    __tablename__ = "budget_appropriations"

    fiscal_year: Mapped[int] = mapped_column(Integer)
    ministry: Mapped[str] = mapped_column(String(_HASH))
    organization: Mapped[str] = mapped_column(String(_HASH))
    item: Mapped[str] = mapped_column(String(_HASH))
    authority: Mapped[str] = mapped_column(String(_ADDRESS))
    act: Mapped[str] = mapped_column(String(16))  # initial, supplementary
    amount: Mapped[int] = mapped_column(BigInteger)
    enacted: Mapped[int] = mapped_column(Uint256)
    appropriation: Mapped[int] = mapped_column(Uint256)
    authorizations: Mapped[int] = mapped_column(Integer)
    instrument_hash: Mapped[str] = mapped_column(String(_HASH))


class BudgetDistribution(_EventKey, Base):
    """Distributed: a ministry's finance officer gave a line ``change`` yen of its item (< 0: took them back)."""

    __tablename__ = "budget_distributions"

    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    officer: Mapped[str] = mapped_column(String(_ADDRESS))
    change: Mapped[int] = mapped_column(BigInteger)
    allotted: Mapped[int] = mapped_column(Uint256)
    item_distributed: Mapped[int] = mapped_column(Uint256)


class BudgetObligation(_EventKey, Base):
    """Obligated: an escrow obligated ``amount`` of a line (``buyer`` and ``line_ministry`` differ on a grant)."""

    __tablename__ = "budget_obligations"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    buyer: Mapped[str] = mapped_column(String(_HASH))
    line_ministry: Mapped[str] = mapped_column(String(_HASH))
    officer: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    line_obligated: Mapped[int] = mapped_column(Uint256)
    escrow_obligated: Mapped[int] = mapped_column(Uint256)


class BudgetDisbursement(_EventKey, Base):
    """Disbursed: an escrow paid a supplier ``amount`` yen of its line."""

    __tablename__ = "budget_disbursements"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Uint256)
    line_disbursed: Mapped[int] = mapped_column(Uint256)


class BudgetDeobligation(_EventKey, Base):
    """Deobligated: an escrow's need fell (``returned`` burned, ``released`` never drawn, ``unplanned`` of later
    years' parts dropped)."""

    __tablename__ = "budget_deobligations"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Uint256)
    released: Mapped[int] = mapped_column(Uint256)
    unplanned: Mapped[int] = mapped_column(Uint256)
    line_obligated: Mapped[int] = mapped_column(Uint256)
    escrow_obligated: Mapped[int] = mapped_column(Uint256)


class BudgetTransfer(_EventKey, Base):
    """Transferred: an approved transfer took effect between two lines of one year."""

    __tablename__ = "budget_transfers"

    transfer_id: Mapped[int] = mapped_column(Uint256)
    from_series: Mapped[int] = mapped_column(BigInteger)
    to_series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Uint256)
    between_items: Mapped[bool] = mapped_column(Boolean)
    from_allotted: Mapped[int] = mapped_column(Uint256)
    to_allotted: Mapped[int] = mapped_column(Uint256)


class BudgetCarryOver(_EventKey, Base):
    """CarryOverApproved: unobligated yen of a line approved to carry into the next year (``carry_over``: the
    line's total)."""

    __tablename__ = "budget_carry_overs"

    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    authority: Mapped[str] = mapped_column(String(_ADDRESS))
    kind: Mapped[str] = mapped_column(String(16))  # authorized (明許繰越), accident (事故繰越)
    amount: Mapped[int] = mapped_column(Uint256)
    carry_over: Mapped[int] = mapped_column(Uint256)
    reason_hash: Mapped[str] = mapped_column(String(_HASH))


class BudgetYearClosure(_EventKey, Base):
    """FiscalYearClosed."""

    __tablename__ = "budget_year_closures"

    fiscal_year: Mapped[int] = mapped_column(Integer)
    authority: Mapped[str] = mapped_column(String(_ADDRESS))
    closed_at: Mapped[int] = mapped_column(BigInteger)


class BudgetLineSettlement(_EventKey, Base):
    """LineSettled: a closed year's line lapsed ``lapsed`` yen and moved its carry-over and unpaid obligations to
    the next year's line (whose totals after it are ``next_allotted``, ``next_obligated``)."""

    __tablename__ = "budget_line_settlements"

    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    settler: Mapped[str] = mapped_column(String(_ADDRESS))
    lapsed: Mapped[int] = mapped_column(Uint256)
    carried_over: Mapped[int] = mapped_column(Uint256)
    carried_obligations: Mapped[int] = mapped_column(Uint256)
    next_allotted: Mapped[int] = mapped_column(Uint256)
    next_obligated: Mapped[int] = mapped_column(Uint256)


class BudgetTransferRequest(_EventKey, Base):
    """TransferRequested: a ministry's finance officer asked to move ``amount`` between two of its lines of one
    year (named by their codes, as requested)."""

    __tablename__ = "budget_transfer_requests"

    transfer_id: Mapped[int] = mapped_column(Uint256)
    ministry: Mapped[str] = mapped_column(String(_HASH))
    requester: Mapped[str] = mapped_column(String(_ADDRESS))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    from_organization: Mapped[str] = mapped_column(String(_HASH))
    from_item: Mapped[str] = mapped_column(String(_HASH))
    from_sub_item: Mapped[str] = mapped_column(String(_HASH))
    to_organization: Mapped[str] = mapped_column(String(_HASH))
    to_item: Mapped[str] = mapped_column(String(_HASH))
    to_sub_item: Mapped[str] = mapped_column(String(_HASH))
    amount: Mapped[int] = mapped_column(Uint256)
    rationale_hash: Mapped[str] = mapped_column(String(_HASH))
    between_items: Mapped[bool] = mapped_column(Boolean)
    requested_at: Mapped[int] = mapped_column(BigInteger)


class BudgetTransferDecision(_EventKey, Base):
    """TransferApproved, TransferRefused (with ``reason_hash``) and TransferWithdrawn: the end of a request."""

    __tablename__ = "budget_transfer_decisions"

    transfer_id: Mapped[int] = mapped_column(Uint256)
    ministry: Mapped[str] = mapped_column(String(_HASH))
    decision: Mapped[str] = mapped_column(String(16))  # approved, refused, withdrawn
    actor: Mapped[str] = mapped_column(String(_ADDRESS))
    reason_hash: Mapped[str | None] = mapped_column(String(_HASH))
    requested_at: Mapped[int] = mapped_column(BigInteger)
    decided_at: Mapped[int] = mapped_column(BigInteger)


class BudgetAccessChange(_EventKey, Base):
    """AccessGranted (``kind`` view or obligate) and AccessRevoked (``kind`` revoked): a ministry's right on
    another ministry's line."""

    __tablename__ = "budget_access_changes"

    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    grantee: Mapped[str] = mapped_column(String(_HASH))
    ministry: Mapped[str] = mapped_column(String(_HASH))
    officer: Mapped[str] = mapped_column(String(_ADDRESS))
    kind: Mapped[str] = mapped_column(String(16))
    cap: Mapped[int] = mapped_column(Uint256)
    used: Mapped[int] = mapped_column(Uint256)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class BudgetAccessUse(_EventKey, Base):
    """AccessUsed: a procurement of ``grantee`` obligated ``amount`` of ``ministry``'s line under a grant."""

    __tablename__ = "budget_access_uses"

    series: Mapped[int] = mapped_column(BigInteger)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    grantee: Mapped[str] = mapped_column(String(_HASH))
    ministry: Mapped[str] = mapped_column(String(_HASH))
    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)
    used: Mapped[int] = mapped_column(Uint256)


class BudgetAuthority(_EventKey, Base):
    """AuthorityEnacted: a multi-year obligation authority (国庫債務負担行為); ``schedule`` is a JSON list of the
    most it may commit per year (decimal strings) from ``fiscal_year`` on."""

    __tablename__ = "budget_authorities"

    authority_id: Mapped[str] = mapped_column(String(_HASH))
    ministry: Mapped[str] = mapped_column(String(_HASH))
    authority: Mapped[str] = mapped_column(String(_ADDRESS))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    organization: Mapped[str] = mapped_column(String(_HASH))
    item: Mapped[str] = mapped_column(String(_HASH))
    sub_item: Mapped[str] = mapped_column(String(_HASH))
    ceiling: Mapped[int] = mapped_column(Uint256)
    schedule: Mapped[str] = mapped_column(Text)
    instrument_hash: Mapped[str] = mapped_column(String(_HASH))


class BudgetScheduleChange(_EventKey, Base):
    """ObligationScheduled (``kind`` scheduled), ScheduleObligated (obligated) and ScheduleReleased (released): an
    escrow's part due in a later fiscal year under a multi-year authority."""

    __tablename__ = "budget_schedule_changes"

    escrow: Mapped[str] = mapped_column(String(_ADDRESS))
    authority_id: Mapped[str] = mapped_column(String(_HASH))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Uint256)
    committed_in_year: Mapped[int | None] = mapped_column(Uint256)


class BurnRow(_EventKey, Base):
    """Burned: yen an escrow returned to its line, burned by the budget ledger."""

    __tablename__ = "burns"

    appropriation_id: Mapped[str] = mapped_column(String(_HASH))
    holder: Mapped[str] = mapped_column(String(_ADDRESS))
    budget: Mapped[str] = mapped_column(String(_ADDRESS))
    amount: Mapped[int] = mapped_column(Uint256)


class BudgetLineChange(_EventKey, Base):
    """One line moved by one event: the line's totals that event reports after it (None: not reported). Transferred
    and LineSettled move two lines, hence the series and year in the key. The gateway's live stream reads these."""

    __tablename__ = "budget_line_changes"
    __table_args__ = (PrimaryKeyConstraint(*EVENT_KEY, "series", "fiscal_year"),)

    series: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    allotted: Mapped[int | None] = mapped_column(Uint256)
    obligated: Mapped[int | None] = mapped_column(Uint256)
    disbursed: Mapped[int | None] = mapped_column(Uint256)
    carry_over: Mapped[int | None] = mapped_column(Uint256)
    lapsed: Mapped[int | None] = mapped_column(Uint256)
    settled: Mapped[bool | None] = mapped_column(Boolean)


class BudgetLineRow(Base):
    """A line as it stands now (``IBudgetLedger.lineOf``); ``block_number`` is that of its last change."""

    __tablename__ = "budget_lines"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    series: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    allotted: Mapped[int] = mapped_column(Uint256, server_default=text("'0'"))
    obligated: Mapped[int] = mapped_column(Uint256, server_default=text("'0'"))
    disbursed: Mapped[int] = mapped_column(Uint256, server_default=text("'0'"))
    carry_over: Mapped[int] = mapped_column(Uint256, server_default=text("'0'"))
    lapsed: Mapped[int] = mapped_column(Uint256, server_default=text("'0'"))
    settled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    block_number: Mapped[int] = mapped_column(BigInteger)


class BudgetGrantRow(Base):
    """A ministry's right on another ministry's line as it stands now (AccessRevoked removes it; it expires by
    itself at ``expires_at``)."""

    __tablename__ = "budget_grants"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    series: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    grantee: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    ministry: Mapped[str] = mapped_column(String(_HASH))
    kind: Mapped[str] = mapped_column(String(16))
    cap: Mapped[int] = mapped_column(Uint256)
    used: Mapped[int] = mapped_column(Uint256)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)


TABLES: Mapping[str, Table] = Base.metadata.tables  # type: ignore[assignment]

# Rows that exist because of one log and go away with its block on a reorg (every model keyed by a log is one);
# the current-state tables (organizations' flags, accounts, role memberships, procurement books, milestones) are
# rebuilt instead.
_MODELS: list[type[Base]] = [mapper.class_ for mapper in Base.registry.mappers]
APPEND_ONLY: tuple[type[Base], ...] = tuple(
    sorted((model for model in _MODELS if issubclass(model, AppendOnly)), key=lambda model: str(model.__tablename__))
)

# Secondary indexes for the gateway's reads: an account's roles, the procurements an organization may see, the
# amendments and disputes of one escrow. The OCDS export (indexer/ocds/releases.py) reads every event table of a
# batch of procurements by (chain id, escrow IN ...): without an (escrow) index each batch scanned all the chain's
# rows of each table, quadratic in the mirror (at 10,000 procurements and 1,060,000 events a quarter of the export's
# time went to those scans, py-spy), so those tables get one (migration 0009). Measured earlier without them:
# maintaining an (escrow) index on the high-volume tables cost 3 points of catch-up throughput (bench_indexer: 52.8%
# of the ceiling without, 49.5% with); a one-procurement read was the same 5.6 ms either way.
_GATEWAY_READ_INDEXES = (  # an Index on a table's columns is part of that table from here on
    Index(None, RoleMembership.chain_id, RoleMembership.account),
    Index(None, ProcurementRow.chain_id, ProcurementRow.ministry_org),
    Index(None, ProcurementRow.chain_id, ProcurementRow.supplier_org),
    Index(None, AmendmentProposal.chain_id, AmendmentProposal.escrow),
    Index(None, DisputeOpening.chain_id, DisputeOpening.escrow),
    # The OCDS export's batched reads of a procurement's events (migration 0009).
    *(
        Index(None, model.chain_id, model.escrow)
        for model in (
            FundingRow,
            EvidenceRow,
            PaymentRow,
            RefundRow,
            ReclaimRow,
            AmendmentApproval,
            DisputeSettlement,
            DisputeLapse,
            RedirectRuling,
            OwedRedirect,
            BudgetObligation,
        )
    ),
    # The budget reads: a series' codes and the series of codes (a ministry's lines; transfer requests and
    # authorities name lines by their codes), a line's procurements (its obligations), the grants of a ministry, a
    # transfer's decision, a ministry's transfer requests; the live stream reads changes in chain order (the key).
    Index(None, BudgetSeries.chain_id, BudgetSeries.series),
    Index(
        None,
        BudgetSeries.chain_id,
        BudgetSeries.ministry,
        BudgetSeries.organization,
        BudgetSeries.item,
        BudgetSeries.sub_item,
    ),
    Index(None, BudgetTransferDecision.chain_id, BudgetTransferDecision.transfer_id),
    Index(None, BudgetObligation.chain_id, BudgetObligation.series, BudgetObligation.fiscal_year),
    Index(None, BudgetGrantRow.chain_id, BudgetGrantRow.grantee),
    Index(None, BudgetTransferRequest.chain_id, BudgetTransferRequest.ministry),
    # A procurement's trail (indexer/trail.py) and its events page: the events its escrow emitted, in chain order;
    # its attestations page likewise (that index's prefix serves the OCDS export too). An index ending with the
    # page's order serves the filter and the order at once; without it SQLite walked the primary key to avoid a
    # sort, filtering every event of the chain (1.4 s a page at 1.19M events: migration 0011). Every read of a
    # procurement named by its id finds it by that id.
    Index(None, EventRow.chain_id, EventRow.emitter, EventRow.block_number, EventRow.log_index),
    Index(None, AttestationRow.chain_id, AttestationRow.escrow, AttestationRow.block_number, AttestationRow.log_index),
    Index(None, ProcurementRow.chain_id, ProcurementRow.procurement_id),
)

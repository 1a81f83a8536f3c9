"""Procurements and their parts, as mirrored in SQL (and, for ``.../state``, read from the chain)."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, Bytes32, Yen

__all__ = [
    "AmendmentPublic",
    "AmendmentsPublic",
    "AttestationPublic",
    "AttestationsPublic",
    "DisputePublic",
    "DisputesPublic",
    "EvidencePublic",
    "EvidencesPublic",
    "MilestonePublic",
    "MilestoneStatePublic",
    "MilestonesPublic",
    "PaymentPublic",
    "PaymentsPublic",
    "ProcurementDetailPublic",
    "ProcurementPublic",
    "ProcurementStatePublic",
    "ProcurementsPublic",
    "TotalsPublic",
]


class TotalsPublic(ApiModel):
    """An escrow's books in yen; ``held`` = funded - released - refunded is what the escrow holds."""

    funded: Yen
    released: Yen
    refunded: Yen
    owed: Yen
    held: Yen


class EventRef(ApiModel):
    """Where a row came from on chain."""

    block_number: int
    tx_hash: Bytes32
    log_index: int


class ProcurementPublic(ApiModel):
    """A procurement: its fixed terms and running books."""

    procurement_id: Bytes32
    escrow: Address
    title: str
    ministry: str = Field(description="Code of the buying ministry.")
    supplier_org: str = Field(description="Code of the supplier's organization.")
    supplier: Address
    officer: Address = Field(description="The officer who created the procurement.")
    panel: list[Address] = Field(description="The evaluators, in panel order.")
    quorum: int
    spec_hash: Bytes32
    milestone_count: int
    paused: bool
    totals: TotalsPublic
    created_block: int
    created_tx: Bytes32


class ProcurementsPublic(ApiModel):
    """A page of procurements."""

    data: list[ProcurementPublic]
    count: int = Field(description="How many match the filters (all pages).")


class MilestonePublic(ApiModel):
    """A milestone as it stands in the mirror."""

    procurement_id: Bytes32
    milestone_id: int
    amount: Yen
    due_date: int
    status: str = Field(description="Pending, Submitted, Rejected, Approved, Paid, Disputed, Settled, Refunded...")
    round: int
    passes: int
    fails: int
    owed: Yen
    updated_block: int


class MilestonesPublic(ApiModel):
    """A page of milestones."""

    data: list[MilestonePublic]
    count: int


class ProcurementDetailPublic(ProcurementPublic):
    """A procurement with its milestones."""

    milestones: list[MilestonePublic]


class MilestoneStatePublic(ApiModel):
    """A milestone read straight from the chain."""

    milestone_id: int
    amount: Yen
    due_date: int
    status: str
    round: int
    passes: int
    fails: int
    owed: Yen


class ProcurementStatePublic(ApiModel):
    """A procurement's state read straight from the chain at ``blockNumber``."""

    procurement_id: Bytes32
    escrow: Address
    block_number: int
    paused: bool
    totals: TotalsPublic
    shortfall: Yen
    milestones: list[MilestoneStatePublic]


class EvidencePublic(EventRef):
    """A submission of evidence for a milestone round."""

    procurement_id: Bytes32
    milestone_id: int
    round: int
    supplier: Address
    document_hash: Bytes32
    uri: str
    relayer: Address | None


class EvidencesPublic(ApiModel):
    """A page of evidence submissions."""

    data: list[EvidencePublic]
    count: int


class AttestationPublic(EventRef):
    """An evaluator's verdict on a milestone round."""

    procurement_id: Bytes32
    milestone_id: int
    round: int
    evaluator: Address
    passed: bool = Field(serialization_alias="pass")
    report_hash: Bytes32
    relayer: Address | None


class AttestationsPublic(ApiModel):
    """A page of attestations."""

    data: list[AttestationPublic]
    count: int


class PaymentPublic(EventRef):
    """A payment released to the supplier, or deferred (owed)."""

    procurement_id: Bytes32
    milestone_id: int
    supplier: Address
    amount: Yen
    kind: str = Field(description="released or deferred.")


class PaymentsPublic(ApiModel):
    """A page of payments."""

    data: list[PaymentPublic]
    count: int


class AmendmentPublic(EventRef):
    """A proposed amendment, and its approval once given."""

    procurement_id: Bytes32
    amendment_id: int
    milestone_id: int
    proposer: Address
    kind: str
    new_amount: Yen
    new_due_date: int
    rationale_hash: Bytes32
    approved_by: Address | None
    approved_block: int | None


class AmendmentsPublic(ApiModel):
    """A page of amendments."""

    data: list[AmendmentPublic]
    count: int


class DisputePublic(EventRef):
    """A dispute on a milestone, and its settlement once made."""

    procurement_id: Bytes32
    milestone_id: int
    opener: Address
    previous_status: str
    reason_hash: Bytes32
    settled_by: Address | None
    supplier_amount: Yen | None
    ministry_amount: Yen | None
    ruling_hash: Bytes32 | None


class DisputesPublic(ApiModel):
    """A page of disputes."""

    data: list[DisputePublic]
    count: int

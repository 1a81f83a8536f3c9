"""Procurements and their parts, as mirrored in SQL (and, for ``.../state``, read from the chain).

Each is read from a row by its attributes (``model_validate(row, from_attributes=True)``): the reads select the
mirror's columns under these fields' names (gateway/services/reads.py), and the few values the mirror keeps
in another form are read here once: an organization by its id (as its code), the panel as JSON, the books
flat (as ``totals``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, computed_field

from chain import org_code
from chain.times import iso
from gateway.schemas.common import Address, ApiModel, BlockTime, Bytes32, FromJsonText, Yen

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


def _code(value: Any) -> Any:
    """An organization's code from its bytes32 id as the mirror keeps it (0x-hex); a code as it is."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return org_code(bytes.fromhex(value[2:]))
    return value


OrgCode = Annotated[str, BeforeValidator(_code)]


class EventRef(ApiModel):
    """Where a row came from on chain."""

    block_number: int
    block_time: BlockTime = None
    tx_hash: Bytes32
    log_index: int


_OCID = Field(
    default=None,
    description="The procurement's ocid, as the OCDS publication names it (null while its registered spec is not the "
    "one it committed to on chain).",
)


class ProcurementPublic(ApiModel):
    """A procurement: its fixed terms and running books."""

    procurement_id: Bytes32
    ocid: str | None = _OCID
    escrow: Address
    title: str
    ministry: OrgCode = Field(description="Code of the buying ministry.")
    ministry_name: str | None = Field(description="The buying ministry's registered name.")
    supplier_org: OrgCode = Field(description="Code of the supplier's organization.")
    supplier_org_name: str | None = Field(description="The supplier organization's registered name.")
    supplier: Address
    officer: Address = Field(description="The officer who created the procurement.")
    panel: Annotated[list[Address], FromJsonText] = Field(description="The evaluators, in panel order.")
    quorum: int
    spec_hash: Bytes32
    milestone_count: int
    paused_until: int = Field(description="Releases are paused before this unix time (0: never paused).")
    ruling_period: int = Field(description="Seconds a review body has to rule on a dispute before it lapses.")
    grace_period: int = Field(description="Seconds before a ruling redirecting owed yen may be carried out.")
    total_funded: Yen = Field(exclude=True)
    total_released: Yen = Field(exclude=True)
    total_refunded: Yen = Field(exclude=True)
    total_owed: Yen = Field(exclude=True)
    created_block: int
    created_block_time: BlockTime = None
    created_tx: Bytes32
    flags: int | None = Field(
        None,
        description="Red flags naming this procurement (GET /audit/flags); null for an account that may not read "
        "them, or while they cannot be computed.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def paused_until_at(self) -> str | None:
        """``pausedUntil`` in ISO 8601 with its offset (JST); null if never paused."""
        return iso(self.paused_until) if self.paused_until else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def paused(self) -> bool:
        """Whether releases are paused now (by the gateway's clock)."""
        return self.paused_until > time.time()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> TotalsPublic:
        """The escrow's books."""
        funded, released, refunded = self.total_funded, self.total_released, self.total_refunded
        held = funded - released - refunded
        return TotalsPublic(funded=funded, released=released, refunded=refunded, owed=self.total_owed, held=held)


class OfProcurement(ApiModel):
    """The procurement a listed row belongs to, in words: its ocid, title, buying ministry and supplier."""

    ocid: str | None = _OCID
    title: str = Field(description="The procurement's title.")
    ministry: OrgCode = Field(description="Code of the buying ministry.")
    ministry_name: str | None = Field(description="The buying ministry's registered name.")
    supplier_org: OrgCode = Field(description="Code of the supplier's organization.")
    supplier_org_name: str | None = Field(description="The supplier organization's registered name.")


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
    updated_block_time: BlockTime = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def due_at(self) -> str:
        """``dueDate`` in ISO 8601 with its offset (JST): the end of the day evidence is accepted."""
        return iso(self.due_date)


class ListedMilestonePublic(MilestonePublic, OfProcurement):
    """A milestone as listed: with its procurement in words."""


class MilestonesPublic(ApiModel):
    """A page of milestones."""

    data: list[ListedMilestonePublic]
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
    dispute_lapses_at: int = Field(description="Unix time a dispute on it lapses unless ruled on (0: not disputed).")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def due_at(self) -> str:
        """``dueDate`` in ISO 8601 with its offset (JST): the end of the day evidence is accepted."""
        return iso(self.due_date)


class ProcurementStatePublic(ApiModel):
    """A procurement's state read straight from the chain at ``blockNumber``."""

    procurement_id: Bytes32
    escrow: Address
    block_number: int
    block_timestamp: int = Field(description="The chain's clock (unix time) when read: what due dates are measured by.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def block_time(self) -> str:
        """``blockTimestamp`` in ISO 8601 with its offset (JST)."""
        return iso(self.block_timestamp)

    supplier: Address
    supplier_org: str = Field(description="Code of the supplier's organization.")
    quorum: int = Field(description="Passes that release a milestone's payment.")
    panel_size: int = Field(description="Evaluators on the panel.")
    paused: bool
    paused_until: int = Field(description="Releases are paused before this unix time (0: never paused).")
    totals: TotalsPublic
    shortfall: Yen
    milestones: list[MilestoneStatePublic]


class EvidencePublic(EventRef, OfProcurement):
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


class AttestationPublic(EventRef, OfProcurement):
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


class PaymentPublic(EventRef, OfProcurement):
    """Yen out of an escrow: a payment released to the supplier, or deferred (owed), or a refund to the budget
    ledger (de-obligated from the procurement's line)."""

    procurement_id: Bytes32
    milestone_id: int
    supplier: Address | None = Field(description="The supplier paid (None for a refund).")
    to: Address = Field(description="The supplier (released, deferred), or the budget ledger (refunded).")
    amount: Yen
    kind: str = Field(description="released, deferred or refunded.")


class PaymentsPublic(ApiModel):
    """A page of payments and refunds."""

    data: list[PaymentPublic]
    count: int


class AmendmentPublic(EventRef, OfProcurement):
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
    approved_block_time: BlockTime = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def new_due_at(self) -> str:
        """``newDueDate`` in ISO 8601 with its offset (JST)."""
        return iso(self.new_due_date)


class AmendmentsPublic(ApiModel):
    """A page of amendments."""

    data: list[AmendmentPublic]
    count: int


class DisputePublic(EventRef, OfProcurement):
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

"""Signed actions: the fields of each EIP-712 action, what to sign, and what relaying it returned.

For each action, ``XFields`` are the action's own fields (the query of ``GET .../actions/x``, which returns
the typed data to sign) and ``XCreate`` adds the deadline, the signature and, optionally, the nonce that was
signed (``POST .../actions/x``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chain.clients import AmendmentKind
from gateway.schemas.common import Address, ApiModel, Bytes32, Signature, Uint64, Uint256, Yen
from gateway.schemas.procurements import ProcurementStatePublic

__all__ = [
    "ActionPublic",
    "AmendmentApprovalCreate",
    "AmendmentApprovalFields",
    "AmendmentApprovalQuery",
    "AmendmentCreate",
    "AmendmentFields",
    "AmendmentQuery",
    "AttestationCreate",
    "AttestationFields",
    "AttestationQuery",
    "DisputeCreate",
    "DisputeFields",
    "DisputeQuery",
    "EvidenceSubmissionCreate",
    "EvidenceSubmissionFields",
    "EvidenceSubmissionQuery",
    "FundingCreate",
    "FundingFields",
    "FundingQuery",
    "ReclaimCreate",
    "ReclaimFields",
    "ReclaimQuery",
    "RelayErrorPublic",
    "SettlementCreate",
    "SettlementFields",
    "SettlementQuery",
    "SignedAction",
    "TypedDataPublic",
]

MAX_URI_LENGTH = 2048  # MilestoneEscrow.MAX_URI_LENGTH


def _b32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


class SignedAction(ApiModel):
    """What every signed action carries besides its own fields."""

    deadline: Uint256 = Field(description="The signed deadline (unix time), as returned with the typed data.")
    signature: Signature = Field(description="The EIP-712 signature (eth_signTypedData_v4) of the typed data.")
    nonce: Uint256 | None = Field(
        default=None, description="The signed nonce; if given and not the current one, the request is refused as stale."
    )


class FundingFields(ApiModel):
    """Fund: pay ``amount`` yen into the escrow (an officer of the buying ministry who approved the escrow)."""

    amount: Yen

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {"amount": self.amount}


class FundingCreate(FundingFields, SignedAction):
    """A signed Fund action."""


class FundingQuery(FundingFields):
    """The query of GET ...: the Fund fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class EvidenceSubmissionFields(ApiModel):
    """SubmitEvidence: the supplier submits a document (by hash) for a milestone."""

    milestone_id: Uint256
    document_hash: Bytes32 = Field(description="SHA-256 of the document, as returned by POST /evidence.")
    uri: str | None = Field(
        default=None, max_length=MAX_URI_LENGTH, description="Where to fetch it; defaults to the store's ni: URI."
    )

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields (``uri`` must be set by then)."""
        return {"milestoneId": self.milestone_id, "documentHash": _b32(self.document_hash), "uri": self.uri or ""}


class EvidenceSubmissionCreate(EvidenceSubmissionFields, SignedAction):
    """A signed SubmitEvidence action."""


class EvidenceSubmissionQuery(EvidenceSubmissionFields):
    """The query of GET ...: the SubmitEvidence fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class AttestationFields(ApiModel):
    """Attest: a panel evaluator's pass or fail for the milestone's current round, with a report hash."""

    milestone_id: Uint256
    round: Uint256
    passed: bool = Field(alias="pass")
    report_hash: Bytes32

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {
            "milestoneId": self.milestone_id,
            "round": self.round,
            "pass": self.passed,
            "reportHash": _b32(self.report_hash),
        }


class AttestationCreate(AttestationFields, SignedAction):
    """A signed Attest action."""


class AttestationQuery(AttestationFields):
    """The query of GET ...: the Attest fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class ReclaimFields(ApiModel):
    """Reclaim: an officer reclaims a milestone left unmet after its due date."""

    milestone_id: Uint256

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {"milestoneId": self.milestone_id}


class ReclaimCreate(ReclaimFields, SignedAction):
    """A signed Reclaim action."""


class ReclaimQuery(ReclaimFields):
    """The query of GET ...: the Reclaim fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


_KINDS: dict[str, AmendmentKind] = {
    "amount": AmendmentKind.AMOUNT,
    "dueDate": AmendmentKind.DUE_DATE,
    "cancel": AmendmentKind.CANCEL,
}


class AmendmentFields(ApiModel):
    """ProposeAmendment: an officer proposes a new amount, a new due date, or cancelling a milestone."""

    milestone_id: Uint256
    kind: Literal["amount", "dueDate", "cancel"]
    new_amount: Yen = 0
    new_due_date: Uint64 = 0
    rationale_hash: Bytes32

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {
            "milestoneId": self.milestone_id,
            "kind": int(_KINDS[self.kind]),
            "newAmount": self.new_amount,
            "newDueDate": self.new_due_date,
            "rationaleHash": _b32(self.rationale_hash),
        }


class AmendmentCreate(AmendmentFields, SignedAction):
    """A signed ProposeAmendment action."""


class AmendmentQuery(AmendmentFields):
    """The query of GET ...: the ProposeAmendment fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class AmendmentApprovalFields(ApiModel):
    """ApproveAmendment: a second officer approves an amendment, which takes effect at once."""

    amendment_id: Uint256

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {"amendmentId": self.amendment_id}


class AmendmentApprovalCreate(AmendmentApprovalFields, SignedAction):
    """A signed ApproveAmendment action."""


class AmendmentApprovalQuery(AmendmentApprovalFields):
    """The query of GET ...: the ApproveAmendment fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class DisputeFields(ApiModel):
    """OpenDispute: the supplier or an officer disputes a submitted or rejected milestone."""

    milestone_id: Uint256
    reason_hash: Bytes32

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {"milestoneId": self.milestone_id, "reasonHash": _b32(self.reason_hash)}


class DisputeCreate(DisputeFields, SignedAction):
    """A signed OpenDispute action."""


class DisputeQuery(DisputeFields):
    """The query of GET ...: the OpenDispute fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class SettlementFields(ApiModel):
    """SettleDispute: a review body splits a disputed milestone between supplier and ministry."""

    milestone_id: Uint256
    supplier_amount: Yen
    ruling_hash: Bytes32

    def eip712(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {
            "milestoneId": self.milestone_id,
            "supplierAmount": self.supplier_amount,
            "rulingHash": _b32(self.ruling_hash),
        }


class SettlementCreate(SettlementFields, SignedAction):
    """A signed SettleDispute action."""


class SettlementQuery(SettlementFields):
    """The query of GET ...: the SettleDispute fields, and optionally the deadline to sign."""

    deadline: Uint256 | None = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )


class TypedDataPublic(ApiModel):
    """The exact EIP-712 typed data to sign with eth_signTypedData_v4, and the values it binds."""

    action: str = Field(description="The EIP-712 primary type, e.g. Attest.")
    signer: Address = Field(description="The signed-in account, who must sign.")
    escrow: Address
    chain_id: int
    nonce: Uint256 = Field(description="The signer's current registry nonce.")
    deadline: Uint256 = Field(description="Unix time after which the signature is refused.")
    typed_data: dict[str, Any] = Field(description="The full typed-data message (types, domain, primaryType, message).")


class RelayErrorPublic(ApiModel):
    """Why a relayed transaction reverted: the contract's custom error and its decoded arguments."""

    error: str | None = Field(description="The custom error's name (None if the revert could not be decoded).")
    args: dict[str, Any] = Field(default_factory=dict, description="The custom error's decoded arguments.")
    detail: str


class ActionPublic(ApiModel):
    """A relayed action: its transaction, whether it is mined yet and, with ``?wait=true``, the state after it.

    Without ``?wait=true`` the answer comes as soon as the transaction is sent (202, ``status`` pending);
    poll ``statusUrl`` until it is ``mined`` or ``reverted`` (a concurrent action changed the state first).
    """

    action: str
    procurement_id: Bytes32
    escrow: Address
    signer: Address
    nonce: Uint256
    deadline: Uint256
    relayer: Address
    tx_hash: Bytes32
    status: Literal["pending", "mined", "reverted"] = Field(
        default="mined", description="pending until the receipt is in; then mined, or reverted (see error)."
    )
    status_url: str | None = Field(default=None, description="Where to poll the status of this relay.")
    block_number: int | None = Field(default=None, description="The block that mined it (None while pending).")
    gas_used: int | None = Field(default=None, description="Gas used (None while pending).")
    gas_limit: int | None = Field(default=None, description="The gas limit the relayer set.")
    error: RelayErrorPublic | None = Field(default=None, description="When reverted: why.")
    mirrored: bool | None = Field(default=None, description="With ?wait=true: whether the mirror has the block.")
    state: ProcurementStatePublic | None = Field(
        default=None, description="With ?wait=true: the state read from the chain."
    )
    replayed: bool = Field(
        default=False, description="True if this is the stored answer to an earlier Idempotency-Key."
    )

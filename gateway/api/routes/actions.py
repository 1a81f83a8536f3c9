"""Signed actions on a procurement: GET the EIP-712 typed data to sign, POST it signed to have it relayed.

The gateway never holds a user's key: the signed-in account signs with its own wallet, and the gateway's
relayer only pays the gas. Every POST is checked before any gas is spent (gateway.services.actions).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from chain.errors import LedgerError
from gateway.core.state import GatewayState
from gateway.deps import (
    ChainProcurement,
    DisputantAccount,
    EvaluatorAccount,
    IdempotencyKey,
    OfficerAccount,
    ProcurementRef,
    ReviewerAccount,
    SessionDep,
    StateDep,
    SupplierAccount,
    Wait,
)
from gateway.errors import InvalidInput
from gateway.identity import Principal
from gateway.models import Document
from gateway.schemas.actions import (
    ActionPublic,
    AmendmentApprovalCreate,
    AmendmentApprovalQuery,
    AmendmentCreate,
    AmendmentQuery,
    AttestationCreate,
    AttestationQuery,
    DisputeCreate,
    DisputeQuery,
    EvidenceSubmissionCreate,
    EvidenceSubmissionFields,
    EvidenceSubmissionQuery,
    FundingCreate,
    FundingQuery,
    ReclaimCreate,
    ReclaimQuery,
    SettlementCreate,
    SettlementQuery,
    SignedAction,
    TypedDataPublic,
)
from gateway.services.actions import prepare, procurement_state, relay_signed
from gateway.services.evidence import ni_uri
from gateway.services.idempotency import fingerprint
from indexer.models import CursorRow

router = APIRouter(prefix="/procurements/{procurement_id}/actions", tags=["actions"])


def _typed_data(
    state: GatewayState,
    procurement: ProcurementRef,
    account: Principal,
    primary_type: str,
    fields: dict[str, Any],
    deadline: int | None,
) -> TypedDataPublic:
    prepared = prepare(
        state.ledger,
        procurement.escrow,
        account.address,
        primary_type,
        fields,
        deadline=deadline,
        deadline_s=state.settings.action_deadline_s,
    )
    return TypedDataPublic(
        action=primary_type,
        signer=account.address,
        escrow=procurement.escrow,
        chain_id=state.ledger.chain_id,
        nonce=prepared.action.nonce,
        deadline=prepared.action.deadline,
        typed_data=prepared.typed_data,
    )


def _wait_for_mirror(state: GatewayState, db: Any, block_number: int) -> bool | None:
    """Wait until the mirror covers ``block_number``; None if there is no mirror of this chain at all."""
    deadline = time.monotonic() + state.settings.wait_timeout_s
    while True:
        db.expire_all()
        cursor = db.scalar(select(CursorRow.block_number).where(CursorRow.chain_id == state.ledger.chain_id))
        if cursor is None:
            return None
        if cursor >= block_number:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _submit(
    request: Request,
    state: GatewayState,
    db: SessionDep,
    procurement: ProcurementRef,
    account: Principal,
    primary_type: str,
    body: SignedAction,
    fields: dict[str, Any],
    wait: bool,
    idempotency_key: str | None,
) -> ActionPublic:
    key = None if idempotency_key is None else state.idempotency.check_key(idempotency_key)
    result: ActionPublic | None = None
    if key is not None:
        digest = fingerprint("POST", request.url.path, body.model_dump(mode="json", by_alias=True))
        stored = state.idempotency.reserve(db, account.address, key, digest)
        if stored is not None:
            result = ActionPublic.model_validate(stored).model_copy(update={"replayed": True})
    if result is None:
        try:
            relayed = relay_signed(
                state.ledger,
                procurement.escrow,
                account.address,
                primary_type,
                fields,
                deadline=body.deadline,
                signature=bytes.fromhex(body.signature[2:]),
                claimed_nonce=body.nonce,
            )
        except LedgerError:
            state.metrics.relayed.labels(primary_type, "refused").inc()
            if key is not None:
                state.idempotency.release(db, account.address, key)
            raise
        state.metrics.relayed.labels(primary_type, "relayed").inc()
        receipt = relayed.receipt
        assert state.ledger.relayer is not None
        result = ActionPublic(
            action=primary_type,
            procurement_id=procurement.id_hex,
            escrow=procurement.escrow,
            signer=account.address,
            nonce=relayed.action.nonce,
            deadline=relayed.action.deadline,
            relayer=state.ledger.relayer.address,
            tx_hash=receipt.tx_hash,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
        )
        if key is not None:
            state.idempotency.store(db, account.address, key, 200, result.model_dump(mode="json", by_alias=True))
    if wait:
        mirrored = _wait_for_mirror(state, db, result.block_number)
        state_now = procurement_state(state.ledger, procurement.procurement_id, procurement.escrow)
        result = result.model_copy(update={"mirrored": mirrored, "state": state_now})
    return result


# ---------------------------------------------------------------- fund


@router.get("/fund", response_model=TypedDataPublic)
def fund_typed_data(
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    fields: Annotated[FundingQuery, Query()],
) -> TypedDataPublic:
    """Typed data for Fund: an officer pays yen into the escrow (approve the escrow for the amount first)."""
    return _typed_data(state, procurement, account, "Fund", fields.eip712(), fields.deadline)


@router.post("/fund", response_model=ActionPublic)
def fund(
    request: Request,
    body: FundingCreate,
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed Fund action."""
    return _submit(request, state, db, procurement, account, "Fund", body, body.eip712(), wait, idempotency_key)


# ---------------------------------------------------------------- evidence


def _evidence_fields(state: GatewayState, db: SessionDep, fields: EvidenceSubmissionFields) -> dict[str, Any]:
    """The fields, with the document checked to be in the store and the URI defaulted to its ni: URI."""
    digest = fields.document_hash[2:].lower()
    if db.get(Document, digest) is None:
        raise InvalidInput(
            f"document {fields.document_hash} is not in the evidence store: upload it first (POST /evidence)"
        )
    values = fields.eip712()
    values["uri"] = fields.uri if fields.uri is not None else ni_uri(digest)
    return values


@router.get("/submit-evidence", response_model=TypedDataPublic)
def submit_evidence_typed_data(
    procurement: ChainProcurement,
    account: SupplierAccount,
    state: StateDep,
    db: SessionDep,
    fields: Annotated[EvidenceSubmissionQuery, Query()],
) -> TypedDataPublic:
    """Typed data for SubmitEvidence: the supplier submits an uploaded document for a milestone."""
    values = _evidence_fields(state, db, fields)
    return _typed_data(state, procurement, account, "SubmitEvidence", values, fields.deadline)


@router.post("/submit-evidence", response_model=ActionPublic)
def submit_evidence(
    request: Request,
    body: EvidenceSubmissionCreate,
    procurement: ChainProcurement,
    account: SupplierAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed SubmitEvidence action."""
    values = _evidence_fields(state, db, body)
    return _submit(request, state, db, procurement, account, "SubmitEvidence", body, values, wait, idempotency_key)


# ---------------------------------------------------------------- attest


@router.get("/attest", response_model=TypedDataPublic)
def attest_typed_data(
    procurement: ChainProcurement,
    account: EvaluatorAccount,
    state: StateDep,
    fields: Annotated[AttestationQuery, Query()],
) -> TypedDataPublic:
    """Typed data for Attest: a panel evaluator's pass or fail on the milestone's current round."""
    return _typed_data(state, procurement, account, "Attest", fields.eip712(), fields.deadline)


@router.post("/attest", response_model=ActionPublic)
def attest(
    request: Request,
    body: AttestationCreate,
    procurement: ChainProcurement,
    account: EvaluatorAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed Attest action."""
    return _submit(request, state, db, procurement, account, "Attest", body, body.eip712(), wait, idempotency_key)


# ---------------------------------------------------------------- reclaim


@router.get("/reclaim", response_model=TypedDataPublic)
def reclaim_typed_data(
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    fields: Annotated[ReclaimQuery, Query()],
) -> TypedDataPublic:
    """Typed data for Reclaim: an officer reclaims a milestone left unmet after its due date."""
    return _typed_data(state, procurement, account, "Reclaim", fields.eip712(), fields.deadline)


@router.post("/reclaim", response_model=ActionPublic)
def reclaim(
    request: Request,
    body: ReclaimCreate,
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed Reclaim action."""
    return _submit(request, state, db, procurement, account, "Reclaim", body, body.eip712(), wait, idempotency_key)


# ---------------------------------------------------------------- amendments


@router.get("/propose-amendment", response_model=TypedDataPublic)
def propose_amendment_typed_data(
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    fields: Annotated[AmendmentQuery, Query()],
) -> TypedDataPublic:
    """Typed data for ProposeAmendment: an officer proposes a new amount, due date, or a cancellation."""
    return _typed_data(state, procurement, account, "ProposeAmendment", fields.eip712(), fields.deadline)


@router.post("/propose-amendment", response_model=ActionPublic)
def propose_amendment(
    request: Request,
    body: AmendmentCreate,
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed ProposeAmendment action."""
    fields = body.eip712()
    return _submit(request, state, db, procurement, account, "ProposeAmendment", body, fields, wait, idempotency_key)


@router.get("/approve-amendment", response_model=TypedDataPublic)
def approve_amendment_typed_data(
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    fields: Annotated[AmendmentApprovalQuery, Query()],
) -> TypedDataPublic:
    """Typed data for ApproveAmendment: a second officer approves an amendment."""
    return _typed_data(state, procurement, account, "ApproveAmendment", fields.eip712(), fields.deadline)


@router.post("/approve-amendment", response_model=ActionPublic)
def approve_amendment(
    request: Request,
    body: AmendmentApprovalCreate,
    procurement: ChainProcurement,
    account: OfficerAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed ApproveAmendment action."""
    fields = body.eip712()
    return _submit(request, state, db, procurement, account, "ApproveAmendment", body, fields, wait, idempotency_key)


# ---------------------------------------------------------------- disputes


@router.get("/open-dispute", response_model=TypedDataPublic)
def open_dispute_typed_data(
    procurement: ChainProcurement,
    account: DisputantAccount,
    state: StateDep,
    fields: Annotated[DisputeQuery, Query()],
) -> TypedDataPublic:
    """Typed data for OpenDispute: the supplier or an officer disputes a submitted or rejected milestone."""
    return _typed_data(state, procurement, account, "OpenDispute", fields.eip712(), fields.deadline)


@router.post("/open-dispute", response_model=ActionPublic)
def open_dispute(
    request: Request,
    body: DisputeCreate,
    procurement: ChainProcurement,
    account: DisputantAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed OpenDispute action."""
    fields = body.eip712()
    return _submit(request, state, db, procurement, account, "OpenDispute", body, fields, wait, idempotency_key)


@router.get("/settle-dispute", response_model=TypedDataPublic)
def settle_dispute_typed_data(
    procurement: ChainProcurement,
    account: ReviewerAccount,
    state: StateDep,
    fields: Annotated[SettlementQuery, Query()],
) -> TypedDataPublic:
    """Typed data for SettleDispute: a review body splits a disputed milestone between supplier and ministry."""
    return _typed_data(state, procurement, account, "SettleDispute", fields.eip712(), fields.deadline)


@router.post("/settle-dispute", response_model=ActionPublic)
def settle_dispute(
    request: Request,
    body: SettlementCreate,
    procurement: ChainProcurement,
    account: ReviewerAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed SettleDispute action."""
    fields = body.eip712()
    return _submit(request, state, db, procurement, account, "SettleDispute", body, fields, wait, idempotency_key)

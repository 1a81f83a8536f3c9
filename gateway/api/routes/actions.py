"""Signed actions on a procurement: GET the EIP-712 typed data to sign, POST it signed to have it relayed.

The gateway never holds a user's key: the signed-in account signs with its own wallet, and the gateway's
relayer only pays the gas. Every POST is checked before any gas is spent (gateway.services.actions), then
answered as soon as the transaction is sent: 202 with the transaction hash and a status URL
(``GET .../actions/relays/{txHash}``: pending, mined, or reverted with the decoded custom error).
``?wait=true`` waits for the receipt and the mirror and answers 200 with the new state.
"""

from __future__ import annotations

import inspect
import time
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from chain.errors import ContractRevert, LedgerError
from gateway.core.state import GatewayState
from gateway.deps import (
    IDEMPOTENCY_KEY_PATTERN,
    ChainProcurement,
    CurrentAccount,
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
from gateway.errors import InvalidInput, NotFound, UpstreamTimeout, revert_args
from gateway.identity import Principal
from gateway.ledger import Relay
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
    RelayErrorPublic,
    SettlementCreate,
    SettlementQuery,
    SignedAction,
    TypedDataPublic,
)
from gateway.services.actions import Prepared, prepare, prepare_known, procurement_state, relay_signed
from gateway.services.evidence import ni_uri, uploaded_by_organization
from gateway.services.idempotency import fingerprint
from indexer.cursor import mirror_version

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
    return _typed_data_public(state, procurement, account, primary_type, prepared)


async def _typed_data_async(
    state: GatewayState,
    procurement: ProcurementRef,
    account: Principal,
    primary_type: str,
    fields: dict[str, Any],
    deadline: int | None,
) -> TypedDataPublic:
    """``_typed_data`` on the event loop when the nonce and clock are known (no I/O), else in the thread pool."""
    args = (state.ledger, procurement.escrow, account.address, primary_type, fields)
    prepared = prepare_known(*args, deadline=deadline, deadline_s=state.settings.action_deadline_s)
    if prepared is None:
        return await run_in_threadpool(_typed_data, state, procurement, account, primary_type, fields, deadline)
    return _typed_data_public(state, procurement, account, primary_type, prepared)


def _typed_data_public(
    state: GatewayState, procurement: ProcurementRef, account: Principal, primary_type: str, prepared: Prepared
) -> TypedDataPublic:
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
        version = mirror_version(db, state.ledger.chain_id)
        if version is None:
            return None
        if version.block_number >= block_number:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _status_url(procurement: ProcurementRef, tx_hash: str) -> str:
    return f"/procurements/{procurement.id_hex}/actions/relays/{tx_hash}"


def _relay_public(procurement: ProcurementRef, relay: Relay) -> ActionPublic:
    """A relay as the API shows it."""
    error = None
    if relay.error is not None:
        revert = relay.error if isinstance(relay.error, ContractRevert) else None
        error = RelayErrorPublic(
            error=None if revert is None else revert.name,
            args={} if revert is None else revert_args(revert),
            detail=str(relay.error),
        )
    receipt = relay.receipt
    return ActionPublic(
        action=relay.primary_type,
        procurement_id=procurement.id_hex,
        escrow=relay.escrow,
        signer=relay.signer,
        nonce=relay.signer_nonce,
        deadline=relay.deadline,
        relayer=relay.relayer,
        tx_hash=relay.tx_hash,
        status=relay.status,
        status_url=_status_url(procurement, relay.tx_hash),
        block_number=None if receipt is None else receipt.block_number,
        gas_used=None if receipt is None else receipt.gas_used,
        gas_limit=relay.sent.gas,
        error=error,
    )


def _submit(
    request: Request,
    response: Response,
    state: GatewayState,
    db: Session | None,
    procurement: ProcurementRef,
    account: Principal,
    primary_type: str,
    body: SignedAction,
    fields: dict[str, Any],
    wait: bool,
    idempotency_key: str | None,
) -> ActionPublic:
    if db is None and (wait or idempotency_key is not None):
        # Only an Idempotency-Key or ?wait=true needs the database: a plain relay opens no session.
        with state.sessions() as session:
            args = (primary_type, body, fields, wait, idempotency_key)
            return _submit(request, response, state, session, procurement, account, *args)
    key = None if idempotency_key is None else state.idempotency.check_key(idempotency_key)
    result: ActionPublic | None = None
    relay: Relay | None = None
    if key is not None:
        digest = fingerprint("POST", request.url.path, body.model_dump(mode="json", by_alias=True))
        assert db is not None
        stored = state.idempotency.reserve(db, account.address, key, digest)
        if stored is not None:
            result = ActionPublic.model_validate(stored).model_copy(update={"replayed": True})
            relay = state.ledger.relay_status(result.tx_hash)
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
            if key is not None and db is not None:
                state.idempotency.release(db, account.address, key)
            raise
        state.metrics.relayed.labels(primary_type, "relayed").inc()
        relay = relayed.relay
        result = _relay_public(procurement, relay)
        if key is not None and db is not None:
            # Stored once sent: a retry returns this transaction (with its status then), never a second one.
            state.idempotency.store(db, account.address, key, 202, result.model_dump(mode="json", by_alias=True))
    if wait and relay is not None:
        if not relay.wait(state.ledger.receipt_timeout_s):
            raise UpstreamTimeout(
                f"no receipt for {relay.tx_hash} yet: poll {_status_url(procurement, relay.tx_hash)}",
                txHash=relay.tx_hash,
            )
        if relay.error is not None:
            raise relay.error
    if relay is not None:
        result = _relay_public(procurement, relay).model_copy(update={"replayed": result.replayed})
    if wait and db is not None and result.block_number is not None:
        mirrored = _wait_for_mirror(state, db, result.block_number)
        state_now = procurement_state(state.ledger, procurement.procurement_id, procurement.escrow)
        result = result.model_copy(update={"mirrored": mirrored, "state": state_now})
    response.status_code = 200 if wait else 202
    return result


TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="The relayed transaction's hash.")]


@router.get("/relays/{tx_hash}", response_model=ActionPublic)
def relay_status(tx_hash: TxHash, procurement: ChainProcurement, state: StateDep) -> ActionPublic:
    """The status of a relayed action: pending, mined, or reverted with the decoded custom error."""
    relay = state.ledger.relay_status(tx_hash)
    if relay is None or relay.escrow != procurement.escrow:
        raise NotFound(
            f"no action {tx_hash.lower()} relayed on this procurement by this gateway since it started "
            "(look the transaction up on chain)"
        )
    return _relay_public(procurement, relay)


@router.get("/relays", response_model=ActionPublic)
def relay_status_by_key(
    procurement: ChainProcurement,
    account: CurrentAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: Annotated[
        str, Query(alias="idempotencyKey", pattern=IDEMPOTENCY_KEY_PATTERN, description="The POST's Idempotency-Key.")
    ],
) -> ActionPublic:
    """The status of the action you relayed with this Idempotency-Key."""
    stored = state.idempotency.lookup(db, account.address, state.idempotency.check_key(idempotency_key))
    if stored is None:
        raise NotFound("no relayed action with this Idempotency-Key for this account")
    result = ActionPublic.model_validate(stored)
    if result.procurement_id.lower() != procurement.id_hex.lower():
        raise NotFound("no relayed action with this Idempotency-Key on this procurement")
    relay = state.ledger.relay_status(result.tx_hash)
    return result if relay is None else _relay_public(procurement, relay)


# ---------------------------------------------------------------- the actions without side inputs


class _ActionFields(Protocol):
    """What an action's query and body schemas share: the fields to sign, and the deadline."""

    deadline: int | None

    def eip712(self) -> dict[str, Any]: ...


_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ActionPublic, "description": "With ?wait=true: mined and mirrored."}
}


def _add_action(
    path: str,
    primary_type: str,
    query_model: type[Any],
    create_model: type[SignedAction],
    signer: Any,
    name: str,
    description: str,
) -> None:
    """The GET (typed data to sign) and POST (relay the signed action) routes of one action.

    Seven actions differ only in their schemas, who may sign, and their names, so one pair of handlers serves
    them all; each pair gets its concrete types through its signature, which is what FastAPI reads to parse
    the request, resolve the dependencies and document the route.
    """

    async def typed_data(
        procurement: ProcurementRef, account: Principal, state: GatewayState, fields: _ActionFields
    ) -> TypedDataPublic:
        return await _typed_data_async(state, procurement, account, primary_type, fields.eip712(), fields.deadline)

    def submit(
        request: Request,
        response: Response,
        body: _ActionFields,
        procurement: ProcurementRef,
        account: Principal,
        state: GatewayState,
        idempotency_key: str | None = None,
        wait: bool = False,
    ) -> ActionPublic:
        assert isinstance(body, SignedAction)
        fields = body.eip712()
        return _submit(
            request, response, state, None, procurement, account, primary_type, body, fields, wait, idempotency_key
        )

    def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)

    typed_data.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            param("procurement", ChainProcurement),
            param("account", signer),
            param("state", StateDep),
            param("fields", Annotated[query_model, Query()]),
        ],
        return_annotation=TypedDataPublic,
    )
    submit.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            param("request", Request),
            param("response", Response),
            param("body", create_model),
            param("procurement", ChainProcurement),
            param("account", signer),
            param("state", StateDep),
            param("idempotency_key", IdempotencyKey, None),
            param("wait", Wait, False),
        ],
        return_annotation=ActionPublic,
    )
    router.add_api_route(
        path,
        typed_data,
        methods=["GET"],
        response_model=TypedDataPublic,
        name=f"{name}_typed_data",
        description=f"Typed data for {primary_type}: {description}",
    )
    router.add_api_route(
        path,
        submit,
        methods=["POST"],
        response_model=ActionPublic,
        status_code=202,
        responses=_POST_RESPONSES,
        name=name,
        description=f"Relay a signed {primary_type} action.",
    )


_add_action(
    "/fund",
    "Fund",
    FundingQuery,
    FundingCreate,
    OfficerAccount,
    "fund",
    "an officer pays yen into the escrow (approve the escrow for the amount first).",
)


# ---------------------------------------------------------------- evidence


def _evidence_fields(
    state: GatewayState, db: SessionDep, account: Principal, fields: EvidenceSubmissionFields
) -> dict[str, Any]:
    """The fields, with the document checked to be uploaded by the signer's organization and the URI defaulted
    to its ni: URI."""
    digest = fields.document_hash[2:].lower()
    if not uploaded_by_organization(db, digest, account):
        raise InvalidInput(
            f"document {fields.document_hash} was not uploaded by your organization: upload it first (POST /evidence)"
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
    values = _evidence_fields(state, db, account, fields)
    return _typed_data(state, procurement, account, "SubmitEvidence", values, fields.deadline)


@router.post(
    "/submit-evidence",
    response_model=ActionPublic,
    status_code=202,
    responses=_POST_RESPONSES,
)
def submit_evidence(
    request: Request,
    response: Response,
    body: EvidenceSubmissionCreate,
    procurement: ChainProcurement,
    account: SupplierAccount,
    state: StateDep,
    db: SessionDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = False,
) -> ActionPublic:
    """Relay a signed SubmitEvidence action."""
    values = _evidence_fields(state, db, account, body)
    return _submit(
        request, response, state, db, procurement, account, "SubmitEvidence", body, values, wait, idempotency_key
    )


_add_action(
    "/attest",
    "Attest",
    AttestationQuery,
    AttestationCreate,
    EvaluatorAccount,
    "attest",
    "a panel evaluator's pass or fail on the milestone's current round.",
)
_add_action(
    "/reclaim",
    "Reclaim",
    ReclaimQuery,
    ReclaimCreate,
    OfficerAccount,
    "reclaim",
    "an officer reclaims a milestone left unmet after its due date.",
)
_add_action(
    "/propose-amendment",
    "ProposeAmendment",
    AmendmentQuery,
    AmendmentCreate,
    OfficerAccount,
    "propose_amendment",
    "an officer proposes a new amount, due date, or a cancellation.",
)
_add_action(
    "/approve-amendment",
    "ApproveAmendment",
    AmendmentApprovalQuery,
    AmendmentApprovalCreate,
    OfficerAccount,
    "approve_amendment",
    "a second officer approves an amendment.",
)
_add_action(
    "/open-dispute",
    "OpenDispute",
    DisputeQuery,
    DisputeCreate,
    DisputantAccount,
    "open_dispute",
    "the supplier or an officer disputes a submitted or rejected milestone.",
)
_add_action(
    "/settle-dispute",
    "SettleDispute",
    SettlementQuery,
    SettlementCreate,
    ReviewerAccount,
    "settle_dispute",
    "a review body splits a disputed milestone between supplier and ministry.",
)

"""Signed actions on a procurement: GET the EIP-712 typed data to sign, POST it signed to have it relayed.

One pair of routes per escrow action declared in ``chain.ACTIONS``, made at import: the path is the action's
verb, the role check its signers, the query and body its schemas (gateway/schemas/actions.py). A new action
needs nothing here. (An action of another contract needs a router that says how a request names that
contract, as the procurement id names its escrow here.)

The gateway never holds a user's key: the signed-in account signs with its own wallet, and the gateway's
relayer only pays the gas. Every POST is checked before any gas is spent, then answered as soon as the
transaction is sent (gateway/relay/): 202 with the transaction hash and a status URL
(``GET .../actions/relays/{txHash}``: pending, mined, or reverted with the decoded custom error).
``?wait=true`` waits for the receipt and the mirror and answers 200 with the new state.
"""

# No ``from __future__ import annotations``: the routes below are made per action, and FastAPI reads each
# one's parameter types from its annotations, which must therefore be the action's own schemas, evaluated.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from chain import MILESTONE_ESCROW
from gateway.core.state import GatewayState
from gateway.deps import (
    IDEMPOTENCY_KEY_PATTERN,
    ChainProcurement,
    CurrentAccount,
    IdempotencyKey,
    ProcurementRef,
    SessionDep,
    StateDep,
    Wait,
    require_roles,
)
from gateway.errors import InvalidInput, NotFound
from gateway.identity import Principal
from gateway.relay.pipeline import relay_public, relay_request
from gateway.relay.request import ActionRequest, with_stored_amendment
from gateway.relay.typed_data import Prepared, prepare
from gateway.schemas.actions import ACTION_SCHEMAS, ActionPublic, ActionSchemas, TypedDataPublic
from gateway.schemas.common import ApiModel
from gateway.services.evidence import bundled, uploaded_by_organization

router = APIRouter(prefix="/procurements/{procurement_id}/actions", tags=["actions"])

TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="The relayed transaction's hash.")]


@router.get("/relays/{tx_hash}", response_model=ActionPublic)
def relay_status(tx_hash: TxHash, procurement: ChainProcurement, state: StateDep) -> ActionPublic:
    """The status of a relayed action: pending, mined, or reverted with the decoded custom error."""
    relay = state.relay.status(tx_hash)
    if relay is None or relay.contract != procurement.escrow:
        raise NotFound(
            f"no action {tx_hash.lower()} relayed on this procurement by this gateway since it started "
            "(look the transaction up on chain)"
        )
    return relay_public(procurement.id_hex, relay)


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
    relay = state.relay.status(result.tx_hash)
    return result if relay is None else relay_public(procurement.id_hex, relay)


# ---------------------------------------------------------------- one pair of routes per declared action

_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ActionPublic, "description": "With ?wait=true: mined and mirrored."}
}


def _check_document(state: GatewayState, account: Principal, schemas: ActionSchemas, request: ApiModel) -> None:
    """An action that names an evidence document: the signer's organization must have uploaded it."""
    if schemas.document is None:
        return
    document: str = getattr(request, schemas.document)
    with state.sessions() as db:
        if not uploaded_by_organization(db, document[2:].lower(), account):
            raise InvalidInput(
                f"document {document} was not uploaded by your organization: upload it first (POST /evidence)"
            )
        foreign = [
            m.document_hash
            for m in bundled(db, state.store, document)
            if not uploaded_by_organization(db, m.document_hash[2:], account)
        ]
        if foreign:
            raise InvalidInput(
                f"the bundle {document} lists documents your organization did not upload: {', '.join(foreign)}"
            )


def _typed_data_public(
    state: GatewayState, procurement: ProcurementRef, account: Principal, prepared: Prepared
) -> TypedDataPublic:
    return TypedDataPublic(
        action=prepared.action.primary_type,
        signer=account.address,
        escrow=procurement.escrow,
        chain_id=state.ledger.chain_id,
        nonce=prepared.action.nonce,
        deadline=prepared.action.deadline,
        typed_data=prepared.typed_data,
    )


def _prepare(
    state: GatewayState,
    procurement: ProcurementRef,
    account: Principal,
    schemas: ActionSchemas,
    query: ApiModel,
    *,
    known_only: bool,
) -> Prepared | None:
    """The typed data to sign (known_only: None unless the nonce and the clock are known without I/O)."""
    request = ActionRequest(schemas.action, procurement.escrow, account.address, schemas.message(query))
    if not known_only:
        request = with_stored_amendment(request, state.ledger)
    deadline: int | None = getattr(query, "deadline")  # noqa: B009 - every query model has one
    deadline_s = state.settings.action_deadline_s
    return prepare(
        state.ledger, state.relay.nonces, request, deadline=deadline, deadline_s=deadline_s, known_only=known_only
    )


def _typed_data(
    state: GatewayState, procurement: ProcurementRef, account: Principal, schemas: ActionSchemas, query: ApiModel
) -> TypedDataPublic:
    """The typed data to sign, asking the chain (and the evidence records) as needed: in the thread pool."""
    _check_document(state, account, schemas, query)
    prepared = _prepare(state, procurement, account, schemas, query, known_only=False)
    assert prepared is not None
    return _typed_data_public(state, procurement, account, prepared)


def add_action_routes(router: APIRouter, schemas: ActionSchemas) -> None:
    """The GET (typed data to sign) and POST (relay the signed action) of one declared escrow action."""
    action = schemas.action
    query_model, body_model = schemas.query, schemas.create
    may_sign = Depends(require_roles(*action.signers))
    name = action.verb.replace("-", "_")
    stored = any(field.from_amendment for field in action.fields)  # filled from the chain: I/O

    async def typed_data(
        procurement: ChainProcurement,
        account: Annotated[Principal, may_sign],
        state: StateDep,
        query: Annotated[query_model, Query()],  # type: ignore[valid-type]
    ) -> TypedDataPublic:
        if schemas.document is None and not stored:  # on the event loop when nonce and clock are known (no I/O)
            prepared = _prepare(state, procurement, account, schemas, query, known_only=True)
            if prepared is not None:
                return _typed_data_public(state, procurement, account, prepared)
        return await run_in_threadpool(_typed_data, state, procurement, account, schemas, query)

    def submit(
        request: Request,
        response: Response,
        body: body_model,  # type: ignore[valid-type]
        procurement: ChainProcurement,
        account: Annotated[Principal, may_sign],
        state: StateDep,
        idempotency_key: IdempotencyKey = None,
        wait: Wait = False,
    ) -> ActionPublic:
        _check_document(state, account, schemas, body)
        asked = with_stored_amendment(
            ActionRequest(action, procurement.escrow, account.address, schemas.message(body)), state.ledger
        )
        key = idempotency_key
        result = relay_request(state, request, procurement.procurement_id, asked, body, wait=wait, idempotency_key=key)
        response.status_code = 200 if wait else 202
        return result

    path = f"/{action.verb}"
    router.add_api_route(
        path,
        typed_data,
        methods=["GET"],
        response_model=TypedDataPublic,
        name=f"{name}_typed_data",
        description=f"Typed data for {action.primary_type}: {action.summary}",
    )
    router.add_api_route(
        path,
        submit,
        methods=["POST"],
        response_model=ActionPublic,
        status_code=202,
        responses=_POST_RESPONSES,
        name=name,
        description=f"Relay a signed {action.primary_type} action.",
    )


for _schemas in ACTION_SCHEMAS.values():
    if _schemas.action.contract == MILESTONE_ESCROW:
        add_action_routes(router, _schemas)

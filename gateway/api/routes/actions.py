"""Signed actions: GET the EIP-712 typed data to sign, POST it signed to have it relayed.

One pair of routes per action declared in ``chain.ACTIONS``, made at import: the path is the action's verb, the
role check its signers, the query and body its schemas (gateway/schemas/actions.py). A new action needs nothing
here. Two routers say how a request names the contract acted on:

* an escrow action under ``/procurements/{id}/actions/<verb>`` (the procurement names its escrow);
* an act of a contract with one instance: a budget act under ``/budget/actions/<verb>`` (the budget office), a
  registry act under ``/registry/actions/<verb>`` (the access registry). Their fields may nest structs (line
  keys, transfer requests), which a query string cannot carry: the typed data is asked for with
  ``POST .../<verb>/typed-data`` and the fields as JSON (nothing is written). A signer who may not sign the act
  (for the budget: without the act's role, or a finance officer acting on another ministry's lines; for the
  registry: neither the registry admin nor a holder of the act's roles) is refused before anything is signed
  or simulated, with the contract's own custom error and its words.

The gateway never holds a user's key: the signed-in account signs with its own wallet, and the gateway's
relayer only pays the gas. Every POST is checked before any gas is spent, then answered as soon as the
transaction is sent (gateway/relay/): 202 with the transaction hash and a status URL
(``GET .../actions/relays/{txHash}``: pending, mined, or reverted with the decoded custom error).
``?wait=true`` waits for the receipt and the mirror and answers 200 with the new state.
"""

# No ``from __future__ import annotations``: the routes below are made per action, and FastAPI reads each
# one's parameter types from its annotations, which must therefore be the action's own schemas, evaluated.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from chain import ACCESS_REGISTRY, BUDGET_OFFICE, MILESTONE_ESCROW, ContractRevert, org_id
from gateway.core.state import GatewayState
from gateway.deps import (
    IDEMPOTENCY_KEY_PATTERN,
    ChainProcurement,
    CurrentAccount,
    IdempotencyKey,
    SessionDep,
    StateDep,
    Wait,
    require_roles,
)
from gateway.errors import InvalidInput, NotFound
from gateway.identity import Principal
from gateway.relay.pipeline import (
    BUDGET_ACTS,
    REGISTRY_ACTS,
    ContractActs,
    RelayTarget,
    relay_public,
    relay_request,
)
from gateway.relay.request import ActionRequest, with_stored_amendment, with_stored_transfer
from gateway.relay.typed_data import Prepared, prepare
from gateway.schemas.actions import (
    ACTION_SCHEMAS,
    ActionPublic,
    ActionSchemas,
    RelayPublic,
    TypedDataPublic,
)
from gateway.schemas.common import ApiModel
from gateway.services.chain_state import procurement_state
from gateway.services.evidence import bundled, uploaded_by_organization

router = APIRouter(prefix="/procurements/{procurement_id}/actions", tags=["actions"])
budget_router = APIRouter(prefix="/budget/actions", tags=["budget acts"])
registry_router = APIRouter(prefix="/registry/actions", tags=["registry acts"])

TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="The relayed transaction's hash.")]


@router.get("/relays/{tx_hash}", response_model=ActionPublic)
def relay_status(tx_hash: TxHash, procurement: ChainProcurement, state: StateDep) -> ActionPublic:
    """The status of a relayed action: pending, mined, or reverted with the decoded custom error."""
    relay = state.relay.status(tx_hash)
    if relay is None or relay.contract != procurement.escrow:
        raise NotFound(f"no action {tx_hash.lower()} relayed on this procurement by the gateways")
    return relay_public(procurement.id_hex, relay, state.ledger)


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
    return result if relay is None else relay_public(procurement.id_hex, relay, state.ledger)


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


def _typed_data_public(state: GatewayState, contract: str, account: Principal, prepared: Prepared) -> TypedDataPublic:
    return TypedDataPublic(
        action=prepared.action.primary_type,
        signer=account.address,
        escrow=contract,
        chain_id=state.ledger.chain_id,
        nonce=prepared.action.nonce,
        deadline=prepared.action.deadline,
        typed_data=prepared.typed_data,
    )


def _prepare(
    state: GatewayState,
    contract: str,
    account: Principal,
    schemas: ActionSchemas,
    query: ApiModel,
    *,
    known_only: bool,
) -> Prepared | None:
    """The typed data to sign (known_only: None unless the nonce and the clock are known without I/O)."""
    request = ActionRequest(schemas.action, contract, account.address, schemas.message(query))
    if not known_only:
        request = with_stored_amendment(request, state.ledger)
    deadline: int | None = getattr(query, "deadline")  # noqa: B009 - every query model has one
    deadline_s = state.settings.action_deadline_s
    return prepare(
        state.ledger, state.relay.nonces, request, deadline=deadline, deadline_s=deadline_s, known_only=known_only
    )


def _typed_data(
    state: GatewayState, contract: str, account: Principal, schemas: ActionSchemas, query: ApiModel
) -> TypedDataPublic:
    """The typed data to sign, asking the chain (and the evidence records) as needed: in the thread pool."""
    _check_document(state, account, schemas, query)
    prepared = _prepare(state, contract, account, schemas, query, known_only=False)
    assert prepared is not None
    return _typed_data_public(state, contract, account, prepared)


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
            prepared = _prepare(state, procurement.escrow, account, schemas, query, known_only=True)
            if prepared is not None:
                return _typed_data_public(state, procurement.escrow, account, prepared)
        return await run_in_threadpool(_typed_data, state, procurement.escrow, account, schemas, query)

    def submit(
        request: Request,
        response: Response,
        body: body_model,  # type: ignore[valid-type]
        procurement: ChainProcurement,
        account: Annotated[Principal, may_sign],
        state: StateDep,
        idempotency_key: IdempotencyKey = None,
        wait: Wait = False,
    ) -> RelayPublic:
        _check_document(state, account, schemas, body)
        asked = with_stored_amendment(
            ActionRequest(action, procurement.escrow, account.address, schemas.message(body)), state.ledger
        )
        pid, escrow = procurement.procurement_id, procurement.escrow
        target = RelayTarget(pid, lambda: procurement_state(state.ledger, pid, escrow))
        result = relay_request(state, request, target, asked, body, wait=wait, idempotency_key=idempotency_key)
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


# ---------------------------------------------------- acts on a contract of its own (budget office, registry)

_CONTRACT_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "With ?wait=true: mined (and `mirrored` says if the mirror has it)."}
}

# What a route needs of a contract of its own: its address, and the act as asked if the account may sign it.
ActsRequest = Callable[[GatewayState, Principal, ActionSchemas, ApiModel], ActionRequest]


def _budget_request(state: GatewayState, account: Principal, schemas: ActionSchemas, fields: ApiModel) -> ActionRequest:
    """The act as asked, if ``account`` may sign it: it holds one of the act's roles and, for a finance officer's
    act, in the ministry whose lines it names. Else the contract's own refusal (``ActionType.refusal``), with the
    organization the contract names: the line's ministry for a ministry's act, the signer's own for the finance
    authority's (whose check is that the signer holds the role at all)."""
    action = schemas.action
    message = schemas.message(fields)
    if any(field.from_transfer for field in action.fields):
        with state.sessions() as db:
            asked = ActionRequest(action, state.ledger.system.budget_office, account.address, message)
            message = with_stored_transfer(asked, db, state.ledger.chain_id).message
    ministry = action.ministry_of(message)
    held = org_id(account.organization) if account.organization else b"\x00" * 32
    if not account.has(*action.signers) or (ministry is not None and held != ministry):
        raise ContractRevert(
            action.refusal,
            {"account": account.address, "role": action.signers[0].id, "organization": ministry or held},
        )
    return ActionRequest(action, state.ledger.system.budget_office, account.address, message)


def _registry_request(
    state: GatewayState, account: Principal, schemas: ActionSchemas, fields: ApiModel
) -> ActionRequest:
    """The act as asked, if ``account`` may sign it: the registry admin signs every registry act, a holder of one
    of the act's roles its own (a ministry admin grants and revokes inside its ministry: the contract checks
    the rest when the act is simulated). Else the contract's own refusal: not the registry admin."""
    action = schemas.action
    if not (account.registry_admin or account.has(*action.signers)):
        raise ContractRevert("AccessControlUnauthorizedAccount", {"account": account.address, "neededRole": bytes(32)})
    message = schemas.message(fields)
    relayer = state.ledger.relayer
    named = str(message.get("account", "")).lower()
    if relayer is not None and named == relayer.address.lower() and action.primary_type in _NOT_TO_THE_RELAYER:
        raise InvalidInput(
            f"{relayer.address} is this gateway's relayer: a relayer holds no role and belongs to no organization, "
            "or relaying breaks; use another account"
        )
    return ActionRequest(action, state.ledger.system.registry, account.address, message)


# A relayer bound to an organization or holding a role breaks relaying (gateway/relay/relayer.py).
_NOT_TO_THE_RELAYER = frozenset({"BindAccount", "GrantRole"})


def add_contract_act_routes(
    router: APIRouter, schemas: ActionSchemas, acts: ContractActs, asked_of: ActsRequest
) -> None:
    """The POST .../typed-data (what to sign) and POST (relay the signed act) of one declared act of a contract
    of its own (the budget office's, the registry's); ``asked_of`` says whether the account may sign it."""
    action = schemas.action
    query_model, body_model = schemas.query, schemas.create
    name = f"{acts.contract_field}_{action.verb.replace('-', '_')}"
    target = RelayTarget(None, acts=acts)

    def typed_data(
        fields: query_model,  # type: ignore[valid-type]
        account: CurrentAccount,
        state: StateDep,
    ) -> TypedDataPublic:
        asked = asked_of(state, account, schemas, fields)
        deadline: int | None = getattr(fields, "deadline")  # noqa: B009 - every query model has one
        prepared = prepare(
            state.ledger, state.relay.nonces, asked, deadline=deadline, deadline_s=state.settings.action_deadline_s
        )
        assert prepared is not None
        return _typed_data_public(state, asked.contract, account, prepared)

    def submit(
        request: Request,
        response: Response,
        body: body_model,  # type: ignore[valid-type]
        account: CurrentAccount,
        state: StateDep,
        idempotency_key: IdempotencyKey = None,
        wait: Wait = False,
    ) -> RelayPublic:
        asked = asked_of(state, account, schemas, body)
        key = idempotency_key
        result = relay_request(state, request, target, asked, body, wait=wait, idempotency_key=key)
        response.status_code = 200 if wait else 202
        return result

    path = f"/{action.verb}"
    router.add_api_route(
        f"{path}/typed-data",
        typed_data,
        methods=["POST"],
        response_model=TypedDataPublic,
        name=f"{name}_typed_data",
        description=f"Typed data for {action.primary_type} (nothing is written): {action.summary}",
    )
    router.add_api_route(
        path,
        submit,
        methods=["POST"],
        response_model=acts.model,
        status_code=202,
        responses=_CONTRACT_POST_RESPONSES,
        name=name,
        description=f"Relay a signed {action.primary_type} act.",
    )


def add_relay_status_routes(router: APIRouter, acts: ContractActs, address_of: Callable[[GatewayState], str]) -> None:
    """GET .../relays/{txHash} and GET .../relays?idempotencyKey= for the acts of a contract of its own."""
    target = RelayTarget(None, acts=acts)
    what = acts.path.split("/")[1]  # budget, registry

    def relay_status(tx_hash: TxHash, account: CurrentAccount, state: StateDep) -> RelayPublic:
        relay = state.relay.status(tx_hash)
        if relay is None or relay.contract != address_of(state):
            raise NotFound(f"no {what} act {tx_hash.lower()} relayed by the gateways")
        return target.public(relay, state.ledger)

    def relay_status_by_key(
        account: CurrentAccount,
        state: StateDep,
        db: SessionDep,
        idempotency_key: Annotated[
            str,
            Query(alias="idempotencyKey", pattern=IDEMPOTENCY_KEY_PATTERN, description="The POST's Idempotency-Key."),
        ],
    ) -> RelayPublic:
        stored = state.idempotency.lookup(db, account.address, state.idempotency.check_key(idempotency_key))
        if stored is None or acts.contract_field not in stored:
            raise NotFound(f"no {what} act relayed with this Idempotency-Key for this account")
        result = acts.model.model_validate(stored)
        relay = state.relay.status(result.tx_hash)
        return result if relay is None else target.public(relay, state.ledger)

    router.add_api_route(
        "/relays/{tx_hash}",
        relay_status,
        methods=["GET"],
        response_model=acts.model,
        name=f"{what}_relay_status",
        description=f"The status of a relayed {what} act: pending, mined, or reverted with the decoded custom error.",
    )
    router.add_api_route(
        "/relays",
        relay_status_by_key,
        methods=["GET"],
        response_model=acts.model,
        name=f"{what}_relay_status_by_key",
        description=f"The status of the {what} act you relayed with this Idempotency-Key.",
    )


add_relay_status_routes(budget_router, BUDGET_ACTS, lambda state: state.ledger.system.budget_office)
add_relay_status_routes(registry_router, REGISTRY_ACTS, lambda state: state.ledger.system.registry)
for _schemas in ACTION_SCHEMAS.values():
    if _schemas.action.contract == MILESTONE_ESCROW:
        add_action_routes(router, _schemas)
    elif _schemas.action.contract == BUDGET_OFFICE:
        add_contract_act_routes(budget_router, _schemas, BUDGET_ACTS, _budget_request)
    elif _schemas.action.contract == ACCESS_REGISTRY:
        add_contract_act_routes(registry_router, _schemas, REGISTRY_ACTS, _registry_request)

"""Dependencies as ``Annotated`` aliases: the database session, the signed-in account, role checks, scoping.

Routes declare what they need (``SessionDep``, ``CurrentAccount``, ``UploaderAccount``, ``ChainProcurement``)
instead of checking with ``if``s. The account's roles are looked up on every request, so a revocation takes
effect as soon as the directory (the mirror, or the chain) sees it.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, and
each such hop costs more than the work itself. The signed-in caller costs one query by key (the session and the
mirror's version together, see ``GatewayState.point_read``); its roles come from a cache keyed by that version
(never by time), or from the directory when the version is new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from chain import OCID_MAX_LENGTH, ConfigurationError, ProcurementName, checksum, parse_procurement_name
from chain.clients import Terms
from chain.roles import Role
from gateway.core.state import GatewayState
from gateway.errors import (
    AccountNotPermitted,
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from gateway.identity import MirrorVersion, Principal
from gateway.ledger import Ledger
from gateway.models import SessionRecord
from gateway.scope import Scope
from gateway.services.auth import LiveSession
from gateway.services.reads import OcidOf, Page, Reader

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "AuditorAccount",
    "BearerCredentials",
    "Caller",
    "ChainProcurement",
    "CurrentAccount",
    "CurrentCaller",
    "CurrentSession",
    "IdempotencyKey",
    "LedgerDep",
    "MirrorReader",
    "PageDep",
    "ProcurementId",
    "ProcurementRef",
    "SessionDep",
    "SignInRateLimit",
    "StateDep",
    "UploaderAccount",
    "Wait",
    "procurement_named",
    "require_roles",
]

HEX32_PATTERN = r"^0x[0-9a-fA-F]{64}$"


async def get_state(request: Request) -> GatewayState:
    """The app's state."""
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def limit_sign_in(request: Request, state: StateDep) -> None:
    """Refuse (429) a client address that has used its share of sign-in requests (see gateway.core.client_address)."""
    client: str = request.state.client_address
    retry_after = state.sign_in_limiter.acquire(client)
    if retry_after is not None:
        state.metrics.sign_ins.labels("rate-limited").inc()
        raise TooManyRequests(f"too many sign-in requests from {client}; retry in {retry_after} s", retry_after)


SignInRateLimit = Depends(limit_sign_in)


def get_db(state: StateDep) -> Iterator[Session]:
    """A database session for the request."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


async def get_ledger(state: StateDep) -> Ledger:
    """The chain."""
    return state.ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]

_bearer = HTTPBearer(auto_error=False, description="The session token from POST /auth/sign-in.")


def get_session_record(
    state: StateDep,
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SessionRecord:
    """The live session of the bearer token."""
    if credentials is None:
        raise NotAuthenticated("sign in first: send Authorization: Bearer <token>")
    return state.auth.authenticate(db, credentials.credentials)


CurrentSession = Annotated[SessionRecord, Depends(get_session_record)]


@dataclass(frozen=True)
class Caller:
    """The signed-in account with its roles as they are now, and the mirror's version they were read at."""

    principal: Principal
    mirror: MirrorVersion | None


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def resolve_caller(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
    """The live session's account with its roles as they are now; 401 without a session, 403 once it holds none.

    One query by key finds the session and the mirror's version; the roles come from the directory's cache for
    that version, else from the mirror (lookups by key), else from the directory in the thread pool (it may ask
    the chain). Resolved once per request.
    """
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None:
        return known
    if credentials is None:
        raise NotAuthenticated("sign in first: send Authorization: Bearer <token>")
    state: GatewayState = request.app.state.gateway
    live = await state.point_read(_live_session, state, credentials.credentials)
    directory = state.directory
    principal = directory.cached(live.address, live.mirror)
    if principal is None and live.mirror is not None:
        principal = await state.point_read(directory.from_mirror, live.address, live.mirror)
    if principal is None:  # not from the mirror: may ask the chain
        principal = await run_in_threadpool(directory.lookup, live.address, live.mirror)
    if not principal.known:
        raise AccountNotPermitted(f"{live.address} no longer holds an active role in the registry")
    request.state.caller = caller = Caller(principal=principal, mirror=live.mirror)
    return caller


async def get_caller(request: Request, credentials: BearerCredentials) -> Caller:
    """The signed-in account with its roles as they are now, and the mirror's version."""
    return await resolve_caller(request, credentials)


def _live_session(state: GatewayState, token: str) -> LiveSession:
    with state.engine.connect() as conn:
        return state.auth.check(conn, token)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_current_account(caller: CurrentCaller) -> Principal:
    """The signed-in account with its roles as they are now; 403 once it holds none."""
    return caller.principal


CurrentAccount = Annotated[Principal, Depends(get_current_account)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through accounts holding any of ``roles``."""
    names = ", ".join(role.value for role in roles)

    async def check(account: CurrentAccount) -> Principal:
        if not account.has(*roles):
            raise Forbidden(f"this request needs one of the roles: {names}")
        return account

    return check


# (Who may sign each action is its declaration's ``signers``: gateway/api/routes/actions.py requires those.)
AuditorAccount = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
UploaderAccount = Annotated[
    Principal,
    Depends(require_roles(Role.SUPPLIER, Role.EVALUATOR, Role.PROCUREMENT_OFFICER, Role.REVIEW_BODY)),
]


@dataclass(frozen=True)
class ProcurementRef:
    """A procurement resolved on chain: its id, escrow and fixed terms."""

    procurement_id: bytes
    escrow: str
    terms: Terms

    @property
    def id_hex(self) -> str:
        """The id as 0x-hex."""
        return "0x" + self.procurement_id.hex()


def _visible(account: Principal, terms: Terms, ledger: Ledger, escrow: str) -> bool:
    """Whether ``account`` may see the procurement of ``escrow`` (gateway.scope's rule, on the chain's facts)."""
    return Scope.of(account).allows(terms, lambda: (m.status for m in ledger.escrow(escrow).milestones()))


ProcurementId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=OCID_MAX_LENGTH,
        description="The procurement: its ocid (e.g. ocds-b5fd17-MOD-2026-0042), its escrow's address (0x and 40 hex "
        "digits) or its on-chain id (0x and 64 hex digits).",
    ),
]


def procurement_named(text: str) -> ProcurementName:
    """A procurement path segment read (chain.parse_procurement_name); 422 naming what is wrong."""
    try:
        return parse_procurement_name(text)
    except ConfigurationError as exc:
        raise InvalidInput(str(exc)) from None


def _escrow_procurement(escrow: str, ledger: Ledger, account: Principal) -> ProcurementRef:
    raw = ledger.registry.procurement_of(escrow)
    if raw is None or not _visible(account, ledger.terms(escrow), ledger, escrow):
        raise NotFound(f"no procurement at escrow {escrow} visible to this account")
    return ProcurementRef(procurement_id=raw, escrow=checksum(escrow), terms=ledger.terms(escrow))


def _chain_procurement(procurement_id: str, ledger: Ledger, account: Principal) -> ProcurementRef:
    raw = bytes.fromhex(procurement_id[2:])
    visible = _visible_escrows(ledger, account, ledger.escrows_of(raw))
    if not visible:  # another ministry may have registered the same id since the escrows were read
        visible = _visible_escrows(ledger, account, ledger.escrows_of(raw, fresh=True))
    if not visible:
        raise NotFound(f"no procurement {procurement_id.lower()} visible to this account")
    if len(visible) > 1:
        raise Conflict(
            f"procurement id {procurement_id.lower()} names {len(visible)} procurements you can see, of different "
            f"ministries (escrows {', '.join(visible)}): a procurement id is unique within its ministry only"
        )
    escrow = visible[0]
    return ProcurementRef(procurement_id=raw, escrow=escrow, terms=ledger.terms(escrow))


def _visible_escrows(ledger: Ledger, account: Principal, escrows: tuple[str, ...]) -> list[str]:
    return [escrow for escrow in escrows if _visible(account, ledger.terms(escrow), ledger, escrow)]


async def get_chain_procurement(
    procurement_id: ProcurementId, ledger: LedgerDep, account: CurrentAccount
) -> ProcurementRef:
    """The procurement, resolved through the registry and visible to the account (else 404; 409 if the id
    names procurements of several ministries that the account can all see).

    Escrows and their terms never change, so once read they are known without I/O and this needs no hop to
    the thread pool; the first time (or for a review body, whose scope reads the milestones, or when the one
    known escrow is not visible) it goes there.
    """
    named = procurement_named(procurement_id)
    if named.escrow is not None:
        return await run_in_threadpool(_escrow_procurement, named.escrow, ledger, account)
    assert named.procurement_id is not None
    raw = named.procurement_id
    known = ledger.known_terms(raw)
    if known is not None and not Scope.of(account).reads_milestones:
        escrow, terms = known
        if _visible(account, terms, ledger, escrow):
            return ProcurementRef(procurement_id=raw, escrow=escrow, terms=terms)
    return await run_in_threadpool(_chain_procurement, "0x" + raw.hex(), ledger, account)


ChainProcurement = Annotated[ProcurementRef, Depends(get_chain_procurement)]


async def get_reader(request: Request, credentials: BearerCredentials) -> Reader:
    """Scoped reads of the mirror; 503 until the indexer has synced this chain.

    The caller is resolved here rather than through ``CurrentCaller``: every dependency FastAPI solves costs
    tens of microseconds, and this is the path of every read.
    """
    caller = await resolve_caller(request, credentials)
    if caller.mirror is None:
        raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
    state: GatewayState = request.app.state.gateway
    return Reader(
        state.engine, state.ledger.chain_id, caller.principal, point_read=state.point_read, ocids=lambda: _ocids(state)
    )


def _ocids(state: GatewayState) -> OcidOf:
    """How reads name procurements by their ocid: as the OCDS publication does (None each while it is unavailable)."""
    try:
        return state.ocds.ocids()
    except ServiceUnavailable:
        return lambda ministry_org, procurement_id, spec_hash: None


MirrorReader = Annotated[Reader, Depends(get_reader)]


async def get_page(
    state: StateDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Rows per page (capped by the server).")] = 50,
) -> Page:
    """Offset pagination, capped at the configured page size."""
    return Page(offset=offset, limit=min(limit, state.settings.page_size_max))


PageDep = Annotated[Page, Depends(get_page)]

Wait = Annotated[
    bool,
    Query(description="Wait until the mirror has the transaction's block, and return the new state."),
]
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=(
            "1 to 255 visible ASCII characters of your choice, scoped to your account: a retry with the same key "
            "and body returns the first answer instead of acting twice; the same key with another body is a 422, "
            "and while the first request is still being checked a retry is a 409."
        ),
    ),
]

"""Dependencies as ``Annotated`` aliases: the database session, the signed-in account, role checks, scoping.

Routes declare what they need (``SessionDep``, ``CurrentAccount``, ``EvaluatorAccount``, ``ChainProcurement``)
instead of checking with ``if``s. The account's roles are looked up on every request, so a revocation takes
effect as soon as the directory (the mirror, or the chain) sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from chain.clients import MilestoneStatus, Terms
from chain.roles import Role
from gateway.core.state import GatewayState
from gateway.errors import AccountNotPermitted, Forbidden, NotAuthenticated, NotFound, ServiceUnavailable
from gateway.identity import Principal
from gateway.ledger import Ledger
from gateway.models import SessionRecord
from gateway.services.reads import Page, Reader

__all__ = [
    "AuditorAccount",
    "ChainProcurement",
    "CurrentAccount",
    "CurrentSession",
    "DisputantAccount",
    "EvaluatorAccount",
    "IdempotencyKey",
    "LedgerDep",
    "MirrorReader",
    "OfficerAccount",
    "PageDep",
    "ProcurementRef",
    "ReviewerAccount",
    "SessionDep",
    "StateDep",
    "SupplierAccount",
    "UploaderAccount",
    "Wait",
    "can_see",
    "require_roles",
]

HEX32_PATTERN = r"^0x[0-9a-fA-F]{64}$"


def get_state(request: Request) -> GatewayState:
    """The app's state."""
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    """A database session for the request."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def get_ledger(state: StateDep) -> Ledger:
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


def get_current_account(state: StateDep, session: CurrentSession) -> Principal:
    """The signed-in account with its roles as they are now; 403 once it holds none."""
    principal = state.directory.lookup(session.address)
    if not principal.known:
        raise AccountNotPermitted(f"{session.address} no longer holds an active role in the registry")
    return principal


CurrentAccount = Annotated[Principal, Depends(get_current_account)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through accounts holding any of ``roles``."""
    names = ", ".join(role.value for role in roles)

    def check(account: CurrentAccount) -> Principal:
        if not account.has(*roles):
            raise Forbidden(f"this request needs one of the roles: {names}")
        return account

    return check


SupplierAccount = Annotated[Principal, Depends(require_roles(Role.SUPPLIER))]
EvaluatorAccount = Annotated[Principal, Depends(require_roles(Role.EVALUATOR))]
OfficerAccount = Annotated[Principal, Depends(require_roles(Role.PROCUREMENT_OFFICER))]
ReviewerAccount = Annotated[Principal, Depends(require_roles(Role.REVIEW_BODY))]
AuditorAccount = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
DisputantAccount = Annotated[Principal, Depends(require_roles(Role.SUPPLIER, Role.PROCUREMENT_OFFICER))]
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


def can_see(account: Principal, terms: Terms, ledger: Ledger, escrow: str) -> bool:
    """The read scope of gateway.services.reads, decided from the chain's terms."""
    if account.is_auditor:
        return True
    if account.is_ministry and account.organization == terms.ministry:
        return True
    if account.has(Role.SUPPLIER) and account.organization == terms.supplier_org:
        return True
    if account.has(Role.EVALUATOR) and account.address in terms.evaluators:
        return True
    if account.has(Role.REVIEW_BODY):
        disputed = {MilestoneStatus.DISPUTED, MilestoneStatus.SETTLED}
        return any(m.status in disputed for m in ledger.escrow(escrow).milestones())
    return False


ProcurementId = Annotated[str, Path(pattern=HEX32_PATTERN, description="The procurement id (bytes32, 0x-hex).")]


def get_chain_procurement(procurement_id: ProcurementId, ledger: LedgerDep, account: CurrentAccount) -> ProcurementRef:
    """The procurement, resolved through the registry and visible to the account (else 404)."""
    raw = bytes.fromhex(procurement_id[2:])
    escrow = ledger.escrow_address(raw)
    terms = ledger.terms(escrow)
    if not can_see(account, terms, ledger, escrow):
        raise NotFound(f"no procurement {procurement_id.lower()} visible to this account")
    return ProcurementRef(procurement_id=raw, escrow=escrow, terms=terms)


ChainProcurement = Annotated[ProcurementRef, Depends(get_chain_procurement)]


def get_reader(state: StateDep, db: SessionDep, account: CurrentAccount) -> Reader:
    """Scoped reads of the mirror; 503 until the indexer has synced this chain."""
    reader = Reader(db, state.ledger.chain_id, account)
    if reader.mirrored_block() is None:
        raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
    return reader


MirrorReader = Annotated[Reader, Depends(get_reader)]


def get_page(
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
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a retried POST return the first answer instead of acting twice.",
    ),
]

"""Sign-In with Ethereum (EIP-4361): nonce, sign-in, sign-out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import CurrentAccount, CurrentSession, LedgerDep, SessionDep, SignInRateLimit, StateDep
from gateway.errors import SignInFailed
from gateway.identity import Principal
from gateway.ledger import Ledger
from gateway.schemas.auth import AccountPublic, NoncePublic, SessionPublic, SignInCreate, SignOutPublic
from gateway.services.auth import AuthService

router = APIRouter(prefix="/auth", tags=["auth"])


def account_public(principal: Principal, ledger: Ledger | None = None) -> AccountPublic:
    """A principal as its public schema (with its yen balance if ``ledger`` is given)."""
    return AccountPublic(
        address=principal.address,
        organization=principal.organization,
        organization_kind=None if principal.org_kind is None else principal.org_kind.name.lower(),
        roles=sorted(role.value for role in principal.roles),
        registry_admin=principal.registry_admin,
        balance=None if ledger is None else ledger.token.balance_of(principal.address),
    )


def _nonce(state: StateDep) -> NoncePublic:
    issued = state.auth.issue_nonce()
    settings = state.settings
    return NoncePublic(
        nonce=issued.nonce,
        expires_at=AuthService.as_datetime(issued.expires_at),
        domain=settings.siwe_domain,
        uri=settings.siwe_uri,
        chain_id=state.ledger.chain_id,
        statement=settings.siwe_statement,
    )


@router.post("/nonce", response_model=NoncePublic, dependencies=[SignInRateLimit])
async def issue_nonce(state: StateDep) -> NoncePublic:
    """Issue a single-use sign-in nonce, with the domain, URI and chain id the message must name."""
    return _nonce(state)


@router.get("/nonce", response_model=NoncePublic, dependencies=[SignInRateLimit])
async def get_nonce(state: StateDep) -> NoncePublic:
    """Issue a single-use sign-in nonce (GET form, for wallets' SIWE libraries)."""
    return _nonce(state)


@router.post("/sign-in", response_model=SessionPublic, status_code=201, dependencies=[SignInRateLimit])
def sign_in(body: SignInCreate, state: StateDep, db: SessionDep) -> SessionPublic:
    """Verify a signed EIP-4361 message and open a session for its address."""
    try:
        signed = state.auth.sign_in(db, body.message, bytes.fromhex(body.signature[2:]), state.directory)
    except SignInFailed:
        state.metrics.sign_ins.labels("refused").inc()
        raise
    state.metrics.sign_ins.labels("ok").inc()
    return SessionPublic(
        token=signed.token,
        expires_at=AuthService.as_datetime(signed.expires_at),
        account=account_public(signed.principal),
    )


@router.post("/sign-out", response_model=SignOutPublic)
def sign_out(session: CurrentSession, state: StateDep, db: SessionDep) -> SignOutPublic:
    """End the current session."""
    state.auth.sign_out(db, session)
    return SignOutPublic()


@router.get("/me", response_model=AccountPublic)
def me(account: CurrentAccount, ledger: LedgerDep) -> AccountPublic:
    """The signed-in account: organization, active roles and yen balance."""
    return account_public(account, ledger)

"""Who an account is: its organization and active roles, from the registry as mirrored in SQL, or from the chain.

Looked up on every request (never cached past the current block or mirror state), so a revocation takes
effect as soon as the source sees it. ``Directory`` is the small interface; ``MirrorDirectory`` reads the
indexer's tables, ``ChainDirectory`` asks the registry contract, ``AutoDirectory`` uses the mirror once it
has synced this chain and the chain until then.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chain.clients import RegistryClient
from chain.roles import OrgKind, Role, org_code
from indexer.models import AccountRow, CursorRow, OrganizationRow, RoleMembership

__all__ = [
    "MINISTRY_ROLES",
    "AutoDirectory",
    "ChainDirectory",
    "Directory",
    "MirrorDirectory",
    "Principal",
]

MINISTRY_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.PROCUREMENT_OFFICER, Role.TREASURY})

# Which roles an account of each kind of organization can hold (the registry refuses any other grant).
_ROLES_OF_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.MINISTRY: (Role.MINISTRY_ADMIN, Role.PROCUREMENT_OFFICER, Role.TREASURY),
    OrgKind.SUPPLIER: (Role.SUPPLIER,),
    OrgKind.EVALUATION_BODY: (Role.EVALUATOR,),
    OrgKind.REVIEW_BODY: (Role.REVIEW_BODY,),
    OrgKind.AUDIT_BODY: (Role.AUDITOR,),
}
_KIND_BY_NAME = {kind.name.lower(): kind for kind in OrgKind}
_ROLE_BY_NAME = {role.value: role for role in Role}


@dataclass(frozen=True)
class Principal:
    """An account as the gateway sees it now: its organization and the roles it holds while that is active."""

    address: str
    organization: str | None
    org_kind: OrgKind | None
    roles: frozenset[Role]

    @property
    def known(self) -> bool:
        """True if the account holds at least one active role."""
        return bool(self.roles)

    def has(self, *roles: Role) -> bool:
        """True if the account holds any of ``roles``."""
        return any(role in self.roles for role in roles)

    @property
    def is_auditor(self) -> bool:
        """Auditors read everything."""
        return Role.AUDITOR in self.roles

    @property
    def is_ministry(self) -> bool:
        """An admin, officer or treasury account of a ministry."""
        return bool(self.roles & MINISTRY_ROLES)


class Directory(Protocol):
    """Looks accounts up."""

    def lookup(self, address: str) -> Principal:
        """The account's organization and active roles (no roles if unknown)."""
        ...


def _nobody(address: str) -> Principal:
    return Principal(address=address, organization=None, org_kind=None, roles=frozenset())


class ChainDirectory:
    """Asks the registry contract; answers are cached per block, so each request costs one block-number call."""

    def __init__(self, registry: RegistryClient, cache_size: int = 1024) -> None:
        self.registry = registry
        self._cache: OrderedDict[tuple[str, int], Principal] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def lookup(self, address: str) -> Principal:
        """The account's organization and active roles at the latest block."""
        address = str(to_checksum_address(address))
        block = int(self.registry.w3.eth.block_number)
        with self._lock:
            cached = self._cache.get((address, block))
        if cached is not None:
            return cached
        principal = self._fetch(address)
        with self._lock:
            self._cache[(address, block)] = principal
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return principal

    def _fetch(self, address: str) -> Principal:
        code = self.registry.organization_of(address)
        if code is None:
            return _nobody(address)
        organization = self.registry.organization(code)
        if organization is None:
            return _nobody(address)
        roles: frozenset[Role] = frozenset()
        if organization.active:
            roles = frozenset(
                role for role in _ROLES_OF_KIND.get(organization.kind, ()) if self.registry.has_role(role, address)
            )
        return Principal(address=address, organization=code, org_kind=organization.kind, roles=roles)


class MirrorDirectory:
    """Reads the indexer's mirror of the registry (organizations, accounts, role memberships)."""

    def __init__(self, engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.chain_id = chain_id

    def ready(self) -> bool:
        """True once the indexer has synced this chain at least once."""
        try:
            with Session(self.engine) as session:
                return session.get(CursorRow, self.chain_id) is not None
        except SQLAlchemyError:  # the indexer has not created its tables yet
            return False

    def lookup(self, address: str) -> Principal:
        """The account's organization and active roles as mirrored."""
        address = str(to_checksum_address(address))
        with Session(self.engine) as session:
            account = session.get(AccountRow, (self.chain_id, address))
            if account is None or account.org_id is None:
                return _nobody(address)
            organization = session.get(OrganizationRow, (self.chain_id, account.org_id))
            if organization is None:
                return _nobody(address)
            kind = _KIND_BY_NAME.get(organization.kind)
            roles: frozenset[Role] = frozenset()
            if organization.active:
                names = session.scalars(
                    select(RoleMembership.role_name).where(
                        RoleMembership.chain_id == self.chain_id, RoleMembership.account == address
                    )
                ).all()
                allowed = set(_ROLES_OF_KIND.get(kind, ())) if kind is not None else set()
                roles = frozenset(r for r in (_ROLE_BY_NAME.get(n) for n in names) if r is not None and r in allowed)
            code = organization.code or org_code(bytes.fromhex(account.org_id[2:]))
            return Principal(address=address, organization=code, org_kind=kind, roles=roles)


class AutoDirectory:
    """The mirror once it has synced this chain; the chain itself until then."""

    def __init__(self, mirror: MirrorDirectory, chain: ChainDirectory) -> None:
        self.mirror = mirror
        self.chain = chain
        self._mirror_ready = False

    def lookup(self, address: str) -> Principal:
        """Look up through whichever source is authoritative now."""
        if not self._mirror_ready:
            self._mirror_ready = self.mirror.ready()
        return (self.mirror if self._mirror_ready else self.chain).lookup(address)

"""Who an account is: its organization and active roles, from the registry as mirrored in SQL, or from the chain.

Looked up on every request and never cached past the current block or mirror version (no time-based expiry),
so a revocation takes effect as soon as the source sees it. ``Directory`` is the small interface;
``MirrorDirectory`` reads the indexer's tables, ``ChainDirectory`` asks the registry contract, ``AutoDirectory``
uses the mirror once it has synced this chain and the chain until then.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, and_, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from chain.clients import RegistryClient
from chain.roles import OrgKind, Role, org_code
from indexer.cursor import MirrorVersion, mirror_version
from indexer.models import AccountRow, OrganizationRow, RoleMembership

__all__ = [
    "MINISTRY_ROLES",
    "AutoDirectory",
    "ChainDirectory",
    "Directory",
    "MirrorDirectory",
    "MirrorVersion",
    "Principal",
    "mirror_version",
]

MINISTRY_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.PROCUREMENT_OFFICER, Role.TREASURY})

# Which roles an account of each kind of organization can hold (the registry refuses any other grant).
_ROLES_OF_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.MINISTRY: (Role.MINISTRY_ADMIN, Role.PROCUREMENT_OFFICER, Role.TREASURY),
    OrgKind.SUPPLIER: (Role.SUPPLIER,),
    OrgKind.EVALUATION_BODY: (Role.EVALUATOR,),
    OrgKind.REVIEW_BODY: (Role.REVIEW_BODY,),
    OrgKind.AUDIT_BODY: (Role.AUDITOR,),
    OrgKind.FINANCE_AUTHORITY: (Role.FINANCE_AUTHORITY,),
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
    # Holds the registry's DEFAULT_ADMIN_ROLE: registers organizations, binds accounts, grants every role. Not a
    # ``Role`` (no organization holds it): it lets the account sign the registry's acts and read the registry.
    registry_admin: bool = False

    @property
    def known(self) -> bool:
        """True if the account holds at least one active role, or is the registry admin."""
        return bool(self.roles) or self.registry_admin

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

    def lookup(self, address: str, mirror: MirrorVersion | None = None) -> Principal:
        """The account's organization and active roles (no roles if unknown).

        ``mirror`` is the mirror's version if the caller has just read it (saves reading it again).
        """
        ...

    def cached(self, address: str, mirror: MirrorVersion | None) -> Principal | None:
        """What ``lookup`` would answer, if it is known without any I/O; else None."""
        ...

    def from_mirror(self, address: str, mirror: MirrorVersion) -> Principal | None:
        """What ``lookup`` would answer, read from the SQL mirror at ``mirror`` (lookups by key, no other I/O);
        None if this directory does not answer from the mirror."""
        ...


def _nobody(address: str) -> Principal:
    return Principal(address=address, organization=None, org_kind=None, roles=frozenset())


_Key = TypeVar("_Key")


class _Answers(Generic[_Key]):
    """A directory's answers by key, the oldest forgotten past ``size``; safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._answers: OrderedDict[_Key, Principal] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: _Key) -> Principal | None:
        with self._lock:
            return self._answers.get(key)

    def put(self, key: _Key, principal: Principal) -> None:
        with self._lock:
            self._answers[key] = principal
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)


class ChainDirectory:
    """Asks the registry contract; answers are cached per block, so each request costs one block-number call."""

    def __init__(self, registry: RegistryClient, cache_size: int = 1024) -> None:
        self.registry = registry
        self._answers: _Answers[tuple[str, int]] = _Answers(cache_size)

    def lookup(self, address: str, mirror: MirrorVersion | None = None) -> Principal:
        """The account's organization and active roles at the latest block (``mirror`` is not used)."""
        address = str(to_checksum_address(address))
        block = self.registry.rpc.block_number()
        if (cached := self._answers.get((address, block))) is not None:
            return cached
        principal = self._fetch(address)
        self._answers.put((address, block), principal)
        return principal

    def cached(self, address: str, mirror: MirrorVersion | None) -> Principal | None:
        """Never known without asking the chain for its latest block."""
        return None

    def from_mirror(self, address: str, mirror: MirrorVersion) -> Principal | None:
        """Never: this directory asks the chain."""
        return None

    def _fetch(self, address: str) -> Principal:
        admin = self.registry.is_admin(address)
        code = self.registry.organization_of(address)
        organization = None if code is None else self.registry.organization(code)
        if code is None or organization is None:
            return replace(_nobody(address), registry_admin=admin)
        roles: frozenset[Role] = frozenset()
        if organization.active:
            roles = frozenset(
                role for role in _ROLES_OF_KIND.get(organization.kind, ()) if self.registry.has_role(role, address)
            )
        return Principal(
            address=address, organization=code, org_kind=organization.kind, roles=roles, registry_admin=admin
        )


_accounts = AccountRow.__table__
_organizations = OrganizationRow.__table__
_memberships = RoleMembership.__table__


class MirrorDirectory:
    """Reads the indexer's mirror of the registry (organizations, accounts, role memberships).

    Answers are cached per (mirror version, address): one small query for the version per lookup (none when
    the caller passes it), and one query for the account when the version has changed since.
    """

    def __init__(self, engine: Engine, chain_id: int, cache_size: int = 4096) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self._answers: _Answers[tuple[MirrorVersion, str]] = _Answers(cache_size)
        self._query = (
            select(
                _accounts.c.org_id,
                _organizations.c.code,
                _organizations.c.kind,
                _organizations.c.active,
                _memberships.c.role_name,
            )
            .select_from(_accounts)
            .outerjoin(
                _organizations,
                and_(_organizations.c.chain_id == _accounts.c.chain_id, _organizations.c.org_id == _accounts.c.org_id),
            )
            .outerjoin(
                _memberships,
                and_(_memberships.c.chain_id == _accounts.c.chain_id, _memberships.c.account == _accounts.c.account),
            )
            .where(_accounts.c.chain_id == chain_id, _accounts.c.account == bindparam("address"))
        )
        # The registry admin is bound to no organization (the constructor grants it the role): asked apart.
        self._admin_query = select(_memberships.c.account).where(
            _memberships.c.chain_id == chain_id,
            _memberships.c.role_name == "DEFAULT_ADMIN_ROLE",
            _memberships.c.account == bindparam("address"),
        )

    def ready(self) -> bool:
        """True once the indexer has synced this chain at least once."""
        try:
            with self.engine.connect() as conn:
                return mirror_version(conn, self.chain_id) is not None
        except SQLAlchemyError:  # the indexer has not created its tables yet
            return False

    def lookup(self, address: str, mirror: MirrorVersion | None = None) -> Principal:
        """The account's organization and active roles as mirrored (at ``mirror``, if given)."""
        address = str(to_checksum_address(address))
        if (cached := self.cached(address, mirror)) is not None:
            return cached
        with self.engine.connect() as conn:
            version = mirror if mirror is not None else mirror_version(conn, self.chain_id)
            if mirror is None and (cached := self.cached(address, version)) is not None:
                return cached
            principal = self._fetch(conn, address)
        if version is not None:
            # Read at or after ``version``, so never older than what a request that saw ``version`` may see.
            self._answers.put((version, address), principal)
        return principal

    def cached(self, address: str, mirror: MirrorVersion | None) -> Principal | None:
        """The answer already read at ``mirror`` (None if not, or without a version)."""
        return None if mirror is None else self._answers.get((mirror, address))

    def from_mirror(self, address: str, mirror: MirrorVersion) -> Principal:
        """``lookup`` at a known version."""
        return self.lookup(address, mirror)

    def _fetch(self, conn: Connection, address: str) -> Principal:
        rows = conn.execute(self._query, {"address": address}).all()
        admin = conn.execute(self._admin_query, {"address": address}).first() is not None
        if not rows or rows[0].org_id is None or rows[0].kind is None:
            return replace(_nobody(address), registry_admin=admin)
        first = rows[0]
        kind = _KIND_BY_NAME.get(first.kind)
        roles: frozenset[Role] = frozenset()
        if first.active:
            allowed = set(_ROLES_OF_KIND.get(kind, ())) if kind is not None else set()
            named = (_ROLE_BY_NAME.get(row.role_name) for row in rows if row.role_name is not None)
            roles = frozenset(role for role in named if role is not None and role in allowed)
        code = first.code or org_code(bytes.fromhex(first.org_id[2:]))
        return Principal(address=address, organization=code, org_kind=kind, roles=roles, registry_admin=admin)


class AutoDirectory:
    """The mirror once it has synced this chain; the chain itself until then."""

    def __init__(self, mirror: MirrorDirectory, chain: ChainDirectory) -> None:
        self.mirror = mirror
        self.chain = chain
        self._mirror_ready = False

    def lookup(self, address: str, mirror: MirrorVersion | None = None) -> Principal:
        """Look up through whichever source is authoritative now (a known ``mirror`` version means the mirror)."""
        if not self._mirror_ready:
            self._mirror_ready = mirror is not None or self.mirror.ready()
        if self._mirror_ready:
            return self.mirror.lookup(address, mirror)
        return self.chain.lookup(address)

    def cached(self, address: str, mirror: MirrorVersion | None) -> Principal | None:
        """The mirror's cached answer at ``mirror`` (a version means the mirror is authoritative)."""
        return self.mirror.cached(address, mirror)

    def from_mirror(self, address: str, mirror: MirrorVersion) -> Principal:
        """The mirror's answer (a version means the mirror has synced this chain)."""
        self._mirror_ready = True
        return self.mirror.lookup(address, mirror)

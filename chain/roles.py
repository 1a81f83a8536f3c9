"""Role and organization identifiers, matching contracts/libraries/Roles.sol and IAccessRegistry.OrgKind."""

from __future__ import annotations

import enum
from functools import cache

from chain.errors import ConfigurationError

__all__ = ["DEFAULT_ADMIN_ROLE", "OrgKind", "Role", "org_code", "org_id"]

DEFAULT_ADMIN_ROLE = b"\x00" * 32


class OrgKind(enum.IntEnum):
    """IAccessRegistry.OrgKind."""

    NONE = 0
    MINISTRY = 1
    SUPPLIER = 2
    EVALUATION_BODY = 3
    REVIEW_BODY = 4
    AUDIT_BODY = 5
    FINANCE_AUTHORITY = 6


class Role(enum.Enum):
    """The ledger's roles; ``.id`` is the bytes32 role identifier."""

    MINISTRY_ADMIN = "MINISTRY_ADMIN_ROLE"
    PROCUREMENT_OFFICER = "PROCUREMENT_OFFICER_ROLE"
    TREASURY = "TREASURY_ROLE"
    SUPPLIER = "SUPPLIER_ROLE"
    EVALUATOR = "EVALUATOR_ROLE"
    REVIEW_BODY = "REVIEW_BODY_ROLE"
    AUDITOR = "AUDITOR_ROLE"
    FINANCE_AUTHORITY = "FINANCE_AUTHORITY_ROLE"

    @property
    def id(self) -> bytes:
        """keccak256 of the role's name, as in Roles.sol."""
        return _role_ids()[self]

    @classmethod
    def from_id(cls, role_id: bytes) -> Role | None:
        """The role with this id, or None (e.g. for DEFAULT_ADMIN_ROLE)."""
        return _roles_by_id().get(bytes(role_id))


# Hashed on first use: importing this module (as the signed-action declarations and so `procure --help` do)
# must not load the hashing code.
@cache
def _role_ids() -> dict[Role, bytes]:
    from chain.signing import keccak

    return {role: keccak(role.value.encode("utf-8")) for role in Role}


@cache
def _roles_by_id() -> dict[bytes, Role]:
    return {role_id: role for role, role_id in _role_ids().items()}


def org_id(code: str) -> bytes:
    """The bytes32 id of an organization code such as ``MOD``: the ASCII code (at most 16), zero-padded."""
    raw = code.encode("ascii", errors="strict") if code.isascii() else b""
    if not raw or len(raw) > 16 or b"\x00" in raw:
        raise ConfigurationError(f"organization code must be 1 to 16 ASCII characters, got {code!r}")
    return raw.ljust(32, b"\x00")


def org_code(org: bytes) -> str:
    """The code back from a bytes32 organization id."""
    return bytes(org).rstrip(b"\x00").decode("ascii", errors="replace")

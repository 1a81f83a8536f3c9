"""EIP-712 typed data for the escrow's signed actions (the ``...BySig`` functions), and for the budget office's.

``typed_data(...)`` returns the full message a wallet signs with ``eth_signTypedData_v4`` and eth-account
signs with ``Account.sign_typed_data(full_message=...)``. The nonce is the signer's registry nonce; the
domain binds the chain id and the escrow's address. One action, ``InvalidateNonces``, is the registry's own:
its domain is named ``ProcurementRegistry`` and binds the registry's address (pass it as ``escrow``).

The budget acts (``BUDGET_ACTION_TYPES``) are signed under the domain ``ProcurementBudget`` bound to the budget
office's address; their fields nest structs (line and item keys, a transfer request, an authority's terms), so
they are hashed by eth-account's generic encoder (``budget_typed_data``, ``sign_budget_action``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.errors import SignatureError

__all__ = [
    "ACTION_TYPES",
    "BUDGET_ACTION_TYPES",
    "BUDGET_DOMAIN_NAME",
    "BUDGET_STRUCT_TYPES",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "REGISTRY_DOMAIN_NAME",
    "Action",
    "action_digest",
    "budget_typed_data",
    "domain_name",
    "recover_action_signer",
    "recover_signer",
    "sign_action",
    "sign_budget_action",
    "typed_data",
]

_checksum = lru_cache(maxsize=65_536)(to_checksum_address)

DOMAIN_NAME = "ProcurementEscrow"
DOMAIN_VERSION = "1"
REGISTRY_DOMAIN_NAME = "ProcurementRegistry"

_TAIL = [{"name": "nonce", "type": "uint256"}, {"name": "deadline", "type": "uint256"}]
# An amendment's full content, which an approval or a supplier's consent names.
_AMENDMENT_CONTENT = [
    {"name": "milestoneId", "type": "uint256"},
    {"name": "kind", "type": "uint8"},
    {"name": "newAmount", "type": "uint256"},
    {"name": "newDueDate", "type": "uint64"},
    {"name": "rationaleHash", "type": "bytes32"},
]

# Field lists in the exact order of MilestoneEscrow's type hashes.
ACTION_TYPES: dict[str, list[dict[str, str]]] = {
    "Fund": [{"name": "amount", "type": "uint256"}, *_TAIL],
    "SubmitEvidence": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "documentHash", "type": "bytes32"},
        {"name": "uri", "type": "string"},
        *_TAIL,
    ],
    "Attest": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "round", "type": "uint256"},
        {"name": "pass", "type": "bool"},
        {"name": "reportHash", "type": "bytes32"},
        *_TAIL,
    ],
    "Reclaim": [{"name": "milestoneId", "type": "uint256"}, *_TAIL],
    "ProposeAmendment": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "kind", "type": "uint8"},
        {"name": "newAmount", "type": "uint256"},
        {"name": "newDueDate", "type": "uint64"},
        {"name": "rationaleHash", "type": "bytes32"},
        *_TAIL,
    ],
    "ApproveAmendment": [{"name": "amendmentId", "type": "uint256"}, *_AMENDMENT_CONTENT, *_TAIL],
    "ConsentToAmendment": [{"name": "amendmentId", "type": "uint256"}, *_AMENDMENT_CONTENT, *_TAIL],
    "OpenDispute": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "reasonHash", "type": "bytes32"},
        *_TAIL,
    ],
    "SettleDispute": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "supplierAmount", "type": "uint256"},
        {"name": "rulingHash", "type": "bytes32"},
        *_TAIL,
    ],
    "RedirectOwed": [
        {"name": "milestoneId", "type": "uint256"},
        {"name": "to", "type": "address"},
        {"name": "rulingHash", "type": "bytes32"},
        *_TAIL,
    ],
    "InvalidateNonces": [{"name": "newNonce", "type": "uint256"}, *_TAIL],
}

# Which escrow function relays each action, and the order of its leading arguments.
_FUNCTIONS: dict[str, str] = {
    "Fund": "fundBySig",
    "SubmitEvidence": "submitEvidenceBySig",
    "Attest": "attestBySig",
    "Reclaim": "reclaimBySig",
    "ProposeAmendment": "proposeAmendmentBySig",
    "ApproveAmendment": "approveAmendmentBySig",
    "OpenDispute": "openDisputeBySig",
    "SettleDispute": "settleDisputeBySig",
    "ConsentToAmendment": "consentToAmendmentBySig",
    "RedirectOwed": "redirectOwedBySig",
    "InvalidateNonces": "invalidateNoncesBySig",
}

# The signing domain's name per action type: the escrow's, except for the registry's own action.
_DOMAIN_NAMES: dict[str, str] = {"InvalidateNonces": REGISTRY_DOMAIN_NAME}


def domain_name(primary_type: str) -> str:
    """The EIP-712 domain name an action of this type is signed under."""
    return _DOMAIN_NAMES.get(primary_type, DOMAIN_NAME)


@dataclass(frozen=True)
class Action:
    """One signed action: its type, fields (without nonce and deadline), nonce and deadline."""

    primary_type: str
    fields: dict[str, Any]
    nonce: int
    deadline: int

    @property
    def function_name(self) -> str:
        """The escrow function that relays this action."""
        return _FUNCTIONS[self.primary_type]

    def call_args(self, signer: str, signature: bytes) -> list[Any]:
        """Arguments for the ``...BySig`` function: the fields in order, then signer, deadline, signature."""
        names = [f["name"] for f in ACTION_TYPES[self.primary_type] if f["name"] not in ("nonce", "deadline")]
        return [*(self.fields[n] for n in names), _checksum(signer), self.deadline, signature]


def _check_fields(action: Action) -> None:
    if action.primary_type not in ACTION_TYPES:
        raise SignatureError(f"unknown action type {action.primary_type!r}")
    expected = {f["name"] for f in ACTION_TYPES[action.primary_type]} - {"nonce", "deadline"}
    if set(action.fields) != expected:
        missing, extra = expected - set(action.fields), set(action.fields) - expected
        raise SignatureError(
            f"{action.primary_type} fields wrong: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )


def typed_data(action: Action, *, chain_id: int, escrow: str) -> dict[str, Any]:
    """The full EIP-712 message for ``action`` on ``escrow`` at ``chain_id``."""
    _check_fields(action)
    message = {**action.fields, "nonce": action.nonce, "deadline": action.deadline}
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            action.primary_type: ACTION_TYPES[action.primary_type],
        },
        "primaryType": action.primary_type,
        "domain": {
            "name": domain_name(action.primary_type),
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": _checksum(escrow),
        },
        "message": message,
    }


def sign_action(account: LocalAccount, action: Action, *, chain_id: int, escrow: str) -> bytes:
    """Sign ``action`` with a local key (what a wallet's eth_signTypedData_v4 does)."""
    signed = account.sign_typed_data(full_message=typed_data(action, chain_id=chain_id, escrow=escrow))
    return bytes(signed.signature)


def recover_signer(message: dict[str, Any], signature: bytes) -> str:
    """The address that signed the full typed-data ``message``."""
    try:
        return str(Account.recover_message(encode_typed_data(full_message=message), signature=signature))
    except Exception as exc:
        raise SignatureError(f"cannot recover a signer: {exc}") from exc


# The hashing of EIP-712 for our fixed types, done directly: the type hashes once, the domain separator once
# per escrow, and per action only its fields (eth-account's generic encode_typed_data parses the whole typed
# data again each time). Checked against eth-account for every action type in tests/chain/test_eip712.py.
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_TYPE_HASHES: dict[str, bytes] = {
    name: keccak(text=f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})")
    for name, fields in ACTION_TYPES.items()
}


@lru_cache(maxsize=65_536)
def _domain_separator(chain_id: int, escrow: str, name: str = DOMAIN_NAME) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(text=name)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(_checksum(escrow)[2:])
    )


def _encode_value(kind: str, name: str, value: Any) -> bytes:
    """One field's 32-byte EIP-712 encoding; SignatureError for a value its type cannot hold."""
    if kind.startswith("uint"):
        bits = int(kind[4:])
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
            raise SignatureError(f"{name}: {value!r} is not a {kind}")
        return int(value).to_bytes(32, "big")
    if kind == "address":
        if not isinstance(value, str):
            raise SignatureError(f"{name}: {value!r} is not an address")
        try:
            return bytes(12) + bytes.fromhex(_checksum(value)[2:])
        except ValueError:
            raise SignatureError(f"{name}: {value!r} is not an address") from None
    if kind == "bool":
        if not isinstance(value, bool):
            raise SignatureError(f"{name}: {value!r} is not a bool")
        return int(value).to_bytes(32, "big")
    if kind == "bytes32":
        if isinstance(value, str) and value[:2] in ("0x", "0X"):
            try:
                value = bytes.fromhex(value[2:])
            except ValueError:
                raise SignatureError(f"{name}: {value!r} is not hex") from None
        if not isinstance(value, bytes | bytearray) or len(value) > 32:
            raise SignatureError(f"{name}: {value!r} is not a bytes32")
        return bytes(value).ljust(32, b"\0")
    if kind == "string":
        if not isinstance(value, str):
            raise SignatureError(f"{name}: {value!r} is not a string")
        return keccak(value.encode("utf-8"))
    raise SignatureError(f"{name}: unsupported EIP-712 type {kind}")  # pragma: no cover - ACTION_TYPES only


def _struct_hash(action: Action) -> bytes:
    _check_fields(action)
    values = {**action.fields, "nonce": action.nonce, "deadline": action.deadline}
    encoded = b"".join(
        _encode_value(f["type"], f["name"], values[f["name"]]) for f in ACTION_TYPES[action.primary_type]
    )
    return keccak(_TYPE_HASHES[action.primary_type] + encoded)


def action_digest(action: Action, *, chain_id: int, escrow: str) -> bytes:
    """The EIP-712 digest a wallet signs for ``action``: keccak256(0x1901 || domain separator || struct hash)."""
    separator = _domain_separator(chain_id, escrow, domain_name(action.primary_type))
    return keccak(b"\x19\x01" + separator + _struct_hash(action))


def recover_action_signer(action: Action, signature: bytes, *, chain_id: int, escrow: str) -> str:
    """The address that signed ``action`` for ``escrow`` at ``chain_id`` (same result as ``recover_signer``)."""
    separator = _domain_separator(chain_id, escrow, domain_name(action.primary_type))
    signable = SignableMessage(b"\x01", separator, _struct_hash(action))
    try:
        return str(Account.recover_message(signable, signature=signature))
    except Exception as exc:
        raise SignatureError(f"cannot recover a signer: {exc}") from exc


# ---------------------------------------------------------------------------------------------- budget acts

BUDGET_DOMAIN_NAME = "ProcurementBudget"

_LINE_KEY = [
    {"name": "fiscalYear", "type": "uint16"},
    {"name": "ministry", "type": "bytes32"},
    {"name": "organization", "type": "bytes32"},
    {"name": "item", "type": "bytes32"},
    {"name": "subItem", "type": "bytes32"},
]
# The structs budget acts nest, as BudgetOffice's type strings declare them.
BUDGET_STRUCT_TYPES: dict[str, list[dict[str, str]]] = {
    "LineKey": _LINE_KEY,
    "ItemKey": _LINE_KEY[:4],
    "TransferRequest": [
        {"name": "from", "type": "LineKey"},
        {"name": "to", "type": "LineKey"},
        {"name": "amount", "type": "uint256"},
        {"name": "rationaleHash", "type": "bytes32"},
    ],
    "AuthorityTerms": [
        {"name": "line", "type": "LineKey"},
        {"name": "ceiling", "type": "uint256"},
        {"name": "schedule", "type": "uint256[]"},
    ],
}
# The pending transfer an approval, refusal or withdrawal names in full.
_PENDING_TRANSFER = [
    {"name": "transferId", "type": "uint256"},
    {"name": "request", "type": "TransferRequest"},
    {"name": "requester", "type": "address"},
    {"name": "requestedAt", "type": "uint64"},
]
# Field lists in the exact order of BudgetOffice's type hashes; the relaying function is ``<name>BySig`` with the
# first letter lowered (``EnactAppropriation`` -> ``enactAppropriationBySig``).
BUDGET_ACTION_TYPES: dict[str, list[dict[str, str]]] = {
    "EnactAppropriation": [
        {"name": "key", "type": "ItemKey"},
        {"name": "act", "type": "uint8"},
        {"name": "amount", "type": "int256"},
        {"name": "authorizations", "type": "uint8"},
        {"name": "instrumentHash", "type": "bytes32"},
        *_TAIL,
    ],
    "EnactAuthority": [
        {"name": "authorityId", "type": "bytes32"},
        {"name": "terms", "type": "AuthorityTerms"},
        {"name": "instrumentHash", "type": "bytes32"},
        *_TAIL,
    ],
    "ApproveCarryOver": [
        {"name": "line", "type": "LineKey"},
        {"name": "kind", "type": "uint8"},
        {"name": "amount", "type": "uint256"},
        {"name": "reasonHash", "type": "bytes32"},
        *_TAIL,
    ],
    "CloseFiscalYear": [{"name": "fiscalYear", "type": "uint16"}, *_TAIL],
    "Distribute": [{"name": "line", "type": "LineKey"}, {"name": "change", "type": "int256"}, *_TAIL],
    "GrantAccess": [
        {"name": "line", "type": "LineKey"},
        {"name": "grantee", "type": "bytes32"},
        {"name": "kind", "type": "uint8"},
        {"name": "cap", "type": "uint256"},
        {"name": "expiresAt", "type": "uint64"},
        *_TAIL,
    ],
    "RevokeAccess": [{"name": "line", "type": "LineKey"}, {"name": "grantee", "type": "bytes32"}, *_TAIL],
    "IncreaseObligation": [{"name": "escrow", "type": "address"}, {"name": "amount", "type": "uint256"}, *_TAIL],
    "RequestTransfer": [{"name": "request", "type": "TransferRequest"}, *_TAIL],
    "ApproveTransfer": [*_PENDING_TRANSFER, *_TAIL],
    "RefuseTransfer": [*_PENDING_TRANSFER, {"name": "reasonHash", "type": "bytes32"}, *_TAIL],
    "WithdrawTransfer": [*_PENDING_TRANSFER, *_TAIL],
}


def _struct_dependencies(fields: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for field in fields:
        name = field["type"].removesuffix("[]")
        if name in BUDGET_STRUCT_TYPES and name not in found:
            found[name] = BUDGET_STRUCT_TYPES[name]
            found.update(_struct_dependencies(BUDGET_STRUCT_TYPES[name]))
    return found


def budget_typed_data(action: Action, *, chain_id: int, office: str) -> dict[str, Any]:
    """The full EIP-712 message for a budget act relayed by the budget ``office`` at ``chain_id``; nested structs
    (``LineKey``, ``TransferRequest`` ...) are dicts of their fields."""
    fields = BUDGET_ACTION_TYPES.get(action.primary_type)
    if fields is None:
        raise SignatureError(f"unknown budget act {action.primary_type!r}")
    expected = {f["name"] for f in fields} - {"nonce", "deadline"}
    if set(action.fields) != expected:
        missing, extra = expected - set(action.fields), set(action.fields) - expected
        raise SignatureError(
            f"{action.primary_type} fields wrong: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            action.primary_type: fields,
            **_struct_dependencies(fields),
        },
        "primaryType": action.primary_type,
        "domain": {
            "name": BUDGET_DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": _checksum(office),
        },
        "message": {**action.fields, "nonce": action.nonce, "deadline": action.deadline},
    }


def sign_budget_action(account: LocalAccount, action: Action, *, chain_id: int, office: str) -> bytes:
    """Sign a budget act with a local key (what a wallet's eth_signTypedData_v4 does)."""
    try:
        signed = account.sign_typed_data(full_message=budget_typed_data(action, chain_id=chain_id, office=office))
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError(f"{action.primary_type}: cannot encode: {exc}") from exc
    return bytes(signed.signature)

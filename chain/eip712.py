"""EIP-712 typed data of the signed actions declared in ``chain/actions.py`` (the ``...BySig`` functions).

``typed_data(...)`` returns the full message a wallet signs with ``eth_signTypedData_v4`` and eth-account
signs with ``Account.sign_typed_data(full_message=...)``. The nonce is the signer's registry nonce; the
domain is the action's contract's (``ActionType.contract``) and binds the chain id and the address of the
contract acted on, given as ``escrow`` (the procurement's escrow, for an escrow action; the budget office, for a
budget act). A field that nests a struct takes a mapping of the struct's fields; an array, a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.actions import ACTIONS, MILESTONE_ESCROW, ActionField, ActionType, SignedContract, StructType
from chain.errors import SignatureError

__all__ = [
    "ACTION_TYPES",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "Action",
    "action_digest",
    "recover_action_signer",
    "recover_signer",
    "sign_action",
    "typed_data",
]

_checksum = lru_cache(maxsize=65_536)(to_checksum_address)

# The escrow's domain, by the names the contract tests use.
DOMAIN_NAME = MILESTONE_ESCROW.domain_name
DOMAIN_VERSION = MILESTONE_ESCROW.domain_version

# Each action's EIP-712 field list (nonce and deadline included), in the order of its contract's type hash (the
# structs it nests are in its declaration: ``ActionType.struct_types``).
ACTION_TYPES: dict[str, list[dict[str, str]]] = {name: action.eip712_types for name, action in ACTIONS.items()}

_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class Action:
    """One signed action: its type, fields (without nonce and deadline), nonce and deadline."""

    primary_type: str
    fields: dict[str, Any]
    nonce: int
    deadline: int

    @property
    def declaration(self) -> ActionType:
        """The action's declaration (SignatureError for an unknown type)."""
        declared = ACTIONS.get(self.primary_type)
        if declared is None:
            raise SignatureError(f"unknown action type {self.primary_type!r}")
        return declared

    @property
    def function_name(self) -> str:
        """The contract function that relays this action."""
        return self.declaration.function

    def call_args(self, signer: str, signature: bytes) -> list[Any]:
        """Arguments for the ``...BySig`` function: the fields in order (a struct as its tuple), then signer,
        deadline, signature."""
        values = self.declaration.call_values(self.fields)
        return [*values, _checksum(signer), self.deadline, signature]


def _check_names(where: str, fields: tuple[ActionField, ...], values: Any) -> None:
    """SignatureError unless ``values`` has exactly the declared fields (nested structs too)."""
    if not isinstance(values, dict) or len(values) != len(fields) or not all(f.name in values for f in fields):
        given = set(values) if isinstance(values, dict) else set()
        expected = {f.name for f in fields}
        missing, extra = expected - given, given - expected
        raise SignatureError(f"{where} fields wrong: missing {sorted(missing)}, unexpected {sorted(extra)}")
    for field in fields:
        if field.struct is not None:
            _check_names(f"{where}.{field.name}", field.struct.fields, values[field.name])


def _checked(action: Action) -> ActionType:
    """The action's declaration, once its fields are exactly the declared ones."""
    declared = action.declaration
    _check_names(action.primary_type, declared.fields, action.fields)
    return declared


def typed_data(action: Action, *, chain_id: int, escrow: str) -> dict[str, Any]:
    """The full EIP-712 message for ``action`` on the contract at ``escrow`` at ``chain_id``."""
    declared = _checked(action)
    message = {**action.fields, "nonce": action.nonce, "deadline": action.deadline}
    return {
        "types": {
            "EIP712Domain": _DOMAIN_TYPES,
            action.primary_type: declared.eip712_types,
            **{name: [{"name": f.name, "type": f.type} for f in s.fields] for name, s in declared.struct_types.items()},
        },
        "primaryType": action.primary_type,
        "domain": {
            "name": declared.contract.domain_name,
            "version": declared.contract.domain_version,
            "chainId": chain_id,
            "verifyingContract": _checksum(escrow),
        },
        "message": message,
    }


def sign_action(account: LocalAccount, action: Action, *, chain_id: int, escrow: str) -> bytes:
    """Sign ``action`` with a local key (what a wallet's eth_signTypedData_v4 does)."""
    message = typed_data(action, chain_id=chain_id, escrow=escrow)
    try:
        signed = account.sign_typed_data(full_message=message)
    except Exception as exc:  # eth-account's own errors for a value its type cannot hold
        raise SignatureError(f"{action.primary_type}: cannot encode: {exc}") from exc
    return bytes(signed.signature)


def recover_signer(message: dict[str, Any], signature: bytes) -> str:
    """The address that signed the full typed-data ``message``."""
    try:
        return str(Account.recover_message(encode_typed_data(full_message=message), signature=signature))
    except Exception as exc:
        raise SignatureError(f"cannot recover a signer: {exc}") from exc


# The hashing of EIP-712 for our fixed types, done directly: the type hashes once, the domain separator once
# per contract, and per action only its fields (eth-account's generic encode_typed_data parses the whole typed
# data again each time). Checked against eth-account for every action type in tests/chain/test_eip712.py.
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


@cache
def _type_hash(declared: ActionType | StructType) -> bytes:
    return keccak(text=declared.encode_type)


@lru_cache(maxsize=65_536)
def _domain_separator(chain_id: int, address: str, contract: SignedContract) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(text=contract.domain_name)
        + keccak(text=contract.domain_version)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(_checksum(address)[2:])
    )


def _encode_value(kind: str, name: str, value: Any, structs: dict[str, StructType]) -> bytes:
    """One field's 32-byte EIP-712 encoding; SignatureError for a value its type cannot hold. ``structs``: the
    struct types the action nests, by name."""
    if kind.endswith("[]"):
        if not isinstance(value, list | tuple):
            raise SignatureError(f"{name}: {value!r} is not a list")
        element = kind[:-2]
        return keccak(b"".join(_encode_value(element, f"{name}[{i}]", v, structs) for i, v in enumerate(value)))
    struct = structs.get(kind)
    if struct is not None:
        if not isinstance(value, dict):
            raise SignatureError(f"{name}: {value!r} is not a {kind}")
        return _struct_hash(struct, name, value, structs)
    if kind.startswith("int"):
        half = 1 << (int(kind[3:]) - 1)
        if not isinstance(value, int) or isinstance(value, bool) or not -half <= value < half:
            raise SignatureError(f"{name}: {value!r} is not an {kind}")
        return int(value).to_bytes(32, "big", signed=True)
    if kind.startswith("uint"):
        bits = int(kind[4:])
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
            raise SignatureError(f"{name}: {value!r} is not a {kind}")
        return int(value).to_bytes(32, "big")
    if kind == "address":
        try:
            return bytes(12) + bytes.fromhex(_checksum(value)[2:])
        except (TypeError, ValueError):
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
    raise SignatureError(f"{name}: unsupported EIP-712 type {kind}")  # pragma: no cover - ACTIONS' types only


def _struct_hash(struct: StructType, name: str, value: dict[str, Any], structs: dict[str, StructType]) -> bytes:
    """EIP-712's ``hashStruct`` of a nested struct's ``value``."""
    if len(value) != len(struct.fields) or not all(f.name in value for f in struct.fields):
        raise SignatureError(f"{name}: the fields of a {struct.name} are {[f.name for f in struct.fields]}")
    encoded = b"".join(_encode_value(f.type, f"{name}.{f.name}", value[f.name], structs) for f in struct.fields)
    return keccak(_type_hash(struct) + encoded)


def _hashes(action: Action, chain_id: int, address: str) -> tuple[bytes, bytes]:
    """The domain separator and the struct hash of ``action`` on the contract at ``address``."""
    declared = _checked(action)
    values = {**action.fields, "nonce": action.nonce, "deadline": action.deadline}
    structs = declared.struct_types
    encoded = b"".join(_encode_value(f["type"], f["name"], values[f["name"]], structs) for f in declared.eip712_types)
    struct_hash = keccak(_type_hash(declared) + encoded)
    return _domain_separator(chain_id, address, declared.contract), struct_hash


def action_digest(action: Action, *, chain_id: int, escrow: str) -> bytes:
    """The EIP-712 digest a wallet signs for ``action``: keccak256(0x1901 || domain separator || struct hash)."""
    domain_separator, struct_hash = _hashes(action, chain_id, escrow)
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


def recover_action_signer(action: Action, signature: bytes, *, chain_id: int, escrow: str) -> str:
    """The address that signed ``action`` for the contract at ``escrow`` at ``chain_id`` (as ``recover_signer``)."""
    signable = SignableMessage(b"\x01", *_hashes(action, chain_id, escrow))
    try:
        return str(Account.recover_message(signable, signature=signature))
    except Exception as exc:
        raise SignatureError(f"cannot recover a signer: {exc}") from exc

"""EIP-712 typed data of the signed actions declared in ``chain/actions.py`` (the ``...BySig`` functions).

``typed_data(...)`` returns the full message a wallet signs with ``eth_signTypedData_v4`` (and eth-account
with ``Account.sign_typed_data(full_message=...)``); ``action_digest`` is what it signs, ``sign_action`` signs it
with a local key (chain/signing.py). The nonce is the signer's registry nonce; the
domain is the action's contract's (``ActionType.contract``) and binds the chain id and the address of the
contract acted on, given as ``escrow`` (the procurement's escrow, for an escrow action; the budget office, for a
budget act). A field that nests a struct takes a mapping of the struct's fields; an array, a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from chain.actions import ACTIONS, MILESTONE_ESCROW, ActionField, ActionType, SignedContract, StructType
from chain.errors import SignatureError
from chain.signing import KeyHolder, checksum_address, keccak, recover, signer_of

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
    "typed_data_digest",
]

_checksum = lru_cache(maxsize=65_536)(checksum_address)

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


def _types(declared: ActionType) -> dict[str, list[dict[str, str]]]:
    """The ``types`` member of a declared action's typed data: the domain's, the action's, the structs it nests."""
    return {
        "EIP712Domain": _DOMAIN_TYPES,
        declared.primary_type: declared.eip712_types,
        **{name: [{"name": f.name, "type": f.type} for f in s.fields] for name, s in declared.struct_types.items()},
    }


def typed_data(action: Action, *, chain_id: int, escrow: str) -> dict[str, Any]:
    """The full EIP-712 message for ``action`` on the contract at ``escrow`` at ``chain_id``."""
    declared = _checked(action)
    message = {**action.fields, "nonce": action.nonce, "deadline": action.deadline}
    return {
        "types": _types(declared),
        "primaryType": action.primary_type,
        "domain": {
            "name": declared.contract.domain_name,
            "version": declared.contract.domain_version,
            "chainId": chain_id,
            "verifyingContract": _checksum(escrow),
        },
        "message": message,
    }


def sign_action(account: KeyHolder, action: Action, *, chain_id: int, escrow: str) -> bytes:
    """Sign ``action`` with a local key (what a wallet's eth_signTypedData_v4 does)."""
    return signer_of(account).sign_digest(action_digest(action, chain_id=chain_id, escrow=escrow))


def _whole(value: Any, what: str) -> int:
    """A nonce, deadline or chain id of typed data: an integer, or one written as a decimal string."""
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SignatureError(f"typed data: {what} {value!r} is not a whole number")


def typed_data_digest(message: Mapping[str, Any]) -> bytes:
    """The digest of the full typed data of a declared action (``typed_data``'s, or the same as JSON), once its
    primary type, types and domain are exactly its declaration's: SignatureError naming what differs."""
    if not isinstance(message, Mapping) or not isinstance(message.get("message"), Mapping):
        raise SignatureError("typed data: no message")
    declared = Action(str(message.get("primaryType")), {}, 0, 0).declaration
    if message.get("types") != _types(declared):
        raise SignatureError(f"typed data: the types are not those of a {declared.primary_type}")
    domain = message.get("domain")
    if not isinstance(domain, Mapping) or set(domain) != {"name", "version", "chainId", "verifyingContract"}:
        raise SignatureError(f"typed data: the domain {domain!r} is not a contract's")
    contract = declared.contract
    if (domain["name"], domain["version"]) != (contract.domain_name, contract.domain_version):
        raise SignatureError(f"typed data: domain {domain['name']!r} {domain['version']!r} is not a {contract.name}")
    values = dict(message["message"])
    nonce, deadline = _whole(values.pop("nonce", None), "nonce"), _whole(values.pop("deadline", None), "deadline")
    action = Action(declared.primary_type, values, nonce, deadline)
    address = domain["verifyingContract"]
    if not isinstance(address, str):
        raise SignatureError(f"typed data: verifyingContract {address!r} is not an address")
    try:
        return action_digest(action, chain_id=_whole(domain["chainId"], "chainId"), escrow=address)
    except ValueError:  # the checksum of something that is not an address
        raise SignatureError(f"typed data: verifyingContract {address!r} is not an address") from None


def recover_signer(message: Mapping[str, Any], signature: bytes) -> str:
    """The address that signed the full typed data ``message`` of a declared action."""
    return _recovered(typed_data_digest(message), signature)


def _recovered(digest: bytes, signature: bytes) -> str:
    try:
        return recover(digest, bytes(signature))
    except ValueError as exc:
        raise SignatureError(f"cannot recover a signer: {exc}") from None


# The hashing of EIP-712 for our fixed types, done directly: the type hashes once, the domain separator once
# per contract, and per action only its fields (eth-account's generic encode_typed_data parses the whole typed
# data again each time). Checked against eth-account for every action type in tests/chain/test_eip712.py.
_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


@cache
def _type_hash(declared: ActionType | StructType) -> bytes:
    return keccak(declared.encode_type.encode("utf-8"))


@lru_cache(maxsize=65_536)
def _domain_separator(chain_id: int, address: str, contract: SignedContract) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(contract.domain_name.encode("utf-8"))
        + keccak(contract.domain_version.encode("utf-8"))
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
    if isinstance(value, str) and kind.startswith(("int", "uint")):
        digits = value[1:] if kind.startswith("int") and value[:1] == "-" else value
        if digits.isascii() and digits.isdecimal():
            value = int(value)  # typed data as JSON writes a 256-bit integer as a decimal string (wallets take it)
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
    return _recovered(action_digest(action, chain_id=chain_id, escrow=escrow), signature)

"""Signed actions: the request schemas of every declared action, what to sign, and what relaying it returned.

The schemas of each action follow from its declaration (``chain.ACTIONS``) at import: ``<Noun>Query`` holds
its fields and, optionally, the deadline to sign (the query of ``GET .../actions/<verb>``, which returns the
typed data to sign); ``<Noun>Create`` adds the deadline, the signature and, optionally, the nonce that was
signed (``POST .../actions/<verb>``). A field's API type follows from its kind (``_api_field``).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from chain import ACTIONS, ActionField, ActionType, FieldKind, StructType
from gateway.schemas.common import (
    Address,
    ApiModel,
    Bytes32,
    Signature,
    Uint64,
    Uint256,
    Yen,
    wide_integer,
)
from gateway.schemas.procurements import ProcurementStatePublic

__all__ = [
    "ACTION_SCHEMAS",
    "ActionPublic",
    "ActionSchemas",
    "BudgetActPublic",
    "RegistryActPublic",
    "RelayErrorPublic",
    "RelayPublic",
    "SignedAction",
    "TypedDataPublic",
    "action_schemas",
]


class SignedAction(ApiModel):
    """What every signed action carries besides its own fields."""

    deadline: Uint256 = Field(description="The signed deadline (unix time), as returned with the typed data.")
    signature: Signature = Field(description="The EIP-712 signature (eth_signTypedData_v4) of the typed data.")
    nonce: Uint256 | None = Field(
        default=None, description="The signed nonce; if given and not the current one, the request is refused as stale."
    )


# A budget code as its text (chain.roles.org_id): 1 to 16 printable ASCII characters.
Code = Annotated[str, Field(pattern=r"^[!-~]{1,16}$", description="A code of 1 to 16 ASCII characters, e.g. MOD.")]
_SMALL_NUMBERS: dict[str, Any] = {
    f"uint{bits}": Annotated[int, *wide_integer(2**bits - 1, str(2**bits - 1), f"A uint{bits}.")] for bits in (8, 16)
}


@cache
def _bounded_yen(maximum: int, signed: bool) -> Any:
    """Yen up to what the contract takes (``ActionField.maximum``); ``signed``: a change, negative for a cut."""
    what = "A change in yen (negative: a cut)." if signed else "An amount in yen (no minor unit)."
    return Annotated[int, *wide_integer(maximum, f"{maximum:,}".replace(",", ""), what, signed=signed)]


def _yen_type(field: ActionField) -> Any:
    signed = field.type.startswith("int")
    single = Yen if field.maximum is None and not signed else _bounded_yen(field.maximum or 2**255 - 1, signed)
    return list[single] if field.type.endswith("[]") else single  # type: ignore[valid-type]


@cache
def _struct_model(struct: StructType) -> type[ApiModel]:
    """The request model of a struct an action's field nests (one per struct: a line key is one schema)."""
    fields: dict[str, Any] = {_attribute(f.name): _api_field(f) for f in struct.fields}
    return create_model(struct.name, __base__=ApiModel, __doc__=f"A {struct.name}, field by field.", **fields)


def _api_field(field: ActionField) -> tuple[Any, Any]:
    """The API type of a declared field, and its default and documentation."""
    kind, default = field.kind, field.default
    if kind is FieldKind.STRUCT:
        assert field.struct is not None
        if field.from_transfer:
            description = (
                "The pending transfer's request; filled in from the mirror if left out, refused if it differs."
            )
            return _struct_model(field.struct) | None, Field(default=None, alias=field.name, description=description)
        return _struct_model(field.struct), Field(alias=field.name)
    if kind is FieldKind.DOCUMENT_URI:
        description = "Where to fetch it; defaults to the store's ni: URI."
        return str | None, Field(default=None, alias=field.name, max_length=field.max_length, description=description)
    if kind is FieldKind.DOCUMENT:
        description = "SHA-256 of the document, as returned by POST /evidence."
        return Bytes32, Field(alias=field.name, description=description)
    types: dict[FieldKind, Any] = {
        FieldKind.YEN: _yen_type(field) if kind is FieldKind.YEN else Yen,
        FieldKind.CODE: Code,
        FieldKind.ROUND: Uint256,
        FieldKind.FLAG: bool,
        FieldKind.ADDRESS: Address,
        FieldKind.HASH: Bytes32,
        FieldKind.CHOICE: Literal[field.choices],
        FieldKind.NUMBER: {"uint64": Uint64, "uint256": Uint256, **_SMALL_NUMBERS}.get(field.type),
        FieldKind.TIME: Uint64,
        FieldKind.ROLE: Literal[field.choices],
    }
    if (kind is FieldKind.NUMBER and types[kind] is None) or (kind is FieldKind.TIME and field.type != "uint64"):
        raise TypeError(f"{field.name}: no API type for {field.type} yet")  # pragma: no cover - a new declaration
    if field.stored:
        source = "the chain" if field.from_amendment else "the mirror's record of the pending transfer"
        description = f"The stored value; filled in from {source} if left out, refused if it differs."
        return types[kind] | None, Field(default=None, alias=field.name, description=description)
    return types[kind], Field(alias=field.name) if default is None else Field(default=default, alias=field.name)


def _attribute(name: str) -> str:
    """A field's Python name: snake_case of its camelCase name (a keyword gets a trailing underscore)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return snake + "_" if keyword.iskeyword(snake) else snake


@dataclass(frozen=True)
class ActionSchemas:
    """An action's request schemas, and how to read the action's words back from a request."""

    action: ActionType
    query: type[ApiModel]
    create: type[SignedAction]
    attributes: tuple[tuple[str, str], ...]  # (Python attribute, declared field name)
    document: str | None  # the Python attribute of the action's DOCUMENT field, if it has one

    def message(self, request: BaseModel) -> dict[str, Any]:
        """The EIP-712 message fields of a query or body (see ``ActionType.message``; a struct by its fields)."""
        return self.action.message({name: _words(getattr(request, attribute)) for attribute, name in self.attributes})


def _words(value: Any) -> Any:
    """A request's value as ``ActionType.message`` takes it: a nested struct model as a mapping by field name."""
    if isinstance(value, BaseModel):
        return {name: _words(getattr(value, attribute)) for attribute, name in _names(type(value))}
    return value


def _names(model: type[BaseModel]) -> list[tuple[str, str]]:
    return [(attribute, info.alias or attribute) for attribute, info in model.model_fields.items()]


def action_schemas(action: ActionType) -> ActionSchemas:
    """The request schemas of a declared action."""
    fields: dict[str, Any] = {_attribute(f.name): _api_field(f) for f in action.fields}
    deadline_to_sign = Field(
        default=None, description="Deadline to sign (unix time); default: chain time plus the configured TTL."
    )
    query = create_model(
        f"{action.noun}Query",
        __base__=ApiModel,
        __doc__=f"The query of GET ...: the {action.primary_type} fields, and optionally the deadline to sign.",
        **fields,
        deadline=(Uint256 | None, deadline_to_sign),
    )
    create = create_model(
        f"{action.noun}Create",
        __base__=SignedAction,
        __doc__=f"A signed {action.primary_type} action.",
        **fields,
    )
    document = next((_attribute(f.name) for f in action.fields if f.kind is FieldKind.DOCUMENT), None)
    attributes = tuple((_attribute(f.name), f.name) for f in action.fields)
    return ActionSchemas(action, query, create, attributes, document)


ACTION_SCHEMAS: dict[str, ActionSchemas] = {name: action_schemas(action) for name, action in ACTIONS.items()}


class TypedDataPublic(ApiModel):
    """The exact EIP-712 typed data to sign with eth_signTypedData_v4, and the values it binds."""

    action: str = Field(description="The EIP-712 primary type, e.g. Attest.")
    signer: Address = Field(description="The signed-in account, who must sign.")
    escrow: Address = Field(
        description="The contract the action is signed for: the escrow, the budget office or the registry."
    )
    chain_id: int
    nonce: Uint256 = Field(description="The signer's current registry nonce.")
    deadline: Uint256 = Field(description="Unix time after which the signature is refused.")
    typed_data: dict[str, Any] = Field(description="The full typed-data message (types, domain, primaryType, message).")


class RelayErrorPublic(ApiModel):
    """Why a relayed transaction reverted: the contract's custom error and its decoded arguments."""

    error: str | None = Field(description="The custom error's name (None if the revert could not be decoded).")
    args: dict[str, Any] = Field(default_factory=dict, description="The custom error's decoded arguments.")
    detail: str


class RelayPublic(ApiModel):
    """A relayed action: its transaction and whether it is mined yet.

    Without ``?wait=true`` the answer comes as soon as the transaction is sent (202, ``status`` pending);
    poll ``statusUrl`` until it is ``mined`` or ``reverted`` (a concurrent action changed the state first).
    """

    action: str
    signer: Address
    nonce: Uint256
    deadline: Uint256
    relayer: Address
    tx_hash: Bytes32
    status: Literal["pending", "mined", "reverted"] = Field(
        default="mined", description="pending until the receipt is in; then mined, or reverted (see error)."
    )
    status_url: str | None = Field(default=None, description="Where to poll the status of this relay.")
    block_number: int | None = Field(default=None, description="The block that mined it (None while pending).")
    final: bool = Field(
        default=False,
        description="True once its block is final by the chain's finality ('finality' in the deployment manifest): "
        "as soon as it is mined on a chain of immediate finality (QBFT), with that many blocks on top otherwise.",
    )
    gas_used: int | None = Field(default=None, description="Gas used (None while pending).")
    gas_limit: int | None = Field(default=None, description="The gas limit the relayer set.")
    error: RelayErrorPublic | None = Field(default=None, description="When reverted: why.")
    mirrored: bool | None = Field(default=None, description="With ?wait=true: whether the mirror has the block.")
    replayed: bool = Field(
        default=False,
        description="True if nothing was sent this time: the answer of an earlier request with this "
        "Idempotency-Key, or of the relay that carried this very signed action before.",
    )


class ActionPublic(RelayPublic):
    """A relayed action on a procurement; with ``?wait=true``, the procurement's state after it."""

    procurement_id: Bytes32
    escrow: Address
    state: ProcurementStatePublic | None = Field(
        default=None, description="With ?wait=true: the state read from the chain."
    )


class BudgetActPublic(RelayPublic):
    """A relayed budget act (with ``?wait=true``, ``mirrored`` says whether GET /budget/lines shows it yet)."""

    office: Address = Field(description="The budget office the act was relayed to.")


class RegistryActPublic(RelayPublic):
    """A relayed registry act (with ``?wait=true``, ``mirrored`` says whether the mirror has it)."""

    registry: Address = Field(description="The access registry the act was relayed to.")

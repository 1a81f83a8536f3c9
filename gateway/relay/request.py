"""What a signer asks the gateway to relay: an action on a contract, and, once signed, its signature."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chain import ActionField, ActionType, ContractRevert, FieldKind
from gateway.errors import InvalidInput, NotFound
from gateway.ledger import Ledger

__all__ = ["ActionRequest", "SignedRequest", "with_stored_amendment"]


@dataclass(frozen=True)
class ActionRequest:
    """An action as a signer asks for it: its declaration, the contract acted on, the signer, the message fields."""

    action: ActionType
    contract: str  # the verifying contract: the procurement's escrow, for an escrow action
    signer: str  # the signed-in account
    message: dict[str, Any]  # the EIP-712 message fields, nonce and deadline aside


@dataclass(frozen=True)
class SignedRequest:
    """An action request signed: its deadline, the signature, and the nonce the signer says it signed (if given)."""

    request: ActionRequest
    deadline: int
    signature: bytes
    claimed_nonce: int | None


def with_stored_amendment(request: ActionRequest, ledger: Ledger) -> ActionRequest:
    """The request with the fields its action takes from the stored amendment (``ActionField.from_amendment``:
    an approval's or a consent's full content) filled in from the chain, so that the signer signs what will be
    executed. A field the signer named must be the stored value: else InvalidInput naming each difference."""
    fields = [field for field in request.action.fields if field.from_amendment]
    if not fields:
        return request
    amendment_id = request.message["amendmentId"]
    try:
        stored = ledger.escrow(request.contract).amendment(amendment_id).signed_content()
    except ContractRevert:
        raise NotFound(f"no amendment {amendment_id} on this procurement") from None
    message = dict(request.message)
    wrong = []
    for field in fields:
        given, value = message.get(field.name), stored[field.name]
        if given is None:
            message[field.name] = value
        elif given != value:
            wrong.append(f"{field.name} {_said(field, given)} (amendment {amendment_id}: {_said(field, value)})")
    if wrong:
        raise InvalidInput(f"not the content of amendment {amendment_id}: {'; '.join(wrong)}")
    return replace(request, message=message)


def _said(field: ActionField, value: Any) -> str:
    if field.kind is FieldKind.CHOICE and isinstance(value, int) and 0 <= value < len(field.choices):
        return field.choices[value]
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)

"""What a signer asks the gateway to relay: an action on a contract, and, once signed, its signature."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chain import ActionField, ActionType, ContractRevert, FieldKind, checksum
from gateway.errors import InvalidInput, NotFound
from gateway.ledger import Ledger
from indexer.models import BudgetTransferRequest

__all__ = ["ActionRequest", "SignedRequest", "with_stored_amendment", "with_stored_transfer"]


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


def with_stored_transfer(request: ActionRequest, db: Session, chain_id: int) -> ActionRequest:
    """The request with the pending transfer's content (``ActionField.from_transfer``: an approval's, a refusal's
    or a withdrawal's request, requester and time) filled in from the mirror's record of the request its
    ``transferId`` names. A field the signer named must be the recorded value: else InvalidInput naming each
    difference. (Whether it is still pending is the office's to say: BudgetUnknownTransfer.)"""
    fields = [field for field in request.action.fields if field.from_transfer]
    if not fields:
        return request
    transfer_id = request.message["transferId"]
    row = db.scalars(
        select(BudgetTransferRequest).where(
            BudgetTransferRequest.chain_id == chain_id, BudgetTransferRequest.transfer_id == transfer_id
        )
    ).first()
    if row is None:
        if all(request.message.get(field.name) is not None for field in fields):
            return request  # named in full: the office checks it (the mirror may not have the request yet)
        raise NotFound(f"no transfer {transfer_id} requested (as far as the mirror has seen)")
    stored = _transfer_content(row)
    message = dict(request.message)
    wrong = []
    for field in fields:
        given, value = message.get(field.name), stored[field.name]
        if given is None:
            message[field.name] = value
        elif _comparable(given) != _comparable(value):
            wrong.append(field.name)
    if wrong:
        raise InvalidInput(f"not the content of transfer {transfer_id} as requested: {', '.join(wrong)} differ")
    return replace(request, message=message)


def _transfer_content(row: BudgetTransferRequest) -> dict[str, Any]:
    def code(value: str) -> bytes:
        return bytes.fromhex(value[2:])

    def key(organization: str, item: str, sub_item: str) -> dict[str, Any]:
        return {
            "fiscalYear": row.fiscal_year,
            "ministry": code(row.ministry),
            "organization": code(organization),
            "item": code(item),
            "subItem": code(sub_item),
        }

    return {
        "request": {
            "from": key(row.from_organization, row.from_item, row.from_sub_item),
            "to": key(row.to_organization, row.to_item, row.to_sub_item),
            "amount": row.amount,
            "rationaleHash": code(row.rationale_hash),
        },
        "requester": checksum(row.requester),
        "requestedAt": row.requested_at,
    }


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value.lower() if isinstance(value, str) else value

"""What a signer asks the gateway to relay: an action on a contract, and, once signed, its signature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain import ActionType

__all__ = ["ActionRequest", "SignedRequest"]


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

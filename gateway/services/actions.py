"""Signed actions: typed data to sign, and the checks made before the relayer spends any gas.

Before relaying, in order: the signed nonce is the signer's current one; the deadline has not passed; the
signature recovers to the signed-in account for this chain id, this escrow and that nonce; and a read-only
eth_call of the ``...BySig`` function succeeds (so role, panel membership, segregation of duties and the
milestone's state are checked by the contract itself, and a refusal comes back as the custom error). Only
then is the transaction sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain._tx import Receipt
from chain.clients import MilestoneStatus
from chain.eip712 import Action, recover_signer, typed_data
from gateway.errors import SignatureExpired, SignatureMismatch, StaleNonce
from gateway.ledger import Ledger
from gateway.schemas.procurements import MilestoneStatePublic, ProcurementStatePublic, TotalsPublic

__all__ = ["Prepared", "Relayed", "prepare", "procurement_state", "relay_signed"]


@dataclass(frozen=True)
class Prepared:
    """Typed data ready to sign."""

    action: Action
    typed_data: dict[str, Any]


@dataclass(frozen=True)
class Relayed:
    """What relaying an action produced."""

    action: Action
    receipt: Receipt


def _json_ready(message: dict[str, Any]) -> dict[str, Any]:
    """Typed data with bytes as 0x-hex (what wallets and eth-account accept)."""

    def convert(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    converted: dict[str, Any] = convert(message)
    return converted


def prepare(
    ledger: Ledger,
    escrow: str,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    deadline: int | None,
    deadline_s: int,
) -> Prepared:
    """The typed data ``signer`` must sign: its current registry nonce, and a deadline (given, or chain time + ttl)."""
    nonce = ledger.registry.nonce(signer)
    if deadline is None:
        deadline = ledger.now() + deadline_s
    action = Action(primary_type, fields, nonce, deadline)
    message = typed_data(action, chain_id=ledger.chain_id, escrow=escrow)
    return Prepared(action=action, typed_data=_json_ready(message))


def relay_signed(
    ledger: Ledger,
    escrow: str,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    deadline: int,
    signature: bytes,
    claimed_nonce: int | None,
) -> Relayed:
    """Check a signed action (see the module docstring), then relay it and wait for its receipt."""
    nonce = ledger.registry.nonce(signer)
    if claimed_nonce is not None and claimed_nonce != nonce:
        raise StaleNonce(
            f"the action was signed with nonce {claimed_nonce} but {signer}'s current nonce is {nonce}: "
            "it was already used (or is not reached yet); fetch fresh typed data and sign again",
            currentNonce=nonce,
        )
    now = ledger.now()
    if deadline < now:
        raise SignatureExpired(f"the signed deadline {deadline} has passed (chain time {now})", chainTime=now)
    action = Action(primary_type, fields, nonce, deadline)
    message = typed_data(action, chain_id=ledger.chain_id, escrow=escrow)
    recovered = recover_signer(message, signature)
    if recovered != signer:
        raise SignatureMismatch(
            "the signature does not recover to the signed-in account for this action, chain, escrow and the "
            f"current nonce {nonce} (forged, replayed, for another chain or escrow, or with altered fields)"
        )
    args = action.call_args(signer, signature)
    with ledger.escrow_lock(escrow):
        ledger.simulate(escrow, action.function_name, args)
        receipt = ledger.relay(escrow, action.function_name, args)
    return Relayed(action=action, receipt=receipt)


def procurement_state(ledger: Ledger, procurement_id: bytes, escrow: str) -> ProcurementStatePublic:
    """The procurement's state, read straight from the chain."""
    client = ledger.escrow(escrow)
    block = ledger.head()
    totals = client.totals()
    return ProcurementStatePublic(
        procurement_id="0x" + procurement_id.hex(),
        escrow=escrow,
        block_number=block,
        paused=client.paused(),
        totals=TotalsPublic(
            funded=totals.funded,
            released=totals.released,
            refunded=totals.refunded,
            owed=totals.owed,
            held=totals.held,
        ),
        shortfall=client.shortfall(),
        milestones=[
            MilestoneStatePublic(
                milestone_id=m.index,
                amount=m.amount,
                due_date=m.due_date,
                status=MilestoneStatus(m.status).name.capitalize(),
                round=m.round,
                passes=m.passes,
                fails=m.fails,
                owed=m.owed,
            )
            for m in client.milestones()
        ],
    )

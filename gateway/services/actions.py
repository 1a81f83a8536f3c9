"""Signed actions: typed data to sign, and the checks made before the relayer spends any gas.

The nonce a signer must sign next is its registry nonce, past those of its actions this gateway has sent and
not yet seen mined: one signer can have several signatures in flight, in order.

Before relaying, in order, under the signer's lock: the signed nonce is that next nonce; the deadline has not
passed; the signature recovers to the signed-in account for this chain id, this escrow and that nonce; and,
under the escrow's lock, a simulation of the ``...BySig`` call against the node's pending state succeeds (so
role, panel membership, segregation of duties and the milestone's state are checked by the contract itself,
after everything already sent, and a refusal comes back as the custom error). Only then is the transaction
sent, and the answer comes back at once; ``Ledger`` follows it to its receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.clients import MilestoneStatus
from chain.eip712 import Action, recover_action_signer, typed_data
from chain.errors import LedgerError
from gateway.errors import SignatureExpired, SignatureMismatch, StaleNonce
from gateway.ledger import Ledger, Relay
from gateway.schemas.procurements import MilestoneStatePublic, ProcurementStatePublic, TotalsPublic

__all__ = ["Prepared", "Relayed", "prepare", "prepare_known", "procurement_state", "relay_signed"]


@dataclass(frozen=True)
class Prepared:
    """Typed data ready to sign."""

    action: Action
    typed_data: dict[str, Any]


@dataclass(frozen=True)
class Relayed:
    """What relaying an action produced: the relay, pending until its receipt is in."""

    action: Action
    relay: Relay


def _json_ready(message: dict[str, Any]) -> dict[str, Any]:
    """Typed data with bytes as 0x-hex and the message's integers as decimal strings (uint256 may pass 2^53,
    past which JavaScript's numbers are not exact); what wallets and eth-account accept."""

    def convert(value: Any, numbers_as_text: bool) -> Any:
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        if isinstance(value, int) and not isinstance(value, bool) and numbers_as_text:
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v, numbers_as_text or k == "message") for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, numbers_as_text) for v in value]
        return value

    converted: dict[str, Any] = convert(message, False)
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
    """The typed data ``signer`` must sign: its next nonce, and a deadline (given, or chain time + ttl)."""
    nonce = ledger.next_signer_nonce(signer)
    if deadline is None:
        deadline = ledger.now(max_age_s=1.0) + deadline_s
    action = Action(primary_type, fields, nonce, deadline)
    message = typed_data(action, chain_id=ledger.chain_id, escrow=escrow)
    return Prepared(action=action, typed_data=_json_ready(message))


def prepare_known(
    ledger: Ledger,
    escrow: str,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    deadline: int | None,
    deadline_s: int,
) -> Prepared | None:
    """``prepare`` when the nonce and the clock are known without asking the chain, else None."""
    nonce = ledger.known_signer_nonce(signer)
    if nonce is None:
        return None
    if deadline is None:
        now = ledger.known_now(1.0)
        if now is None:
            return None
        deadline = now + deadline_s
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
    """Check a signed action (see the module docstring), then relay it; no waiting for the receipt."""
    ledger.wait_for_room()
    with ledger.signer_lock(signer):
        try:
            return _check_and_submit(ledger, escrow, signer, primary_type, fields, deadline, signature, claimed_nonce)
        except LedgerError:
            ledger.forget_signer_nonce(signer)
            raise


def _check_and_submit(
    ledger: Ledger,
    escrow: str,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    deadline: int,
    signature: bytes,
    claimed_nonce: int | None,
) -> Relayed:
    """The checks and the send of ``relay_signed``, under the signer's lock."""
    nonce = ledger.next_signer_nonce(signer)
    if claimed_nonce is not None and claimed_nonce != nonce:
        raise StaleNonce(
            f"the action was signed with nonce {claimed_nonce} but {signer}'s next nonce is {nonce}: "
            "it was already used (or is not reached yet); fetch fresh typed data and sign again",
            currentNonce=str(nonce),
        )
    now = ledger.now(max_age_s=1.0)
    if deadline < now:
        raise SignatureExpired(f"the signed deadline {deadline} has passed (chain time {now})", chainTime=now)
    action = Action(primary_type, fields, nonce, deadline)
    recovered = recover_action_signer(action, signature, chain_id=ledger.chain_id, escrow=escrow)
    if recovered != signer:
        raise SignatureMismatch(
            "the signature does not recover to the signed-in account for this action, chain, escrow and the "
            f"next nonce {nonce} (forged, replayed, for another chain or escrow, or with altered fields)"
        )
    args = action.call_args(signer, signature)
    with ledger.escrow_lock(escrow):
        relay = ledger.submit(
            escrow,
            action.function_name,
            args,
            primary_type=primary_type,
            signer=signer,
            signer_nonce=nonce,
            deadline=deadline,
        )
    return Relayed(action=action, relay=relay)


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

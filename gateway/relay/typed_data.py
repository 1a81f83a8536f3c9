"""What a signer signs (``GET .../actions/<verb>``): the action's typed data with the signer's next nonce and a
deadline (the one asked for, or the chain's time plus the configured TTL).

Served on the event loop when the nonce and the clock are known without a network round trip (a recent relay
in a local database, a clock read in the last second), else in the thread pool (``known_only``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain import Action, typed_data
from gateway.ledger import Ledger
from gateway.relay.nonces import SignerNonces
from gateway.relay.request import ActionRequest

__all__ = ["Prepared", "prepare"]

_CLOCK_AGE_S = 1.0


@dataclass(frozen=True)
class Prepared:
    """Typed data ready to sign."""

    action: Action
    typed_data: dict[str, Any]


def prepare(
    ledger: Ledger,
    nonces: SignerNonces,
    request: ActionRequest,
    *,
    deadline: int | None,
    deadline_s: int,
    known_only: bool = False,
) -> Prepared | None:
    """The typed data the request's signer must sign; with ``known_only``, None unless it needs no I/O."""
    nonce = nonces.known(request.signer) if known_only else nonces.next(request.signer)
    if nonce is None:
        return None
    if deadline is None:
        now = ledger.known_now(_CLOCK_AGE_S) if known_only else ledger.now(max_age_s=_CLOCK_AGE_S)
        if now is None:
            return None
        deadline = now + deadline_s
    action = Action(request.action.primary_type, request.message, nonce, deadline)
    full = typed_data(action, chain_id=ledger.chain_id, escrow=request.contract)
    return Prepared(action=action, typed_data=_json_ready(full))


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

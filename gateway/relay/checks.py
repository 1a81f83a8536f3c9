"""The checks a signed action passes before anything is sent, in order, under the signer's lock (locks.py).

1. The signed nonce (if the request names it) is the signer's next one (``nonces.py``): else 409 stale-nonce.
2. The deadline has not passed by the chain's clock (a reading at most 1 s old): else 422 signature-expired.
3. The signature recovers to the signed-in account for this chain, this contract, these fields and that
   nonce: else 403 signature-mismatch (forged, replayed, for another chain or contract, or altered).

What only the contract knows (role, panel, segregation of duties, the milestone's state) is checked next, by
simulating the call (``send.py``).

A refusal of the nonce, the deadline, the signature or the simulation may be a client posting again a signed action
that was relayed already (it timed out waiting for the answer, say): ``carried_before`` tells which of the signer's
earlier relays (records.py) carried this very signed action, and the POST is answered with that relay, nothing sent.
The same signature on another contract, or over other fields, or by another signer, is none of them.
"""

from __future__ import annotations

from chain import Action, checksum, recover_action_signer
from gateway.errors import SignatureExpired, SignatureMismatch, StaleNonce
from gateway.ledger import Ledger
from gateway.relay.in_flight import Relay
from gateway.relay.nonces import SignerNonces
from gateway.relay.request import SignedRequest

__all__ = ["carried_before", "check_signed"]


def check_signed(ledger: Ledger, nonces: SignerNonces, signed: SignedRequest) -> Action:
    """The action the signer signed, once its nonce, deadline and signature check out."""
    request, deadline, claimed_nonce = signed.request, signed.deadline, signed.claimed_nonce
    signer = request.signer
    nonce = nonces.next(signer)
    if claimed_nonce is not None and claimed_nonce != nonce:
        raise StaleNonce(
            f"the action was signed with nonce {claimed_nonce} but {signer}'s next nonce is {nonce}: "
            "it was already used (or is not reached yet); fetch fresh typed data and sign again",
            currentNonce=str(nonce),
        )
    now = ledger.now(max_age_s=1.0)
    if deadline < now:
        raise SignatureExpired(f"the signed deadline {deadline} has passed (chain time {now})", chainTime=now)
    action = Action(request.action.primary_type, request.message, nonce, deadline)
    recovered = recover_action_signer(action, signed.signature, chain_id=ledger.chain_id, escrow=request.contract)
    if recovered != signer:
        raise SignatureMismatch(
            "the signature does not recover to the signed-in account for this action, chain, contract and the "
            f"next nonce {nonce} (forged, replayed, for another chain or contract, or with altered fields)"
        )
    return action


def carried_before(ledger: Ledger, signed: SignedRequest, earlier: list[Relay]) -> Relay | None:
    """The relay among ``earlier`` (the signer's, newest first) that carried this very signed action, if any: the
    same signature on the same contract, with the nonce it claims (if it claims one), and the signature recovers to
    the signer over these fields at that relay's nonce, so the fields are the ones signed then."""
    request = signed.request
    contract = checksum(request.contract)
    for relay in earlier:
        if (
            relay.signature != signed.signature
            or relay.contract != contract
            or relay.deadline != signed.deadline
            or signed.claimed_nonce not in (None, relay.signer_nonce)
        ):
            continue
        action = Action(request.action.primary_type, request.message, relay.signer_nonce, signed.deadline)
        if recover_action_signer(action, signed.signature, chain_id=ledger.chain_id, escrow=contract) == request.signer:
            return relay
    return None

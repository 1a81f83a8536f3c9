"""Sending a checked action, under the contract's lock (locks.py): simulate the exact call, then send it.

The ``...BySig`` call is simulated (``eth_call`` with the gas limit it will be sent with) against the node's
**pending** state, which holds every transaction the relayer sent before: the contract itself checks role,
panel, segregation of duties, the registry nonce and the milestone's state, after the actions already on their
way. A refusal raises ContractRevert (a 4xx with the custom error) and nothing is sent.

Gas: the limit is the action's declared worst case (``ActionType.gas``), simulated once at that limit; only a
simulation that fails without a custom error (out of gas, say: a very long evidence URI) goes on to
``eth_estimateGas``, and the limit is then the estimate + 20% if larger (``TxSender.submit_data``). The relayer's
nonce comes from its transport's nonce manager, so many relays are in flight at once, in nonce order.

Anvil's automine leaves a moment where a transaction being mined is in neither the pool nor a block: so a
refused simulation is tried again each time the oldest of this gateway's relays in flight on that contract or
from that signer is mined, and is a refusal only if it still fails once they all are (or after
``RESIMULATE_WAIT_S``). Not more often: on anvil each simulation re-executes every transaction in its pool.
"""

from __future__ import annotations

import time

from chain import Action, Build, CallEncoder, ContractRevert, SentTx, TransactionFailed, TxSender
from gateway.relay.in_flight import InFlight

__all__ = ["RESIMULATE_WAIT_S", "Sender"]

RESIMULATE_WAIT_S = 10.0


class Sender:
    """Simulates and sends ``...BySig`` calls from the relayer's account."""

    def __init__(self, relayer: TxSender, build: Build, in_flight: InFlight) -> None:
        self.relayer = relayer
        self.build = build
        self.in_flight = in_flight
        self._encoders: dict[tuple[str, str], CallEncoder] = {}

    def _encoder(self, contract_name: str, function: str) -> CallEncoder:
        key = (contract_name, function)
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders.setdefault(key, self.build.codec(contract_name).function(function))
        return encoder

    def send(self, contract: str, action: Action, signer: str, signature: bytes) -> SentTx:
        """Simulate ``action`` on ``contract`` against the pending state, then send it; no waiting for a receipt.

        ContractRevert (or TransactionFailed) if the simulation still fails once the earlier relays it may
        depend on are mined. Call under the signer's and the contract's locks.
        """
        declared = action.declaration
        data = self._encoder(declared.contract.name, declared.function).encode(action.call_args(signer, signature))
        try:
            return self.relayer.submit_data(contract, data, min_gas=declared.gas, block_identifier="pending")
        except (ContractRevert, TransactionFailed):
            earlier = self.in_flight.earlier(contract, signer)
            if not earlier:
                raise
        give_up = time.monotonic() + RESIMULATE_WAIT_S
        while True:
            unsettled = [relay for relay in earlier if not relay.settled.is_set()]
            if unsettled:
                unsettled[0].wait(max(0.0, give_up - time.monotonic()))
            final = all(relay.settled.is_set() for relay in earlier) or time.monotonic() >= give_up
            try:
                return self.relayer.submit_data(contract, data, min_gas=declared.gas, block_identifier="pending")
            except (ContractRevert, TransactionFailed):
                if final:
                    raise

"""The nonce each signer must sign next: its registry nonce, past this gateway's relays of it still in flight.

So one signer can have several signatures in flight, in order, and the typed data hands out the right nonce
at once. After a relay the next nonce is known without asking the chain (``InFlight.known_next_nonce``); it is
forgotten on any refusal or revert. If one of a signer's relays reverts, its later ones fail their signature
check (refused, or reverted: visible) and the signer signs again from the nonce the typed data then gives.
"""

from __future__ import annotations

from chain import RegistryClient, checksum
from gateway.relay.in_flight import InFlight

__all__ = ["SignerNonces"]


class SignerNonces:
    """Signer nonces, from the registry and the relays in flight."""

    def __init__(self, registry: RegistryClient, in_flight: InFlight) -> None:
        self.registry = registry
        self.in_flight = in_flight

    def next(self, signer: str) -> int:
        """The nonce ``signer`` must sign next."""
        signer = checksum(signer)
        known = self.in_flight.known_next_nonce(signer)
        if known is not None:
            return known
        # In-flight nonces first, the chain after: one mined in between is then below the chain's nonce,
        # whereas the other order could miss it in both (read as unmined, then gone from the set).
        in_flight = self.in_flight.signer_nonces(signer)
        nonce = self.registry.nonce(signer)
        while nonce in in_flight:
            nonce += 1
        return nonce

    def known(self, signer: str) -> int | None:
        """``next`` if it is known without asking the chain (after a recent relay), else None."""
        return self.in_flight.known_next_nonce(signer)

    def forget(self, signer: str) -> None:
        """Ask the chain next time."""
        self.in_flight.forget_next_nonce(signer)

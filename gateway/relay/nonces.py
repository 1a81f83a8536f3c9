"""The nonce each signer must sign next: its registry nonce, past its relays in flight through any gateway.

So one signer can have several signatures in flight, in order, and may send one action to gateway A and the
next to gateway B: the nonces in flight are the signer's pending rows (records.py), whichever gateway wrote
them. If the signer's latest relay was sent in the last ``NONCE_KNOWN_S``, the next nonce is the one after it,
without asking the chain (two indexed reads answer both); if it reverted, or after a refusal here, the next read
goes to the registry. If one of a signer's relays reverts, its later ones fail their signature check (refused, or
reverted: visible) and the signer signs again from the nonce the typed data then gives.
"""

from __future__ import annotations

import threading
import time

from chain import RegistryClient, checksum
from gateway.relay.records import NONCE_KNOWN_S, RelayRecords

__all__ = ["SignerNonces"]


class SignerNonces:
    """Signer nonces, from the registry and the relays in the database."""

    def __init__(self, registry: RegistryClient, records: RelayRecords, *, inline_reads: bool) -> None:
        self.registry = registry
        self.records = records
        self.inline_reads = inline_reads  # the database answers without a network round trip (SQLite)
        self._lock = threading.Lock()
        self._ask_chain: dict[str, float] = {}  # signer -> until when its nonce is read from the registry

    def next(self, signer: str) -> int:
        """The nonce ``signer`` must sign next."""
        signer = checksum(signer)
        # In-flight nonces first, the chain after: one mined in between is then below the chain's nonce,
        # whereas the other order could miss it in both (read as unmined, then gone from the pending rows).
        relays = self.records.signer_in_flight(signer)
        nonce = relays.recent_next if not self._asks_chain(signer) else None
        if nonce is None:
            nonce = self.registry.nonce(signer)
        while nonce in relays.pending:
            nonce += 1
        return nonce

    def known(self, signer: str) -> int | None:
        """``next`` if it is known without a network round trip (a recent relay, a local database), else None."""
        signer = checksum(signer)
        if not self.inline_reads or self._asks_chain(signer):
            return None
        relays = self.records.signer_in_flight(signer)
        nonce = relays.recent_next
        if nonce is None:
            return None
        while nonce in relays.pending:
            nonce += 1
        return nonce

    def forget(self, signer: str) -> None:
        """Ask the chain for the next ``NONCE_KNOWN_S`` (after a refusal: someone else may have used the nonce)."""
        with self._lock:
            self._ask_chain[checksum(signer)] = time.monotonic() + NONCE_KNOWN_S
            if len(self._ask_chain) > 10_000:
                now = time.monotonic()
                self._ask_chain = {k: v for k, v in self._ask_chain.items() if v > now}

    def relayed(self, signer: str) -> None:
        """A relay of ``signer`` was just recorded: its row says the next nonce again."""
        with self._lock:
            self._ask_chain.pop(checksum(signer), None)

    def _asks_chain(self, signer: str) -> bool:
        with self._lock:
            until = self._ask_chain.get(signer)
            if until is not None and until <= time.monotonic():
                del self._ask_chain[signer]
                return False
            return until is not None

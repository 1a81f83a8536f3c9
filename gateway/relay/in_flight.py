"""The relays this gateway sent and has not seen settled: what the cap of locks.py counts, and what a POST with
``?wait=true`` waits on.

In memory, and correct with several gateways: each gateway sends with a relayer of its own (lease.py), so the
relays in flight under that relayer are this process's alone. Everything another gateway must know, a relay's
status and the nonces a signer has in flight, is in the database (records.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from chain import ContractRevert, SentTx, TransactionFailed, checksum
from gateway.relay.locks import MAX_IN_FLIGHT, ROOM_WAIT_S

__all__ = ["InFlight", "Relay", "RelayStatus"]

RelayStatus = Literal["pending", "mined", "reverted"]

_ROOM_POLL_S = 0.05


@dataclass
class Relay:
    """One relayed action: pending until its receipt is in, then mined or reverted (with the error)."""

    tx_hash: str
    primary_type: str
    contract: str  # the contract acted on (the verifying contract of the signature)
    signer: str
    signer_nonce: int
    deadline: int
    signature: bytes  # what the signer signed with (b"" in a row written before gateway migration 0004)
    relayer: str
    sent: SentTx
    submitted_at: float
    status: RelayStatus = "pending"
    block_number: int | None = None
    gas_used: int | None = None
    error: ContractRevert | TransactionFailed | None = None
    settled: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float) -> bool:
        """Wait until the receipt is in; False on timeout."""
        return self.settled.wait(timeout)


class InFlight:
    """This gateway's relays not yet settled, by relayer nonce."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified as relays settle
        self._pending: dict[int, Relay] = {}  # by relayer nonce

    def add(self, relay: Relay) -> None:
        """Record a relay just sent."""
        with self._lock:
            self._pending[relay.sent.nonce] = relay

    def settle(
        self,
        relay: Relay,
        block_number: int | None,
        gas_used: int | None,
        error: ContractRevert | TransactionFailed | None,
    ) -> None:
        """Record a relay's outcome; it leaves the relays in flight, making room."""
        with self._lock:
            relay.block_number = block_number
            relay.gas_used = gas_used
            relay.error = error
            relay.status = "mined" if error is None else "reverted"
            if self._pending.get(relay.sent.nonce) is relay:
                del self._pending[relay.sent.nonce]
            self._room.notify()
        relay.settled.set()

    def get(self, tx_hash: str) -> Relay | None:
        """A relay of this gateway still in flight, by transaction hash."""
        tx_hash = tx_hash.lower()
        with self._lock:
            return next((relay for relay in self._pending.values() if relay.tx_hash.lower() == tx_hash), None)

    def pending(self, limit: int) -> list[Relay]:
        """Up to ``limit`` relays in flight, oldest relayer nonce first."""
        with self._lock:
            return [self._pending[nonce] for nonce in sorted(self._pending)[:limit]]

    def earlier(self, contract: str, signer: str) -> list[Relay]:
        """The relays in flight on ``contract`` or from ``signer``, oldest first."""
        contract, signer = checksum(contract), checksum(signer)
        with self._lock:
            found = [r for r in self._pending.values() if r.contract == contract or r.signer == signer]
        return sorted(found, key=lambda relay: relay.sent.nonce)

    def busy(self) -> bool:
        """True while any relay is in flight."""
        with self._lock:
            return bool(self._pending)

    def wait_for_room(self, wake: Callable[[], None]) -> None:
        """Rule 1 of locks.py: wait until fewer than ``max_in_flight`` relays are in flight (or ROOM_WAIT_S passed);
        ``wake`` asks the watcher to poll at once. Call holding no lock."""
        give_up = time.monotonic() + ROOM_WAIT_S
        with self._room:
            while len(self._pending) >= self.max_in_flight and time.monotonic() < give_up:
                wake()
                self._room.wait(max(0.0, min(_ROOM_POLL_S, give_up - time.monotonic())))

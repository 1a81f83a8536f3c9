"""The relays this gateway sent: pending until the watcher settles them as mined or reverted.

Kept with them, under one lock so that they always agree: the relays in flight by relayer nonce (what the cap
of locks.py counts), each signer's nonces in flight, and the nonce after each signer's last relay. Statuses are
kept in memory (the last ``MAX_KEPT_RELAYS``): after a restart a transaction is looked up on chain.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from chain import ContractRevert, Receipt, SentTx, TransactionFailed, checksum
from gateway.relay.locks import MAX_IN_FLIGHT, ROOM_WAIT_S

__all__ = ["MAX_KEPT_RELAYS", "InFlight", "Relay", "RelayStatus"]

RelayStatus = Literal["pending", "mined", "reverted"]

MAX_KEPT_RELAYS = 100_000
# How long the nonce after a signer's last relay is trusted without asking the registry. Only another relayer
# using the same signer's nonce makes it stale; the simulation then refuses the action (no gas is spent) and
# the nonce is read from the chain again.
NONCE_KNOWN_S = 30.0
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
    relayer: str
    sent: SentTx
    submitted_at: float
    status: RelayStatus = "pending"
    receipt: Receipt | None = None
    error: ContractRevert | TransactionFailed | None = None
    settled: threading.Event = field(default_factory=threading.Event, repr=False)
    submitted_monotonic: float = field(default_factory=time.monotonic, repr=False)

    def wait(self, timeout: float) -> bool:
        """Wait until the receipt is in; False on timeout."""
        return self.settled.wait(timeout)


class InFlight:
    """The relays sent (by transaction hash) and those not yet mined (by relayer nonce)."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified as relays settle
        self._relays: OrderedDict[str, Relay] = OrderedDict()  # the latest MAX_KEPT_RELAYS, by tx hash
        self._pending: dict[int, Relay] = {}  # by relayer nonce
        self._signer_nonces: dict[str, set[int]] = {}  # signer -> its nonces sent, not mined
        self._next_nonce: dict[str, tuple[float, int]] = {}  # signer -> (when, the nonce after its last relay)

    def add(self, relay: Relay) -> None:
        """Record a relay just sent: in flight, and its signer's next nonce known."""
        with self._lock:
            self._relays[relay.tx_hash] = relay
            while len(self._relays) > MAX_KEPT_RELAYS:
                oldest = next(iter(self._relays.values()))
                if oldest.status == "pending":
                    break
                self._relays.popitem(last=False)
            self._pending[relay.sent.nonce] = relay
            self._signer_nonces.setdefault(relay.signer, set()).add(relay.signer_nonce)
            self._next_nonce[relay.signer] = (time.monotonic(), relay.signer_nonce + 1)

    def settle(self, relay: Relay, receipt: Receipt | None, error: ContractRevert | TransactionFailed | None) -> None:
        """Record a relay's outcome; it leaves the relays in flight, making room."""
        with self._lock:
            relay.receipt = receipt
            relay.error = error
            relay.status = "mined" if error is None else "reverted"
            if error is not None:
                self._next_nonce.pop(relay.signer, None)  # the nonce was not used: the chain knows best
            self._pending.pop(relay.sent.nonce, None)
            self._room.notify()
            nonces = self._signer_nonces.get(relay.signer)
            if nonces is not None:
                nonces.discard(relay.signer_nonce)
                if not nonces:
                    del self._signer_nonces[relay.signer]
        relay.settled.set()

    def get(self, tx_hash: str) -> Relay | None:
        """A relay sent since this process started, by transaction hash."""
        with self._lock:
            return self._relays.get(tx_hash.lower())

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

    def signer_nonces(self, signer: str) -> set[int]:
        """The signer's nonces sent and not mined yet."""
        with self._lock:
            return set(self._signer_nonces.get(checksum(signer), ()))

    def known_next_nonce(self, signer: str) -> int | None:
        """The nonce after the signer's last relay, if it was sent in the last NONCE_KNOWN_S; else None."""
        with self._lock:
            known = self._next_nonce.get(checksum(signer))
        if known is not None and time.monotonic() - known[0] <= NONCE_KNOWN_S:
            return known[1]
        return None

    def forget_next_nonce(self, signer: str) -> None:
        """Read the signer's nonce from the chain next time (after a refusal: someone else may have used it)."""
        with self._lock:
            self._next_nonce.pop(checksum(signer), None)

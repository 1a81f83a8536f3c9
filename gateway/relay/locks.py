"""The lock rule of relaying, stated here once (``pipeline.RelayPipeline.submit`` follows it, in this order).

1. **Room first, holding no lock.** At most ``MAX_IN_FLIGHT`` relays are sent and not yet mined; a POST beyond
   waits, before any check, until one is mined (at most ``ROOM_WAIT_S``, then it goes on). A node simulates
   against its pending state by executing its whole pool again (anvil does), so a short pool keeps every
   simulation cheap (measured: anvil's CPU per relay tripled with ~50 in its pool); geth likewise guarantees
   an account 16 slots. ``InFlight.wait_for_room`` waits; the watcher notifies as relays settle.
2. **The signer's lock**, from reading the signer's next nonce until its relay is recorded in flight: the
   nonce, deadline and signature checks (``checks.py``) and the send are one step per signer, so a signature
   is never sent twice and the next nonce handed out is past the last one sent.
3. **The contract's lock** (the escrow's, for an escrow action), inside the signer's and only around the
   simulation and the send (``send.py``): milliseconds, never a receipt. A second action on the same escrow is
   simulated against the pending state the first one leaves, so an attestation arriving after the quorum is
   refused before any gas is spent. Always signer then contract: two relays never wait on each other.
4. **Bookkeeping locks** (``Locks``' own, ``InFlight``'s, the watcher's) guard a few dictionaries for
   microseconds and are never held across I/O.
"""

from __future__ import annotations

import threading

from chain import checksum

__all__ = ["MAX_IN_FLIGHT", "ROOM_WAIT_S", "Locks"]

MAX_IN_FLIGHT = 16
ROOM_WAIT_S = 30.0


class Locks:
    """The signers' and the contracts' locks, one per address, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signers: dict[str, threading.Lock] = {}
        self._contracts: dict[str, threading.Lock] = {}

    def signer(self, address: str) -> threading.Lock:
        """The lock of rule 2: a signer's checks and send are one step."""
        with self._lock:
            return self._signers.setdefault(checksum(address), threading.Lock())

    def contract(self, address: str) -> threading.Lock:
        """The lock of rule 3: simulate-and-send on one contract, one at a time."""
        with self._lock:
            return self._contracts.setdefault(checksum(address), threading.Lock())

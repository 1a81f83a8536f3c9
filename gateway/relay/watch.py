"""Watching the relays in flight: a thread, alive while any is in flight, settles each as mined or reverted.

Every ``POLL_S`` (at once when a POST waits for room) it reads the relayer's mined nonce and fetches, in one
batched request, the receipts of the relays below it: each receipt is read once. A reverted relay gets the
decoded custom error (a concurrent action outside this gateway changed the state first: visible, never
silent). A relay whose nonce the chain has passed without a receipt for ``REPLACED_AFTER_S`` was replaced.
"""

from __future__ import annotations

import logging
import threading
import time

from chain import ChainError, ContractRevert, TransactionFailed, TxSender
from gateway.relay.in_flight import InFlight

__all__ = ["POLL_S", "Watcher"]

_log = logging.getLogger("gateway.relay")

POLL_S = 0.05
_MIN_POLL_S = 0.005
_IDLE_EXIT_S = 2.0
REPLACED_AFTER_S = 30.0
_POLL_BATCH = 500


class Watcher:
    """Settles the relays in flight from their receipts, in a thread started on demand."""

    def __init__(self, relayer: TxSender, in_flight: InFlight) -> None:
        self.relayer = relayer
        self.in_flight = in_flight
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._wake = threading.Event()  # poll at once (someone waits for room)
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        """Start the thread unless it runs (call after a relay was added)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relay-watcher", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Poll at once."""
        self._wake.set()

    def poll(self) -> None:
        """Settle every relay whose receipt is in (one batched round trip for all of them).

        Only relays whose relayer nonce the chain has passed can have a receipt, so the relayer's mined count
        is read first and only their receipts are fetched.
        """
        with self._poll_lock:
            pending = self.in_flight.pending(_POLL_BATCH)
            if not pending:
                return
            mined = self.relayer.mined_count()
            due = [relay for relay in pending if relay.sent.nonce < mined]
            if not due:
                return
            receipts = self.relayer.outcomes([relay.sent for relay in due])
            for relay, receipt in zip(due, receipts, strict=True):
                error: ContractRevert | TransactionFailed | None = None
                if receipt is None:
                    # The relayer's nonce is past it but it has no receipt: a moment's lag of the node's
                    # index, or, once it lasts, another transaction took its nonce.
                    if time.monotonic() - relay.submitted_monotonic < REPLACED_AFTER_S:
                        continue
                    error = TransactionFailed(f"transaction {relay.tx_hash} was replaced and will never be mined")
                elif receipt.status != 1:
                    error = self.relayer.explain(relay.sent, receipt)
                    _log.warning("relayed %s %s reverted: %s", relay.primary_type, relay.tx_hash, error)
                self.in_flight.settle(relay, receipt, error)

    def _run(self) -> None:
        """Poll while relays are in flight; exit after a while with nothing to do."""
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            if not self.in_flight.busy():
                idle_since = idle_since if idle_since is not None else now
                if now - idle_since > _IDLE_EXIT_S:
                    with self._lock:
                        if not self.in_flight.busy():
                            self._thread = None
                            return
            else:
                idle_since = None
                try:
                    self.poll()
                except (ChainError, OSError) as exc:  # the node is away for a moment: try again
                    _log.warning("polling relayed transactions failed: %s", exc)
                except Exception:
                    _log.exception("polling relayed transactions failed")
            # Every POLL_S, or at once when a relay waits for room (then at most every _MIN_POLL_S).
            if self._wake.wait(POLL_S):
                time.sleep(_MIN_POLL_S)
            self._wake.clear()

"""Watching the relays in flight: a thread, alive while any relay is pending, settles each as mined or reverted.

Every ``POLL_S`` (at once when a POST waits for room) it takes this gateway's relays in flight (in memory),
and every ``ORPHANS_POLL_S`` also the pending rows of the database it should settle: its own relayer's left by
an earlier life of this gateway, and another relayer's once they are ``ORPHANS_AFTER_S`` old (that gateway may
have died; any gateway may settle any row from its receipt, and the first to do so wins: a row is settled
once). It reads each relayer's mined nonce and fetches, in one batched
request, the receipts of the relays below it. A reverted relay gets the decoded custom error (a concurrent
action outside this gateway changed the state first: visible, never silent). A relay whose nonce the chain has
passed without a receipt for ``REPLACED_AFTER_S`` was replaced (its action never ran).

A dead gateway can also leave a relay **stranded**: sent with a relayer nonce the chain will never reach, because
the gateway was killed between handing out a lower nonce of its relayer (to another thread) and sending it. The
node keeps such a transaction queued behind the gap, and nobody else holds the relayer's key to fill it; while its
row is pending, the signer's nonce counts as in flight (nonces.py), so the typed data would hand out the next one
and the contract refuse every action of that signer for good. So a relay of another relayer that is not mined
``STRANDED_AFTER_S`` after it was sent (on any sane network a transaction the node can mine is mined by then,
so the action is not sent twice while its first transaction waits for a block), whose relayer no live gateway
holds (no lease beaten in ``lease_s``), is given to ``adopt`` (RelayPipeline.adopt: its signed action is sent
again from this gateway's relayer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from chain import ChainError, ContractRevert, Receipt, TransactionFailed, TxSender
from gateway.relay.in_flight import InFlight, Relay
from gateway.relay.records import Outcome, RelayRecords

__all__ = ["ORPHANS_AFTER_S", "ORPHANS_POLL_S", "POLL_S", "STRANDED_AFTER_S", "Watcher"]

_log = logging.getLogger("gateway.relay")

POLL_S = 0.05
_IDLE_POLL_S = 0.5  # nothing of this gateway's in flight: only other gateways' leftovers to look at
_MIN_POLL_S = 0.005
_IDLE_EXIT_S = 2.0
REPLACED_AFTER_S = 30.0
ORPHANS_AFTER_S = 5.0
STRANDED_AFTER_S = REPLACED_AFTER_S
ORPHANS_POLL_S = 1.0
_POLL_BATCH = 500


class Watcher:
    """Settles the relays in flight from their receipts, in a thread started on demand."""

    def __init__(
        self,
        relayer: TxSender,
        in_flight: InFlight,
        records: RelayRecords,
        *,
        adopt: Callable[[Relay], None],
        lease_s: float,
    ) -> None:
        self.relayer = relayer
        self.in_flight = in_flight
        self.records = records
        self.adopt = adopt  # sends a stranded relay's action again (RelayPipeline.adopt)
        self.lease_s = lease_s  # a relayer whose lease was not beaten for this long has no live gateway
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._wake = threading.Event()  # poll at once (someone waits for room)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._rows_read_at = float("-inf")  # when the database's pending rows were last looked at (monotonic)

    def ensure_running(self) -> None:
        """Start the thread unless it runs (call after a relay was added, or a pending one was read)."""
        with self._lock:
            if not self._stopped and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="relay-watcher", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the app shuts down)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(5)

    def wake(self) -> None:
        """Poll at once."""
        self._wake.set()

    def poll(self, *, rows: bool | None = None) -> bool:
        """Settle every relay whose receipt is in (one batched round trip for the receipts); True if any relay
        (this gateway's, or a row of the database) is still pending. ``rows``: look at the database's pending rows
        too (default: every ORPHANS_POLL_S).

        Only relays whose relayer nonce the chain has passed can have a receipt, so each relayer's mined count
        is read first and only their receipts are fetched.
        """
        with self._poll_lock:
            relays = {relay.tx_hash.lower(): relay for relay in self.in_flight.pending(_POLL_BATCH)}
            if rows is None:
                rows = time.monotonic() - self._rows_read_at >= ORPHANS_POLL_S
            pending_rows = False
            if rows:
                self._rows_read_at = time.monotonic()
                for relay in self.records.due(self.relayer.address, _POLL_BATCH, ORPHANS_AFTER_S):
                    relays.setdefault(relay.tx_hash.lower(), relay)
                pending_rows = bool(relays) or self.records.any_pending()
            if not relays:
                return pending_rows
            relayers = sorted({relay.relayer for relay in relays.values()})
            counts = self.relayer.rpc.batch([("eth_getTransactionCount", [address, "latest"]) for address in relayers])
            mined = {address: int(reply["result"], 16) for address, reply in zip(relayers, counts, strict=True)}
            due = [relay for relay in relays.values() if relay.sent.nonce < mined[relay.relayer]]
            if due:
                receipts = self.relayer.outcomes([relay.sent for relay in due])
                outcomes = [self._outcome(relay, receipt) for relay, receipt in zip(due, receipts, strict=True)]
                settled = [outcome for outcome in outcomes if outcome is not None]
                self.records.settle(settled)
                for tx_hash, block_number, gas_used, error in settled:
                    local = self.in_flight.get(tx_hash)
                    if local is not None:
                        self.in_flight.settle(local, block_number, gas_used, error)
            # After settling: a lease or node away (ServiceUnavailable, ChainError) fails only the adoption.
            self._adopt_stranded([relay for relay in relays.values() if relay.sent.nonce >= mined[relay.relayer]])
            return True

    def _adopt_stranded(self, unmined: list[Relay]) -> None:
        """Hand the relays of dead gateways' relayers that are still not mined to ``adopt``."""
        others = [
            relay
            for relay in unmined
            if relay.relayer != self.relayer.address and time.time() - relay.submitted_at >= STRANDED_AFTER_S
        ]
        if not others:
            return
        dead = self.records.dead_relayers({relay.relayer for relay in others}, self.lease_s)
        for relay in sorted(others, key=lambda relay: (relay.signer, relay.signer_nonce)):
            if relay.relayer in dead:
                self.adopt(relay)

    def _outcome(self, relay: Relay, receipt: Receipt | None) -> Outcome | None:
        """What the receipt says of ``relay``; None while it cannot be told yet."""
        error: ContractRevert | TransactionFailed | None = None
        if receipt is None:
            # The relayer's nonce is past it but it has no receipt: a moment's lag of the node's index, or, once
            # it lasts, another transaction took its nonce.
            if time.time() - relay.submitted_at < REPLACED_AFTER_S:
                return None
            error = TransactionFailed(f"transaction {relay.tx_hash} was replaced and will never be mined")
        elif receipt.status != 1:
            error = self.relayer.explain(relay.sent, receipt)
            _log.warning("relayed %s %s reverted: %s", relay.primary_type, relay.tx_hash, error)
        if receipt is None:
            return relay.tx_hash, None, None, error
        return relay.tx_hash, receipt.block_number, receipt.gas_used, error

    def _run(self) -> None:
        """Poll while relays are pending; exit after a while with nothing to do."""
        idle_since: float | None = None
        while not self._stopped:
            now = time.monotonic()
            pending = True
            try:
                pending = self.poll()
            except (ChainError, OSError, SQLAlchemyError) as exc:  # the node or the database is away: try again
                _log.warning("polling relayed transactions failed: %s", exc)
            except Exception:
                _log.exception("polling relayed transactions failed")
            if not pending and not self.in_flight.busy():
                idle_since = idle_since if idle_since is not None else now
                if now - idle_since > _IDLE_EXIT_S:
                    with self._lock:
                        if not self.in_flight.busy():
                            self._thread = None
                            return
            else:
                idle_since = None
            # Every POLL_S while this gateway has relays in flight (at once when a relay waits for room, then at
            # most every _MIN_POLL_S); every _IDLE_POLL_S for other gateways' leftovers.
            if self._wake.wait(POLL_S if self.in_flight.busy() else _IDLE_POLL_S):
                time.sleep(_MIN_POLL_S)
            self._wake.clear()

"""The gateway's one door to the chain: typed clients from chain/, the relayer, and its relays in flight.

Everything here goes through chain/ (clients, EIP-712, the relayer's TxSender); the gateway never builds
JSON-RPC or ABI by hand and never holds a user's key.

Relaying is pipelined: ``submit`` simulates the ``...BySig`` call against the node's pending state (which
holds everything this relayer already sent), sends it under the relayer's locally managed nonce and returns
at once. A watcher thread, alive while anything is in flight, fetches the receipts of the relays in flight in
one batched request and settles each ``Relay`` as mined or reverted (with the decoded custom error). The
signer nonces still in flight are known here, so the next typed data hands out the nonce after them. See
ARCHITECTURE.md, "Relaying signed actions".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from chain import (
    Build,
    ChainError,
    ContractRevert,
    EscrowClient,
    Receipt,
    RegistryClient,
    SentTx,
    SystemAddresses,
    Terms,
    TokenClient,
    TransactionFailed,
    Transport,
    TxSender,
    checksum,
    compile_contracts,
)
from gateway.errors import NotFound, ServiceUnavailable

__all__ = ["WORST_CASE_GAS", "Ledger", "Relay", "RelayStatus"]

_log = logging.getLogger("gateway.relay")

RelayStatus = Literal["pending", "mined", "reverted"]

# The gas limit of each relayed action is its estimate (against the pending state) plus 20%, but at least
# this: the action's worst case when the state changes between simulation and mining. An attestation that
# reaches the quorum releases the payment (~84k in scripts/bench_gas.py; at most 131k over the 1,008 relays of
# scripts/bench_gateway.py, for the first payouts) where the same attestation simulated one pass earlier
# costs ~60k. Unused gas is not charged: a generous limit only reserves block space.
WORST_CASE_GAS: dict[str, int] = {
    "fundBySig": 150_000,
    "submitEvidenceBySig": 120_000,
    "attestBySig": 180_000,
    "reclaimBySig": 180_000,
    "proposeAmendmentBySig": 150_000,
    "approveAmendmentBySig": 200_000,
    "openDisputeBySig": 120_000,
    "settleDisputeBySig": 220_000,
}

MAX_KEPT_RELAYS = 100_000
# At most this many relays sent and not yet mined; a relay beyond waits (before any check) until one is mined.
# A node simulates against its pending state by executing its whole pool of waiting transactions again (anvil
# does), so a pool kept short keeps every simulation cheap; geth likewise guarantees an account 16 slots.
MAX_IN_FLIGHT = 16
_ROOM_WAIT_S = 30.0
_POLL_S = 0.05
_MIN_POLL_S = 0.005
_IDLE_EXIT_S = 2.0
_REPLACED_AFTER_S = 30.0
_POLL_BATCH = 500
_RESIMULATE_WAIT_S = 10.0
# How long the nonce after a signer's last relay is trusted without asking the registry. Only another relayer
# using the same signer's nonce makes it stale; the simulation then refuses the action (no gas is spent) and
# the nonce is read from the chain again.
_NONCE_KNOWN_S = 30.0


@dataclass
class Relay:
    """One relayed action: pending until its receipt is in, then mined or reverted (with the error)."""

    tx_hash: str
    primary_type: str
    escrow: str
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


class Ledger:
    """The deployed system on one chain, seen from the gateway; ``relayer`` pays gas for signed actions."""

    def __init__(
        self,
        rpc: Transport,
        system: SystemAddresses,
        *,
        build: Build | None = None,
        relayer: TxSender | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.rpc = rpc
        self.system = system
        self.build = build or compile_contracts()
        self.relayer = relayer
        if relayer is not None and relayer.fee_ttl_s == 0:
            # Relays come many a second: ask the node for fees at most once a second (max fee = 2 x base fee
            # + tip, so a base fee that rises for a few blocks is still covered).
            relayer.fee_ttl_s = 1.0
        self.chain_id = rpc.chain_id
        self.registry = RegistryClient(rpc, system.registry, None, self.build)
        self.token = TokenClient(rpc, system.token, None, self.build)
        self._lock = threading.Lock()
        self._escrows: dict[str, EscrowClient] = {}
        self._by_procurement: dict[bytes, str] = {}
        self._terms: dict[str, Terms] = {}
        self._escrow_locks: dict[str, threading.Lock] = {}
        self._signer_locks: dict[str, threading.Lock] = {}
        self._relays: OrderedDict[str, Relay] = OrderedDict()  # the latest MAX_KEPT_RELAYS, by tx hash
        self._poll_lock = threading.Lock()
        self._pending: dict[int, Relay] = {}  # by relayer nonce
        self._in_flight: dict[str, set[int]] = {}  # signer -> signer nonces sent, not mined
        self._next_nonce: dict[str, tuple[float, int]] = {}  # signer -> (when, the nonce after its last relay)
        self._clock: tuple[float, int] | None = None  # (monotonic time read, latest block timestamp)
        self._room = threading.Condition(self._lock)  # notified as relays settle
        self._wake = threading.Event()  # the watcher polls at once (someone waits for room)
        self.max_in_flight = max_in_flight
        self._watcher: threading.Thread | None = None
        escrow = self.build.codec("MilestoneEscrow")
        self._encoders = {name: escrow.function(name) for name in WORST_CASE_GAS}

    # ------------------------------------------------------------ chain state

    def head(self) -> int:
        """The latest block number."""
        return self.rpc.block_number()

    def now(self, *, max_age_s: float = 0.0) -> int:
        """The latest block's timestamp: the clock signature deadlines are checked against.

        With ``max_age_s``, a reading at most that old is reused: a clock late by a second is good enough
        to pick a default deadline or to refuse an expired one early (the contract checks the exact one).
        """
        if max_age_s > 0:
            with self._lock:
                if self._clock is not None and time.monotonic() - self._clock[0] <= max_age_s:
                    return self._clock[1]
        read_at = time.monotonic()
        timestamp = self.rpc.latest_timestamp()
        with self._lock:
            self._clock = (read_at, timestamp)
        return timestamp

    def escrow_address(self, procurement_id: bytes) -> str:
        """The escrow of a procurement; NotFound if the registry has none (positive answers are cached)."""
        with self._lock:
            cached = self._by_procurement.get(procurement_id)
        if cached is not None:
            return cached
        address = self.registry.escrow_of(procurement_id)
        if address is None:
            raise NotFound(f"no procurement 0x{procurement_id.hex()}")
        address = checksum(address)
        with self._lock:
            self._by_procurement[procurement_id] = address
        return address

    def known_terms(self, procurement_id: bytes) -> tuple[str, Terms] | None:
        """The procurement's escrow and terms if both were read before (no I/O), else None."""
        with self._lock:
            escrow = self._by_procurement.get(procurement_id)
            terms = None if escrow is None else self._terms.get(escrow)
        return None if escrow is None or terms is None else (escrow, terms)

    def escrow(self, address: str) -> EscrowClient:
        """A read-only client of the escrow at ``address`` (cached)."""
        address = checksum(address)
        with self._lock:
            client = self._escrows.get(address)
        if client is None:
            # Built outside the lock (a few milliseconds of ABI work) so that relays are not held up by it.
            client = EscrowClient(self.rpc, address, None, self.build)
            with self._lock:
                client = self._escrows.setdefault(address, client)
        return client

    def terms(self, escrow: str) -> Terms:
        """The escrow's fixed terms (immutable, so cached for good)."""
        with self._lock:
            cached = self._terms.get(escrow)
        if cached is not None:
            return cached
        terms = self.escrow(escrow).terms()
        with self._lock:
            self._terms[escrow] = terms
        return terms

    # ------------------------------------------------------------ relaying

    def _require_relayer(self) -> TxSender:
        if self.relayer is None:
            raise ServiceUnavailable("this gateway has no relayer account configured: signed actions are disabled")
        return self.relayer

    def escrow_lock(self, escrow: str) -> threading.Lock:
        """The lock that orders simulate-and-send on one escrow (held for milliseconds, never for a receipt).

        The simulation runs against the node's pending state, which holds every transaction sent before: a
        second action on the same escrow is checked against the state the first one leaves, so an
        attestation arriving after the quorum is refused before any gas is spent.
        """
        with self._lock:
            return self._escrow_locks.setdefault(checksum(escrow), threading.Lock())

    def signer_lock(self, signer: str) -> threading.Lock:
        """The lock that makes checking a signer's nonce and sending its action one step (no double send)."""
        with self._lock:
            return self._signer_locks.setdefault(checksum(signer), threading.Lock())

    def next_signer_nonce(self, signer: str) -> int:
        """The nonce ``signer`` must sign next: the registry's, past this gateway's relays still in flight."""
        signer = checksum(signer)
        # In-flight nonces first, the chain after: one mined in between is then below the chain's nonce,
        # whereas the other order could miss it in both (read as unmined, then gone from the set).
        with self._lock:
            known = self._next_nonce.get(signer)
            if known is not None and time.monotonic() - known[0] <= _NONCE_KNOWN_S:
                return known[1]
            in_flight = set(self._in_flight.get(signer, ()))
        nonce = self.registry.nonce(signer)
        while nonce in in_flight:
            nonce += 1
        return nonce

    def known_signer_nonce(self, signer: str) -> int | None:
        """``next_signer_nonce`` if it is known without asking the chain (after a recent relay), else None."""
        with self._lock:
            known = self._next_nonce.get(checksum(signer))
        if known is not None and time.monotonic() - known[0] <= _NONCE_KNOWN_S:
            return known[1]
        return None

    def known_now(self, max_age_s: float) -> int | None:
        """``now(max_age_s=...)`` if a reading that recent is at hand (no I/O), else None."""
        with self._lock:
            clock = self._clock
        if clock is not None and time.monotonic() - clock[0] <= max_age_s:
            return clock[1]
        return None

    def wait_for_room(self) -> None:
        """Wait (at most a while) until fewer than ``max_in_flight`` relays are in flight; call holding no lock."""
        give_up = time.monotonic() + _ROOM_WAIT_S
        with self._room:
            while len(self._pending) >= self.max_in_flight and time.monotonic() < give_up:
                self._wake.set()
                self._room.wait(max(0.0, min(_POLL_S, give_up - time.monotonic())))

    def forget_signer_nonce(self, signer: str) -> None:
        """Read the signer's nonce from the chain next time (after a refusal: someone else may have used it)."""
        with self._lock:
            self._next_nonce.pop(checksum(signer), None)

    def submit(
        self,
        escrow: str,
        function_name: str,
        args: list[Any],
        *,
        primary_type: str,
        signer: str,
        signer_nonce: int,
        deadline: int,
    ) -> Relay:
        """Simulate the ``...BySig`` call against the pending state, send it, and track it; no waiting.

        A revert in the simulation raises ContractRevert and nothing is sent. Call under ``signer_lock`` and
        ``escrow_lock``.
        """
        relayer = self._require_relayer()
        escrow, signer = checksum(escrow), checksum(signer)
        encoder = self._encoders.get(function_name) or self.build.codec("MilestoneEscrow").function(function_name)
        data = encoder.encode(args)
        min_gas = WORST_CASE_GAS.get(function_name, 0)
        try:
            sent = relayer.submit_data(escrow, data, min_gas=min_gas, block_identifier="pending")
        except (ContractRevert, TransactionFailed):
            # A node's pending state may miss a transaction it is mining right now (anvil's automine does, for
            # a moment): a refusal is final only once our own earlier relays on this escrow or from this
            # signer are mined. Until then, simulate again each time the oldest of them is mined (the one the
            # node was mining is soon among them, long before a backlog of later ones is), and once more after
            # they all are. Not more often: on anvil, each simulation against the pending state re-executes
            # every transaction waiting in its pool.
            earlier = sorted(self._pending_relays(escrow, signer), key=lambda relay: relay.sent.nonce)
            if not earlier:
                raise
            give_up = time.monotonic() + _RESIMULATE_WAIT_S
            while True:
                unsettled = [relay for relay in earlier if not relay.settled.is_set()]
                if unsettled:
                    unsettled[0].wait(max(0.0, give_up - time.monotonic()))
                final = all(relay.settled.is_set() for relay in earlier) or time.monotonic() >= give_up
                try:
                    sent = relayer.submit_data(escrow, data, min_gas=min_gas, block_identifier="pending")
                except (ContractRevert, TransactionFailed):
                    if final:
                        raise
                    continue
                break
        relay = Relay(
            tx_hash=sent.tx_hash,
            primary_type=primary_type,
            escrow=escrow,
            signer=signer,
            signer_nonce=signer_nonce,
            deadline=deadline,
            relayer=relayer.address,
            sent=sent,
            submitted_at=time.time(),
        )
        with self._lock:
            self._relays[relay.tx_hash] = relay
            while len(self._relays) > MAX_KEPT_RELAYS:
                oldest = next(iter(self._relays.values()))
                if oldest.status == "pending":
                    break
                self._relays.popitem(last=False)
            self._pending[sent.nonce] = relay
            self._in_flight.setdefault(relay.signer, set()).add(signer_nonce)
            self._next_nonce[relay.signer] = (time.monotonic(), signer_nonce + 1)
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="relay-watcher", daemon=True)
                self._watcher.start()
        return relay

    def _pending_relays(self, escrow: str, signer: str) -> list[Relay]:
        escrow, signer = checksum(escrow), checksum(signer)
        with self._lock:
            return [r for r in self._pending.values() if r.escrow == escrow or r.signer == signer]

    @property
    def receipt_timeout_s(self) -> float:
        """How long ``?wait=true`` waits for a receipt (the relayer's own timeout)."""
        return self._require_relayer().timeout

    def relay_status(self, tx_hash: str) -> Relay | None:
        """A relay this gateway sent (since it started), by transaction hash."""
        with self._lock:
            return self._relays.get(tx_hash.lower())

    def poll_relays(self) -> None:
        """Settle every relay whose receipt is in (one batched round trip for all of them).

        Only relays whose relayer nonce the chain has passed can have a receipt, so the relayer's mined count
        is read first and only their receipts are fetched: each receipt is read once, not once per poll.
        """
        relayer = self._require_relayer()
        with self._poll_lock:
            with self._lock:
                pending = [self._pending[nonce] for nonce in sorted(self._pending)[:_POLL_BATCH]]
            if not pending:
                return
            mined = relayer.mined_count()
            due = [relay for relay in pending if relay.sent.nonce < mined]
            if not due:
                return
            receipts = relayer.outcomes([relay.sent for relay in due])
            for relay, receipt in zip(due, receipts, strict=True):
                error: ContractRevert | TransactionFailed | None = None
                if receipt is None:
                    # The relayer's nonce is past it but it has no receipt: a moment's lag of the node's
                    # index, or, once it lasts, another transaction took its nonce.
                    if time.monotonic() - relay.submitted_monotonic < _REPLACED_AFTER_S:
                        continue
                    error = TransactionFailed(f"transaction {relay.tx_hash} was replaced and will never be mined")
                elif receipt.status != 1:
                    error = relayer.explain(relay.sent, receipt)
                    _log.warning("relayed %s %s reverted: %s", relay.primary_type, relay.tx_hash, error)
                self._settle(relay, receipt, error)

    def _settle(self, relay: Relay, receipt: Receipt | None, error: ContractRevert | TransactionFailed | None) -> None:
        with self._lock:
            relay.receipt = receipt
            relay.error = error
            relay.status = "mined" if error is None else "reverted"
            if error is not None:
                self._next_nonce.pop(relay.signer, None)  # the nonce was not used: the chain knows best
            self._pending.pop(relay.sent.nonce, None)
            self._room.notify()
            signer_nonces = self._in_flight.get(relay.signer)
            if signer_nonces is not None:
                signer_nonces.discard(relay.signer_nonce)
                if not signer_nonces:
                    del self._in_flight[relay.signer]
        relay.settled.set()

    def _watch(self) -> None:
        """Poll receipts while relays are in flight; exit after a while with nothing to do."""
        idle_since: float | None = None
        while True:
            with self._lock:
                busy = bool(self._pending)
            now = time.monotonic()
            if not busy:
                idle_since = idle_since if idle_since is not None else now
                if now - idle_since > _IDLE_EXIT_S:
                    with self._lock:
                        if not self._pending:
                            self._watcher = None
                            return
            else:
                idle_since = None
                try:
                    self.poll_relays()
                except (ChainError, OSError) as exc:  # the node is away for a moment: try again
                    _log.warning("polling relayed transactions failed: %s", exc)
                except Exception:
                    _log.exception("polling relayed transactions failed")
            # Every _POLL_S, or at once when a relay waits for room (then at most every _MIN_POLL_S).
            if self._wake.wait(_POLL_S):
                time.sleep(_MIN_POLL_S)
            self._wake.clear()

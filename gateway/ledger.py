"""The gateway's one door to the chain: typed clients from chain/, the chain's clock, and the relayer's account.

Everything here goes through chain/ (clients, the relayer's TxSender); the gateway never builds JSON-RPC or
ABI by hand and never holds a user's key. Relaying signed actions is gateway/relay/'s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from chain import (
    Build,
    ChainSource,
    EscrowClient,
    RegistryClient,
    SystemAddresses,
    Terms,
    TokenClient,
    Transport,
    TxSender,
    checksum,
    compile_contracts,
    is_final,
)
from gateway.errors import NotFound

__all__ = ["Ledger"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class Ledger:
    """The deployed system on one chain, seen from the gateway; ``relayer`` pays gas for signed actions."""

    def __init__(
        self,
        rpc: Transport,
        system: SystemAddresses,
        *,
        build: Build | None = None,
        relayer: TxSender | None = None,
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
        self._by_procurement: dict[bytes, tuple[str, ...]] = {}  # every registration read, oldest escrow first
        self._registrations_read = -1  # the last block whose registrations are in _by_procurement
        self._follow_lock = threading.Lock()
        self._terms: dict[str, Terms] = {}
        self._clock: tuple[float, int] | None = None  # (monotonic time read, latest block timestamp)
        self._block_times: dict[int, int] = {}

    # ------------------------------------------------------------ chain state

    def head(self) -> int:
        """The latest block number."""
        return self.rpc.block_number()

    def is_final(self, block: int | None) -> bool:
        """Whether what was mined in ``block`` (None: not yet) is final by the chain's finality (chain/finality.py):
        at once on a chain of immediate finality (QBFT), with enough blocks on top of it otherwise."""
        finality = self.system.finality
        if block is None:
            return False
        return is_final(block, block if finality.depth == 0 else self.head(), finality)  # (no head needed at 0)

    def genesis_hash(self) -> str:
        """Block 0's hash (asked each time: a node restarted afresh at the same URL is another chain)."""
        return ChainSource(self.rpc).genesis_hash()

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

    def block_time(self, number: int) -> int:
        """Block ``number``'s timestamp (kept once read; a reorg deeper than it is not expected)."""
        known = self._block_times.get(number)
        if known is None:
            block = self.rpc.result("eth_getBlockByNumber", [hex(number), False])
            if block is None:
                raise NotFound(f"no block {number}")
            known = int(block["timestamp"], 16)
            with self._lock:
                if len(self._block_times) >= 100_000:
                    self._block_times.clear()
                self._block_times[number] = known
        return known

    def last_block_at(self, timestamp: int, head: int) -> int:
        """The newest block at or below ``head`` whose timestamp is at most ``timestamp`` (-1 if none): a binary
        search over block timestamps, which never decrease."""
        low, high = 0, head
        if self.block_time(0) > timestamp:
            return -1
        while low < high:
            middle = (low + high + 1) // 2
            if self.block_time(middle) <= timestamp:
                low = middle
            else:
                high = middle - 1
        return low

    def known_now(self, max_age_s: float) -> int | None:
        """``now(max_age_s=...)`` if a reading that recent is at hand (no I/O), else None."""
        with self._lock:
            clock = self._clock
        if clock is not None and time.monotonic() - clock[0] <= max_age_s:
            return clock[1]
        return None

    def _remember(self, table: dict[_K, _V], key: _K, read: Callable[[], _V]) -> _V:
        """``table[key]``, read once and kept for good (read outside the lock: it may ask the chain)."""
        with self._lock:
            known = table.get(key)
        if known is None:
            value = read()
            with self._lock:
                known = table.setdefault(key, value)
        return known

    def escrows_of(self, procurement_id: bytes, *, fresh: bool = False) -> tuple[str, ...]:
        """The escrows registered under a procurement id, by any ministry (an id is unique within its ministry
        only: usually one); NotFound if none. ``fresh`` first reads the registrations made since the last read,
        for another ministry may have used the id since.

        The ledger follows every EscrowRegistered event of the registry (``_follow_registrations``): an id it
        does not know, or a fresh read, costs one log query over the blocks not yet read, never a query from
        the deployment block, so requests naming unknown ids cannot make the node scan the chain again and
        again.
        """
        with self._lock:
            known = self._by_procurement.get(procurement_id)
        if known is None or fresh:
            self._follow_registrations()
            with self._lock:
                known = self._by_procurement.get(procurement_id)
        if known is None:
            raise NotFound(f"no procurement 0x{procurement_id.hex()}")
        return known

    def _follow_registrations(self) -> None:
        """Read the registrations from the block after the last one read up to the head (one at a time)."""
        with self._follow_lock:
            head = self.rpc.block_number()
            start = self._registrations_read + 1 if self._registrations_read >= 0 else self.system.deployed_block
            if head < start:
                return
            found = self.registry.registrations(start, head)
            with self._lock:
                for procurement_id, escrow in found:
                    escrows = self._by_procurement.get(procurement_id, ())
                    if escrow not in escrows:
                        self._by_procurement[procurement_id] = (*escrows, escrow)
                self._registrations_read = head

    def known_terms(self, procurement_id: bytes) -> tuple[str, Terms] | None:
        """The procurement's escrow and terms if both were read before (no I/O) and the id names one escrow,
        else None."""
        with self._lock:
            escrows = self._by_procurement.get(procurement_id)
            terms = None if escrows is None or len(escrows) != 1 else self._terms.get(escrows[0])
        return None if escrows is None or terms is None else (escrows[0], terms)

    def escrow(self, address: str) -> EscrowClient:
        """A read-only client of the escrow at ``address`` (made once: a few milliseconds of ABI work)."""
        address = checksum(address)
        return self._remember(self._escrows, address, lambda: EscrowClient(self.rpc, address, None, self.build))

    def terms(self, escrow: str) -> Terms:
        """The escrow's fixed terms (immutable, so kept for good)."""
        return self._remember(self._terms, escrow, lambda: self.escrow(escrow).terms())

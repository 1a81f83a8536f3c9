"""The sync loop: fetch logs over adaptive block ranges, decode, map, and apply them with the cursor.

Safety, in order of the steps of one range ``[cursor + 1, hi]``:

1. ``hi`` stays ``confirmations`` blocks behind the head;
2. the parent hash of block ``cursor + 1`` must equal the cursor's hash, else the chain reorganized: roll back
   to the newest stored block that is still canonical and start again from there;
3. the hash of ``hi`` is read before and after eth_getLogs: if it changed, the logs may mix two forks and
   the range is fetched again;
4. rows, digests and the cursor are written in one SQL transaction (see ``indexer.store``).

Ranges grow while they come back small and shrink on provider errors or oversized results.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from chain import (
    Build,
    ChainSource,
    DecodedLog,
    DecodeError,
    EventDecoder,
    Header,
    JsonRpc,
    ProviderError,
    SystemAddresses,
    checksum,
    confirmations_for,
    gc_paused,
)
from indexer._fetcher import Decoded, Fetched, Undecodable, chain_logs, decode_logs, decoded_pieces, fetch_raw
from indexer.cursor import Cursor
from indexer.deferred_indexes import build_deferred, defer_indexes, deferred_indexes
from indexer.errors import IndexerError, LockLost
from indexer.lease import HEARTBEAT_S, LEASE_TTL_S, STANDBY_POLL_S
from indexer.mappers import MappedLog, TrustEscrow, map_log
from indexer.models import TABLES
from indexer.pipeline import FetchProcess, Pipeline
from indexer.schema import upgrade
from indexer.store import Store
from indexer.writer_lock import WriterLock

# ChainSource, Header and ProviderError live in chain, decode_logs in indexer._fetcher (the fetch process's module);
# they are re-exported for the callers of this module.
__all__ = [
    "ChainSource",
    "Header",
    "Indexer",
    "ProviderError",
    "SyncConfig",
    "SyncStats",
    "decode_logs",
    "decode_range",
    "map_decoded",
    "trusted_emitters",
]

_AHEAD = 3  # ranges fetched ahead of the one being indexed, at most (each of at most about 2 x target_logs logs)
# Prefetching this many blocks or more starts the fetch process (over HTTP): it is ready after about a tenth of a
# second, when a shorter catch-up is mostly over.
_FETCH_PROCESS_BLOCKS = 32
# A fetch process waited for that sends nothing for this many times the node's timeout is stuck (a range takes at
# most six requests: its headers, logs, block times and last header again): it is killed, an IndexerError.
_FETCH_STALL_REQUESTS = 8


class _Ahead:
    """Consecutive ranges from ``lo`` up to ``target``, fetched one after the other by a thread of their own (over
    HTTP, through the indexer's fetch process, which also decodes them), at most ``_AHEAD`` of them waiting: the
    node always has the next ``eth_getLogs`` to answer while the indexer maps and writes. ``fetch_next`` is the
    indexer's own (it adapts the span); the thread ends at the target, at a range the chain moved under (the indexer
    asks the head and fetches again), or at an error (raised by ``take``).
    """

    def __init__(
        self, executor: ThreadPoolExecutor, fetch_next: Callable[[int, int], Fetched | None], lo: int, target: int
    ) -> None:
        self.lo = lo  # where the next range taken starts
        self.flowing = True  # False once the thread's last word (the end, or an error) was taken
        self._queue: queue.Queue[Fetched | BaseException | None] = queue.Queue(_AHEAD)
        self._stop = threading.Event()
        self._done = executor.submit(self._run, fetch_next, lo, target)

    def _run(self, fetch_next: Callable[[int, int], Fetched | None], lo: int, target: int) -> None:
        while lo <= target and not self._stop.is_set() and threading.main_thread().is_alive():
            try:
                fetched = fetch_next(lo, target)
            except BaseException as exc:  # handed to the indexer's thread, which raises it
                self._put(exc)
                return
            if fetched is not None and fetched.error is not None:
                continue  # fetch_next halved the span: the same range, shorter
            self._put(fetched)
            if fetched is None:
                return
            lo = fetched.hi + 1
        self._put(None)

    def _put(self, item: Fetched | BaseException | None) -> None:
        # An indexer never closed must not keep the interpreter from exiting (it joins the executor's thread).
        while not self._stop.is_set() and threading.main_thread().is_alive():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def take(self, lo: int) -> Fetched | None:
        """The next range, waiting for it, if it starts at ``lo``; None if not, or if the thread ended."""
        if not self.flowing or lo != self.lo:
            return None
        item = self._queue.get()
        if item is None or isinstance(item, BaseException):
            self.flowing = False
            if item is not None:
                raise item
            return None
        self.lo = item.hi + 1
        return item

    def stop(self) -> None:
        """End the thread (after the fetch in progress) and drop what it fetched."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self._done.result()
        self.flowing = False


@dataclass
class SyncConfig:
    """Tuning of the loop; the defaults suit a local chain and a permissioned QBFT network."""

    confirmations: int | None = None  # None: the chain's finality says (chain/finality.py)
    # The first range is two blocks, and the span doubles while ranges come back small: a pipelined catch-up can
    # start nothing before its first range with logs is fetched, so that one should not be large. Starting at 32
    # blocks, both benchmarks' first range with logs held their whole dense start (31,027 and 23,537 logs, 0.3 s
    # with every other stage idle); a sparse chain pays a few more round trips (BENCHMARKS.md, session 11).
    initial_span: int = 2
    max_span: int = 20_000
    target_logs: int = 8_000
    poll_interval_s: float = 1.0
    # The writer's lease (indexer/lease.py): renewed every ``heartbeat_s`` (at most a third of the TTL), a holder
    # silent for ``lock_ttl_s`` is presumed dead; a standby asks every ``standby_poll_s``.
    lock_ttl_s: float = LEASE_TTL_S
    heartbeat_s: float = HEARTBEAT_S
    standby_poll_s: float = STANDBY_POLL_S
    # What the mirror serves is checked against the chain again (indexer/self_check.py): the last
    # ``recheck_recent_blocks`` blocks every ``recheck_recent_s`` seconds, everything every ``recheck_all_s``
    # seconds (0: never).
    recheck_recent_s: float = 60.0
    recheck_recent_blocks: int = 256
    recheck_all_s: float = 86_400.0
    # A catch-up into an empty mirror at least this many blocks behind its target drops the secondary indexes of the
    # event tables and builds them when it gets there (indexer/deferred_indexes.py); None: never. Deferring saves CPU
    # at any size (an index built from the rows once is cheaper than one maintained row by row) and costs a fixed
    # few dozen DDL statements, and reads that go without those indexes while the mirror is behind anyway. Blocks
    # say little of the rows (bench_budget's 23,537 logs of blocks 33-77, bench_indexer's 119,157 in 213 blocks),
    # so the threshold only leaves alone a mirror started with its deployment, a few ranges behind at most.
    # `procure audit replay` always defers (0).
    defer_indexes_blocks: int | None = 32


@dataclass
class SyncStats:
    """What one run did."""

    ranges: int = 0
    logs_applied: int = 0
    ignored_logs: int = 0
    reorgs: int = 0
    shrinks: int = 0
    rolled_back_events: int = 0
    seconds: float = 0.0
    history: list[tuple[int, int]] = field(default_factory=list)  # (to_block, logs) per range, for tests


def trusted_emitters(system: SystemAddresses) -> dict[str, str]:
    """The system's own emitters by address, with their kind (escrows are learnt from their creation events)."""
    return {
        checksum(system.registry): "registry",
        checksum(system.token): "token",
        checksum(system.factory): "factory",
        checksum(system.budget): "budget",
        checksum(system.budget_office): "budget_office",
    }


def map_decoded(decoded: Sequence[Decoded], trusted: dict[str, str]) -> tuple[list[MappedLog], int]:
    """Map the decoded logs (``indexer._fetcher.decode_logs``) of trusted emitters, in order; ``trusted`` (address ->
    kind) learns new escrows. A log of any other emitter is ignored, whether it could be decoded or not; one of a
    trusted emitter that could not be is a DecodeError.

    Returns the mapped logs and how many logs were ignored.
    """
    out: list[MappedLog] = []
    ignored = 0
    previous: DecodedLog | None = None
    new = tuple.__new__  # a MappedLog without its generated ``__new__`` (a Python call per log)
    with gc_paused():  # hundreds of thousands of small objects: see chain.logs.gc_paused
        for log in decoded:
            # An escrow is always a contract the factory has just created, never a system contract: a trusted
            # emitter's log was decoded by its kind.
            if log.emitter not in trusted:
                ignored += 1
                continue
            if isinstance(log, Undecodable):
                raise DecodeError(log.message)
            before = previous if previous is not None and previous.tx_hash == log.tx_hash else None
            changes = tuple(map_log(log, before))
            for change in changes:
                if type(change) is TrustEscrow:
                    trusted[change.escrow] = "escrow"
            out.append(new(MappedLog, (log, changes)))
            previous = log
    return out, ignored


def decode_range(
    decoder: EventDecoder, raw_logs: Sequence[Mapping[str, Any]], trusted: dict[str, str], chain_id: int
) -> tuple[list[MappedLog], int]:
    """Decode and map the logs of trusted emitters, in order (``decode_logs``, then ``map_decoded``); ``trusted``
    (address -> kind) learns new escrows. Returns the mapped logs and how many logs were ignored (untrusted
    emitter or unknown event)."""
    decoded, unknown = decode_logs(decoder, raw_logs, trusted, chain_id)
    mapped, ignored = map_decoded(decoded, trusted)
    return mapped, unknown + ignored


if TYPE_CHECKING:
    from indexer.self_check import SelfCheck

_log = logging.getLogger("indexer.sync")
_COLLECT_EVERY = 500_000  # logs applied between two explicit collections while catching up


class Indexer:
    """Mirrors one deployed system into one database."""

    def __init__(
        self,
        engine: Engine,
        source: ChainSource,
        system: SystemAddresses,
        build: Build,
        config: SyncConfig | None = None,
        *,
        migrate: bool = True,
    ) -> None:
        self.engine = engine
        self.source = source
        self.system = system
        self.build = build
        self.config = config or SyncConfig()
        self.decoder = EventDecoder(build)
        self.topics = self.decoder.topics()
        self.chain_id = source.chain_id
        if system.chain_id != self.chain_id:
            raise IndexerError(f"the system was deployed on chain {system.chain_id}, the node is chain {self.chain_id}")
        if migrate:
            upgrade(engine)
        self.store = Store(engine, self.chain_id)
        # How far behind the head the mirror stays: the chain's finality, unless the config names a depth (then
        # ``finality_warning`` says whether that contradicts the finality: the caller shows it).
        self.confirmations, self.finality_warning = confirmations_for(system.finality, self.config.confirmations)
        self.lock = WriterLock(engine, f"indexer:{self.chain_id}", self.config.lock_ttl_s)
        self._beat_s = min(self.config.heartbeat_s, self.config.lock_ttl_s / 3)
        self._renewed = time.monotonic()  # when the lease was last renewed (a write or a heartbeat)
        self.span = self.config.initial_span
        self.stats = SyncStats()
        self.trusted: dict[str, str] = {}
        self._locked = False
        self._ahead: _Ahead | None = None
        self._pipeline: Pipeline | None = None  # while catching up over HTTP
        # Prefetching (_Ahead) overlaps the node's work with ours, where the transport allows a second thread
        # (eth-tester does not); over HTTP, the fetch process (started by a catch-up, or the first prefetch) also
        # decodes them.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="prefetch") if source.concurrent else None
        self._fetcher: FetchProcess | None = None

    # ------------------------------------------------------------ lifecycle

    def take_over(
        self, stopping: Callable[[], bool] = lambda: False, waiting: Callable[[str], None] = lambda message: None
    ) -> bool:
        """A standby: wait until the writer lock is free or its holder's lease ran out, and take it (``open``
        follows); ``waiting`` hears who holds it. False if ``stopping()`` said to give up first."""
        if not self._locked:
            self._locked = self.lock.wait_acquire(self.config.standby_poll_s, stopping, waiting)
            self._renewed = time.monotonic()
        return self._locked

    def open(self) -> Cursor:
        """Take the writer lock (unless ``take_over`` did) and make sure the cursor exists; returns it."""
        if not self._locked:
            self.lock.acquire()
            self._locked = True
            self._renewed = time.monotonic()
        start = self.system.deployed_block
        before = self.source.header(start - 1) if start > 0 else None
        cursor = self.store.init_cursor(
            start_block=start,
            before_hash=before.hash if before else "0x" + "0" * 64,
            registry=self.system.registry,
            token=self.system.token,
            factory=self.system.factory,
            genesis_hash=self.source.genesis_hash(),
            lock=self.lock,
        )
        self._load_trusted()
        untimed = self.store.blocks_without_time()  # mirrored before block times were (migration 0008)
        if untimed:
            self.store.record_block_times(self.source.block_times(untimed), self.lock)
        return cursor

    def close(self) -> None:
        """Release the writer lock (and stop the fetch process)."""
        self._discard_prefetch()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.stop()
        self.store.close()
        if self._locked:
            self.lock.release()
            self._locked = False

    def __enter__(self) -> Indexer:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load_trusted(self) -> None:
        self.trusted = trusted_emitters(self.system)
        for escrow in self.store.trusted_escrows():
            self.trusted[escrow] = "escrow"

    def _cursor(self) -> Cursor:
        if self._pipeline is not None:
            return self._pipeline.cursor()
        cursor = self.store.cursor()
        if cursor is None:
            raise IndexerError("the mirror has no cursor: open() first")
        return cursor

    # ------------------------------------------------------------ the loop

    def safe_head(self) -> int:
        """The newest block the mirror may include (head minus confirmations)."""
        return self.source.head() - self.confirmations

    def chain_logs(self, lo: int, hi: int) -> list[dict[str, Any]]:
        """The logs of blocks ``lo`` to ``hi`` as the node gives them; from block 0, the events of a deployment placed
        in the genesis come first (``SystemAddresses.genesis_logs``: chain/genesis_events.py)."""
        return chain_logs(self.source, self.topics, self.system.genesis_logs, lo, hi)

    def _fetch(self, lo: int, hi: int) -> Fetched | None:
        """Headers and logs of ``[lo, hi]`` (``fetch_raw``), decoded here piece by piece as they are taken; None when
        the chain moved under us (fetch again)."""
        fetched = fetch_raw(self.source, self.chain_logs, lo, hi)
        if fetched is None:
            return None
        top, first, raw, error = fetched
        kinds = trusted_emitters(self.system)
        pieces = decoded_pieces(self.decoder, raw, kinds, self.chain_id, self.config.target_logs, hi, top.hash)
        return Fetched(lo, hi, top, first, len(raw), error, pieces)

    def _fetch_process(self) -> FetchProcess | None:
        """The fetch process, started if it is not running, where it can read the node as the source does (a plain
        ChainSource over HTTP; a test's source that paces or refuses queries is its own); else None."""
        rpc = self.source.rpc
        if type(self.source) is not ChainSource or not isinstance(rpc, JsonRpc):
            return None
        if self._fetcher is None or self._fetcher.dead is not None:
            if self._fetcher is not None:
                self._fetcher.stop()
            self._fetcher = FetchProcess(
                (
                    rpc.url,
                    rpc.timeout,
                    self.chain_id,
                    self.topics,
                    trusted_emitters(self.system),
                    [(log.address, list(log.topics), log.data) for log in self.system.genesis_logs],
                    EventDecoder.event_abis(self.build),
                ),
                stall_s=_FETCH_STALL_REQUESTS * rpc.timeout,
            )
        return self._fetcher

    def _fetch_next(
        self, lo: int, target: int, fetch: Callable[[int, int], Fetched | None] | None = None
    ) -> Fetched | None:
        """The next range from ``lo``, ``span`` blocks at most (``fetch``: ``_fetch`` unless given), and the span
        adapted to it: halved on a provider error (the error is raised when the span is one block already), cut in
        proportion to the logs of an oversized result (fetched again when over four times the target), doubled while
        results come back small. None when the chain moved under us."""
        fetched = (fetch or self._fetch)(lo, min(target, lo + self.span - 1))
        if fetched is None:
            return None
        if fetched.error is not None:
            if self.span == 1:
                raise fetched.error
            self.span = max(1, min(self.span, fetched.hi - lo + 1) // 2)
            self.stats.shrinks += 1
        elif fetched.count > 2 * self.config.target_logs and fetched.hi > lo:
            # Cut in proportion to the logs, and a range of over four times the target fetched again smaller rather
            # than decoded: what a range holds in memory is bounded by its logs, not its blocks (a whole chain may
            # sit in a few dozen dense blocks after a quiet stretch has grown the span).
            self.span = max(1, (fetched.hi - lo + 1) * self.config.target_logs // fetched.count)
            self.stats.shrinks += 1
            if fetched.count > 4 * self.config.target_logs:
                del fetched
                return self._fetch_next(lo, target, fetch)
        elif fetched.count < self.config.target_logs // 2:
            self.span = min(self.config.max_span, self.span * 2)
        return fetched

    def _prefetch(self, lo: int, target: int) -> _Ahead:
        """Ranges from ``lo`` to ``target`` fetched ahead, through the fetch process where there is one (started
        here if ``_FETCH_PROCESS_BLOCKS`` or more are left, by the main thread: the kernel's PR_SET_PDEATHSIG
        follows the thread that started a process) once it is ready; until then (its imports take a tenth of a
        second, a short catch-up's first ranges) as without."""
        assert self._executor is not None
        size = self.config.target_logs
        far = target - lo >= _FETCH_PROCESS_BLOCKS
        fetcher = self._fetch_process() if far or self._fetcher is not None else None
        if fetcher is None:
            return _Ahead(self._executor, self._fetch_next, lo, target)

        def fetch(lo: int, hi: int) -> Fetched | None:
            return fetcher.fetch(lo, hi, size, 4 * size) if fetcher.ready else self._fetch(lo, hi)

        return _Ahead(self._executor, functools.partial(self._fetch_next, fetch=fetch), lo, target)

    def step(self, limit: int | None = None, *, safe_head: int | None = None) -> int:
        """Index one range (up to ``limit`` if given); returns the blocks covered (0: nothing new, or a reorg).

        ``safe_head`` is the safe head if the caller has just asked the node for it (saves a round trip).
        """
        cursor = self._cursor()
        head = self.safe_head() if safe_head is None else safe_head
        target = head if limit is None else min(limit, head)
        if target <= cursor.block_number:
            self._discard_prefetch()
            here = self.source.header(cursor.block_number) if cursor.block_number >= 0 else None
            if cursor.block_number >= self.system.deployed_block and (here is None or here.hash != cursor.block_hash):
                self._reorg(cursor)
            return 0
        lo = cursor.block_number + 1
        fetched = self._ahead.take(lo) if self._ahead is not None else None
        if fetched is None or fetched.hi > target:
            self._discard_prefetch()
            fetched = self._fetch_next(lo, target)
        if fetched is None or fetched.error is not None:  # the chain moved, or the span was halved: again
            return 0
        if fetched.first.parent_hash != cursor.block_hash and cursor.block_number >= self.system.deployed_block:
            self._reorg(cursor)
            return 0
        hi = fetched.hi
        if self._executor is not None and self._ahead is None and hi < target:
            # the next ranges are fetched (and decoded, by the fetch process) while this one is decoded and written
            self._ahead = self._prefetch(hi + 1, target)
        ignored = 0
        try:
            # An oversized range is written in several transactions, cut at block boundaries: each moves the
            # cursor to its last block (whose hash the logs carry), so that none grows without bound. Each piece
            # is decoded (here, or by the fetch process as soon as it has the range) and mapped just before it is
            # planned, so that a pipelined catch-up hands the writer its first piece without decoding the whole
            # range first (the writer would sit idle meanwhile, then have the pieces come faster than it writes).
            for decoded, unknown, end, end_hash in fetched.pieces:
                mapped, skipped = map_decoded(decoded, self.trusted)
                ignored += unknown + skipped
                if self._pipeline is not None:
                    self._committed(self._pipeline.apply(mapped, end, end_hash))
                else:
                    with self._writing():
                        self._committed([(end, self.store.apply(mapped, end, end_hash, self.lock))])
        except BaseException:
            self._discard_prefetch()
            self._load_trusted()  # the escrows learnt from this range were not (all) committed
            raise
        self.stats.ranges += 1
        self.stats.ignored_logs += ignored
        return hi - cursor.block_number

    def _committed(self, ranges: list[tuple[int, int]]) -> None:
        for end, applied in ranges:
            self.stats.logs_applied += applied
            self.stats.history.append((end, applied))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction of this indexer's, which renews its lease. If the database ended it (the holder
        stalled inside it past its lease: see WriterLock) and the lease is another's now, LockLost."""
        try:
            yield
        except DBAPIError as exc:
            if self._locked and not self.lock.owned():
                raise LockLost(f"lock {self.lock.name} was taken over by another indexer; stopping") from exc
            raise
        self._renewed = time.monotonic()

    def _keep_lease(self) -> None:
        """Renew the lease if no write renewed it for a heartbeat interval."""
        if time.monotonic() - self._renewed >= self._beat_s:
            self.lock.heartbeat()
            self._renewed = time.monotonic()

    def _discard_prefetch(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.stop()

    def _reorg(self, cursor: Cursor) -> None:
        if self._pipeline is not None:
            self._committed(self._pipeline.wait())  # the rollback needs every planned range written
        ancestor = self.system.deployed_block - 1
        for number, stored in self.store.recent_blocks(cursor.block_number, limit=10_000):
            canonical = self.source.header(number)
            if canonical is not None and canonical.hash == stored:
                ancestor = number
                break
        header = self.source.header(ancestor) if ancestor >= 0 else None
        with self._writing():
            removed = self.store.rollback(ancestor, header.hash if header else "0x" + "0" * 64, self.lock)
        self.stats.reorgs += 1
        self.stats.rolled_back_events += removed
        self.span = self.config.initial_span
        self._discard_prefetch()
        self._load_trusted()
        if self._pipeline is not None:
            self._pipeline.reset()

    def catch_up(self, progress: Callable[[int, int], None] | None = None, until: int | None = None) -> SyncStats:
        """Index up to the safe head as it is now (or ``until``), then return."""
        started = time.perf_counter()
        target = self.safe_head() if until is None else until
        if self._executor is not None and target - self._cursor().block_number > _FETCH_PROCESS_BLOCKS:
            # Ranges will be prefetched: the fetch process starts now, so that its imports (a tenth of a second)
            # overlap the indexer's first range, and it is ready for as many of the next ones as may be.
            self._fetch_process()
        self._defer_indexes(target)
        # Over HTTP, a writer process writes each range while the next is read (see Pipeline).
        if self._executor is not None and self.store.can_pipeline:
            self._pipeline = self.store.pipeline(self.lock)
        collected_at = self.stats.logs_applied
        try:
            # The cyclic collector stays paused while catching up: each of its runs would traverse every object
            # of the ranges in hand, and reference counting frees them anyway. The few cycles (about one object
            # per ten events: transactions, futures) are collected every _COLLECT_EVERY logs.
            with gc_paused():
                while True:
                    if self._pipeline is None:  # (the writer process renews the lease in its own transactions)
                        self._keep_lease()
                    cursor = self._cursor()
                    if progress is not None:
                        progress(cursor.block_number, target)
                    # While prefetched ranges flow, they are below the target and on the chain (a range the chain
                    # moved under ends them): the node's head is asked only when they stop.
                    flowing = self._ahead is not None and self._ahead.flowing
                    head = target if flowing else self.safe_head()
                    limit = min(target, head)
                    self.step(limit=limit, safe_head=head)  # at the limit: only checks the cursor is still canonical
                    if cursor.block_number >= limit and self._cursor().block_number >= limit:
                        break
                    if self.stats.logs_applied - collected_at >= _COLLECT_EVERY:
                        gc.collect()
                        collected_at = self.stats.logs_applied
            if self._pipeline is not None:
                self._committed(self._pipeline.wait())
            self._build_deferred_indexes()
        except BaseException:
            if self._pipeline is not None:
                with contextlib.suppress(Exception):  # the write in flight, if any: it commits or not, whole
                    self._pipeline.wait()
            self._load_trusted()  # escrows learnt from ranges that were planned but not written
            raise
        finally:
            self._pipeline = None
        self.stats.seconds += time.perf_counter() - started
        return self.stats

    def _defer_indexes(self, target: int) -> None:
        """Drop the event tables' secondary indexes if this catch-up fills an empty database (nothing mirrored, of
        any chain) from at least ``defer_indexes_blocks`` blocks behind ``target``; recorded in the same transaction
        (see ``indexer.deferred_indexes``)."""
        threshold = self.config.defer_indexes_blocks
        cursor = self._cursor()
        if threshold is None or cursor.block_number >= cursor.start_block or target - cursor.block_number < threshold:
            return
        cursors = TABLES["cursors"]
        with self._writing(), self.engine.begin() as conn:
            self.lock.refresh(conn)
            # The cursor moves with the rows it covers: every cursor still before its first block, no rows anywhere.
            if deferred_indexes(conn) or any(
                number >= start for number, start in conn.execute(select(cursors.c.block_number, cursors.c.start_block))
            ):
                return
            dropped = defer_indexes(conn)
        if dropped:
            _log.info("catching up into an empty mirror: %d secondary indexes are built at the end", len(dropped))

    def _build_deferred_indexes(self) -> None:
        """Build the indexes a catch-up into an empty mirror deferred, if any are (one transaction)."""
        with self.engine.connect() as conn:
            if not deferred_indexes(conn):
                return
        started = time.perf_counter()
        with self._writing(), self.engine.begin() as conn:
            self.lock.refresh(conn)
            built = build_deferred(conn)
            self.lock.refresh(conn)  # the lease runs from the commit, however long the build took
        _log.info("built %d deferred indexes in %.1f s", len(built), time.perf_counter() - started)

    def follow(self, should_stop: Callable[[], bool], on_step: Callable[[Cursor], None] | None = None) -> None:
        """Index forever (until ``should_stop()``), polling the head, renewing the lock while idle."""
        started = time.monotonic()
        checked = {"recent": started, "all": started - self.config.recheck_all_s}  # everything once at start
        self._build_deferred_indexes()  # a mirror left deferred (catch_up built them, unless it was never called)
        while not should_stop():
            covered = self.step()
            if on_step is not None:
                on_step(self._cursor())
            self._recheck(checked)
            if covered:
                continue
            self._keep_lease()
            time.sleep(min(self.config.poll_interval_s, self._beat_s))

    def check_served(self, scope: str) -> SelfCheck:
        """Check what the mirror serves against the chain: the last ``recheck_recent_blocks`` blocks (``recent``)
        or every block (``all``); recorded for /healthz and `procure index status`. Needs no writer lock."""
        from indexer.self_check import run_self_check

        if not self.trusted:
            self._load_trusted()
        cursor = self.store.cursor()
        if cursor is None:
            raise IndexerError(f"no mirror of chain {self.chain_id} yet: run the indexer first")
        first = 0 if scope == "all" else cursor.block_number - self.config.recheck_recent_blocks + 1
        beat = self.lock.heartbeat if self._locked else (lambda: None)  # a long check must not lose the lock
        return run_self_check(self, scope, first, cursor.block_number, beat)

    def _recheck(self, checked: dict[str, float]) -> None:
        """Check what the mirror serves when its period has come (SyncConfig.recheck_*)."""
        now = time.monotonic()
        periods = {"all": self.config.recheck_all_s, "recent": self.config.recheck_recent_s}
        for scope, period in periods.items():
            if period > 0 and now - checked[scope] >= period:
                checked[scope] = now
                check = self.check_served(scope)
                if not check.ok:
                    _log.warning("%s", check)

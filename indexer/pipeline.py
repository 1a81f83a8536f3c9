"""Pipelined catch-up: the indexer plans each range while a writer process writes the one before.

One Python process cannot both plan and write at full speed (its ``executemany`` takes the GIL back after every
row; psycopg's COPY formats every row in Python), so a catch-up hands each ``WritePlan``, as plain values over a
pipe, to a writer process (``indexer._sqlite_writer`` for an SQLite file, standard library only;
``indexer._postgres_writer`` for PostgreSQL) that applies it in one transaction while the indexer
maps and plans the next.

Over HTTP, a fetch process (``indexer._fetcher``, ``FetchProcess`` here) fetches and decodes the ranges ahead of the
one being planned: three processes, one step of the catch-up each, the indexer's own mapping and planning.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chain.errors import ProviderError
from chain.logs import Header, gc_paused
from indexer._fetcher import Fetched, Piece, from_wire
from indexer._pipes import receive, send
from indexer.cursor import Cursor
from indexer.errors import IndexerError, LockLost
from indexer.lease import IDLE_GRACE_MS
from indexer.mappers import MappedLog
from indexer.planning import EscrowState, Planner
from indexer.write_plan import WritePlan
from indexer.writer_lock import WriterLock

if TYPE_CHECKING:
    from indexer.store import Store

__all__ = ["ChildProcess", "FetchProcess", "Pipeline", "WriterProcess", "after"]


def after(mapped: Sequence[MappedLog], block: int) -> Sequence[MappedLog]:
    """The logs above ``block`` (logs come in chain order: usually all of them, without a copy)."""
    if not mapped or mapped[0].log.block_number > block:
        return mapped
    return [m for m in mapped if m.log.block_number > block]


class ChildProcess:
    """A process of the indexer's own (``python -S -m MODULE ARGUMENTS... PID``) over two pipes, messages as
    ``send`` and ``receive`` make them; ``hello``, if given, is its first message (what it must not read from its
    command line). It asks the kernel to kill it when the indexer dies (``PR_SET_PDEATHSIG``: ``die_with_parent``).

    It imports from the indexer's own ``sys.path`` (the project's root first), given whole, so that it skips the
    ``site`` module (``-S``): the site-packages' ``.pth`` files, among them an editable install's import hook, cost
    a fetch process that a catch-up waits for about 15 ms of its start."""

    name = "child"  # what errors call it

    def __init__(self, module: str, arguments: Sequence[str] = (), hello: Any = None) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        path = [root, *(entry for entry in sys.path if entry and entry != root and os.path.exists(entry))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-m", module, *arguments, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        # Linux: a 1 MB pipe buffer instead of 64 kB (a range's rows are megabytes): fewer wake-ups on both sides.
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, AttributeError, ValueError):
                fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)  # type: ignore[union-attr]
        if hello is not None:
            self._send(hello)

    def _send(self, message: Any) -> None:
        assert self.process.stdin is not None
        try:
            send(self.process.stdin, message)
        except OSError as exc:
            raise IndexerError(f"the {self.name} process is gone ({exc})") from None

    def _receive(self) -> Any:
        """The next message; IndexerError naming the process if it died."""
        assert self.process.stdout is not None
        try:
            return receive(self.process.stdout)
        except (EOFError, OSError, ValueError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(1)
            raise IndexerError(f"the {self.name} process died (exit code {self.process.poll()})") from None

    def stop(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class WriterProcess(ChildProcess):
    """The writer process of a pipelined catch-up: ``indexer._sqlite_writer`` or ``indexer._postgres_writer``.
    Killed with the indexer, it leaves only whole, committed ranges."""

    name = "writer"

    def __init__(self, module: str, arguments: Sequence[str] = (), hello: Any = None) -> None:
        super().__init__(module, arguments, hello)
        self._ready = False

    def send(self, lock: tuple[str, str, int], plan: WritePlan) -> None:
        self._send((lock, tuple(plan)))

    def receive(self) -> tuple[str, str | None]:
        if not self._ready:
            kind, why = self._receive()  # ("ready", None), or why it cannot write
            if kind != "ready":
                raise IndexerError(f"the writer process cannot start: {why}")
            self._ready = True
        reply: tuple[str, str | None] = self._receive()
        return reply


class FetchProcess(ChildProcess):
    """The fetch process of a catch-up over HTTP (``indexer._fetcher``): it fetches and decodes the ranges asked of
    it, one after the other, while the indexer maps and plans. ``fetch`` asks for a range and returns once its
    header is in; its pieces come in meanwhile, each as soon as the process decoded it, read by a thread of this
    side (``_read``) into the range's queue, which ``Fetched.pieces`` takes them from.

    Requests are numbered, and each answer goes to its request's queue: the pieces of a range nobody takes any more
    (a discarded prefetch) end with that queue, and the process is ready for the next request whatever was asked
    before. Its death is an IndexerError naming it,
    raised by ``fetch`` and by a range's pieces, never a wait without end; so is a process that sends nothing for
    ``stall_s`` seconds while it is waited for (stopped, or stuck: its own requests to the node time out sooner),
    which is killed.
    """

    name = "fetch"

    def __init__(self, hello: Any, stall_s: float) -> None:
        super().__init__("indexer._fetcher", hello=hello)
        self.stall_s = stall_s
        self._heard = time.monotonic()  # when its last message came
        self._numbers = itertools.count()
        self._headers: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._ranges: dict[int, queue.Queue[Any]] = {}  # a range's pieces, by request, until its last one
        self._streaming: set[int] = set()  # requests whose header is in and whose pieces are coming
        self._guard = threading.Lock()
        self.dead: IndexerError | None = None
        self.ready = False  # its imports done (until then, the indexer fetches and decodes itself)
        self._reader = threading.Thread(target=self._read, name="fetch-process-reader", daemon=True)
        self._reader.start()

    def fetch(self, lo: int, hi: int, size: int, limit: int) -> Fetched | None:
        """Blocks ``lo`` to ``hi`` as ``indexer._fetcher.fetch_raw`` and ``decoded_pieces`` give them, in pieces
        of about ``size`` logs, left undecoded if over ``limit`` logs (and over one block): to be fetched again."""
        if self.dead is not None:
            raise self.dead
        number = next(self._numbers)
        pieces: queue.Queue[Any] = queue.Queue()
        with self._guard:
            self._ranges[number] = pieces
        self._send((number, lo, hi, size, limit))
        while True:
            message = self._wait(self._headers)
            if message[1] == number:
                break
        kind = message[0]
        if kind == "moved":
            return None
        if kind == "raise":
            raise _raised(message)
        _, _, top, first, count, failed, decoded = message
        error = None if failed is None else ProviderError(*failed)
        return Fetched(
            lo, hi, Header(*top), Header(*first), count, error, self._pieces(pieces) if decoded else iter(())
        )

    def _pieces(self, pieces: queue.Queue[Any]) -> Iterator[Piece]:
        while True:
            item = self._wait(pieces)
            if item[0] == "raise":
                raise _raised(item)
            _, _, decoded, ignored, end, end_hash, last = item
            yield decoded, ignored, end, end_hash
            if last:
                return

    def _wait(self, waiting: queue.Queue[Any]) -> Any:
        since = time.monotonic()
        while True:
            try:
                return waiting.get(timeout=0.2)
            except queue.Empty:
                if self.dead is not None:
                    raise self.dead from None
                silent = time.monotonic() - max(since, self._heard)
                if silent > self.stall_s:
                    self.dead = IndexerError(f"the fetch process sent nothing for {silent:.1f} s: stopped as stuck")
                    self.process.kill()
                    raise self.dead from None

    def _read(self) -> None:
        """Route each message to whoever waits for it; the logs of a piece made DecodedLogs here."""
        while True:
            try:
                with gc_paused():
                    message = self._receive()
                    self._heard = time.monotonic()
                    kind, number = message[0], message[1]
                    if kind == "piece":
                        message = (*message[:2], from_wire(message[2]), *message[3:])
            except IndexerError as died:
                if self.dead is None:  # (not killed as stuck)
                    self.dead = died
                return
            if kind == "ready":
                self.ready = True
                continue
            with self._guard:
                if number in self._streaming:  # a piece, or what went wrong decoding one
                    pieces = self._ranges.get(number)
                    if kind == "raise" or message[-1]:
                        self._streaming.discard(number)
                        self._ranges.pop(number, None)
                    if pieces is not None:
                        pieces.put(message)
                    continue
                if kind == "range" and message[-1]:
                    self._streaming.add(number)
                else:
                    self._ranges.pop(number, None)
            self._headers.put(message)

    def stop(self) -> None:
        """End the process at once (a fetch in progress is of no use to anyone)."""
        self.process.terminate()
        super().stop()


def _raised(message: tuple[Any, ...]) -> Exception:
    """The error a ("raise", number, type, message, JSON-RPC error) answer names."""
    _, _, kind, text, data = message
    if kind == "ProviderError":
        return ProviderError(text, data)
    return IndexerError(f"the fetch process failed: {kind}: {text}")


class Pipeline:
    """A catch-up's transactions, one ahead: while the writer process writes and commits a range, the indexer
    fetches, decodes, maps and plans the next.

    Each transaction is planned on the cursor the previous one leaves, from escrow state carried in memory (never
    read back from rows that may not be committed yet), and the writer applies it only if the lock is still ours
    and the cursor is still exactly that one, in the same transaction as its rows. So the database only ever holds
    whole ranges with their cursor, as with ``Store.apply``; a failed or refused write raises at the next call and
    the plans made after it are dropped. ``close`` waits for the write in flight.
    """

    def __init__(self, store: Store, lock: WriterLock) -> None:
        self.store = store
        self.lock = lock
        self._writer = store.writer_process()
        self._in_flight: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """Start again from the committed cursor (after a rollback); nothing may be in flight."""
        assert self._in_flight is None
        committed = self.store.cursor()
        if committed is None:
            raise IndexerError(f"no cursor for chain {self.store.chain_id}: initialise the mirror first")
        self._committed = committed
        self._planned = (committed.block_number, committed.block_hash, committed.chain_hash)
        self._state = EscrowState()

    def cursor(self) -> Cursor:
        """The cursor as it will be once the writes planned so far are committed."""
        number, block_hash, chain_hash = self._planned
        return replace(self._committed, block_number=number, block_hash=block_hash, chain_hash=chain_hash)

    def apply(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str) -> list[tuple[int, int]]:
        """Plan the logs up to (``to_block``, ``to_hash``) and hand them to the writer once the previous write is
        committed; returns what was committed meanwhile, as (to block, logs applied)."""
        number = self._planned[0]
        fresh = after(mapped, number)
        if to_block <= number and not fresh:
            return self.wait()
        with gc_paused():
            planner = Planner(self.store.chain_id, self._planned, self._state, self._load)
            plan = planner.plan(fresh, max(to_block, number), to_hash)
        done = self.wait()
        self._writer.send((self.lock.name, self.lock.owner, self.lock.ttl_ms + IDLE_GRACE_MS), plan)
        self._in_flight = (plan.cursor[0], len(fresh))
        self._planned = plan.cursor
        return done

    def wait(self) -> list[tuple[int, int]]:
        """Wait for the write in flight; returns it as [(to block, logs applied)], or raises why it failed."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return []
        kind, message = self._writer.receive()
        if kind != "ok":
            self._planned = (-1, "", "")  # nothing more may be planned on top of it
            if kind == "lock":
                raise LockLost(str(message))
            raise IndexerError(f"writing blocks up to {in_flight[0]} failed: {message}")
        self.store.written()
        return [in_flight]

    def _load(self, escrows: Iterable[str]) -> None:
        # Escrows that planned writes touched are in the state already: only never-touched ones are read, and
        # their committed rows are current.
        missing = set(escrows) - self._state.loaded
        if missing:
            with self.store.engine.connect() as conn:
                self._state.load(conn, self.store.chain_id, missing)

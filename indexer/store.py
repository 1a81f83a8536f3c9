"""Writing the mirror: one SQL transaction per block range (rows, state, digests and cursor together), reorg
rollback, the single-writer lock, and the per-block digest chain.

Atomicity is the whole crash story: the cursor moves in the same transaction as the rows it covers, so a
process killed at any point leaves either the range fully applied or not at all; logs at or below the cursor
are skipped, so applying a range twice changes nothing; the (chain id, tx hash, log index) primary keys are
the last line of defence against duplicates.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from chain.errors import LedgerError
from chain.logs import DecodedLog, gc_paused
from indexer._sqlite_writer import SqliteWrites, receive, send, write_sqlite
from indexer.canonical import event_args_json
from indexer.mappers import (
    Books,
    BooksStep,
    Change,
    Insert,
    MilestoneState,
    MilestoneStep,
    NewProcurement,
    Patch,
    Remove,
    TrustEscrow,
    Upsert,
)
from indexer.models import APPEND_ONLY, Base, Uint256

__all__ = [
    "GENESIS",
    "Cursor",
    "IndexerBusy",
    "IndexerError",
    "LockLost",
    "MappedLog",
    "Pipeline",
    "Store",
    "WriterLock",
    "block_digest",
    "chain_next",
]

GENESIS = "0" * 64  # h_0 of the running hash chain
_CHUNK = 500
_MILESTONE_FIELDS = MilestoneState._fields

TABLES: Mapping[str, Table] = Base.metadata.tables  # type: ignore[assignment]


class IndexerError(LedgerError):
    """The mirror cannot be written or trusted as asked."""


class IndexerBusy(IndexerError):
    """Another indexer holds this database."""


class LockLost(IndexerError):
    """This indexer's lock was taken over (it stalled past the lock's lifetime)."""


@dataclass(frozen=True)
class Cursor:
    """How far the mirror goes."""

    chain_id: int
    block_number: int
    block_hash: str
    chain_hash: str
    start_block: int
    registry: str
    token: str
    factory: str


@dataclass(frozen=True, slots=True)
class MappedLog:
    """A decoded log and the changes its mapper derived."""

    log: DecodedLog
    changes: tuple[Change, ...]


def block_digest(chain_id: int, number: int, block_hash: str, events: Iterable[Sequence[Any]]) -> str:
    """sha256 of the canonical JSON ``[chain id, number, hash, [[tx, log index, emitter, event, args]...]]``.

    ``args`` is each event's canonical JSON (as stored in ``events.args``), embedded verbatim.
    """
    body = ",".join(f'["{tx}",{index},"{emitter}","{name}",{args}]' for tx, index, emitter, name, args in events)
    text = f'[{chain_id},{number},"{block_hash}",[{body}]]'
    return hashlib.sha256(text.encode()).hexdigest()


def chain_next(previous: str, digest: str) -> str:
    """h_n = sha256(h_{n-1} || digest_n), over the raw 32-byte values."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(digest)).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_BULK: dict[tuple[str, str], tuple[str, tuple[str, ...], frozenset[str]]] = {}
_GETTERS: dict[tuple[str, ...], Callable[[Mapping[str, Any]], Any]] = {}


def _execute_many(
    conn: Connection, key: str, statement: Any, rows: Sequence[Mapping[str, Any]], big: frozenset[str]
) -> None:
    """executemany straight on the driver: SQLAlchemy's per-row parameter processing would cost more than the
    database itself. The ``big`` (Uint256) parameters are converted here exactly as ``Uint256`` does: a decimal
    string on SQLite, a Decimal on PostgreSQL. Every parameter must come from ``rows`` (no literals)."""
    dialect = conn.dialect
    entry = _BULK.get((dialect.name, key))
    if entry is None:
        compiled = statement.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else ()
        entry = (str(compiled), order, big)
        _BULK[(dialect.name, key)] = entry
    sql, order, big = entry
    params: list[Any]
    if order:  # qmark (SQLite): tuples in statement order
        getter = _GETTERS.get(order)
        if getter is None:
            getter = _GETTERS[order] = itemgetter(*order)
        params = list(map(getter, rows))
        positions = [i for i, name in enumerate(order) if name in big]
        if positions:
            for n, values in enumerate(params):
                listed = list(values)
                for i in positions:
                    if listed[i] is not None:
                        listed[i] = str(listed[i])
                params[n] = tuple(listed)
    else:  # named / pyformat (psycopg)
        params = [
            {name: (Decimal(value) if name in big and value is not None else value) for name, value in row.items()}
            for row in rows
        ]
    conn.exec_driver_sql(sql, params)


def _big(table: Table) -> frozenset[str]:
    return frozenset(column.name for column in table.columns if isinstance(column.type, Uint256))


_Row = Sequence[Any]
_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(c.name for c in table.columns) for name, table in TABLES.items()}
_MAKERS: dict[str, Callable[[Mapping[str, Any]], _Row]] = {}


def _row_maker(table: str) -> Callable[[Mapping[str, Any]], _Row]:
    """Turns a mapper's row (a dict) into a tuple in the table's column order, ``Uint256`` values as decimal
    strings: the form both SQLite (a decimal string is what ``Uint256`` stores there) and PostgreSQL's COPY
    (values travel as text) take, so that ``_bulk_insert`` needs no per-value type processing."""
    maker = _MAKERS.get(table)
    if maker is not None:
        return maker
    getter = itemgetter(*_COLUMNS[table])
    big = [i for i, column in enumerate(TABLES[table].columns) if isinstance(column.type, Uint256)]
    if not big:
        maker = getter
    else:

        def maker(row: Mapping[str, Any]) -> _Row:
            values = list(getter(row))
            for i in big:
                value = values[i]
                if value is not None:
                    values[i] = _uint(value)
            return tuple(values)

    _MAKERS[table] = maker
    return maker


_ROW_MAKERS = {name: _row_maker(name) for name in TABLES}


def _uint(value: int) -> str:
    """A ``Uint256`` value as the decimal string both databases take (checked as ``Uint256`` checks it)."""
    if type(value) is not int or not 0 <= value < 2**256:
        raise ValueError(f"not a uint256: {value!r}")
    return str(value)


def _bulk_insert(conn: Connection, table: str, rows: Sequence[_Row], columns: Sequence[str] | None = None) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, by default the table's) in the caller's transaction:
    COPY on PostgreSQL, one executemany straight on the driver on SQLite (SQLAlchemy's per-row parameter
    processing would cost more than the database itself). ``Uint256`` values must already be decimal strings."""
    if not rows:
        return
    names = tuple(columns or _COLUMNS[table])
    quote = conn.dialect.identifier_preparer.quote
    listed = ", ".join(quote(name) for name in names)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {quote(table)} ({listed}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
    else:
        marks = ", ".join("?" * len(names))
        # Only the schema's own (quoted) names go into the text; every value is a bound parameter.
        conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({listed}) VALUES ({marks})", list(rows))  # noqa: S608


def _pk_clause(table: Table, key: Mapping[str, Any]) -> Any:
    return and_(*(table.c[name] == value for name, value in key.items()))


# ---------------------------------------------------------------- the single-writer lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped is a zombie: dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class WriterLock:
    """A lock row (owner, host, pid, heartbeat): one indexer writes a mirror; a second is refused.

    A holder is presumed dead when its heartbeat is older than ``ttl_s``, or at once when it ran on this host
    and its process is gone (so a crashed indexer can be restarted immediately). Every write transaction
    re-checks ownership (``refresh``), so a stalled holder that lost the lock cannot write afterwards.
    """

    def __init__(self, engine: Engine, name: str, ttl_s: float = 30.0) -> None:
        self.engine = engine
        self.name = name
        self.ttl_ms = int(ttl_s * 1000)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.table = TABLES["indexer_locks"]

    def acquire(self) -> None:
        """Take the lock, or raise IndexerBusy naming the holder."""
        t = self.table
        now = _now_ms()
        with self.engine.begin() as conn:
            row = conn.execute(select(t).where(t.c.name == self.name)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(t).values(
                                name=self.name, owner=self.owner, host=self.host, pid=self.pid, heartbeat_ms=now
                            )
                        )
                    return
                except IntegrityError:
                    row = conn.execute(select(t).where(t.c.name == self.name)).first()
                    if row is None:  # pragma: no cover - the winner released at once
                        raise IndexerBusy(f"lock {self.name} is contended: retry") from None
            if row.owner != self.owner:
                age = now - row.heartbeat_ms
                dead = row.host == self.host and not _pid_alive(row.pid)
                if age <= self.ttl_ms and not dead:
                    raise IndexerBusy(
                        f"another indexer ({row.owner}) holds {self.name}, heartbeat {age / 1000:.1f} s ago; "
                        f"stop it first (a dead one's lock expires {self.ttl_ms / 1000:.0f} s after its last heartbeat)"
                    )
            taken = conn.execute(
                update(t)
                .where(t.c.name == self.name, t.c.owner == row.owner, t.c.heartbeat_ms == row.heartbeat_ms)
                .values(owner=self.owner, host=self.host, pid=self.pid, heartbeat_ms=now)
            )
            if taken.rowcount != 1:
                raise IndexerBusy(f"another indexer took {self.name} at the same moment")

    def refresh(self, conn: Connection) -> None:
        """Renew the heartbeat inside the caller's transaction; LockLost if someone else holds the lock now."""
        t = self.table
        done = conn.execute(
            update(t).where(t.c.name == self.name, t.c.owner == self.owner).values(heartbeat_ms=_now_ms())
        )
        if done.rowcount != 1:
            raise LockLost(f"lock {self.name} was taken over by another indexer; stopping")

    def heartbeat(self) -> None:
        """Renew the heartbeat in a transaction of its own."""
        with self.engine.begin() as conn:
            self.refresh(conn)

    def release(self) -> None:
        """Give the lock up (only if still ours)."""
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.name == self.name, t.c.owner == self.owner))


# ---------------------------------------------------------------- the store


class _Checkpointer:
    """SQLite: copies the write-ahead log back into the database file in a background thread after each write.

    With SQLite's default (``wal_autocheckpoint``) the commit that crosses the threshold runs the checkpoint
    itself, and catching up would wait for it after every range. Here the writer commits and goes on while this
    thread checkpoints on its own connection (PASSIVE: it never blocks the writer or readers; sqlite releases the
    GIL meanwhile). Durability is unchanged: a transaction is durable once in the WAL, and a checkpoint
    interrupted at any point is redone by SQLite. ``wal_autocheckpoint`` (see ``indexer.schema``) stays as the
    safety net should this thread fall behind.
    """

    IDLE_S = 30.0  # the thread ends after this long without writes, and starts again with the next one

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Checkpoint soon (coalesces: several requests during one checkpoint make one more)."""
        self._wanted.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while self._wanted.wait(self.IDLE_S):
            self._wanted.clear()
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception:  # noqa: S112 - best effort: the writer's own autocheckpoint still bounds the WAL
                continue


class Store:
    """The mirror of one chain in one database."""

    def __init__(self, engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self._checkpointer = _Checkpointer(engine) if engine.dialect.name == "sqlite" else None
        self._writer: _WriterProcess | None = None

    @property
    def can_pipeline(self) -> bool:
        """Whether ``pipeline`` is available (SQLite files)."""
        return self.engine.dialect.name == "sqlite" and bool(self.engine.url.database)

    def pipeline(self, lock: WriterLock) -> Pipeline:
        """Pipelined writes for a catch-up (see ``Pipeline``); the caller holds ``lock``."""
        return Pipeline(self, lock)

    def _writer_process(self) -> _WriterProcess:
        if self._writer is None or self._writer.process.poll() is not None:
            database = self.engine.url.database
            assert database, "pipelining needs an SQLite file"
            self._writer = _WriterProcess(str(Path(database).resolve()))
        return self._writer

    def close(self) -> None:
        """Stop the writer process, if one was started."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()

    # ------------------------------------------------------------ reading

    def cursor(self, conn: Connection | None = None) -> Cursor | None:
        """The cursor, or None before the first run."""
        t = TABLES["cursors"]
        if conn is None:
            with self.engine.connect() as own:
                return self.cursor(own)
        row = conn.execute(select(t).where(t.c.chain_id == self.chain_id)).first()
        if row is None:
            return None
        return Cursor(
            chain_id=row.chain_id,
            block_number=row.block_number,
            block_hash=row.block_hash,
            chain_hash=row.chain_hash,
            start_block=row.start_block,
            registry=row.registry_address,
            token=row.token_address,
            factory=row.factory_address,
        )

    def trusted_escrows(self) -> set[str]:
        """Every escrow the mirror knows (from ProcurementCreated or EscrowRegistered)."""
        procurements, registrations = TABLES["procurements"], TABLES["escrow_registrations"]
        with self.engine.connect() as conn:
            found = set(conn.scalars(select(procurements.c.escrow).where(procurements.c.chain_id == self.chain_id)))
            found |= set(conn.scalars(select(registrations.c.escrow).where(registrations.c.chain_id == self.chain_id)))
        return found

    def recent_blocks(self, below: int, limit: int = 64) -> list[tuple[int, str]]:
        """The newest (number, hash) of blocks with events at or below ``below``, newest first."""
        t = TABLES["block_digests"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.block_number, t.c.block_hash)
                .where(t.c.chain_id == self.chain_id, t.c.block_number <= below)
                .order_by(t.c.block_number.desc())
                .limit(limit)
            ).all()
        return [(int(n), str(h)) for n, h in rows]

    # ------------------------------------------------------------ writing

    def init_cursor(
        self,
        *,
        start_block: int,
        before_hash: str,
        registry: str,
        token: str,
        factory: str,
        lock: WriterLock | None = None,
    ) -> Cursor:
        """Create the cursor just before ``start_block`` (once), or check the existing one mirrors this system."""
        existing = self.cursor()
        if existing is not None:
            mine = (existing.registry, existing.token, existing.factory)
            if mine != (registry, token, factory):
                raise IndexerError(
                    f"this database mirrors the system registry={existing.registry} token={existing.token} "
                    f"factory={existing.factory} on chain {self.chain_id}, not registry={registry}: "
                    "use another --db"
                )
            return existing
        with self.engine.begin() as conn:
            if lock is not None:
                lock.refresh(conn)
            conn.execute(
                insert(TABLES["cursors"]).values(
                    chain_id=self.chain_id,
                    block_number=start_block - 1,
                    block_hash=before_hash,
                    chain_hash=GENESIS,
                    start_block=start_block,
                    registry_address=registry,
                    token_address=token,
                    factory_address=factory,
                    updated_at_ms=_now_ms(),
                )
            )
        cursor = self.cursor()
        assert cursor is not None
        return cursor

    def apply(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str, lock: WriterLock | None = None) -> int:
        """Apply the logs of a range and move the cursor to (``to_block``, ``to_hash``), in one transaction.

        Logs at or below the cursor are skipped (idempotent); returns how many logs were applied.
        """
        with gc_paused(), self.engine.begin() as conn:  # rows are many small objects: see chain.logs.gc_paused
            if lock is not None:
                lock.refresh(conn)
            cursor = self.cursor(conn)
            if cursor is None:
                raise IndexerError(f"no cursor for chain {self.chain_id}: initialise the mirror first")
            fresh = _after(mapped, cursor.block_number)
            if to_block <= cursor.block_number and not fresh:
                return 0
            state = _State()
            base = (cursor.block_number, cursor.block_hash, cursor.chain_hash)
            batch = _Batch(self.chain_id, base, state, lambda escrows: state.load(conn, self.chain_id, escrows))
            _write(conn, batch.run(fresh, max(to_block, cursor.block_number), to_hash))
        if self._checkpointer is not None:
            self._checkpointer.request()
        return len(fresh)

    def rollback(self, ancestor: int, ancestor_hash: str, lock: WriterLock | None = None) -> int:
        """Forget every block above ``ancestor`` (a reorg): delete their rows, restore the state they changed.

        Returns the number of raw events removed.
        """
        chain = self.chain_id
        with self.engine.begin() as conn:
            if lock is not None:
                lock.refresh(conn)
            events, history = TABLES["events"], TABLES["milestone_history"]
            orphaned = conn.execute(
                select(events.c.emitter, events.c.event).where(
                    events.c.chain_id == chain, events.c.block_number > ancestor
                )
            ).all()
            emitters = {str(emitter) for emitter, _ in orphaned}
            cursor = self.cursor(conn)
            registry_touched = cursor is not None and cursor.registry in emitters
            milestone_keys = {
                (str(e), int(i))
                for e, i in conn.execute(
                    select(history.c.escrow, history.c.milestone_id)
                    .where(history.c.chain_id == chain, history.c.block_number > ancestor)
                    .distinct()
                )
            }
            for model in APPEND_ONLY:
                table = TABLES[model.__tablename__]
                conn.execute(delete(table).where(table.c.chain_id == chain, table.c.block_number > ancestor))
            for name in ("procurements", "organizations"):
                table = TABLES[name]
                conn.execute(delete(table).where(table.c.chain_id == chain, table.c.block_number > ancestor))
            _restore_milestones(conn, chain, milestone_keys)
            _recompute_books(conn, chain, emitters | {escrow for escrow, _ in milestone_keys})
            if registry_touched:
                _recompute_registry(conn, chain)
            digests = TABLES["block_digests"]
            chain_hash = conn.execute(
                select(digests.c.chain_hash)
                .where(digests.c.chain_id == chain)
                .order_by(digests.c.block_number.desc())
                .limit(1)
            ).scalar()
            conn.execute(
                update(TABLES["cursors"])
                .where(TABLES["cursors"].c.chain_id == chain)
                .values(
                    block_number=ancestor,
                    block_hash=ancestor_hash,
                    chain_hash=chain_hash or GENESIS,
                    updated_at_ms=_now_ms(),
                )
            )
            return len(orphaned)


def _after(mapped: Sequence[MappedLog], block: int) -> Sequence[MappedLog]:
    """The logs above ``block`` (logs come in chain order: usually all of them, without a copy)."""
    if not mapped or mapped[0].log.block_number > block:
        return mapped
    return [m for m in mapped if m.log.block_number > block]


class _WriterProcess:
    """The SQLite writer process of a pipelined catch-up (``python -m indexer._sqlite_writer``), over two pipes."""

    def __init__(self, path: str) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "indexer._sqlite_writer", path, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        self._ready = False
        # Linux: a 1 MB pipe buffer instead of 64 kB (a range's rows are megabytes): fewer wake-ups on both sides.
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, AttributeError, ValueError):
                fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)  # type: ignore[union-attr]

    def send(self, lock: tuple[str, str], writes: SqliteWrites) -> None:
        assert self.process.stdin is not None
        try:
            send(self.process.stdin, (lock, tuple(writes)))
        except OSError as exc:
            raise IndexerError(f"the SQLite writer process is gone ({exc})") from None

    def receive(self) -> tuple[str, str | None]:
        assert self.process.stdout is not None
        try:
            if not self._ready:
                receive(self.process.stdout)  # its ("ready", None)
                self._ready = True
            reply: tuple[str, str | None] = receive(self.process.stdout)
        except EOFError:
            raise IndexerError(f"the SQLite writer process died (exit code {self.process.poll()})") from None
        return reply

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


class Pipeline:
    """A catch-up's transactions, one ahead (SQLite): while the writer process writes and commits a range, the
    indexer fetches, decodes, maps and plans the next.

    Each transaction is planned on the cursor the previous one leaves, from escrow state carried in memory (never
    read back from rows that may not be committed yet), and the writer applies it only if the lock is still ours
    and the cursor is still exactly that one, in the same transaction as its rows. So the database only ever holds
    whole ranges with their cursor, as with ``Store.apply``; a failed or refused write raises at the next call and
    the plans made after it are dropped. ``close`` waits for the write in flight.
    """

    def __init__(self, store: Store, lock: WriterLock) -> None:
        self.store = store
        self.lock = lock
        self._writer = store._writer_process()
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
        self._state = _State()

    def cursor(self) -> Cursor:
        """The cursor as it will be once the writes planned so far are committed."""
        number, block_hash, chain_hash = self._planned
        return replace(self._committed, block_number=number, block_hash=block_hash, chain_hash=chain_hash)

    def apply(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str) -> list[tuple[int, int]]:
        """Plan the logs up to (``to_block``, ``to_hash``) and hand them to the writer once the previous write is
        committed; returns what was committed meanwhile, as (to block, logs applied)."""
        number = self._planned[0]
        fresh = _after(mapped, number)
        if to_block <= number and not fresh:
            return self.wait()
        chain = self.store.chain_id
        with gc_paused():
            batch = _Batch(chain, self._planned, self._state, self._load)
            writes = _sqlite_writes(batch.run(fresh, max(to_block, number), to_hash))
        done = self.wait()
        self._writer.send((self.lock.name, self.lock.owner), writes)
        self._in_flight = (writes.cursor[0], len(fresh))
        self._planned = writes.cursor
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
        if self.store._checkpointer is not None:
            self.store._checkpointer.request()
        return [in_flight]

    def _load(self, escrows: Iterable[str]) -> None:
        # Escrows that planned writes touched are in the state already: only never-touched ones are read, and
        # their committed rows are current.
        missing = set(escrows) - self._state.loaded
        if missing:
            with self.store.engine.connect() as conn:
                self._state.load(conn, self.store.chain_id, missing)


# Column orders of the rows the batch builds as tuples (the insert names its columns, so any order works).
_EVENT_COLUMNS = (
    "chain_id",
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "tx_index",
    "emitter",
    "event",
    "args",
)
_HISTORY_COLUMNS = (
    "chain_id",
    "tx_hash",
    "log_index",
    "milestone_id",
    "block_number",
    "escrow",
    "event",
    *_MILESTONE_FIELDS,
)
_MILESTONE_COLUMNS = ("chain_id", "escrow", "milestone_id", *_MILESTONE_FIELDS, "block_number")
_DIGEST_COLUMNS = ("chain_id", "block_number", "block_hash", "event_count", "digest", "chain_hash")
_BOOKS_FIELDS = ("total_funded", "total_released", "total_refunded", "total_owed", "paused")


class _State:
    """Milestones and books of the escrows seen so far, complete per escrow (all its milestones).

    One apply starts from an empty one and loads what it touches inside its transaction. A pipelined catch-up
    (``Store.pipeline``) carries one across its transactions instead: a batch is planned while the previous one
    is still being written, so it must not read the state back from the database.
    """

    def __init__(self) -> None:
        self.milestones: dict[tuple[str, int], MilestoneState] = {}
        self.milestone_block: dict[tuple[str, int], int] = {}
        self.milestone_ids: dict[str, list[int]] = defaultdict(list)
        self.books: dict[str, Books] = {}
        self.loaded: set[str] = set()

    def load(self, conn: Connection, chain_id: int, escrows: Iterable[str]) -> None:
        """Read the committed state of the ``escrows`` not loaded yet."""
        wanted = sorted(set(escrows) - self.loaded)
        milestones, procurements = TABLES["milestones"], TABLES["procurements"]
        for chunk in _chunks(wanted):
            for row in conn.execute(
                select(milestones).where(milestones.c.chain_id == chain_id, milestones.c.escrow.in_(chunk))
            ).mappings():
                key = (row["escrow"], row["milestone_id"])
                self.milestones[key] = MilestoneState(**{name: row[name] for name in _MILESTONE_FIELDS})
                self.milestone_block[key] = row["block_number"]
                self.milestone_ids[key[0]].append(key[1])
            for row in conn.execute(
                select(procurements).where(procurements.c.chain_id == chain_id, procurements.c.escrow.in_(chunk))
            ).mappings():
                self.books[row["escrow"]] = Books(
                    total_funded=row["total_funded"],
                    total_released=row["total_released"],
                    total_refunded=row["total_refunded"],
                    paused=row["paused"],
                )
        self.loaded.update(wanted)

    def owed(self, escrow: str) -> int:
        milestones = self.milestones
        return sum(milestones[(escrow, index)].owed for index in self.milestone_ids.get(escrow, ()))


@dataclass(slots=True)
class _Writes:
    """One transaction's writes as plain values (they may cross to the writer process), built on ``base``.

    ``base`` and ``cursor`` are (block number, block hash, chain hash) before and after. Uint256 values are decimal
    strings. ``milestones`` rows are (amount, due date, status, round, passes, fails, owed, block number, chain id,
    escrow, milestone id); ``books`` rows are (total funded, released, refunded, owed, paused, chain id, escrow).
    """

    base: tuple[int, str, str]
    inserts: list[tuple[str, tuple[str, ...], list[_Row]]]
    milestones: list[_Row]
    books: list[_Row]
    ops: list[Upsert | Patch | Remove]
    cursor: tuple[int, str, str]
    applied: int
    chain_id: int


class _Batch:
    """Plans one transaction: derives its rows, state updates, digests and cursor from the mapped logs.

    Rows are collected as tuples in a fixed column order, to be inserted per table in one bulk statement each.
    Escrow state comes from ``state`` (loaded through ``load`` when first touched) and is updated in place.
    """

    def __init__(
        self, chain_id: int, base: tuple[int, str, str], state: _State, load: Callable[[Iterable[str]], None]
    ) -> None:
        self.chain_id = chain_id
        self.base = base
        self.state = state
        self.load = load
        self.rows: dict[str, list[_Row]] = defaultdict(list)
        self.events: list[_Row] = []
        self.history: list[_Row] = []
        self.digests: list[_Row] = []
        self.ops: list[Upsert | Patch | Remove] = []
        self.new_milestones: set[tuple[str, int]] = set()
        self.dirty_milestones: set[tuple[str, int]] = set()
        self.procurements: dict[str, dict[str, Any]] = {}
        self.dirty_books: set[str] = set()

    def run(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str) -> _Writes:
        self.load({m.log.emitter for m in mapped if m.log.kind == "escrow"})
        chain_hash = self.base[2]
        chain = self.chain_id
        events, rows, makers = self.events, self.rows, _ROW_MAKERS
        block_events: list[tuple[str, int, str, str, str]] = []
        current: DecodedLog | None = None
        for item in mapped:
            log = item.log
            if current is not None and log.block_number != current.block_number:
                chain_hash = self._digest(current, block_events, chain_hash)
                block_events = []
            current = log
            args = event_args_json(log)
            block_events.append((log.tx_hash, log.log_index, log.emitter, log.event, args))
            events.append(
                (
                    chain,
                    log.tx_hash,
                    log.log_index,
                    log.block_number,
                    log.block_hash,
                    log.tx_index,
                    log.emitter,
                    log.event,
                    args,
                )
            )
            for change in item.changes:
                if type(change) is Insert:  # the common case first
                    rows[change.table].append(makers[change.table](change.row))
                else:
                    self._change(log, change)
        if current is not None:
            chain_hash = self._digest(current, block_events, chain_hash)
        return self._writes(len(mapped), (to_block, to_hash, chain_hash))

    def _digest(self, log: DecodedLog, events: list[tuple[str, int, str, str, str]], previous: str) -> str:
        digest = block_digest(self.chain_id, log.block_number, log.block_hash, events)
        chain_hash = chain_next(previous, digest)
        self.digests.append((self.chain_id, log.block_number, log.block_hash, len(events), digest, chain_hash))
        return chain_hash

    def _change(self, log: DecodedLog, change: Change) -> None:
        state = self.state
        if isinstance(change, MilestoneStep):
            key = (change.escrow, change.milestone_id)
            current = state.milestones.get(key)
            if current is None:
                raise IndexerError(
                    f"{log.event} at {log.tx_hash}:{log.log_index} names milestone {change.milestone_id} of "
                    f"{change.escrow}, which the mirror does not know"
                )
            self._milestone(log, key, change.step(current))
        elif isinstance(change, Insert):
            self.rows[change.table].append(_row_maker(change.table)(change.row))
        elif isinstance(change, BooksStep):
            books = state.books.get(change.escrow)
            if books is None:
                raise IndexerError(f"{log.event} at {log.tx_hash}:{log.log_index}: unknown escrow {change.escrow}")
            state.books[change.escrow] = change.step(books)
            self.dirty_books.add(change.escrow)
        elif isinstance(change, NewProcurement):
            escrow = str(change.row["escrow"])
            self.procurements[escrow] = dict(change.row)
            state.books[escrow] = Books(total_funded=int(change.row["total_funded"]))
            state.loaded.add(escrow)
            ids = state.milestone_ids[escrow]
            for index, milestone in enumerate(change.milestones):
                self.new_milestones.add((escrow, index))
                if index not in ids:
                    ids.append(index)
                self._milestone(log, (escrow, index), milestone)
        elif isinstance(change, Upsert | Patch | Remove):
            self.ops.append(change)
        elif isinstance(change, TrustEscrow):
            pass  # the escrow is known through its procurement / registration row
        else:  # pragma: no cover - exhaustive
            raise IndexerError(f"unknown change {change!r}")

    def _milestone(self, log: DecodedLog, key: tuple[str, int], state: MilestoneState) -> None:
        self.state.milestones[key] = state
        self.state.milestone_block[key] = log.block_number
        self.dirty_milestones.add(key)
        amount, due_date, status, round_, passes, fails, owed = state
        self.history.append(
            (
                self.chain_id,
                log.tx_hash,
                log.log_index,
                key[1],
                log.block_number,
                key[0],
                log.event,
                str(amount),  # Uint256 as stored: a MilestoneState holds ints from decoded uint256 words
                due_date,
                status,
                round_,
                passes,
                fails,
                str(owed),
            )
        )

    def _writes(self, applied: int, cursor: tuple[int, str, str]) -> _Writes:
        chain, state = self.chain_id, self.state
        inserts: list[tuple[str, tuple[str, ...], list[_Row]]] = [
            ("events", _EVENT_COLUMNS, self.events),
            ("block_digests", _DIGEST_COLUMNS, self.digests),
            ("milestone_history", _HISTORY_COLUMNS, self.history),
        ]
        inserts += [(name, _COLUMNS[name], rows) for name, rows in self.rows.items()]
        if self.procurements:
            maker = _row_maker("procurements")
            rows = [
                maker(row | _books_row(state.books[escrow]) | {"total_owed": state.owed(escrow)})
                for escrow, row in self.procurements.items()
            ]
            inserts.append(("procurements", _COLUMNS["procurements"], rows))
        if self.new_milestones:
            milestone_rows: list[_Row] = []
            for key in sorted(self.new_milestones):
                amount, due_date, status, round_, passes, fails, owed_ = state.milestones[key]
                block = state.milestone_block[key]
                milestone_rows.append(
                    (chain, key[0], key[1], str(amount), due_date, status, round_, passes, fails, str(owed_), block)
                )
            inserts.append(("milestones", _MILESTONE_COLUMNS, milestone_rows))
        milestones: list[_Row] = []
        for key in sorted(self.dirty_milestones - self.new_milestones):
            amount, due_date, status, round_, passes, fails, owed_ = state.milestones[key]
            block = state.milestone_block[key]
            milestones.append(
                (str(amount), due_date, status, round_, passes, fails, str(owed_), block, chain, key[0], key[1])
            )
        books: list[_Row] = []
        for escrow in sorted((self.dirty_books | {e for e, _ in self.dirty_milestones}) - set(self.procurements)):
            found = state.books.get(escrow)
            if found is not None:
                funded, released, refunded, paused = found
                books.append(
                    (str(funded), str(released), str(refunded), str(state.owed(escrow)), paused, chain, escrow)
                )
        return _Writes(self.base, inserts, milestones, books, self.ops, cursor, applied, chain)


def _write(conn: Connection, writes: _Writes) -> None:
    """Execute ``writes`` in the caller's transaction (the cursor moves last)."""
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        assert isinstance(dbapi, sqlite3.Connection)
        write_sqlite(dbapi, _sqlite_writes(writes), now_ms=_now_ms())
        return
    for table, columns, rows in writes.inserts:
        _bulk_insert(conn, table, rows, columns)
    if writes.milestones:
        t = TABLES["milestones"]
        stmt = (
            update(t)
            .where(
                t.c.chain_id == bindparam("b_chain"),
                t.c.escrow == bindparam("b_escrow"),
                t.c.milestone_id == bindparam("b_id"),
            )
            .values({name: bindparam(name) for name in _MILESTONE_UPDATE})
        )
        params = [
            dict(zip(_MILESTONE_UPDATE, row[:8], strict=True))
            | {"b_chain": row[8], "b_escrow": row[9], "b_id": row[10]}
            for row in writes.milestones
        ]
        for chunk in _chunks(params, 5000):
            _execute_many(conn, "update milestones", stmt, chunk, _big(t))
    if writes.books:
        t = TABLES["procurements"]
        stmt = (
            update(t)
            .where(t.c.chain_id == bindparam("b_chain"), t.c.escrow == bindparam("b_escrow"))
            .values({name: bindparam(name) for name in _BOOKS_FIELDS})
        )
        params = [
            dict(zip(_BOOKS_FIELDS, row[:5], strict=True)) | {"b_chain": row[5], "b_escrow": row[6]}
            for row in writes.books
        ]
        for chunk in _chunks(params, 5000):
            _execute_many(conn, "update procurements", stmt, chunk, _big(t))
    for op in writes.ops:
        _run_op(conn, op)
    t = TABLES["cursors"]
    to_block, to_hash, chain_hash = writes.cursor
    conn.execute(
        update(t)
        .where(t.c.chain_id == writes.chain_id)
        .values(block_number=to_block, block_hash=to_hash, chain_hash=chain_hash, updated_at_ms=_now_ms())
    )


_MILESTONE_UPDATE = (*_MILESTONE_FIELDS, "block_number")


def _books_row(books: Books) -> dict[str, Any]:
    return {
        "total_funded": books.total_funded,
        "total_released": books.total_released,
        "total_refunded": books.total_refunded,
        "paused": books.paused,
    }


def _op_statement(dialect_name: str, op: Upsert | Patch | Remove) -> Any:
    table = TABLES[op.table]
    if isinstance(op, Upsert):
        pk = [column.name for column in table.primary_key.columns]
        if dialect_name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(table).values(op.row)
        return stmt.on_conflict_do_update(
            index_elements=pk, set_={name: stmt.excluded[name] for name in op.row if name not in pk}
        )
    if isinstance(op, Patch):
        return update(table).where(_pk_clause(table, op.key)).values(op.values)
    return delete(table).where(_pk_clause(table, op.key))


def _run_op(conn: Connection, op: Upsert | Patch | Remove) -> None:
    conn.execute(_op_statement(conn.dialect.name, op))


def _sqlite_writes(writes: _Writes) -> SqliteWrites:
    """``writes`` as ``indexer._sqlite_writer`` takes them: the state changes (organizations, accounts, roles)
    compiled to SQL with positional parameters."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    ops: list[tuple[str, tuple[Any, ...]]] = []
    for op in writes.ops:
        compiled = _op_statement("sqlite", op).compile(dialect=dialect)
        values = compiled.construct_params()
        ops.append((str(compiled), tuple(values[name] for name in compiled.positiontup or ())))
    return SqliteWrites(
        base=writes.base,
        inserts=writes.inserts,
        milestones=writes.milestones,
        books=writes.books,
        ops=ops,
        cursor=writes.cursor,
        chain_id=writes.chain_id,
    )


# ---------------------------------------------------------------- reorg recomputation


def _restore_milestones(conn: Connection, chain: int, keys: set[tuple[str, int]]) -> None:
    """Set each milestone to its last remaining history row (history above the ancestor is already gone)."""
    if not keys:
        return
    history, milestones = TABLES["milestone_history"], TABLES["milestones"]
    by_escrow: dict[str, set[int]] = defaultdict(set)
    for escrow, index in keys:
        by_escrow[escrow].add(index)
    for escrow, indexes in sorted(by_escrow.items()):
        latest: dict[int, Mapping[str, Any]] = {}
        for row in conn.execute(
            select(history)
            .where(history.c.chain_id == chain, history.c.escrow == escrow, history.c.milestone_id.in_(indexes))
            .order_by(history.c.block_number, history.c.log_index)
        ).mappings():
            latest[row["milestone_id"]] = dict(row)
        for index in sorted(indexes):
            where = and_(
                milestones.c.chain_id == chain, milestones.c.escrow == escrow, milestones.c.milestone_id == index
            )
            last = latest.get(index)
            if last is None:
                conn.execute(delete(milestones).where(where))
            else:
                values = {name: last[name] for name in (*_MILESTONE_FIELDS, "block_number")}
                conn.execute(update(milestones).where(where).values(values))


def _latest(rows: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    best: Mapping[str, Any] | None = None
    for row in rows:
        if best is None or (row["block_number"], row["log_index"]) > (best["block_number"], best["log_index"]):
            best = row
    return best


def _recompute_books(conn: Connection, chain: int, escrows: set[str]) -> None:
    """Recompute the books of the given (still existing) escrows from their remaining rows."""
    procurements = TABLES["procurements"]
    for chunk in _chunks(sorted(escrows)):
        existing = conn.execute(
            select(procurements.c.escrow, procurements.c.funded).where(
                procurements.c.chain_id == chain, procurements.c.escrow.in_(chunk)
            )
        ).all()
        for escrow, funded in existing:

            def rows(name: str, escrow: str = escrow) -> list[Mapping[str, Any]]:
                t = TABLES[name]
                found = conn.execute(select(t).where(t.c.chain_id == chain, t.c.escrow == escrow)).mappings()
                return [dict(row) for row in found]

            last_funding = _latest(rows("fundings"))
            last_pause = _latest(rows("pauses"))
            milestones = TABLES["milestones"]
            owed = sum(
                int(value)
                for value in conn.scalars(
                    select(milestones.c.owed).where(milestones.c.chain_id == chain, milestones.c.escrow == escrow)
                )
            )
            conn.execute(
                update(procurements)
                .where(procurements.c.chain_id == chain, procurements.c.escrow == escrow)
                .values(
                    total_funded=int(last_funding["total_funded"]) if last_funding else int(funded),
                    total_released=sum(int(r["amount"]) for r in rows("payments") if r["kind"] == "released"),
                    total_refunded=sum(int(r["amount"]) for r in rows("refunds")),
                    total_owed=owed,
                    paused=bool(last_pause["paused"]) if last_pause else False,
                )
            )


def _recompute_registry(conn: Connection, chain: int) -> None:
    """Rebuild organizations' flags, account bindings and role memberships from the remaining history."""
    events = TABLES["events"]
    organizations = TABLES["organizations"]
    registered = {
        json.loads(args)["orgId"]: json.loads(args)["vault"]
        for (args,) in conn.execute(
            select(events.c.args).where(events.c.chain_id == chain, events.c.event == "OrganizationRegistered")
        )
    }
    updates_t = TABLES["organization_updates"]
    updates: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(updates_t).where(updates_t.c.chain_id == chain)).mappings():
        updates[row["org_id"]].append(dict(row))
    for org_id in conn.scalars(select(organizations.c.org_id).where(organizations.c.chain_id == chain)):
        last = _latest(updates.get(org_id, []))
        values = (
            {"active": last["active"], "vault": last["vault"]}
            if last
            else {"active": True, "vault": registered.get(org_id, "0x" + "0" * 40)}
        )
        conn.execute(
            update(organizations)
            .where(organizations.c.chain_id == chain, organizations.c.org_id == org_id)
            .values(values)
        )
    bindings_t, accounts = TABLES["account_bindings"], TABLES["accounts"]
    per_account: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(bindings_t).where(bindings_t.c.chain_id == chain)).mappings():
        per_account[row["account"]].append(dict(row))
    conn.execute(delete(accounts).where(accounts.c.chain_id == chain))
    account_rows = []
    for account, rows in sorted(per_account.items()):
        last = _latest(rows)
        assert last is not None
        account_rows.append(
            {
                "chain_id": chain,
                "account": account,
                "org_id": last["org_id"] if last["bound"] else None,
                "block_number": last["block_number"],
            }
        )
    if account_rows:
        conn.execute(insert(accounts), account_rows)
    changes_t, memberships = TABLES["role_changes"], TABLES["role_memberships"]
    per_role: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(changes_t).where(changes_t.c.chain_id == chain)).mappings():
        per_role[(row["role"], row["account"])].append(dict(row))
    conn.execute(delete(memberships).where(memberships.c.chain_id == chain))
    member_rows = []
    for (role, account), rows in sorted(per_role.items()):
        last = _latest(rows)
        assert last is not None
        if last["granted"]:
            member_rows.append(
                {
                    "chain_id": chain,
                    "role": role,
                    "account": account,
                    "role_name": last["role_name"],
                    "granted_by": last["sender"],
                    "block_number": last["block_number"],
                }
            )
    if member_rows:
        conn.execute(insert(memberships), member_rows)


def count_rows(engine: Engine, table: str) -> int:
    """How many rows ``table`` holds (for status and tests)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TABLES[table])).scalar_one())

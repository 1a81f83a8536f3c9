"""Writing the mirror: one SQL transaction per block range (rows, state, digests and cursor together), reorg
rollback, the single-writer lock, and the per-block digest chain.

Atomicity is the whole crash story: the cursor moves in the same transaction as the rows it covers, so a
process killed at any point leaves either the range fully applied or not at all; logs at or below the cursor
are skipped, so applying a range twice changes nothing; the (chain id, tx hash, log index) primary keys are
the last line of defence against duplicates.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from chain.errors import LedgerError
from chain.logs import DecodedLog, gc_paused
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


def _insert_stmt(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


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
            fresh = [m for m in mapped if m.log.block_number > cursor.block_number]
            if to_block <= cursor.block_number and not fresh:
                return 0
            _Batch(conn, self.chain_id, cursor).run(fresh, max(to_block, cursor.block_number), to_hash)
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


class _Batch:
    """The in-memory working set of one apply: state of the escrows touched, rows to insert, digests.

    Rows are collected as tuples in a fixed column order and inserted per table in one bulk statement each.
    """

    def __init__(self, conn: Connection, chain_id: int, cursor: Cursor) -> None:
        self.conn = conn
        self.chain_id = chain_id
        self.cursor = cursor
        self.rows: dict[str, list[_Row]] = defaultdict(list)
        self.events: list[_Row] = []
        self.history: list[_Row] = []
        self.digests: list[_Row] = []
        self.ops: list[Upsert | Patch | Remove] = []
        self.milestones: dict[tuple[str, int], MilestoneState] = {}
        self.milestone_block: dict[tuple[str, int], int] = {}
        self.new_milestones: set[tuple[str, int]] = set()
        self.dirty_milestones: set[tuple[str, int]] = set()
        self.books: dict[str, Books] = {}
        self.procurements: dict[str, dict[str, Any]] = {}
        self.dirty_books: set[str] = set()

    def run(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str) -> None:
        self._load({m.log.emitter for m in mapped if m.log.kind == "escrow"})
        chain_hash = self.cursor.chain_hash
        chain = self.chain_id
        events, rows = self.events, self.rows
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
                    rows[change.table].append(_row_maker(change.table)(change.row))
                else:
                    self._change(log, change)
        if current is not None:
            chain_hash = self._digest(current, block_events, chain_hash)
        self._flush()
        self.conn.execute(
            update(TABLES["cursors"])
            .where(TABLES["cursors"].c.chain_id == self.chain_id)
            .values(block_number=to_block, block_hash=to_hash, chain_hash=chain_hash, updated_at_ms=_now_ms())
        )

    def _digest(self, log: DecodedLog, events: list[tuple[str, int, str, str, str]], previous: str) -> str:
        digest = block_digest(self.chain_id, log.block_number, log.block_hash, events)
        chain_hash = chain_next(previous, digest)
        self.digests.append((self.chain_id, log.block_number, log.block_hash, len(events), digest, chain_hash))
        return chain_hash

    def _load(self, escrows: set[str]) -> None:
        milestones, procurements = TABLES["milestones"], TABLES["procurements"]
        ordered = sorted(escrows)
        for chunk in _chunks(ordered):
            for row in self.conn.execute(
                select(milestones).where(milestones.c.chain_id == self.chain_id, milestones.c.escrow.in_(chunk))
            ).mappings():
                key = (row["escrow"], row["milestone_id"])
                self.milestones[key] = MilestoneState(**{name: row[name] for name in _MILESTONE_FIELDS})
                self.milestone_block[key] = row["block_number"]
            for row in self.conn.execute(
                select(procurements).where(procurements.c.chain_id == self.chain_id, procurements.c.escrow.in_(chunk))
            ).mappings():
                self.books[row["escrow"]] = Books(
                    total_funded=row["total_funded"],
                    total_released=row["total_released"],
                    total_refunded=row["total_refunded"],
                    paused=row["paused"],
                )

    def _change(self, log: DecodedLog, change: Change) -> None:
        if isinstance(change, MilestoneStep):
            key = (change.escrow, change.milestone_id)
            state = self.milestones.get(key)
            if state is None:
                raise IndexerError(
                    f"{log.event} at {log.tx_hash}:{log.log_index} names milestone {change.milestone_id} of "
                    f"{change.escrow}, which the mirror does not know"
                )
            self._milestone(log, key, change.step(state))
        elif isinstance(change, Insert):
            self.rows[change.table].append(_row_maker(change.table)(change.row))
        elif isinstance(change, BooksStep):
            books = self.books.get(change.escrow)
            if books is None:
                raise IndexerError(f"{log.event} at {log.tx_hash}:{log.log_index}: unknown escrow {change.escrow}")
            self.books[change.escrow] = change.step(books)
            self.dirty_books.add(change.escrow)
        elif isinstance(change, NewProcurement):
            escrow = str(change.row["escrow"])
            self.procurements[escrow] = dict(change.row)
            self.books[escrow] = Books(total_funded=int(change.row["total_funded"]))
            for index, state in enumerate(change.milestones):
                self.new_milestones.add((escrow, index))
                self._milestone(log, (escrow, index), state)
        elif isinstance(change, Upsert | Patch | Remove):
            self.ops.append(change)
        elif isinstance(change, TrustEscrow):
            pass  # the escrow is known through its procurement / registration row
        else:  # pragma: no cover - exhaustive
            raise IndexerError(f"unknown change {change!r}")

    def _milestone(self, log: DecodedLog, key: tuple[str, int], state: MilestoneState) -> None:
        self.milestones[key] = state
        self.milestone_block[key] = log.block_number
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

    def _milestone_values(self, key: tuple[str, int]) -> dict[str, Any]:
        """The milestone's current columns (``Uint256`` ones as Python ints, for SQLAlchemy statements)."""
        row: dict[str, Any] = self.milestones[key]._asdict()
        row["block_number"] = self.milestone_block[key]
        return row

    def _flush(self) -> None:
        conn = self.conn
        _bulk_insert(conn, "events", self.events, _EVENT_COLUMNS)
        _bulk_insert(conn, "block_digests", self.digests, _DIGEST_COLUMNS)
        _bulk_insert(conn, "milestone_history", self.history, _HISTORY_COLUMNS)
        for name, rows in self.rows.items():
            _bulk_insert(conn, name, rows)
        owed: dict[str, int] = defaultdict(int)
        for (escrow, _), state in self.milestones.items():
            owed[escrow] += state.owed
        if self.procurements:
            maker = _row_maker("procurements")
            rows = [
                maker(row | _books_row(self.books[escrow]) | {"total_owed": owed[escrow]})
                for escrow, row in self.procurements.items()
            ]
            _bulk_insert(conn, "procurements", rows)
        if self.new_milestones:
            chain = self.chain_id
            milestone_rows: list[_Row] = []
            for key in sorted(self.new_milestones):
                amount, due_date, status, round_, passes, fails, owed_ = self.milestones[key]
                block = self.milestone_block[key]
                milestone_rows.append(
                    (chain, key[0], key[1], str(amount), due_date, status, round_, passes, fails, str(owed_), block)
                )
            _bulk_insert(conn, "milestones", milestone_rows, _MILESTONE_COLUMNS)
        changed = sorted(self.dirty_milestones - self.new_milestones)
        if changed:
            t = TABLES["milestones"]
            stmt = (
                update(t)
                .where(
                    t.c.chain_id == bindparam("b_chain"),
                    t.c.escrow == bindparam("b_escrow"),
                    t.c.milestone_id == bindparam("b_id"),
                )
                .values({name: bindparam(name) for name in (*_MILESTONE_FIELDS, "block_number")})
            )
            chain = self.chain_id
            updates = [
                {"b_chain": chain, "b_escrow": key[0], "b_id": key[1]} | self._milestone_values(key) for key in changed
            ]
            for chunk in _chunks(updates, 5000):
                _execute_many(conn, "update milestones", stmt, chunk, _big(t))
        touched = sorted((self.dirty_books | {e for e, _ in self.dirty_milestones}) - set(self.procurements))
        if touched:
            t = TABLES["procurements"]
            stmt = (
                update(t)
                .where(t.c.chain_id == bindparam("b_chain"), t.c.escrow == bindparam("b_escrow"))
                .values({name: bindparam(name) for name in _BOOKS_FIELDS})
            )
            books = [
                {"b_chain": self.chain_id, "b_escrow": escrow}
                | _books_row(self.books[escrow])
                | {"total_owed": owed[escrow]}
                for escrow in touched
                if escrow in self.books
            ]
            for chunk in _chunks(books, 5000):
                _execute_many(conn, "update procurements", stmt, chunk, _big(t))
        for op in self.ops:
            _run_op(conn, op)


def _books_row(books: Books) -> dict[str, Any]:
    return {
        "total_funded": books.total_funded,
        "total_released": books.total_released,
        "total_refunded": books.total_refunded,
        "paused": books.paused,
    }


def _run_op(conn: Connection, op: Upsert | Patch | Remove) -> None:
    table = TABLES[op.table]
    if isinstance(op, Upsert):
        pk = [column.name for column in table.primary_key.columns]
        stmt = _insert_stmt(conn, table).values(op.row)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=pk, set_={name: stmt.excluded[name] for name in op.row if name not in pk}
            )
        )
    elif isinstance(op, Patch):
        conn.execute(update(table).where(_pk_clause(table, op.key)).values(op.values))
    else:
        conn.execute(delete(table).where(_pk_clause(table, op.key)))


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

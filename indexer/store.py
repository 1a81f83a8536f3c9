"""The mirror of one chain in one database: its cursor, and the transactions that move it.

Atomicity is the whole crash story: the cursor moves in the same transaction as the rows it covers, so a
process killed at any point leaves either the range fully applied or not at all; logs at or below the cursor
are skipped, so applying a range twice changes nothing; the event-key primary keys are the last line of defence
against duplicates.

A range is planned (``indexer.planning``) into one ``WritePlan`` (``indexer.write_plan``) and written
(``indexer.writing``) in one transaction with the lock check (``indexer.writer_lock``); a catch-up pipelines this
through a writer process (``indexer.pipeline``); a reorg rolls back (``indexer.reorg``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select

from chain.logs import gc_paused
from indexer import reorg
from indexer.cursor import Cursor, chain_mismatch, read_cursor
from indexer.digests import GENESIS
from indexer.errors import IndexerError
from indexer.mappers import MappedLog
from indexer.models import TABLES
from indexer.pipeline import Pipeline, WriterProcess, after
from indexer.planning import EscrowState, Planner
from indexer.writer_lock import WriterLock
from indexer.writing import WalCheckpointer, write

__all__ = ["Store", "count_rows"]


class Store:
    """The mirror of one chain in one database."""

    def __init__(self, engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self._checkpointer = WalCheckpointer(engine) if engine.dialect.name == "sqlite" else None
        self._writer: WriterProcess | None = None

    # ------------------------------------------------------------ reading

    def cursor(self, conn: Connection | None = None) -> Cursor | None:
        """The cursor, or None before the first run."""
        if conn is None:
            with self.engine.connect() as own:
                return read_cursor(own, self.chain_id)
        return read_cursor(conn, self.chain_id)

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

    def blocks_without_time(self) -> list[int]:
        """The blocks with events whose time the mirror does not hold (mirrored before migration 0008)."""
        t = TABLES["block_digests"]
        with self.engine.connect() as conn:
            found = conn.scalars(
                select(t.c.block_number)
                .where(t.c.chain_id == self.chain_id, t.c.block_time.is_(None))
                .order_by(t.c.block_number)
            )
            return [int(number) for number in found]

    # ------------------------------------------------------------ writing

    def record_block_times(self, times: dict[int, int], lock: WriterLock | None = None) -> None:
        """Fill in the times of blocks mirrored before they were recorded (once, when the indexer opens)."""
        t = TABLES["block_digests"]
        with self.engine.begin() as conn:
            if lock is not None:
                lock.refresh(conn)
            for number, stamp in times.items():
                conn.execute(
                    t.update()
                    .where(t.c.chain_id == self.chain_id, t.c.block_number == number, t.c.block_time.is_(None))
                    .values(block_time=stamp)
                )
        self.written()

    def init_cursor(
        self,
        *,
        start_block: int,
        before_hash: str,
        registry: str,
        token: str,
        factory: str,
        genesis_hash: str | None = None,
        lock: WriterLock | None = None,
    ) -> Cursor:
        """Create the cursor just before ``start_block`` (once), or check the existing one mirrors this system on
        this chain (``genesis_hash``: block 0's; recorded on a mirror made before it was)."""
        with self.engine.connect() as conn:
            mismatch = chain_mismatch(conn, self.chain_id, genesis_hash)
        if mismatch is not None and self.cursor() is not None:
            raise IndexerError(f"{mismatch}: refusing to mirror another chain into it; use another --db")
        existing = self.cursor()
        if existing is not None and existing.genesis_hash is None and genesis_hash is not None:
            with self.engine.begin() as conn:
                cursors = TABLES["cursors"]
                conn.execute(
                    cursors.update().where(cursors.c.chain_id == self.chain_id).values(genesis_hash=genesis_hash)
                )
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
                    updated_at_ms=int(time.time() * 1000),
                    genesis_hash=genesis_hash,
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
            cursor = read_cursor(conn, self.chain_id)
            if cursor is None:
                raise IndexerError(f"no cursor for chain {self.chain_id}: initialise the mirror first")
            fresh = after(mapped, cursor.block_number)
            if to_block <= cursor.block_number and not fresh:
                return 0
            state = EscrowState()
            base = (cursor.block_number, cursor.block_hash, cursor.chain_hash)
            planner = Planner(self.chain_id, base, state, lambda escrows: state.load(conn, self.chain_id, escrows))
            write(conn, planner.plan(fresh, max(to_block, cursor.block_number), to_hash))
            if lock is not None:  # the lease runs from the commit, however long the write took
                lock.refresh(conn)
        self.written()
        return len(fresh)

    def rollback(self, ancestor: int, ancestor_hash: str, lock: WriterLock | None = None) -> int:
        """Forget every block above ``ancestor`` (a reorg): delete their rows, restore the state they changed.

        Returns the number of raw events removed.
        """
        with self.engine.begin() as conn:
            if lock is not None:
                lock.refresh(conn)
            removed = reorg.rollback(conn, self.chain_id, ancestor, ancestor_hash)
            if lock is not None:
                lock.refresh(conn)
        self.written()
        return removed

    def written(self) -> None:
        """A transaction was committed: SQLite's WAL is checkpointed in the background."""
        if self._checkpointer is not None:
            self._checkpointer.request()

    # ------------------------------------------------------------ pipelining

    @property
    def can_pipeline(self) -> bool:
        """Whether ``pipeline`` is available (SQLite files, PostgreSQL)."""
        return self.engine.dialect.name == "postgresql" or bool(self.engine.url.database)

    def pipeline(self, lock: WriterLock) -> Pipeline:
        """Pipelined writes for a catch-up (see ``Pipeline``); the caller holds ``lock``."""
        return Pipeline(self, lock)

    def writer_process(self) -> WriterProcess:
        """The writer process, started on first use (and again if it died)."""
        if self._writer is None or self._writer.process.poll() is not None:
            if self.engine.dialect.name == "postgresql":
                _, params = self.engine.dialect.create_connect_args(self.engine.url)
                plain = {key: value for key, value in params.items() if isinstance(value, str | int)}
                self._writer = WriterProcess("indexer._postgres_writer", hello=plain)
            else:
                database = self.engine.url.database
                assert database, "pipelining needs an SQLite file"
                self._writer = WriterProcess("indexer._sqlite_writer", [str(Path(database).resolve())])
        return self._writer

    def close(self) -> None:
        """Stop the writer process, if one was started."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()


def count_rows(engine: Engine, table: str) -> int:
    """How many rows ``table`` holds (for status and tests)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TABLES[table])).scalar_one())

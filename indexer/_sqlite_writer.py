"""Writing one planned transaction to SQLite with the bare driver: in process, or in the writer process.

A pipelined catch-up (``indexer.store.Pipeline``) plans a range's rows, state and cursor in the indexer's process
and hands them here, to a process of its own (``python -m indexer._sqlite_writer PATH``), so that SQLite's work
(binding, B-tree inserts, the commit) runs on another core while the next range is fetched, decoded and mapped.
One transaction holds the lock check, the check that the cursor is still the one the writes were planned on, the
rows, the state updates and the new cursor: the crash story is that of ``Store.apply``.

This module imports only the standard library, so that the writer process starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from typing import IO, Any, NamedTuple

__all__ = ["SQLITE_PRAGMAS", "SqliteWrites", "WriteRefused", "receive", "send", "write_sqlite"]

# WAL: readers never block the writer; synchronous=NORMAL keeps every committed transaction across a process crash
# (only a power cut may lose the last ones, never corrupt the file). The indexer checkpoints in a background thread
# after each write (indexer.store._Checkpointer); a commit checkpoints by itself only when the WAL has grown past
# 40 MB (10,000 pages) all the same, instead of SQLite's default 4 MB.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=10000",
)

_Row = Sequence[Any]


class SqliteWrites(NamedTuple):
    """One transaction's writes (see ``indexer.store._Writes``), the state changes compiled to SQL."""

    chain_id: int
    base: tuple[int, str, str]  # the cursor (block number, hash, chain hash) they were planned on
    inserts: list[tuple[str, tuple[str, ...], list[_Row]]]  # table, columns, rows
    milestones: list[_Row]  # amount, due date, status, round, passes, fails, owed, block, chain id, escrow, id
    books: list[_Row]  # total funded, released, refunded, owed, paused, chain id, escrow
    ops: list[tuple[str, tuple[Any, ...]]]  # organizations, accounts, roles: SQL and positional parameters
    cursor: tuple[int, str, str]  # the cursor after them


class WriteRefused(Exception):
    """The writes were not applied: ``kind`` is ``lock`` (another indexer holds the lock) or ``moved`` (the cursor
    is not the one they were planned on)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_MILESTONES_SQL = (
    'UPDATE milestones SET amount = ?, due_date = ?, status = ?, "round" = ?, passes = ?, fails = ?, owed = ?, '
    "block_number = ? WHERE chain_id = ? AND escrow = ? AND milestone_id = ?"
)
_BOOKS_SQL = (
    "UPDATE procurements SET total_funded = ?, total_released = ?, total_refunded = ?, total_owed = ?, paused = ? "
    "WHERE chain_id = ? AND escrow = ?"
)


def write_sqlite(
    db: sqlite3.Connection,
    writes: SqliteWrites,
    *,
    now_ms: int,
    lock: tuple[str, str] | None = None,
    check_base: bool = False,
) -> None:
    """Execute ``writes`` in the connection's current transaction; ``lock`` is (name, owner) to renew first."""
    cursor = db.cursor()
    try:
        if lock is not None:
            cursor.execute(
                "UPDATE indexer_locks SET heartbeat_ms = ? WHERE name = ? AND owner = ?", (now_ms, lock[0], lock[1])
            )
            if cursor.rowcount != 1:
                raise WriteRefused("lock", f"lock {lock[0]} was taken over by another indexer; stopping")
        if check_base:
            row = cursor.execute(
                "SELECT block_number, block_hash, chain_hash FROM cursors WHERE chain_id = ?", (writes.chain_id,)
            ).fetchone()
            if row is None or tuple(row) != tuple(writes.base):
                raise WriteRefused("moved", f"the cursor is {row}, the writes were planned on {tuple(writes.base)}")
        for table, columns, rows in writes.inserts:
            if rows:
                listed = ", ".join(_quote(name) for name in columns)
                marks = ", ".join("?" * len(columns))
                # Only the schema's own (quoted) names go into the text; every value is a bound parameter.
                cursor.executemany(f"INSERT INTO {_quote(table)} ({listed}) VALUES ({marks})", rows)  # noqa: S608
        if writes.milestones:
            cursor.executemany(_MILESTONES_SQL, writes.milestones)
        if writes.books:
            cursor.executemany(_BOOKS_SQL, writes.books)
        for sql, params in writes.ops:
            cursor.execute(sql, params)
        cursor.execute(
            "UPDATE cursors SET block_number = ?, block_hash = ?, chain_hash = ?, updated_at_ms = ? WHERE chain_id = ?",
            (*writes.cursor, now_ms, writes.chain_id),
        )
    finally:
        cursor.close()


# ---------------------------------------------------------------- the writer process and its protocol


def send(stream: IO[bytes], message: Any) -> None:
    """One message: 8 bytes of length, then its ``marshal`` form (plain values only: tuples, lists, str, int, bool,
    None; twice as fast as pickle for rows, and both ends are the same interpreter)."""
    data = marshal.dumps(message)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other side is gone."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other side closed the pipe")
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return marshal.loads(data)  # noqa: S302 - from our own parent, over a private pipe


def _die_with_parent(parent: int) -> None:
    """Linux: be killed when the indexer dies (a SIGKILLed indexer must not leave a writer behind)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)


def serve(path: str, parent: int) -> int:
    """Apply the transactions read from stdin one at a time; answer each on stdout. Ends when the indexer closes
    the pipes (or is gone)."""
    _die_with_parent(parent)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _serve(db, sys.stdin.buffer, sys.stdout.buffer)
    except (EOFError, BrokenPipeError):
        pass
    finally:
        db.close()
    return 0


def _serve(db: sqlite3.Connection, requests: IO[bytes], replies: IO[bytes]) -> None:
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma).fetchall()
    send(replies, ("ready", None))
    while True:
        lock, fields = receive(requests)
        writes = SqliteWrites(*fields)
        try:
            db.execute("BEGIN IMMEDIATE")
            write_sqlite(db, writes, now_ms=int(time.time() * 1000), lock=tuple(lock), check_base=True)
            db.execute("COMMIT")
            reply: tuple[str, str | None] = ("ok", None)
        except WriteRefused as refused:
            db.execute("ROLLBACK")
            reply = (refused.kind, str(refused))
        except Exception as exc:  # reported to the indexer, which raises it
            if db.in_transaction:
                db.execute("ROLLBACK")
            reply = ("error", f"{type(exc).__name__}: {exc}")
        send(replies, reply)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))

"""The SQLite writer process: it writes and commits planned transactions while the indexer plans the next.

A pipelined catch-up (``indexer.pipeline.Pipeline``) plans a range's rows, state and cursor in the indexer's
process and hands the ``WritePlan`` here, to a process of its own (``python -m indexer._sqlite_writer PATH PID``),
so that SQLite's work (binding, B-tree inserts, the commit) runs on another core while the next range is fetched,
decoded and mapped. One transaction holds the lock check, the check that the cursor is still the one the plan was
made on, and the plan itself (``indexer.write_plan.execute_plan``, as in process): the crash story is that of
``Store.apply``. The checked write and the serving loop here are also those of the PostgreSQL writer
process (``indexer._postgres_writer``), which differs only in how it connects and copies rows.

This module imports only the standard library (and ``indexer.write_plan`` and ``indexer._pipes``, which do too), so
that the writer process starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from indexer._pipes import die_with_parent, receive, send
from indexer.write_plan import DbCursor, Row, WritePlan, execute_plan

__all__ = [
    "SQLITE_PRAGMAS",
    "Lock",
    "WriteRefused",
    "bind_plain_values",
    "serve_plans",
    "write_checked",
]

# The writer lock as the indexer hands it over: its name, this indexer's owner string, and (PostgreSQL) how long
# the write transaction may sit idle, in ms (see WriterLock.refresh).
Lock = tuple[str, str, int]

# WAL: readers never block the writer; synchronous=NORMAL keeps every committed transaction across a process crash
# (only a power cut may lose the last ones, never corrupt the file). The indexer checkpoints in a background thread
# after each write (indexer.writing.WalCheckpointer); a commit checkpoints by itself only when the WAL has grown past
# 40 MB (2,500 pages) all the same, instead of SQLite's default 1,000 pages.
# Pages of 16 kB (SQLite's default is 4 kB; it takes effect only in a database not yet written, before WAL is set):
# a catch-up writes and checkpoints a quarter as many pages, each B-tree node holding four times the rows (the
# writer process's CPU 0.64-0.75 -> 0.59-0.62 s for 119,157 events; 64 kB pages did a little better, but an empty
# mirror then takes 9 MB of disk, 2.3 MB at 16 kB and 0.6 MB at 4 kB). A mirror keeps the page size it was made with.
SQLITE_PRAGMAS = (
    "PRAGMA page_size=16384",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=2500",
)


class WriteRefused(Exception):
    """The plan was not applied: ``kind`` is ``lock`` (another indexer holds the lock) or ``moved`` (the cursor is
    not the one it was planned on)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Cursor(DbCursor, Protocol):
    """A DB-API cursor (sqlite3's, psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...


def write_checked(
    cursor: _Cursor,
    plan: WritePlan,
    *,
    now_ms: int,
    lock: Lock,
    mark: str = "?",
    copy: Callable[[str, tuple[str, ...], list[Row]], None] | None = None,
) -> None:
    """Renew ``lock``, check that the cursor is still ``plan.base``, execute ``plan`` (``execute_plan``'s ``mark``
    and ``copy``), then renew the lock again (its lease runs from the commit, however long the write took), all
    in the cursor's current transaction; WriteRefused if the lock or the cursor moved."""
    renew = f"UPDATE indexer_locks SET heartbeat_ms = {mark} WHERE name = {mark} AND owner = {mark}"  # noqa: S608
    cursor.execute(renew, (now_ms, lock[0], lock[1]))
    if cursor.rowcount != 1:
        raise WriteRefused("lock", f"lock {lock[0]} was taken over by another indexer; stopping")
    cursor.execute(
        f"SELECT block_number, block_hash, chain_hash FROM cursors WHERE chain_id = {mark}",  # noqa: S608
        (plan.chain_id,),
    )
    row = cursor.fetchone()
    if row is None or tuple(row) != tuple(plan.base):
        raise WriteRefused("moved", f"the cursor is {row}, the writes were planned on {tuple(plan.base)}")
    execute_plan(cursor, plan, now_ms=now_ms, mark=mark, copy=copy)
    cursor.execute(renew, (int(time.time() * 1000), lock[0], lock[1]))


# ---------------------------------------------------------------- the writer process (its messages: indexer._pipes)


def bind_plain_values() -> None:
    """This process only: bind ``None`` and ``bool`` as sqlite3 binds them anyway (NULL; 1 and 0), through an adapter
    found at the first lookup.

    sqlite3 binds ``int``, ``str`` and ``float`` at once, but looks any other type up as an adapter by way of
    a tuple key, then ``__adapt__`` and ``__conform__`` attributes before binding it as it is: a catch-up's
    ``None`` and ``bool`` values (the relayer of an attestation, the unset figures of a budget line change...)
    cost several times a string's binding.
    """
    sqlite3.register_adapter(bool, int)
    sqlite3.register_adapter(type(None), _null)


def _null(value: None) -> None:
    return value


def serve(path: str, parent: int) -> int:
    """Apply the transactions read from stdin one at a time; answer each on stdout. Ends when the indexer closes
    the pipes (or is gone)."""
    die_with_parent(parent)
    bind_plain_values()
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

    def apply(plan: WritePlan, lock: Lock, now_ms: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        cursor = db.cursor()
        try:
            write_checked(cursor, plan, now_ms=now_ms, lock=lock)
        finally:
            cursor.close()
        db.execute("COMMIT")

    def rollback() -> None:
        if db.in_transaction:
            db.execute("ROLLBACK")

    serve_plans(apply, rollback, requests, replies)


def serve_plans(
    apply: Callable[[WritePlan, Lock, int], None],
    rollback: Callable[[], None],
    requests: IO[bytes],
    replies: IO[bytes],
) -> None:
    """Say ready, then apply each (lock, plan) read from ``requests`` in a transaction of its own (``apply`` writes
    and commits it at the given time in ms, or raises and ``rollback`` ends it) and answer each on ``replies``:
    ("ok", None), or the kind of refusal ("lock", "moved") or "error", with why.

    Python's cyclic garbage collector runs only between plans, once a plan is gone: unmarshalling one allocates
    hundreds of thousands of tuples, and each burst would start a collection that traverses them all again, while
    reference counting frees them anyway. What was there before the first plan is frozen out of its collections.
    """
    gc.disable()
    gc.freeze()
    send(replies, ("ready", None))
    while True:
        lock, fields = receive(requests)
        try:
            apply(WritePlan(*fields), (lock[0], lock[1], lock[2]), int(time.time() * 1000))
            reply: tuple[str, str | None] = ("ok", None)
        except WriteRefused as refused:
            rollback()
            reply = (refused.kind, str(refused))
        except Exception as exc:  # reported to the indexer, which raises it
            with contextlib.suppress(Exception):  # a connection that broke cannot roll back: it is gone anyway
                rollback()
            reply = ("error", f"{type(exc).__name__}: {exc}")
        send(replies, reply)
        del fields
        gc.collect()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))

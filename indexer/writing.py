"""Writing a plan in process: ``write`` executes a ``WritePlan`` in the caller's SQL transaction.

SQLite goes through its driver with the same ``execute_plan`` as the writer process (``indexer._sqlite_writer``);
PostgreSQL through psycopg, rows with ``COPY FROM STDIN``. SQLAlchemy's per-row parameter processing would cost
more than the database itself, so neither goes through it: the plan's values are already what the columns store
(``Uint256`` as decimal strings). A pipelined catch-up into PostgreSQL writes each plan from a ``WriterThread``
while the indexer plans the next. After an SQLite write, ``WalCheckpointer`` copies the write-ahead log back into
the database file in the background.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine

from indexer.write_plan import Row, WritePlan, WriteRefused, execute_plan, write_checked

__all__ = ["WalCheckpointer", "WriterThread", "write"]


def write(conn: Connection, plan: WritePlan) -> None:
    """Execute ``plan`` in ``conn``'s transaction (the cursor moves last)."""
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        now_ms = int(time.time() * 1000)
        if conn.dialect.name == "postgresql":
            execute_plan(cursor, plan, now_ms=now_ms, mark="%s", copy=_copy_into(cursor))
        else:
            execute_plan(cursor, plan, now_ms=now_ms)
    finally:
        cursor.close()


def _copy_into(cursor: Any) -> Callable[[str, tuple[str, ...], list[Row]], None]:
    """PostgreSQL's COPY FROM STDIN through psycopg's cursor: values travel as text (hence decimal strings)."""

    def copy(table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        listed = ", ".join(f'"{name}"' for name in columns)
        with cursor.copy(f'COPY "{table}" ({listed}) FROM STDIN') as stream:
            for row in rows:
                stream.write_row(row)

    return copy


class WriterThread:
    """PostgreSQL: the writer of a pipelined catch-up (``indexer.pipeline``), a thread with a connection of its own.

    The server does a range's work (parsing the COPY data, the B-tree inserts, the commit) on its own core while
    the indexer fetches, decodes and plans the next range; psycopg waits for the server without holding the GIL.
    It answers as the SQLite writer process does: ``send`` a plan, ``receive`` ("ok" | "lock" | "moved" |
    "error", message). A plan is applied by ``write_checked`` (lock renewed, cursor checked, rows, new cursor) in
    one transaction, so a killed indexer leaves only whole ranges: the server rolls back what was not committed.
    """

    def __init__(self, engine: Engine) -> None:
        self._connection: Any = engine.raw_connection()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pg-writer")
        self._pending: Future[tuple[str, str | None]] | None = None

    def send(self, lock: tuple[str, str], plan: WritePlan) -> None:
        assert self._pending is None, "one write at a time: receive the previous answer first"
        self._pending = self._executor.submit(self._write, lock, plan)

    def receive(self) -> tuple[str, str | None]:
        pending, self._pending = self._pending, None
        assert pending is not None, "nothing was sent"
        return pending.result()

    def _write(self, lock: tuple[str, str], plan: WritePlan) -> tuple[str, str | None]:
        connection = self._connection
        cursor = connection.cursor()
        try:
            write_checked(cursor, plan, now_ms=int(time.time() * 1000), lock=lock, mark="%s", copy=_copy_into(cursor))
            connection.commit()
            return ("ok", None)
        except WriteRefused as refused:
            connection.rollback()
            return (refused.kind, str(refused))
        except Exception as exc:  # reported to the indexer, which raises it
            with contextlib.suppress(Exception):  # a broken connection has nothing to roll back
                connection.rollback()
            return ("error", f"{type(exc).__name__}: {exc}")
        finally:
            cursor.close()

    def stop(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()  # the write in flight ends (committed or rolled back) before the connection goes
        self._executor.shutdown(wait=True)
        self._connection.close()


class WalCheckpointer:
    """SQLite: copies the write-ahead log back into the database file in a background thread after each write.

    With SQLite's default (``wal_autocheckpoint``) the commit that crosses the threshold runs the checkpoint
    itself, and catching up would wait for it after every range. Here the writer commits and goes on while this
    thread checkpoints on its own connection (PASSIVE: it never blocks the writer or readers; sqlite releases the
    GIL meanwhile). Durability is unchanged: a transaction is durable once in the WAL, and a checkpoint
    interrupted at any point is redone by SQLite. ``wal_autocheckpoint`` (see ``indexer._sqlite_writer``) stays as
    the safety net should this thread fall behind.
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

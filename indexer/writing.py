"""Writing a plan in process: ``write`` executes a ``WritePlan`` in the caller's SQL transaction.

SQLite goes through its driver with the same ``execute_plan`` as the writer process (``indexer._sqlite_writer``);
PostgreSQL through psycopg, rows with ``COPY FROM STDIN`` as its writer process does (``indexer._postgres_writer``).
SQLAlchemy's per-row parameter processing would cost more than the database itself, so neither goes through it:
the plan's values are already what the columns store (``Uint256`` as decimal strings). After an SQLite write,
``WalCheckpointer`` copies the write-ahead log back into the database file in the background.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine

from indexer._postgres_writer import copy_into
from indexer.write_plan import WritePlan, execute_plan

__all__ = ["WalCheckpointer", "write"]


def write(conn: Connection, plan: WritePlan) -> None:
    """Execute ``plan`` in ``conn``'s transaction (the cursor moves last)."""
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        now_ms = int(time.time() * 1000)
        if conn.dialect.name == "postgresql":
            execute_plan(cursor, plan, now_ms=now_ms, mark="%s", copy=copy_into(cursor))
        else:
            execute_plan(cursor, plan, now_ms=now_ms)
    finally:
        cursor.close()


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

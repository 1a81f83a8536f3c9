"""The single writer: a lease row (owner, host, pid, heartbeat, TTL) so that one indexer writes a mirror, and a
standby waits to take it over (the timings, and why they give a takeover within 5 s: indexer/lease.py)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from indexer.errors import IndexerBusy, LockLost
from indexer.lease import IDLE_GRACE_MS, LEASE_TTL_S, STANDBY_POLL_S
from indexer.models import TABLES

__all__ = ["WriterLock"]


def _now_ms() -> int:
    return int(time.time() * 1000)


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
    """A lease row (owner, host, pid, heartbeat, TTL): one indexer writes a mirror; a second is refused, or waits
    (``wait_acquire``, a standby).

    A holder is presumed dead when its heartbeat is older than its TTL (the one it wrote: ``ttl_ms``), or at once
    when it ran on this host and its process is gone (so a crashed indexer can be restarted immediately). Every
    write transaction re-checks ownership (``refresh``; the SQLite writer process does the same with ``name`` and
    ``owner``), so a stalled holder that lost the lock cannot write afterwards. On PostgreSQL the check also bounds
    how long the transaction may sit idle (the TTL and a second of grace for the holder's own work between two
    statements): a holder stalled inside a write transaction keeps the lease row locked, and the server ends that
    transaction so that a standby can take over (with the defaults within 4 + 0.5 s, indexer/lease.py).
    """

    def __init__(self, engine: Engine, name: str, ttl_s: float = LEASE_TTL_S) -> None:
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
                                name=self.name,
                                owner=self.owner,
                                host=self.host,
                                pid=self.pid,
                                heartbeat_ms=now,
                                ttl_ms=self.ttl_ms,
                            )
                        )
                    return
                except IntegrityError:
                    row = conn.execute(select(t).where(t.c.name == self.name)).first()
                    if row is None:  # pragma: no cover - the winner released at once
                        raise IndexerBusy(f"lock {self.name} is contended: retry") from None
            if row.owner != self.owner:
                age = now - row.heartbeat_ms
                ttl = self.ttl_ms if row.ttl_ms is None else int(row.ttl_ms)
                dead = row.host == self.host and not _pid_alive(row.pid)
                if age <= ttl and not dead:
                    raise IndexerBusy(
                        f"another indexer ({row.owner}) holds {self.name}, heartbeat {age / 1000:.1f} s ago; "
                        f"stop it first, or run this one as a standby (a dead one's lease expires {ttl / 1000:g} s "
                        "after its last heartbeat)",
                        row.owner,
                    )
            # A holder inside a write transaction has the row locked: this waits for that transaction to end, and
            # takes nothing if it renewed the lease meanwhile.
            taken = conn.execute(
                update(t)
                .where(t.c.name == self.name, t.c.owner == row.owner, t.c.heartbeat_ms == row.heartbeat_ms)
                .values(owner=self.owner, host=self.host, pid=self.pid, heartbeat_ms=now, ttl_ms=self.ttl_ms)
            )
            if taken.rowcount != 1:
                raise IndexerBusy(f"another indexer took {self.name} at the same moment", row.owner)
            # The update may have waited for the old holder's transaction: the lease starts now.
            conn.execute(update(t).where(t.c.name == self.name, t.c.owner == self.owner).values(heartbeat_ms=_now_ms()))

    def wait_acquire(
        self,
        poll_s: float = STANDBY_POLL_S,
        stopping: Callable[[], bool] = lambda: False,
        waiting: Callable[[str], None] = lambda message: None,
    ) -> bool:
        """Take the lock as soon as it is free or its holder's lease ran out, asking every ``poll_s`` seconds (a
        standby); ``waiting`` hears why it waits (once per holder, or once per outage of a database that does not
        answer: a standby outlives it). False if ``stopping()`` said to give up."""
        told: str | None = None
        while not stopping():
            try:
                self.acquire()
                return True
            except IndexerBusy as busy:
                if busy.holder != told:
                    told = busy.holder
                    waiting(str(busy))
            except OperationalError as exc:
                if told != "":
                    told = ""
                    waiting(f"the database does not answer ({type(exc.orig).__name__}); asking again")
            time.sleep(poll_s)
        return False

    def owned(self) -> bool:
        """Whether this lock still holds the lease (asked in a transaction of its own)."""
        t = self.table
        with self.engine.connect() as conn:
            return conn.execute(select(t.c.owner).where(t.c.name == self.name)).scalar() == self.owner

    def refresh(self, conn: Connection) -> None:
        """Renew the heartbeat inside the caller's transaction; LockLost if someone else holds the lock now."""
        t = self.table
        if conn.dialect.name == "postgresql":
            idle_ms = self.ttl_ms + IDLE_GRACE_MS
            conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"))
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

"""The single writer: a lock row (owner, host, pid, heartbeat) so that one indexer writes a mirror."""

from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from indexer.errors import IndexerBusy, LockLost
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
    """A lock row (owner, host, pid, heartbeat): one indexer writes a mirror; a second is refused.

    A holder is presumed dead when its heartbeat is older than ``ttl_s``, or at once when it ran on this host
    and its process is gone (so a crashed indexer can be restarted immediately). Every write transaction
    re-checks ownership (``refresh``; the SQLite writer process does the same with ``name`` and ``owner``), so a
    stalled holder that lost the lock cannot write afterwards.
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

"""One live gateway per relayer account: a lease row (``gateway_relayer_leases``) kept alive by a heartbeat.

Two gateways sending with one relayer would hand out the same relayer nonces (each numbers its transactions
locally, chain/_nonces.py): so each gateway has a relayer of its own, and the database says who holds which.

* **Taking it** (at start-up, ``acquire``): a relayer with no lease row is taken at once. A row held by another
  process is watched: if its heartbeat counter moves, that gateway is alive and this one refuses to start
  (ConfigurationError naming the holder). If the counter stays still for ``lease_s`` by this process's own
  clock, its holder is dead (SIGKILL, a crash, a lost machine) and the row is taken over by a compare-and-set
  on the counter seen. A gateway stopped cleanly deletes its row, so its restart takes the lease at once; one
  killed restarts after at most ``lease_s``.
* **Keeping it**: the holder adds one to the counter every ``BEAT_S`` (a thread; ``ensure`` does it inline when
  the thread is late). Before each send, ``ensure`` checks the last confirmed beat is at most ``2 x BEAT_S``
  old (timed from before its write was issued) and refuses to send otherwise (503), so a holder that lost the
  database or stalled stops sending well before anyone may take over. A beat that finds the row held by
  another process means the lease was taken: this gateway relays no more (503) until restarted.

Counters, not timestamps, so that no two machines' clocks are compared. After a takeover the relayer's nonce
resumes from the chain's pending count (a new process's nonce manager asks the node), so no gap is left, and
the dead gateway's pending relays are settled from their receipts by any gateway's watcher (watch.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chain import ConfigurationError, checksum
from gateway.errors import ServiceUnavailable
from gateway.models import RelayerLease

__all__ = ["BEAT_S", "Lease", "holder_id"]

_log = logging.getLogger("gateway.relay")

BEAT_S = 1.0
_CONFIRMED_FOR_S = 2 * BEAT_S
_WATCH_POLL_S = 0.2


def holder_id() -> str:
    """This process's name in lease rows and relay rows: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """This gateway's lease on its relayer account."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        relayer: str,
        holder: str,
        *,
        lease_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease_s < 2 * _CONFIRMED_FOR_S:
            raise ValueError(f"a relayer lease must last at least {2 * _CONFIRMED_FOR_S:.0f} s")
        self.sessions = sessions
        self.relayer = checksum(relayer)
        self.holder = holder
        self.lease_s = lease_s
        self.clock = clock
        self._lock = threading.Lock()
        self._confirmed: float | None = None  # monotonic time before the last beat that found the row ours
        self._lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lease: at once if free or ours, after ``lease_s`` of silence if its holder is dead;
        ConfigurationError if a live gateway holds it."""
        seen: tuple[str, int] | None = None
        seen_at = time.monotonic()
        while True:
            started = time.monotonic()
            with self.sessions() as db:
                row = db.get(RelayerLease, self.relayer)
                if row is None:
                    now = self.clock()
                    db.add(RelayerLease(relayer=self.relayer, holder=self.holder, beat=0, acquired_at=now, beat_at=now))
                    try:
                        db.commit()
                    except IntegrityError:  # another gateway took it just now: watch it like any holder
                        db.rollback()
                        continue
                    return self._taken(started)
                if row.holder == self.holder:
                    return self._taken(started)
                current = (row.holder, row.beat)
                if seen is None:
                    seen, seen_at = current, time.monotonic()
                elif current != seen:
                    raise ConfigurationError(
                        f"the relayer {self.relayer} is held by a live gateway ({row.holder}, heartbeat "
                        f"{self.clock() - row.beat_at:.1f} s ago): give each gateway its own relayer account "
                        "(PROCURE_RELAYER_KEYSTORE), or stop that one first"
                    )
                elif time.monotonic() - seen_at >= self.lease_s:
                    now = self.clock()
                    taken = db.execute(
                        update(RelayerLease)
                        .where(
                            RelayerLease.relayer == self.relayer,
                            RelayerLease.holder == seen[0],
                            RelayerLease.beat == seen[1],
                        )
                        .values(holder=self.holder, beat=0, acquired_at=now, beat_at=now)
                    )
                    db.commit()
                    if getattr(taken, "rowcount", 0) == 1:
                        silent = f"no heartbeat for {self.lease_s:.0f} s"
                        _log.warning("took over the relayer %s from %s (%s)", self.relayer, seen[0], silent)
                        return self._taken(started)
                    continue  # someone else took it first: the next read sees the change and refuses
            time.sleep(_WATCH_POLL_S)

    def _taken(self, started: float) -> None:
        with self._lock:
            self._confirmed = started
            self._lost = False

    def beat(self) -> bool:
        """Add one to the counter if the row is still ours; False (and relaying stops) if it is not."""
        started = time.monotonic()
        with self.sessions() as db:
            done = db.execute(
                update(RelayerLease)
                .where(RelayerLease.relayer == self.relayer, RelayerLease.holder == self.holder)
                .values(beat=RelayerLease.beat + 1, beat_at=self.clock())
            )
            db.commit()
        ours = getattr(done, "rowcount", 0) == 1
        with self._lock:
            if ours:
                self._confirmed = started
            elif not self._lost:
                self._lost = True
                _log.error("the relayer %s's lease was taken by another gateway: relaying stops", self.relayer)
        return ours

    def ensure(self) -> None:
        """Before a send: the lease is ours, confirmed in the last ``2 x BEAT_S``; else 503."""
        with self._lock:
            lost, confirmed = self._lost, self._confirmed
        if not lost and confirmed is not None and time.monotonic() - confirmed <= _CONFIRMED_FOR_S:
            return
        if not lost:
            try:
                if self.beat():
                    return
            except SQLAlchemyError as exc:
                raise ServiceUnavailable(f"cannot confirm the relayer's lease in the database: {exc}") from None
        raise ServiceUnavailable(
            f"another gateway took over the relayer {self.relayer}: this gateway relays no more; restart it with a "
            "relayer of its own"
        )

    def held_by(self) -> str | None:
        """Who holds the lease now, as the database says."""
        with self.sessions() as db:
            return db.scalar(select(RelayerLease.holder).where(RelayerLease.relayer == self.relayer))

    def start(self) -> None:
        """Beat every BEAT_S in a daemon thread until ``stop``."""
        self._stop.clear()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="relayer-lease", daemon=True)
            self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop beating; with ``release``, give the lease up (a restart then takes it at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if release:
            with self._lock:
                self._lost = True  # nothing is sent after a release
            try:
                with self.sessions() as db:
                    db.execute(
                        delete(RelayerLease).where(
                            RelayerLease.relayer == self.relayer, RelayerLease.holder == self.holder
                        )
                    )
                    db.commit()
            except SQLAlchemyError as exc:  # the database is away: the lease expires by itself
                _log.warning("could not release the relayer's lease: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(BEAT_S):
            try:
                if not self.beat():
                    return
            except SQLAlchemyError as exc:
                _log.warning("relayer lease heartbeat failed: %s", exc)

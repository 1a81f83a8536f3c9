"""The writer's lease timings (standard library only, so that `procure --help` can show them without SQL).

A holder renews its lease every ``HEARTBEAT_S`` (1 s) while it follows the chain, and in every write transaction
while it catches up; it is presumed dead ``LEASE_TTL_S`` (3 s) after its last renewal, and at once when it ran on
the standby's host and its process is gone. A standby asks every ``STANDBY_POLL_S`` (0.5 s). So a standby takes over
at most 3 + 0.5 = 3.5 s after a holder on another host died (its last renewal was at most then; 4.5 s if it died
inside a write transaction, see ``IDLE_GRACE_MS``), and within 0.5 s of the death of one on its own host: under the
5 s issue 18 asks for, with half a second left for the standby's own transaction on a loaded machine. A holder
renews at least three times per TTL (``SyncConfig``), so one late heartbeat does not lose it the lease.
"""

from __future__ import annotations

__all__ = ["HEARTBEAT_S", "IDLE_GRACE_MS", "LEASE_TTL_S", "STANDBY_POLL_S"]

LEASE_TTL_S = 3.0  # a holder silent this long is presumed dead
HEARTBEAT_S = 1.0  # how often a holder renews its lease
STANDBY_POLL_S = 0.5  # how often a standby asks whether the lease is free
# On PostgreSQL a write transaction left idle for the TTL and this is ended by the server (see WriterLock): a holder
# stalled inside one is taken over within 3 + 1 + 0.5 = 4.5 s, and one busy between two statements has a second more.
IDLE_GRACE_MS = 1000

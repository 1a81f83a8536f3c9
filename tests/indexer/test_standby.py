"""A standby indexer on PostgreSQL, as real processes (`procure index --standby`) against a real anvil: it takes over
within 5 s of the active indexer's SIGKILL in mid catch-up, and after a stall (SIGSTOP) past the lease the stalled
holder, resumed, stops without writing (LockLost); both mirrors end equal to a fresh replay (`audit verify`). The
process helpers are the takeover benchmark's (scripts/bench_standby.py)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.logs import ChainSource
from indexer.audit import verify
from indexer.lease import LEASE_TTL_S
from indexer.store import count_rows
from scripts.bench_indexer import Chain, running_anvil
from scripts.bench_standby import IndexerPair, chain_to_catch_up, start_pair, until
from scripts.fresh_postgres import new_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil with the system deployed, some events, and empty blocks between them."""
    with running_anvil(tmp_path_factory.mktemp("standby"), persistent=False) as running:
        chain_to_catch_up(running)
        yield running


def _verified(pair: IndexerPair, chain: Chain) -> None:
    report = verify(pair.mirror.engine, ChainSource(chain.rpc), chain.system, chain.build)
    assert report.ok, report.differences[:5]


def test_the_standby_takes_over_within_5_s_of_a_sigkill_mid_catch_up(
    chain: Chain, postgres_server: str, tmp_path: Path
) -> None:
    head = chain.rpc.block_number()
    with start_pair(chain, new_database(postgres_server), tmp_path) as pair:
        assert pair.mirror.cursor() < head - 60, "the catch-up should still have most of the chain ahead of it"
        pair.active.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        taken = until(lambda: pair.mirror.holder_pid() == pair.standby.pid, 10, "the standby to take the lease")
        assert taken - killed < 5.0, f"took over after {taken - killed:.2f} s"
        assert pair.stop_standby() == 0, pair.standby_log.read_text()[-2000:]
        assert pair.mirror.cursor() == head
        assert "took over the mirror's writer lease" in pair.standby_log.read_text()
        _verified(pair, chain)


def _snapshot(pair: IndexerPair) -> tuple[object, ...]:
    """The cursor's whole row and how many events and digests the mirror holds."""
    return (
        pair.mirror.store.cursor(),
        count_rows(pair.mirror.engine, "events"),
        count_rows(pair.mirror.engine, "block_digests"),
    )


def test_a_holder_stalled_past_its_lease_is_taken_over_and_stops_without_writing(
    chain: Chain, postgres_server: str, tmp_path: Path
) -> None:
    head = chain.rpc.block_number()
    ttl, heartbeat = 2.0, 0.5  # shorter than the default, to keep the test short; the same path
    assert ttl < LEASE_TTL_S
    options = ("--lease-ttl", str(ttl), "--heartbeat", str(heartbeat))
    with start_pair(chain, new_database(postgres_server), tmp_path, *options) as pair:
        # A stall on the standby's own host, with the holder's process alive: only the lease's expiry can tell.
        pair.active.send_signal(signal.SIGSTOP)
        stalled = time.monotonic()
        taken = until(lambda: pair.mirror.holder_pid() == pair.standby.pid, 30, "the standby to take the lease")
        # Not before the lease ran out (its last renewal was at most a heartbeat before the stall); within the lease
        # and a second when the holder stalled inside a write transaction (the server ends it: WriterLock), and the
        # standby's poll, with a second for a loaded machine.
        assert ttl - heartbeat - 0.1 <= taken - stalled <= ttl + 1 + 0.5 + 1, taken - stalled
        pair.following(pair.standby_log)
        assert pair.mirror.cursor() == head
        # The mirror held still (the standby stopped while following an idle chain), the holder resumes: it must
        # stop without a write.
        pair.standby.send_signal(signal.SIGSTOP)
        before = _snapshot(pair)
        pair.active.send_signal(signal.SIGCONT)
        assert pair.active.wait(30) != 0
        assert "taken over by another indexer" in pair.active_log.read_text()
        assert _snapshot(pair) == before
        pair.standby.send_signal(signal.SIGCONT)
        assert pair.stop_standby() == 0, pair.standby_log.read_text()[-2000:]
        _verified(pair, chain)

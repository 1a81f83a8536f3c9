"""A standby indexer on PostgreSQL, as real processes (`procure index --standby`) against a real anvil: it takes over
within 5 s of the active indexer's SIGKILL in mid catch-up, and after a stall (SIGSTOP) past the lease the stalled
holder, resumed, stops without writing (LockLost); both mirrors end equal to a fresh replay (`audit verify`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from chain import project_root
from chain.logs import ChainSource
from indexer.audit import verify
from indexer.lease import LEASE_TTL_S
from indexer.models import TABLES
from indexer.schema import make_engine, upgrade
from indexer.store import Store
from scripts.bench_indexer import Chain, generate_events, running_anvil
from tests.indexer.conftest import _new_postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil with the system deployed, some events, and empty blocks between them: a catch-up one block per range
    (--max-span 1) lasts a few seconds."""
    with running_anvil(tmp_path_factory.mktemp("standby"), persistent=False) as running:
        for _ in range(3):
            generate_events(running, 60, milestones=2, per_round=4)
            running.rpc.result("anvil_mine", [hex(60)])
        yield running


def _indexer(chain: Chain, url: str, log: Path, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(chain.var_dir)}
    command = [sys.executable, "-m", "scripts.cli_indexer", "index", "--db", url, "--max-span", "1", *options]
    command += ["--recheck-every", "0", "--recheck-all-every", "0"]  # `audit verify` checks it all at the end
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=project_root(), env=env, stdout=out, stderr=subprocess.STDOUT)


def _until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` every 10 ms; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return time.monotonic()


class _Mirror:
    """The test's own view of the database the indexers share: the cursor and who holds the lease."""

    def __init__(self, url: str, chain_id: int) -> None:
        self.engine = make_engine(url)
        self.store = Store(self.engine, chain_id)

    def cursor(self) -> int:
        try:
            cursor = self.store.cursor()
        except Exception:  # the schema is not there yet
            return -1
        return -1 if cursor is None else cursor.block_number

    def holder_pid(self) -> int | None:
        locks = TABLES["indexer_locks"]
        try:
            with self.engine.connect() as conn:
                owner = conn.execute(select(locks.c.owner)).scalar()
        except Exception:
            return None
        return None if owner is None else int(str(owner).split(":")[1])

    def verified(self, chain: Chain) -> None:
        report = verify(self.engine, ChainSource(chain.rpc), chain.system, chain.build)
        assert report.ok, report.differences[:5]


def _start_pair(chain: Chain, url: str, tmp: Path, *options: str) -> tuple[subprocess.Popen[bytes], ...]:
    """Two indexers started at once as standbys (either may lead, as on two machines): the one seen to hold the
    lease and write (the active one), and the one seen waiting. The database is migrated first, as an operator
    would before starting two indexers on it."""
    upgrade(make_engine(url))
    mirror = _Mirror(url, chain.rpc.chain_id)
    first, second = (_indexer(chain, url, tmp / f"{n}.log", "--standby", *options) for n in ("first", "second"))
    _until(lambda: mirror.holder_pid() in (first.pid, second.pid) and mirror.cursor() > 0, 60, "one to write")
    active, standby = (first, second) if mirror.holder_pid() == first.pid else (second, first)
    (tmp / f"{'first' if active is first else 'second'}.log").rename(tmp / "active.log")
    (tmp / f"{'first' if standby is first else 'second'}.log").rename(tmp / "standby.log")
    _until(lambda: b"waiting to take over" in (tmp / "standby.log").read_bytes(), 60, "the other to wait")
    return active, standby


def _following(log: Path) -> None:
    """Wait until the indexer logging to ``log`` caught up and follows the chain (its SIGTERM handler is set)."""
    _until(lambda: b"following the chain" in log.read_bytes(), 120, f"{log.name} to follow the chain")


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    _following(log)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log.read_text()[-2000:]


def test_the_standby_takes_over_within_5_s_of_a_sigkill_mid_catch_up(
    chain: Chain, postgres_server: str, tmp_path: Path
) -> None:
    url = _new_postgres_database(postgres_server)
    mirror = _Mirror(url, chain.rpc.chain_id)
    head = chain.rpc.block_number()
    active, standby = _start_pair(chain, url, tmp_path)
    try:
        assert mirror.cursor() < head - 60, "the catch-up should still have most of the chain ahead of it"
        os.kill(active.pid, signal.SIGKILL)
        killed = time.monotonic()
        taken = _until(lambda: mirror.holder_pid() == standby.pid, 10, "the standby to take the lease")
        assert taken - killed < 5.0, f"took over after {taken - killed:.2f} s"
        _stop(standby, tmp_path / "standby.log")
        assert mirror.cursor() == head
        assert "took over the mirror's writer lease" in (tmp_path / "standby.log").read_text()
        mirror.verified(chain)
    finally:
        for process in (active, standby):
            process.kill()
            process.wait()
        mirror.engine.dispose()


def test_a_holder_stalled_past_its_lease_is_taken_over_and_stops_without_writing(
    chain: Chain, postgres_server: str, tmp_path: Path
) -> None:
    url = _new_postgres_database(postgres_server)
    mirror = _Mirror(url, chain.rpc.chain_id)
    head = chain.rpc.block_number()
    ttl, heartbeat = 2.0, 0.5  # shorter than the default, to keep the test short; the same path
    assert ttl < LEASE_TTL_S
    options = ("--lease-ttl", str(ttl), "--heartbeat", str(heartbeat))
    active, standby = _start_pair(chain, url, tmp_path, *options)
    try:
        # A stall on the standby's own host, with the holder's process alive: only the lease's expiry can tell.
        active.send_signal(signal.SIGSTOP)
        stalled = time.monotonic()
        taken = _until(lambda: mirror.holder_pid() == standby.pid, 30, "the standby to take the lease")
        # Not before the lease ran out (its last renewal was at most a heartbeat before the stall); within twice
        # the lease when the holder stalled inside a write transaction (the server ends it: WriterLock).
        assert ttl - heartbeat - 0.1 <= taken - stalled <= 2 * ttl + 2, taken - stalled
        _following(tmp_path / "standby.log")
        assert mirror.cursor() == head
        # The mirror held still (the standby stopped while following an idle chain), the holder resumes: it must
        # stop without a write.
        standby.send_signal(signal.SIGSTOP)
        before = _snapshot(mirror)
        active.send_signal(signal.SIGCONT)
        assert active.wait(30) != 0
        assert "taken over by another indexer" in (tmp_path / "active.log").read_text()
        assert _snapshot(mirror) == before
        standby.send_signal(signal.SIGCONT)
        _stop(standby, tmp_path / "standby.log")
        mirror.verified(chain)
    finally:
        for process in (active, standby):
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()
        mirror.engine.dispose()


def _snapshot(mirror: _Mirror) -> tuple[object, ...]:
    """The cursor's whole row and how many events and digests the mirror holds."""
    from indexer.store import count_rows

    cursor = mirror.store.cursor()
    assert cursor is not None
    return cursor, count_rows(mirror.engine, "events"), count_rows(mirror.engine, "block_digests")

"""The standby indexer's takeover time: two `procure index --standby` processes on one PostgreSQL mirror of an anvil
chain; the one holding the writer's lease is stopped in mid catch-up, and the time until the other holds it is
measured from the database (the lease row's owner).

    python scripts/bench_standby.py [--kills 3] [--json]

Two ways to stop the holder, reported apart:

* ``kill``: SIGKILL. On one machine the standby sees the holder's process is gone (``WriterLock``'s pid check) and
  takes over at its next poll (``STANDBY_POLL_S``);
* ``stall``: SIGSTOP. The process is alive, so only the lease's expiry tells: what a standby on another machine sees
  when the holder's machine dies (at most ``LEASE_TTL_S + STANDBY_POLL_S``, 3.5 s; a second more when the holder
  stalled inside a write transaction, which the server then ends).

``standby_takeover`` is the function bench_scale.py calls; this file also holds the process helpers the standby tests
use (tests/indexer/test_standby.py).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from chain import project_root
from indexer.lease import LEASE_TTL_S
from indexer.models import TABLES
from indexer.schema import make_engine, upgrade
from indexer.store import Store
from scripts.bench_indexer import Chain, _postgres, generate_events, running_anvil
from scripts.fresh_postgres import new_database

__all__ = ["IndexerPair", "main", "standby_takeover", "start_pair", "until"]


def until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` every 10 ms; the monotonic time it first held (TimeoutError naming ``what`` after
    ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return time.monotonic()


class _Mirror:
    """The database the indexers share, as the measurer sees it: the cursor and the lease's holder."""

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


@dataclass
class IndexerPair:
    """Two indexers on one mirror: the one that holds the lease, the one waiting, and their logs."""

    active: subprocess.Popen[bytes]
    standby: subprocess.Popen[bytes]
    active_log: Path
    standby_log: Path
    mirror: _Mirror

    def following(self, log: Path, timeout: float = 120) -> None:
        """Wait until the indexer logging to ``log`` caught up and follows the chain (its SIGTERM handler is set)."""
        until(lambda: b"following the chain" in log.read_bytes(), timeout, f"{log.name} to follow the chain")

    def stop_standby(self) -> int:
        """SIGTERM the standby once it follows the chain; its exit code."""
        self.following(self.standby_log)
        self.standby.send_signal(signal.SIGTERM)
        return self.standby.wait(30)

    def close(self) -> None:
        """Stop both, whatever state they are in."""
        for process in (self.active, self.standby):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
            process.wait()
        self.mirror.engine.dispose()


def _indexer(chain: Chain, url: str, log: Path, options: tuple[str, ...]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(chain.var_dir)}
    command = [sys.executable, "-m", "scripts.cli_indexer", "index", "--standby", "--db", url, "--max-span", "1"]
    command += ["--recheck-every", "0", "--recheck-all-every", "0", *options]  # `audit verify` checks it all
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=project_root(), env=env, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def start_pair(chain: Chain, url: str, folder: Path, *options: str) -> Iterator[IndexerPair]:
    """Two `procure index --standby` processes started at once (either may lead, as on two machines), catching up one
    block per range: yields them once one is seen to hold the lease and write and the other to wait. The database is
    migrated first, as an operator would before starting two indexers on it. Both are stopped on exit."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    mirror = _Mirror(url, chain.rpc.chain_id)
    logs = (folder / "first.log", folder / "second.log")
    first, second = (_indexer(chain, url, log, options) for log in logs)
    pair = IndexerPair(first, second, *logs, mirror)
    try:
        pids = (first.pid, second.pid)
        until(lambda: mirror.holder_pid() in pids and mirror.cursor() > 0, 60, "an indexer to take the lease and write")
        if mirror.holder_pid() == second.pid:
            pair = IndexerPair(second, first, logs[1], logs[0], mirror)
        until(lambda: b"waiting to take over" in pair.standby_log.read_bytes(), 60, "the other indexer to wait")
        yield pair
    finally:
        pair.close()


def chain_to_catch_up(chain: Chain) -> None:
    """Some events with empty blocks between them: a catch-up one block per range lasts a few seconds."""
    for _ in range(3):
        generate_events(chain, 60, milestones=2, per_round=4)
        chain.rpc.result("anvil_mine", [hex(60)])


def _takeover(chain: Chain, admin_url: str, folder: Path, how: str, options: tuple[str, ...]) -> float:
    """One takeover: the holder stopped (``kill``: SIGKILL, ``stall``: SIGSTOP) in mid catch-up; seconds until the
    standby holds the lease."""
    url = new_database(admin_url)
    with start_pair(chain, url, folder, *options) as pair:
        os.kill(pair.active.pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        stopped = time.monotonic()
        taken = until(lambda: pair.mirror.holder_pid() == pair.standby.pid, 60, "the standby to take the lease")
        return taken - stopped


def standby_takeover(
    kills: int = 3, *, postgres_url: str | None = None, log: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Seconds from the active indexer's death to the standby holding the lease, ``kills`` times each way (see the
    module's docstring), with the default lease; as one JSON-ready dict."""
    result: dict[str, Any] = {"lease_ttl_s": LEASE_TTL_S, "kills": kills}
    with tempfile.TemporaryDirectory(prefix="bench-standby-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=False) as chain, _postgres(postgres_url) as admin_url:
            chain_to_catch_up(chain)
            for how, key in (("kill", "indexer_takeover_s"), ("stall", "indexer_takeover_stall_s")):
                times = []
                for n in range(kills):
                    runs = work / f"{how}-{n}"
                    runs.mkdir()
                    times.append(_takeover(chain, admin_url, runs, how, ()))
                    log(f"{how} {n + 1}: took over after {times[-1]:.2f} s")
                result[key] = {"median": round(statistics.median(times), 3), "max": round(max(times), 3)}
    return result


@click.command()
@click.option("--kills", type=click.IntRange(1, 20), default=3, show_default=True, help="Takeovers of each kind.")
@click.option("--postgres-url", default=None, help="PostgreSQL server to use (default: a temporary pgserver).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
def main(kills: int, postgres_url: str | None, as_json: bool) -> None:
    """Measure how long a standby indexer takes to take over a mirror."""
    result = standby_takeover(kills, postgres_url=postgres_url, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<26} {value}")


if __name__ == "__main__":
    main()

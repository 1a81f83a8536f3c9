"""Crash safety against a real anvil: the indexer is SIGKILLed at random points while catching up, restarted,
and still ends equal to a fresh full index: nothing lost, nothing duplicated. The same after a node that limits
and then refuses log queries while ranges are fetched ahead."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import pytest

from chain import ProviderError, project_root
from chain.logs import ChainSource
from indexer.audit import _compare_tables, recompute_digests
from indexer.deferred_indexes import DEFERRABLE, deferred_indexes
from indexer.schema import make_engine
from indexer.store import Store
from indexer.sync import Indexer
from scripts.bench_indexer import Chain, generate_events, running_anvil
from tests.indexer.conftest import index_definitions

pytestmark = pytest.mark.integration

KILLS = 10


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil with the system deployed and some hundreds of events over about a hundred blocks."""
    with running_anvil(tmp_path_factory.mktemp("crash")) as running:
        generate_events(running, 3000, milestones=5, per_round=2)
        yield running


class _PacedNode(ChainSource):
    """A node that answers at most ``allowance`` log queries, each 30 ms late, then holds the next one until the
    test kills the indexer: a kill always lands inside the catch-up, after a bounded amount of work, however the
    machine's load slows the test's own clock. ``fetched`` counts the queries begun, for the test to watch."""

    def __init__(self, rpc: Any, fetched: Synchronized[int], allowance: int) -> None:
        super().__init__(rpc)
        self.fetched = fetched
        self.allowance = allowance

    def logs(self, from_block: int, to_block: int, topics: Sequence[str]) -> list[dict[str, Any]]:
        while self.fetched.value >= self.allowance:
            time.sleep(0.005)  # held here until killed
        with self.fetched.get_lock():
            self.fetched.value += 1
        time.sleep(0.03)
        return super().logs(from_block, to_block, topics)


class _LimitedNode(ChainSource):
    """A node that refuses log queries over more than ``blocks`` blocks (as hosted providers do), and every one
    after ``answers`` answers; ``refused_in`` names the threads it refused."""

    def __init__(self, rpc: Any, blocks: int, answers: int) -> None:
        super().__init__(rpc)
        self.blocks = blocks
        self.answers = answers
        self.refused_in: set[str] = set()

    def logs(self, from_block: int, to_block: int, topics: Sequence[str]) -> list[dict[str, Any]]:
        if to_block - from_block + 1 > self.blocks or self.answers <= 0:
            self.refused_in.add(threading.current_thread().name)
            raise ProviderError(f"eth_getLogs failed: more than {self.blocks} blocks, or too many queries")
        self.answers -= 1
        return super().logs(from_block, to_block, topics)


def _index_once(
    rpc_url: str, var_dir: str, url: str, fetched: Synchronized[int], allowance: int, defer: int | None
) -> None:
    """The indexer in a child process: catch up one block per transaction, at most ``allowance`` blocks; ``defer``
    is its ``SyncConfig.defer_indexes_blocks``."""
    from chain import compile_contracts, connect, require_manifest
    from indexer.sync import SyncConfig

    rpc = connect(rpc_url)
    engine = make_engine(url)
    indexer = Indexer(
        engine,
        _PacedNode(rpc, fetched, allowance),
        require_manifest(rpc, Path(var_dir)),
        compile_contracts(),
        SyncConfig(initial_span=1, max_span=1, defer_indexes_blocks=defer),
    )
    with indexer:
        indexer.catch_up()


# A fork server with the heavy imports preloaded starts each indexer in milliseconds, so that the kills land
# inside the catch-up rather than in the interpreter's start-up.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    ["chain.clients", "sqlalchemy", "indexer.sync", "indexer.schema", "tests.indexer.test_crash"]
)


def _start(chain: Chain, url: str, fetched: Synchronized[int], allowance: int, defer: int | None) -> BaseProcess:
    args = (chain.node.url, str(chain.var_dir), url, fetched, allowance, defer)
    process = _CONTEXT.Process(target=_index_once, args=args)
    process.start()
    return process


def _spawn(chain: Chain, url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(chain.var_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.cli_indexer", "index", "--once", "--db", url, "--max-span", "1"],
        cwd=project_root(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _cursor(url: str, chain_id: int) -> int:
    engine = make_engine(url)
    try:
        cursor = Store(engine, chain_id).cursor()
    except Exception:  # the schema is not there yet
        return -1
    finally:
        engine.dispose()
    return -1 if cursor is None else cursor.block_number


# Kept: the indexes maintained row by row. Deferred: the first run drops them (indexer/deferred_indexes.py), every
# kill leaves them missing and recorded, and the final run (the command line's defaults) builds them at its end.
@pytest.mark.parametrize("defer", [None, 0], ids=["kept", "deferred"])
def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    chain: Chain, db_url: str, tmp_path: Path, defer: int | None, migrated: dict[str, str]
) -> None:
    rng = random.Random(20260401)
    chain_id = chain.rpc.chain_id
    head = chain.rpc.block_number()
    for _ in range(KILLS):
        before = _cursor(db_url, chain_id)
        fetched = _CONTEXT.Value("i", 0)
        process = _start(chain, db_url, fetched, rng.randint(2, 4), defer)
        deadline = time.monotonic() + 60
        while fetched.value == 0 and process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert fetched.value > 0, f"the indexer never reached its catch-up (exit code {process.exitcode})"
        # Somewhere inside the catch-up: mid-fetch, mid-transaction, mid-commit, or held before the next fetch once
        # the allowance is spent (a loaded machine slows this clock, never the indexer's bound).
        time.sleep(rng.uniform(0, 0.1))
        assert process.is_alive(), f"the indexer ended before the kill (exit code {process.exitcode})"
        os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
        process.join(30)
        assert process.exitcode == -signal.SIGKILL, f"the indexer failed with exit code {process.exitcode}"
        if before >= 0:  # a kill never takes back what a run committed (how far a run gets is the planner's)
            assert before <= _cursor(db_url, chain_id), "the cursor went back"
        if defer is not None:
            assert _deferred(db_url) == sorted(DEFERRABLE), "a killed run left indexes missing without a record"
    assert _cursor(db_url, chain_id) < head, "the kills should leave work for the final run"
    final = _spawn(chain, db_url)  # the last run through the real command line
    assert final.wait(120) == 0, final.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    assert _cursor(db_url, chain_id) == head
    assert _deferred(db_url) == []
    live = make_engine(db_url)
    try:
        assert index_definitions(live) == migrated
    finally:
        live.dispose()

    _assert_a_fresh_index_equals(chain, db_url, tmp_path)


def _deferred(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return deferred_indexes(conn)
    finally:
        engine.dispose()


def _assert_a_fresh_index_equals(chain: Chain, db_url: str, tmp_path: Path) -> None:
    """The mirror at ``db_url`` holds what a fresh, uninterrupted catch-up of the chain holds, and its digests."""
    live, fresh = make_engine(db_url), make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with Indexer(fresh, ChainSource(chain.rpc), chain.system, chain.build) as indexer:
            indexer.catch_up()
        differences, checked = _compare_tables(live, fresh)
        assert differences == []
        assert checked["events"] >= 1500
        assert recompute_digests(live, chain.rpc.chain_id) == []
    finally:
        live.dispose()
        fresh.dispose()


def test_a_node_that_limits_then_refuses_log_queries_leaves_whole_ranges(
    chain: Chain, db_url: str, tmp_path: Path
) -> None:
    chain_id = chain.rpc.chain_id
    limited = _LimitedNode(chain.rpc, blocks=4, answers=12)
    live = make_engine(db_url)
    try:
        with Indexer(live, limited, chain.system, chain.build) as indexer:
            with pytest.raises(ProviderError, match="too many queries"):
                indexer.catch_up()
            assert indexer.stats.shrinks > 0  # the span was halved to the node's limit, and grew back into it
        assert any(name.startswith("prefetch") for name in limited.refused_in), limited.refused_in
        stopped = _cursor(db_url, chain_id)
        assert 0 <= stopped < chain.rpc.block_number()
        with Indexer(live, ChainSource(chain.rpc), chain.system, chain.build) as indexer:
            indexer.catch_up()
    finally:
        live.dispose()
    _assert_a_fresh_index_equals(chain, db_url, tmp_path)

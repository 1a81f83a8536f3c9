"""The sync loop on an in-process chain: the mirror equals the chain, runs resume, one writer only, reorgs."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import Engine, insert, select, update

from chain import IMMEDIATE, Finality
from chain.logs import ChainSource, quantity
from chain.node import free_port
from chain.system import SystemAddresses
from indexer.audit import replay, verify
from indexer.errors import IndexerBusy, IndexerError, LockLost
from indexer.models import IndexerLock
from indexer.schema import make_engine
from indexer.store import count_rows
from indexer.sync import Indexer, SyncConfig
from indexer.writer_lock import WriterLock
from scripts.fresh_postgres import new_database
from tests.helpers import new_escrow
from tests.world import World


def _indexer(engine: Engine, world: World, **config: int) -> Indexer:
    return Indexer(engine, ChainSource(world.rpc), world.system, world.build, SyncConfig(**config))  # type: ignore[arg-type]


def test_the_mirror_equals_the_chain_and_a_replay(engine: Engine, scenario_world: World) -> None:
    with _indexer(engine, scenario_world, initial_span=7, max_span=7) as indexer:  # many small ranges
        stats = indexer.catch_up()
    assert stats.ranges > 5
    assert count_rows(engine, "events") == stats.logs_applied > 90
    report = verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)
    assert report.differences == []
    assert report.replay_hash == report.cursor.chain_hash
    assert report.checked["chain_calls"] > 100


def test_a_second_run_resumes_and_adds_nothing(engine: Engine, scenario_world: World) -> None:
    with _indexer(engine, scenario_world) as indexer:
        indexer.catch_up()
    before = count_rows(engine, "events")
    with _indexer(engine, scenario_world) as indexer:
        stats = indexer.catch_up()
    assert stats.logs_applied == 0
    assert count_rows(engine, "events") == before


def test_a_second_indexer_on_the_same_database_is_refused(engine: Engine, scenario_world: World) -> None:
    first = _indexer(engine, scenario_world)
    first.open()
    try:
        with pytest.raises(IndexerBusy, match=r"another indexer .* holds indexer:"):
            _indexer(engine, scenario_world).open()
    finally:
        first.close()
    _indexer(engine, scenario_world).open()  # released: the next one may take it


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(engine: Engine, scenario_world: World) -> None:
    indexer = _indexer(engine, scenario_world)
    dead = os.fork()
    if dead == 0:  # pragma: no cover - the child exits at once
        os._exit(0)
    os.waitpid(dead, 0)
    with engine.begin() as conn:
        conn.execute(
            insert(IndexerLock).values(
                name=f"indexer:{indexer.chain_id}", owner=f"{socket.gethostname()}:{dead}:x",
                host=socket.gethostname(), pid=dead, heartbeat_ms=2**40,
            )
        )  # fmt: skip
    indexer.open()
    indexer.close()


def test_a_stalled_indexer_that_lost_its_lock_cannot_write(engine: Engine, scenario_world: World) -> None:
    stalled = _indexer(engine, scenario_world, lock_ttl_s=0)
    stalled.open()
    with engine.begin() as conn:  # its heartbeat is long past; another host's indexer takes over
        conn.execute(update(IndexerLock).values(heartbeat_ms=0, host="elsewhere"))
    other = _indexer(engine, scenario_world, lock_ttl_s=0)
    other.lock.host = "another-host"
    other.open()
    with pytest.raises(LockLost, match="taken over"):
        stalled.catch_up()
    other.close()


def test_a_database_of_another_system_is_refused(engine: Engine, scenario_world: World) -> None:
    with _indexer(engine, scenario_world) as indexer:
        indexer.catch_up()
    other = SystemAddresses(**{**scenario_world.system.__dict__, "registry": "0x" + "1" * 40})
    with pytest.raises(IndexerError, match="mirrors the system registry="):
        Indexer(engine, ChainSource(scenario_world.rpc), other, scenario_world.build).open()


def test_a_reorg_rolls_back_to_the_common_ancestor_and_reapplies(engine: Engine, world: World) -> None:
    escrow, _ = new_escrow(world)
    indexer = _indexer(engine, world)
    with indexer:
        indexer.catch_up()
        before = count_rows(engine, "attestations")
        fork = world.tester.take_snapshot()
        supplier = world.sender("supplier")
        supplier.transact(escrow.functions.submitEvidence(0, keccak(text="orphan"), "ipfs://orphan"))
        world.sender("eval1").transact(escrow.functions.attest(0, 1, True, keccak(text="orphan")))
        indexer.catch_up()
        assert count_rows(engine, "attestations") == before + 1
        world.tester.revert_to_snapshot(fork)  # the two blocks are orphaned
        supplier.transact(escrow.functions.submitEvidence(1, keccak(text="canonical"), "ipfs://canonical"))
        world.sender("eval2").transact(escrow.functions.attest(1, 1, False, keccak(text="canonical")))
        world.sender("eval3").transact(escrow.functions.attest(1, 1, False, keccak(text="canonical")))
        stats = indexer.catch_up()
        assert stats.reorgs == 1
        assert stats.rolled_back_events == 2
    report = verify(engine, ChainSource(world.rpc), world.system, world.build)
    assert report.differences == []
    assert count_rows(engine, "attestations") == before + 2


def test_the_confirmation_depth_follows_the_chains_finality_unless_told(engine: Engine, scenario_world: World) -> None:
    head = scenario_world.rpc.block_number()
    deep = dataclasses.replace(scenario_world.system, finality=Finality(3))
    indexer = Indexer(engine, ChainSource(scenario_world.rpc), deep, scenario_world.build)
    assert (indexer.safe_head(), indexer.finality_warning) == (head - 3, None)
    told = Indexer(engine, ChainSource(scenario_world.rpc), deep, scenario_world.build, SyncConfig(confirmations=1))
    assert told.safe_head() == head - 1
    assert told.finality_warning is not None
    assert "not final yet" in told.finality_warning
    immediate = dataclasses.replace(scenario_world.system, finality=IMMEDIATE)
    assert Indexer(engine, ChainSource(scenario_world.rpc), immediate, scenario_world.build).safe_head() == head


def test_a_holder_stalled_inside_a_write_is_ended_by_postgres_and_stops_with_lock_lost(
    postgres_server: str, scenario_world: World
) -> None:
    """The path a stalled holder takes when it stalled in mid-write: the server ends its transaction after the lease
    and a second (WriterLock.refresh), a standby takes the lease, and the holder's next statement is LockLost."""
    engine = make_engine(new_database(postgres_server))
    try:
        holder = _indexer(engine, scenario_world, lock_ttl_s=0.5)  # type: ignore[arg-type]
        holder.open()
        standby = WriterLock(engine, holder.lock.name, ttl_s=0.5)
        standby.host = "another-host"
        took: list[bool] = []
        waiting = threading.Thread(target=lambda: took.append(standby.wait_acquire(0.05)))

        def stalled_write() -> None:
            with holder._writing(), engine.begin() as conn:
                holder.lock.refresh(conn)  # the write transaction begins; the lease row is locked until it ends
                waiting.start()
                time.sleep(2.0)  # stalled: idle in its transaction past 0.5 s + 1 s
                conn.execute(select(1))

        with pytest.raises(LockLost, match="taken over"):
            stalled_write()
        waiting.join(10)
        assert took == [True]
        assert standby.owned()
        assert not holder.lock.owned()
    finally:
        engine.dispose()


def test_a_standby_outlives_a_database_that_does_not_answer() -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing")
    try:
        lock = WriterLock(engine, "indexer:1")
        heard: list[str] = []
        polls = iter(range(3))
        assert lock.wait_acquire(0.01, lambda: next(polls, None) is None, heard.append) is False
    finally:
        engine.dispose()
    assert len(heard) == 1  # said once, asked three times
    assert "the database does not answer" in heard[0]


def test_a_range_of_many_more_logs_than_the_target_is_fetched_again_smaller(
    engine: Engine, scenario_world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What a range holds in memory is bounded by its logs, not its blocks: a span grown wide meets dense blocks,
    and the range of over four times ``target_logs`` is fetched again with a span cut in proportion instead of
    being decoded (only a single block may hold more); the mirror is the one a catch-up with the defaults makes."""
    from indexer import _fetcher

    decoded: list[tuple[int, int]] = []  # (logs, blocks) of each range decoded
    real = _fetcher.decode_logs

    def observed(decoder: Any, raw: Any, kinds: Any, chain_id: int) -> Any:
        decoded.append((len(raw), len({quantity(log["blockNumber"]) for log in raw})))
        return real(decoder, raw, kinds, chain_id)

    fetched: list[int] = []
    chain_logs = Indexer.chain_logs

    def fetching(self: Indexer, lo: int, hi: int) -> list[dict[str, Any]]:
        raw = chain_logs(self, lo, hi)
        fetched.append(len(raw))
        return raw

    monkeypatch.setattr(_fetcher, "decode_logs", observed)
    monkeypatch.setattr(Indexer, "chain_logs", fetching)
    with _indexer(engine, scenario_world, initial_span=64, max_span=64, target_logs=4) as indexer:
        stats = indexer.catch_up()
        cursor = indexer.store.cursor()
    assert stats.shrinks > 0
    assert max(fetched) > 16  # fetched, then dropped
    assert all(logs <= 16 or blocks == 1 for logs, blocks in decoded)
    assert cursor is not None
    monkeypatch.setattr(_fetcher, "decode_logs", real)
    monkeypatch.setattr(Indexer, "chain_logs", chain_logs)
    world = scenario_world
    whole = replay(ChainSource(world.rpc), world.system, world.build, f"sqlite:///{tmp_path / 'defaults.db'}")
    assert (whole.block_number, whole.chain_hash) == (cursor.block_number, cursor.chain_hash)
    assert count_rows(engine, "events") == stats.logs_applied


def _raw_logs(blocks: list[int]) -> list[dict[str, Any]]:
    """Raw logs as a node gives them: ``blocks[i]`` logs in block ``i + 10`` (hashes in upper case, as some send)."""
    return [
        {"blockNumber": hex(number), "blockHash": f"0x{number:064X}", "logIndex": hex(index)}
        for number, count in enumerate(blocks, start=10)
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("blocks", "size"),
    [
        ([3] * 20, 8),  # 60 logs in pieces of about 8, never inside a block
        ([1, 40, 1, 1], 8),  # a block denser than the target stays whole
        ([5, 5], 8),  # at most one and a half times the target: one piece
        ([7, 7], 8),  # more: two
        ([30], 4),  # a single block: one piece, however many logs
        ([4, 4, 4, 4, 30], 4),  # the densest block last: the last piece ends at hi
    ],
)
def test_a_range_is_cut_into_pieces_of_whole_blocks_each_ending_on_its_last_block(blocks: list[int], size: int) -> None:
    """What ``step`` decodes and writes as one transaction each: the pieces, in order, are the range's logs; none
    splits a block; each moves the cursor to its last log's block (hash as the decoder writes it, lower case); the
    last one to ``hi``; and none is over about ``size`` logs but for the rest of a block it started."""
    from indexer import _fetcher

    raw = _raw_logs(blocks)
    hi, hi_hash = 10 + len(blocks) + 2, "0x" + "ab" * 32  # two empty blocks after the last log
    pieces = _fetcher.pieces(raw, size, hi, hi_hash)
    assert [log for piece, _, _ in pieces for log in piece] == raw
    assert pieces[-1][1:] == (hi, hi_hash)
    for piece, end, end_hash in pieces[:-1]:
        assert (end, end_hash) == (int(piece[-1]["blockNumber"], 16), piece[-1]["blockHash"].lower())
    ends = [int(piece[-1]["blockNumber"], 16) for piece, _, _ in pieces]
    starts = [int(piece[0]["blockNumber"], 16) for piece, _, _ in pieces]
    assert all(end < start for end, start in zip(ends, starts[1:], strict=False))  # no block in two pieces
    if _fetcher.one_piece(len(raw), size):
        assert len(pieces) == 1
    else:
        assert len(pieces) > 1 or len(blocks) == 1  # a single block is never cut
    assert all(len(piece) <= size + max(blocks) for piece, _, _ in pieces)


def test_each_piece_of_a_range_is_decoded_just_before_it_is_written(
    engine: Engine, scenario_world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A range cut into pieces is decoded piece by piece (one ``decode_logs`` per transaction), not whole before
    its first piece is written: a pipelined catch-up's writer then has its first piece while the rest is decoded.
    The mirror is the one a catch-up in whole ranges makes."""
    from indexer import _fetcher

    decoded: list[int] = []
    real = _fetcher.decode_logs

    def observed(decoder: Any, raw: Any, kinds: Any, chain_id: int) -> Any:
        decoded.append(len(raw))
        return real(decoder, raw, kinds, chain_id)

    monkeypatch.setattr(_fetcher, "decode_logs", observed)
    with _indexer(engine, scenario_world, initial_span=64, max_span=64, target_logs=4) as indexer:
        stats = indexer.catch_up()
        cursor = indexer.store.cursor()
    assert stats.ranges < len(stats.history)  # some ranges were cut into pieces
    assert len(decoded) == len(stats.history)  # ... each decoded on its own
    assert cursor is not None
    whole = replay(
        ChainSource(scenario_world.rpc),
        scenario_world.system,
        scenario_world.build,
        f"sqlite:///{tmp_path / 'whole.db'}",
    )
    assert (whole.block_number, whole.chain_hash) == (cursor.block_number, cursor.chain_hash)
    assert count_rows(engine, "events") == stats.logs_applied

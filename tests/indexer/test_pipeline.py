"""Pipelined catch-up into SQLite and PostgreSQL: a writer process applies each planned range while the next is
planned.

The escrow state is carried in memory from one planned range to the next (never read back from rows that may
not be committed yet); the writer applies a range only if the lock is still ours and the cursor is still the
one it was planned on, in one transaction with its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from indexer.errors import IndexerError, LockLost
from indexer.models import EventRow, IndexerLock
from indexer.schema import make_engine
from indexer.store import Store
from indexer.writer_lock import WriterLock
from tests.indexer.golden import Piece, block_pieces, dump, open_store


@pytest.fixture
def pipelined_engine(db_url: str) -> Iterator[Engine]:
    """A fresh SQLite file or PostgreSQL database (the two writer processes)."""
    made = make_engine(db_url)
    try:
        yield made
    finally:
        made.dispose()


def _open(engine: Engine, recorded: dict[str, Any]) -> tuple[Store, WriterLock, list[Piece]]:
    """A fresh mirror, its lock, and the recording's logs cut into one piece per block (the last up to the head)."""
    store = open_store(engine, recorded)
    lock = WriterLock(engine, f"indexer:{store.chain_id}")
    lock.acquire()
    pieces = block_pieces(recorded)
    head = recorded["head"]
    last, _, _ = pieces.pop()
    pieces.append((last, int(head["number"]), str(head["hash"])))
    return store, lock, pieces


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EventRow)).scalar_one())


def test_a_pipelined_catch_up_gives_the_expected_rows(
    pipelined_engine: Engine, recorded: dict[str, Any], expected: Any
) -> None:
    store, lock, pieces = _open(pipelined_engine, recorded)
    assert len(pieces) > 10  # state carried across many transactions
    try:
        pipeline = store.pipeline(lock)
        done: list[tuple[int, int]] = []
        for chunk, end, end_hash in pieces:
            done += pipeline.apply(chunk, end, end_hash)
        done += pipeline.wait()
    finally:
        store.close()
    assert [end for end, _ in done] == [end for _, end, _ in pieces]
    assert sum(applied for _, applied in done) == len(recorded["logs"])
    assert dump(pipelined_engine) == expected


def test_a_writer_that_lost_the_lock_writes_nothing(pipelined_engine: Engine, recorded: dict[str, Any]) -> None:
    store, lock, pieces = _open(pipelined_engine, recorded)
    try:
        pipeline = store.pipeline(lock)
        pipeline.apply(*pieces[0])
        pipeline.wait()
        with pipelined_engine.begin() as conn:
            conn.execute(update(IndexerLock).values(owner="another host:1:cafe"))
        pipeline.apply(*pieces[1])
        with pytest.raises(LockLost):
            pipeline.wait()
    finally:
        store.close()
    cursor = store.cursor()
    assert cursor is not None
    assert cursor.block_number == pieces[0][1]
    assert _events(pipelined_engine) == len(pieces[0][0])


def test_a_range_planned_on_a_cursor_that_moved_is_refused(pipelined_engine: Engine, recorded: dict[str, Any]) -> None:
    store, lock, pieces = _open(pipelined_engine, recorded)
    try:
        pipeline = store.pipeline(lock)
        pipeline.apply(*pieces[0])
        pipeline.wait()
        store.apply(*pieces[1], lock)  # written behind the pipeline's back
        pipeline.apply(*pieces[1])  # planned on the cursor after pieces[0]
        with pytest.raises(IndexerError, match="planned on"):
            pipeline.wait()
    finally:
        store.close()
    cursor = store.cursor()
    assert cursor is not None
    assert cursor.block_number == pieces[1][1]
    assert _events(pipelined_engine) == len(pieces[0][0]) + len(pieces[1][0])  # nothing twice


def test_a_dead_writer_is_an_error_and_leaves_whole_ranges(pipelined_engine: Engine, recorded: dict[str, Any]) -> None:
    store, lock, pieces = _open(pipelined_engine, recorded)
    try:
        pipeline = store.pipeline(lock)
        pipeline.apply(*pieces[0])
        pipeline.wait()
        writer = store.writer_process()
        writer.process.kill()
        writer.process.wait()
        with pytest.raises(IndexerError, match="writer process"):
            pipeline.apply(*pieces[1])
        pipeline = store.pipeline(lock)  # starts a new writer, from the committed cursor
        for piece in pieces[1:]:
            pipeline.apply(*piece)
        pipeline.wait()
    finally:
        store.close()
    assert _events(pipelined_engine) == len(recorded["logs"])


def test_after_a_rollback_the_pipeline_plans_from_the_committed_cursor(
    pipelined_engine: Engine, recorded: dict[str, Any], expected: Any
) -> None:
    store, lock, pieces = _open(pipelined_engine, recorded)
    middle = len(pieces) // 2
    try:
        pipeline = store.pipeline(lock)
        for piece in pieces:
            pipeline.apply(*piece)
        pipeline.wait()
        ancestor = pieces[middle - 1]
        store.rollback(ancestor[1], ancestor[2], lock)
        pipeline.reset()
        assert pipeline.cursor().block_number == ancestor[1]
        for piece in pieces[middle:]:
            pipeline.apply(*piece)
        pipeline.wait()
    finally:
        store.close()
    assert dump(pipelined_engine) == expected

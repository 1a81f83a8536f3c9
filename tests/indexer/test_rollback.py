"""A reorg's rollback rebuilds current state through the same functions that applying events uses.

Rolled back to any block of the golden recording, the mirror equals a fresh index of the blocks up to it (rows,
milestones, books, organizations, accounts, roles, digests and cursor); applied again, it equals the whole.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from indexer import reorg
from indexer.mappers import DERIVED, Books, BooksStep, Insert, Patch, Remove, Upsert
from indexer.models import APPEND_ONLY, TABLES
from indexer.schema import make_engine
from tests.indexer.golden import block_pieces, dump, open_store, system_of


@pytest.fixture(scope="module")
def fresh_dumps(recorded: dict[str, Any]) -> Iterator[dict[int, Any]]:
    """For every block with events (and the block before the system), the mirror of a fresh index up to it."""
    pieces = block_pieces(recorded)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'fresh.db'}")
        try:
            store = open_store(engine, recorded)
            dumps = {system_of(recorded).deployed_block - 1: dump(engine)}
            for logs, number, block_hash in pieces:
                store.apply(logs, number, block_hash)
                dumps[number] = dump(engine)
            yield dumps
        finally:
            engine.dispose()


def test_a_rollback_to_any_block_equals_a_fresh_index_up_to_it(
    engine: Engine, recorded: dict[str, Any], expected: Any, fresh_dumps: dict[int, Any]
) -> None:
    pieces = block_pieces(recorded)
    hashes = {number: block_hash for _, number, block_hash in pieces}
    hashes[system_of(recorded).deployed_block - 1] = recorded["before_hash"]
    every = [item for logs, _, _ in pieces for item in logs]
    head = recorded["head"]
    store = open_store(engine, recorded)
    assert len(fresh_dumps) > 20
    for ancestor in sorted(fresh_dumps, reverse=True):
        store.apply(every, int(head["number"]), str(head["hash"]))  # from the whole chain (again) ...
        removed = store.rollback(ancestor, hashes[ancestor])  # ... back to the ancestor
        assert removed == sum(len(logs) for logs, number, _ in pieces if number > ancestor)
        assert dump(engine) == fresh_dumps[ancestor], f"rolled back to block {ancestor}"
    store.apply(every, int(head["number"]), str(head["hash"]))
    assert dump(engine) == expected


def test_state_moved_by_a_row_is_derived_from_that_row_only(recorded: dict[str, Any]) -> None:
    """Books and the registry's current state change only through DERIVED (what a reorg replays): every such
    change a mapper returns is what DERIVED makes of one of its rows, right after that row."""
    derived_kinds = (BooksStep, Upsert, Patch, Remove)
    checked = 0
    for logs, _, _ in block_pieces(recorded):
        for item in logs:
            changes = list(item.changes)
            i = 0
            while i < len(changes):
                change = changes[i]
                i += 1
                if isinstance(change, Insert) and change.table in DERIVED:
                    derived = DERIVED[change.table](change.row)
                    following = changes[i : i + len(derived)]
                    assert [type(c) for c in following] == [type(c) for c in derived], item.log.event
                    for mine, theirs in zip(following, derived, strict=True):
                        if isinstance(mine, BooksStep):
                            assert isinstance(theirs, BooksStep)
                            sample = Books(7, 5, 3, False)
                            assert (mine.escrow, mine.step(sample)) == (theirs.escrow, theirs.step(sample))
                        else:
                            assert mine == theirs
                    i += len(derived)
                    checked += len(derived)
                elif isinstance(change, derived_kinds) and not (
                    isinstance(change, Upsert) and change.table == "organizations"  # registration: its opening state
                ):
                    raise AssertionError(f"{item.log.event} moves {change} other than through DERIVED")
    assert checked > 20


def test_every_table_is_append_only_or_rebuilt_by_a_rollback() -> None:
    append_only = {model.__tablename__ for model in APPEND_ONLY}
    assert set(TABLES) == append_only | set(reorg.CURRENT_STATE)
    assert not append_only & set(reorg.CURRENT_STATE)
    for table in DERIVED:
        assert table in append_only
        replayed_whole = table in reorg.REGISTRY_ROWS or table in reorg.BUDGET_ROWS
        assert replayed_whole or "escrow" in TABLES[table].c, f"how does a rollback replay {table}?"

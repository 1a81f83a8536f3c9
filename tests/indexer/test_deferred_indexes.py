"""A catch-up into an empty mirror defers the event tables' secondary indexes and builds them at its end: exactly the
indexes the migrations make, the same rows as a catch-up that kept them, each step one transaction; never on a
mirror that holds rows or a catch-up too short to need it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, insert, text

from chain.logs import ChainSource
from indexer.audit import _compare_tables, recompute_digests, replay
from indexer.deferred_indexes import DEFERRABLE, build_deferred, defer_indexes, deferred_indexes
from indexer.errors import IndexerError
from indexer.models import APPEND_ONLY, TABLES, DeferredIndex
from indexer.schema import alembic_config, make_engine, upgrade
from indexer.sync import Indexer, SyncConfig
from tests.indexer.conftest import index_definitions
from tests.world import World


def _indexer(engine: Engine, world: World, blocks: int | None = 0) -> Indexer:
    return Indexer(engine, ChainSource(world.rpc), world.system, world.build, SyncConfig(defer_indexes_blocks=blocks))


def test_the_deferrable_indexes_are_the_non_unique_ones_of_the_event_tables() -> None:
    event_tables = {str(model.__tablename__) for model in APPEND_ONLY}
    assert DEFERRABLE, "nothing to defer"
    for name, index in DEFERRABLE.items():
        assert not index.unique, name
        assert index.table is not None
        assert index.table.name in event_tables, name
    kept = [index.name for table in TABLES.values() for index in table.indexes if index.name not in DEFERRABLE]
    assert "ix_procurements_chain_id_ministry_org_procurement_id" in kept  # unique: guards the mirror
    assert "ix_role_memberships_chain_id_account" in kept  # a current-state table's


def test_a_catch_up_into_an_empty_mirror_builds_exactly_the_migrated_indexes(
    engine: Engine, scenario_world: World, migrated: dict[str, str], fresh_url: Callable[[str], str]
) -> None:
    expected = migrated
    seen: list[tuple[list[str], set[str]]] = []

    def progress(block: int, target: int) -> None:  # while catching up: what is recorded, what the database has
        with engine.connect() as conn:
            seen.append((deferred_indexes(conn), set(index_definitions(engine))))

    with _indexer(engine, scenario_world) as indexer:
        indexer.catch_up(progress=progress)
    assert len(seen) > 1
    for recorded, present in seen:  # recorded is exactly what is missing, and only deferrable ones are
        assert recorded == sorted(DEFERRABLE)
        assert present == set(expected) - set(DEFERRABLE)
    assert index_definitions(engine) == expected
    with engine.connect() as conn:
        assert deferred_indexes(conn) == []

    kept = make_engine(fresh_url("kept"))
    try:
        with _indexer(kept, scenario_world, None) as indexer:
            indexer.catch_up()
        differences, checked = _compare_tables(engine, kept)
        assert differences == []
        assert checked["events"] > 100
        assert recompute_digests(engine, scenario_world.rpc.chain_id) == []
    finally:
        kept.dispose()


def test_no_deferral_for_a_mirror_with_rows_a_short_catch_up_or_another_chains_mirror(
    engine: Engine, scenario_world: World, migrated: dict[str, str], fresh_url: Callable[[str], str]
) -> None:
    expected = migrated
    head = scenario_world.rpc.block_number()
    start = scenario_world.system.deployed_block

    def never_deferred(block: int, target: int) -> None:
        assert index_definitions(engine) == expected

    with _indexer(engine, scenario_world, blocks=head - start + 2) as indexer:  # the whole chain is too short
        indexer.catch_up(progress=never_deferred, until=start + 3)
    with _indexer(engine, scenario_world) as indexer:  # rows mirrored already
        indexer.catch_up(progress=never_deferred)
    assert index_definitions(engine) == expected

    other = make_engine(fresh_url("two-chains"))
    try:
        upgrade(other)
        with other.begin() as conn:  # another chain's mirror, past its first block, shares the database
            conn.execute(
                insert(TABLES["cursors"]).values(
                    chain_id=999, block_number=5, block_hash="0x" + "1" * 64, chain_hash="2" * 64, start_block=1,
                    registry_address="0x" + "3" * 40, token_address="0x" + "4" * 40, factory_address="0x" + "5" * 40,
                    updated_at_ms=0,
                )
            )  # fmt: skip
        before = index_definitions(other)
        with _indexer(other, scenario_world) as indexer:
            indexer.catch_up(progress=lambda block, target: _assert_same(index_definitions(other), before))
    finally:
        other.dispose()


def _assert_same(found: dict[str, str], expected: dict[str, str]) -> None:
    assert found == expected


def _in_transaction(engine: Engine, step: Callable[[Connection], list[str]], *, commit: bool) -> list[str]:
    with engine.connect() as conn:
        conn.execute(
            text("UPDATE deferred_indexes SET name = name")
        )  # opens the transaction, as the lease's write does
        done = step(conn)
        (conn.commit if commit else conn.rollback)()
    return list(done)


def test_dropping_and_building_are_each_one_transaction(engine: Engine) -> None:
    upgrade(engine)
    whole = index_definitions(engine)
    dropped = _in_transaction(engine, defer_indexes, commit=False)  # a process killed before its commit
    assert dropped == sorted(DEFERRABLE)
    assert index_definitions(engine) == whole
    with engine.connect() as conn:
        assert deferred_indexes(conn) == []

    assert _in_transaction(engine, defer_indexes, commit=True) == sorted(DEFERRABLE)
    assert set(index_definitions(engine)) == set(whole) - set(DEFERRABLE)
    assert _in_transaction(engine, build_deferred, commit=False) == sorted(DEFERRABLE)  # killed while building
    assert set(index_definitions(engine)) == set(whole) - set(DEFERRABLE)
    with engine.connect() as conn:
        assert deferred_indexes(conn) == sorted(DEFERRABLE)

    assert _in_transaction(engine, build_deferred, commit=True) == sorted(DEFERRABLE)
    assert index_definitions(engine) == whole
    assert _in_transaction(engine, build_deferred, commit=True) == []  # built once: a second builder finds nothing


def test_a_record_naming_no_index_of_the_schema_is_refused_and_kept(engine: Engine) -> None:
    upgrade(engine)
    deferrable = next(iter(DEFERRABLE))
    with engine.begin() as conn:
        conn.execute(insert(TABLES[DeferredIndex.__tablename__]), [{"name": "ix_made_up"}, {"name": deferrable}])
    with pytest.raises(IndexerError, match="ix_made_up"):
        _in_transaction(engine, build_deferred, commit=True)
    with engine.connect() as conn:
        assert deferred_indexes(conn) == sorted(["ix_made_up", deferrable])  # nothing half-done


def test_follow_builds_the_indexes_of_a_mirror_left_deferred_before_its_first_step(
    engine: Engine, scenario_world: World, migrated: dict[str, str], fresh_url: Callable[[str], str]
) -> None:
    expected = migrated
    with _indexer(engine, scenario_world) as indexer:
        indexer.catch_up(until=scenario_world.system.deployed_block + 3)  # built at its end
        assert index_definitions(engine) == expected
        _in_transaction(engine, defer_indexes, commit=True)  # as a catch-up killed midway leaves it
        indexer.follow(lambda: True)
    assert index_definitions(engine) == expected


def test_a_replay_always_defers_and_ends_with_every_index(
    db_url: str, scenario_world: World, migrated: dict[str, str]
) -> None:
    engine = make_engine(db_url)
    try:
        expected = migrated
        recorded: list[list[str]] = []

        def progress(block: int, target: int) -> None:
            with engine.connect() as conn:
                recorded.append(deferred_indexes(conn))

        replay(ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build, db_url, progress=progress)
        assert sorted(DEFERRABLE) in recorded
        assert index_definitions(engine) == expected
    finally:
        engine.dispose()


def test_0012_will_not_downgrade_while_indexes_are_deferred(engine: Engine) -> None:
    upgrade(engine)
    _in_transaction(engine, defer_indexes, commit=True)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="still deferred"):
            command.downgrade(config, "0011")

"""The mirror's version, as other packages read it: None until the mirror has synced, then its cursor, new with
every commit (an apply or a rollback); alone or beside another one-row query, the same."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, literal, select

from indexer.cursor import MirrorVersion, mirror_version, with_mirror_version
from tests.indexer.golden import block_pieces, open_store


def _beside(engine: Engine, chain_id: int) -> MirrorVersion | None:
    one = select(literal(1).label("one")).subquery()  # a one-row query over something (a session, in the gateway)
    with engine.connect() as conn:
        row = conn.execute(with_mirror_version(select(one.c.one), chain_id)).one()
    assert row.one == 1
    return MirrorVersion.of(row)


def test_the_mirror_version_follows_every_commit(engine: Engine, recorded: dict[str, Any]) -> None:
    chain_id = int(recorded["chain_id"])
    store = open_store(engine, recorded)
    with engine.connect() as conn:
        assert mirror_version(conn, chain_id + 1) is None  # another chain: not synced
    assert _beside(engine, chain_id + 1) is None
    seen = []
    pieces = block_pieces(recorded)
    for logs, number, block_hash in pieces[:3]:
        store.apply(logs, number, block_hash)
        with engine.connect() as conn:
            version = mirror_version(conn, chain_id)
        cursor = store.cursor()
        assert version is not None
        assert cursor is not None
        assert (version.block_number, version.block_hash, version.chain_hash) == (
            cursor.block_number,
            cursor.block_hash,
            cursor.chain_hash,
        )
        assert _beside(engine, chain_id) == version
        seen.append(version)
    store.rollback(pieces[0][1], pieces[0][2])
    with engine.connect() as conn:
        rolled_back = mirror_version(conn, chain_id)
    assert rolled_back is not None
    assert rolled_back.block_number == seen[0].block_number
    assert len({*seen, rolled_back}) == 4  # every commit is a new version

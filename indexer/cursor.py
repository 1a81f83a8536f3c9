"""The cursor: how far the mirror goes, and so its version.

The cursor row (block number and hash, the hash chain there, the system mirrored) moves in the same SQL transaction
as the rows it covers, in every transaction that applies or rolls back blocks (``indexer.write_plan``). So it is
also the mirror's version for readers: anything read from the mirror stays current exactly as long as the cursor
row does. ``mirror_version`` is how other packages read it; nothing outside the indexer names the cursors table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from indexer.models import TABLES

__all__ = ["Cursor", "MirrorVersion", "chain_mismatch", "mirror_version", "read_cursor", "with_mirror_version"]

_CURSORS = TABLES["cursors"]
_VERSION_COLUMNS = (
    _CURSORS.c.block_number,
    _CURSORS.c.block_hash,
    _CURSORS.c.chain_hash,
    _CURSORS.c.updated_at_ms,
)


@dataclass(frozen=True)
class Cursor:
    """How far the mirror goes, as the indexer needs it."""

    chain_id: int
    block_number: int
    block_hash: str
    chain_hash: str
    start_block: int
    registry: str
    token: str
    factory: str
    genesis_hash: str | None = None  # block 0's hash: two chains may share an id (every dev chain is 31337)


def read_cursor(conn: Connection, chain_id: int) -> Cursor | None:
    """The cursor of ``chain_id``, or None before the first run."""
    row = conn.execute(select(_CURSORS).where(_CURSORS.c.chain_id == chain_id)).first()
    if row is None:
        return None
    return Cursor(
        chain_id=row.chain_id,
        block_number=row.block_number,
        block_hash=row.block_hash,
        chain_hash=row.chain_hash,
        start_block=row.start_block,
        registry=row.registry_address,
        token=row.token_address,
        factory=row.factory_address,
        genesis_hash=row.genesis_hash,
    )


def chain_mismatch(conn: Connection, chain_id: int, genesis_hash: str | None) -> str | None:
    """Why the mirror in ``conn`` is not of the chain a node serves (its id and block 0's hash), in words; None if
    it is, or if the mirror holds nothing yet."""
    rows = conn.execute(select(_CURSORS.c.chain_id, _CURSORS.c.genesis_hash)).all()
    if not rows:
        return None
    mine = {int(row.chain_id): row.genesis_hash for row in rows}
    if chain_id not in mine:
        held = ", ".join(str(other) for other in sorted(mine))
        return f"the mirror holds chain {held}, and the node is chain {chain_id}"
    recorded = mine[chain_id]
    if recorded is not None and genesis_hash is not None and recorded.lower() != genesis_hash.lower():
        return (
            f"the node is another chain {chain_id} than the mirror's: its genesis block is {genesis_hash}, the "
            f"mirror's {recorded} (a node started afresh?)"
        )
    return None


@dataclass(frozen=True, slots=True)
class MirrorVersion:
    """The mirror's version: every commit of the indexer (apply or rollback) writes a new one.

    Anything read from the mirror can be cached under the version it was read at and is stale exactly when the
    version changes. ``block_number`` is also how far the mirror goes.
    """

    block_number: int
    block_hash: str
    chain_hash: str
    updated_at_ms: int

    @classmethod
    def of(cls, row: Any) -> MirrorVersion | None:
        """The version in a row of ``with_mirror_version``'s query; None if the mirror has not synced."""
        if row.block_number is None:
            return None
        return cls(row.block_number, row.block_hash, row.chain_hash, row.updated_at_ms)


def mirror_version(db: Session | Connection, chain_id: int) -> MirrorVersion | None:
    """The mirror's current version for ``chain_id`` (one lookup by key), or None if it has not synced that chain."""
    row = db.execute(select(*_VERSION_COLUMNS).where(_CURSORS.c.chain_id == chain_id)).first()
    return None if row is None else MirrorVersion(*row)


def with_mirror_version(query: Select[Any], chain_id: int) -> Select[Any]:
    """``query`` (which selects from a table other than the cursors') with the mirror's version of ``chain_id``
    beside its columns, in the same statement: for a lookup that must stay one statement, such as the gateway's
    session. Read it with ``MirrorVersion.of(row)``."""
    return query.add_columns(*_VERSION_COLUMNS).outerjoin(_CURSORS, _CURSORS.c.chain_id == chain_id)

"""A fresh mirror's catch-up without the secondary indexes of its event tables: dropped when it starts, built once when
it reaches its target.

Building an index from the rows already there sorts them once; maintaining it inserts each row into a B-tree, a
write per row and per index into pages scattered over the whole index (the bulk-load practice of PostgreSQL's
"Populating a Database"). Only the non-unique indexes of the append-only tables are deferred: primary keys and
unique indexes guard what the mirror holds and always stay, and the current-state tables are small and read by the
writer itself. Nothing the mirror serves depends on an index; reads are slower until they are built, while the
mirror is behind its chain anyway (``/healthz`` shows its lag and counts the indexes still to build).

Crash safety: the names of the dropped indexes are recorded in ``deferred_indexes`` in the transaction that drops
them, and deleted in the one that builds them (SQLite and PostgreSQL both roll DDL back with the transaction), so a
process killed at any point leaves either every index, or a record of exactly those missing; the next catch-up that
reaches its target (or ``Indexer.follow`` before its first step) builds them.
"""

from __future__ import annotations

from sqlalchemy import Connection, Index, delete, insert, inspect, select

from indexer.errors import IndexerError
from indexer.models import APPEND_ONLY, TABLES, DeferredIndex

__all__ = ["DEFERRABLE", "build_deferred", "defer_indexes", "deferred_indexes"]

DEFERRABLE: dict[str, Index] = {
    str(index.name): index
    for model in APPEND_ONLY
    for index in sorted(TABLES[str(model.__tablename__)].indexes, key=lambda index: str(index.name))
    if not index.unique
}
"""The indexes a fresh mirror's catch-up may defer, by name: the non-unique indexes of the append-only tables."""

_DEFERRED = TABLES[DeferredIndex.__tablename__]


def deferred_indexes(conn: Connection) -> list[str]:
    """The names of the indexes dropped and not built yet, sorted."""
    return sorted(str(name) for name in conn.scalars(select(_DEFERRED.c.name)))


def defer_indexes(conn: Connection) -> list[str]:
    """Drop the deferrable indexes the database has and record them, in the caller's transaction; returns their
    names. Only for a mirror holding no rows yet (the caller checks)."""
    present = {
        str(index["name"])
        for table in {str(index.table.name) for index in DEFERRABLE.values()}  # type: ignore[union-attr]
        for index in inspect(conn).get_indexes(table)
    }
    dropped = [name for name in DEFERRABLE if name in present]
    if dropped:  # the record first: Python's sqlite3 opens its transaction at the first INSERT, not at a DROP
        conn.execute(insert(_DEFERRED), [{"name": name} for name in dropped])
    for name in dropped:
        DEFERRABLE[name].drop(conn)
    return dropped


def build_deferred(conn: Connection) -> list[str]:
    """Build the indexes recorded as deferred and forget the record, in the caller's transaction; returns their
    names (none: nothing was deferred, or another process built them first: its deletion of the record is waited
    for). The caller's transaction must be open already (SQLite: a write of its own, e.g. the lease's renewal)."""
    names = sorted(str(name) for name in conn.scalars(delete(_DEFERRED).returning(_DEFERRED.c.name)))
    unknown = [name for name in names if name not in DEFERRABLE]
    if unknown:
        raise IndexerError(f"deferred indexes {unknown} are not indexes of this version's schema: not built")
    for name in names:
        DEFERRABLE[name].create(conn)
    return names

"""The plan of one transaction, and how any DB-API cursor executes it.

The planner (``indexer.planning``) and a reorg (``indexer.reorg``) derive everything a transaction writes as a
``WritePlan`` of plain values (tuples, lists, str, int, bool, None): the same plan is executed in process
(``indexer.writing``: SQLite's driver, or psycopg with COPY for PostgreSQL) or crosses a pipe to the SQLite writer
process (``indexer._sqlite_writer``). The cursor moves last, in the same transaction as everything else.

This module imports only the standard library, so that the writer process starts in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain, groupby
from typing import Any, NamedTuple, Protocol

__all__ = [
    "BOOKS_COLUMNS",
    "MAX_PARAMETERS",
    "MILESTONE_COLUMNS",
    "DbCursor",
    "Op",
    "Row",
    "WritePlan",
    "execute_plan",
    "insert_rows",
    "insert_sql",
]

Row = Sequence[Any]

# A current-state statement: (kind, table, key columns, value columns, parameters). ``kind`` is "upsert" (the
# parameters are the values; the key columns are the primary key), "patch" (the values, then the key's values) or
# "remove" (the key's values).
Op = tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[Any, ...]]

# The columns of the ``milestones`` and ``books`` rows of a plan, in order: the values set, then the key.
MILESTONE_COLUMNS = (
    "amount",
    "due_date",
    "status",
    "round",
    "passes",
    "fails",
    "owed",
    "dispute_lapses_at",
    "block_number",
)
MILESTONE_KEY = ("chain_id", "escrow", "milestone_id")
BOOKS_COLUMNS = ("total_funded", "total_released", "total_refunded", "total_owed", "paused_until")
BOOKS_KEY = ("chain_id", "escrow")


class WritePlan(NamedTuple):
    """One transaction's writes, planned on the cursor ``base`` and moving it to ``cursor``.

    ``base`` and ``cursor`` are (block number, block hash, chain hash). ``Uint256`` values are decimal strings.
    ``milestones`` rows are ``MILESTONE_COLUMNS`` then ``MILESTONE_KEY`` (updates of existing milestones);
    ``books`` rows are ``BOOKS_COLUMNS`` then ``BOOKS_KEY`` (updates of existing procurements); ``ops`` are the
    other current-state statements (organizations, accounts, role memberships), in order.
    """

    chain_id: int
    base: tuple[int, str, str]
    inserts: list[tuple[str, tuple[str, ...], list[Row]]]  # table, columns, rows
    milestones: list[Row]
    books: list[Row]
    ops: list[Op]
    cursor: tuple[int, str, str]


class DbCursor(Protocol):
    """What ``execute_plan`` needs of a DB-API cursor."""

    def execute(self, sql: str, params: Sequence[Any], /) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _names(names: Sequence[str]) -> str:
    return ", ".join(_quote(name) for name in names)


def _where(key: Sequence[str], mark: str) -> str:
    return " AND ".join(f"{_quote(name)} = {mark}" for name in key)


def _update(table: str, columns: Sequence[str], key: Sequence[str], mark: str) -> str:
    values = ", ".join(f"{_quote(name)} = {mark}" for name in columns)
    return f"UPDATE {_quote(table)} SET {values} WHERE {_where(key, mark)}"  # noqa: S608 - the schema's own names


# At most this many parameters per statement: SQLite's limit before 3.32 (SQLITE_MAX_VARIABLE_NUMBER; 32,766 since).
MAX_PARAMETERS = 999


@lru_cache(maxsize=1024)
def insert_sql(table: str, columns: tuple[str, ...], mark: str, rows: int = 1) -> str:
    """``INSERT INTO table (columns) VALUES (...), ...``: ``rows`` rows of ``mark`` (``?`` or ``%s``) per column."""
    # Only the schema's own (quoted) names go into the text; every value is a bound parameter.
    values = "(" + ", ".join([mark] * len(columns)) + ")"
    return f"INSERT INTO {_quote(table)} ({_names(columns)}) VALUES " + ", ".join([values] * rows)  # noqa: S608


def insert_rows(cursor: DbCursor, table: str, columns: tuple[str, ...], rows: Sequence[Row], mark: str) -> None:
    """Insert ``rows``, in order, with statements of as many rows as ``MAX_PARAMETERS`` allows.

    A driver's ``executemany`` binds, steps and resets its statement once per row, a fixed cost about a tenth of
    SQLite's insert: with a hundred rows per statement it is paid a hundred times less often (the same rows in the
    same order: the same rowids, and the same error on a duplicate key).
    """
    per = max(1, MAX_PARAMETERS // len(columns))
    whole = len(rows) - len(rows) % per
    if whole:
        batches = [list(chain.from_iterable(rows[start : start + per])) for start in range(0, whole, per)]
        cursor.executemany(insert_sql(table, columns, mark, per), batches)
    if whole < len(rows):  # the rest row by row: one statement per table, whatever their number (its cache)
        cursor.executemany(insert_sql(table, columns, mark), rows[whole:])


@lru_cache(maxsize=1024)
def _op_sql(kind: str, table: str, key: tuple[str, ...], columns: tuple[str, ...], mark: str) -> str:
    if kind == "upsert":
        changed = [name for name in columns if name not in key]
        on_conflict = (
            "DO UPDATE SET " + ", ".join(f"{_quote(name)} = excluded.{_quote(name)}" for name in changed)
            if changed
            else "DO NOTHING"
        )
        return f"{insert_sql(table, columns, mark)} ON CONFLICT ({_names(key)}) {on_conflict}"
    if kind == "patch":
        return _update(table, columns, key, mark)
    if kind == "remove":
        return f"DELETE FROM {_quote(table)} WHERE {_where(key, mark)}"  # noqa: S608 - the schema's own names
    raise ValueError(f"unknown statement kind {kind!r}")


def _shape(op: Op) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """What an op's statement text depends on: (kind, table, key columns, value columns)."""
    return op[0], op[1], op[2], op[3]


@lru_cache(maxsize=8)
def _statements(mark: str) -> tuple[str, str, str]:
    return (
        _update("milestones", MILESTONE_COLUMNS, MILESTONE_KEY, mark),
        _update("procurements", BOOKS_COLUMNS, BOOKS_KEY, mark),
        _update("cursors", ("block_number", "block_hash", "chain_hash", "updated_at_ms"), ("chain_id",), mark),
    )


def execute_plan(
    cursor: DbCursor,
    plan: WritePlan,
    *,
    now_ms: int,
    mark: str = "?",
    copy: Callable[[str, tuple[str, ...], list[Row]], None] | None = None,
) -> None:
    """Execute ``plan`` in the cursor's current transaction, the cursor row last.

    ``mark`` is the driver's parameter marker (``?`` for sqlite3, ``%s`` for psycopg); rows are inserted with
    ``insert_rows``, or with ``copy(table, columns, rows)`` if given (PostgreSQL's COPY).
    """
    milestones_sql, books_sql, cursor_sql = _statements(mark)
    for table, columns, rows in plan.inserts:
        if not rows:
            continue
        if copy is None:
            insert_rows(cursor, table, columns, rows, mark)
        else:
            copy(table, columns, rows)
    if plan.milestones:
        cursor.executemany(milestones_sql, plan.milestones)
    if plan.books:
        cursor.executemany(books_sql, plan.books)
    # Consecutive statements of one shape (the budget lines a range moved, ...) go in one executemany, in order.
    for (kind, table, key, columns), ops in groupby(plan.ops, key=_shape):
        cursor.executemany(_op_sql(kind, table, key, columns, mark), [op[4] for op in ops])
    cursor.execute(cursor_sql, (*plan.cursor, now_ms, plan.chain_id))

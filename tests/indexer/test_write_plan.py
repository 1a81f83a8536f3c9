"""How a plan's rows reach SQLite: many rows per statement, stored exactly as one statement per row stores them.

The pipelined catch-up's golden tests (``test_pipeline.py``) check the rows a whole catch-up leaves; these check the
statement batching and the writer process's bindings on their own, against a real SQLite.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from indexer._sqlite_writer import bind_plain_values
from indexer.write_plan import MAX_PARAMETERS, insert_rows, insert_sql

COLUMNS = ("chain_id", "tx_hash", "log_index", "block_number", "relayer", "relayed", "amount")
PER_STATEMENT = MAX_PARAMETERS // len(COLUMNS)


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    # An event table's shape: a composite primary key (so a rowid table plus its unique index), NULLs and booleans.
    db.execute(
        "CREATE TABLE t (chain_id BIGINT NOT NULL, tx_hash VARCHAR(66) NOT NULL, log_index INTEGER NOT NULL,"
        " block_number BIGINT NOT NULL, relayer VARCHAR(42), relayed BOOLEAN NOT NULL, amount VARCHAR(78) NOT NULL,"
        " PRIMARY KEY (chain_id, block_number, log_index, tx_hash))"
    )
    return db


def _rows(count: int) -> list[tuple[Any, ...]]:
    return [
        (31337, f"0x{n // 3:064x}", n % 3, n // 3, None if n % 2 else f"0x{n:040x}", n % 5 == 0, str(10**20 + n))
        for n in range(count)
    ]


def _contents(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return db.execute("SELECT rowid, *, typeof(relayer), typeof(relayed) FROM t ORDER BY rowid").fetchall()


@pytest.mark.parametrize("count", [1, PER_STATEMENT - 1, PER_STATEMENT, PER_STATEMENT + 1, 3 * PER_STATEMENT + 7])
def test_rows_are_stored_as_one_statement_per_row_stores_them(count: int) -> None:
    rows = _rows(count)
    batched, one_by_one = _db(), _db()
    insert_rows(batched.cursor(), "t", COLUMNS, rows, "?")
    one_by_one.executemany(insert_sql("t", COLUMNS, "?"), rows)
    assert len(_contents(batched)) == count
    assert _contents(batched) == _contents(one_by_one)  # same values, same types, same rowids (the same order)


def test_no_statement_has_more_parameters_than_the_old_sqlite_limit() -> None:
    db = _db()
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_PARAMETERS)  # as an SQLite before 3.32 would have it
    wide = tuple(f"c{n}" for n in range(23))  # the widest row of the schema (procurements)
    db.execute(f"CREATE TABLE wide ({', '.join(wide)})")
    rows = [tuple(range(n, n + len(wide))) for n in range(500)]
    insert_rows(db.cursor(), "wide", wide, rows, "?")
    assert db.execute("SELECT * FROM wide ORDER BY rowid").fetchall() == rows


def test_a_duplicate_key_inside_a_statement_is_refused_and_its_transaction_rolls_back() -> None:
    db = _db()
    rows = _rows(2 * PER_STATEMENT)
    rows[PER_STATEMENT + 5] = rows[PER_STATEMENT + 4]  # in the second statement
    db.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: t\.chain_id, t\.block_number"):
        insert_rows(db.cursor(), "t", COLUMNS, rows, "?")
    db.execute("ROLLBACK")
    assert _contents(db) == []


def test_the_writer_binds_none_and_booleans_as_sqlite3_does_by_default() -> None:
    values = [None, True, False, 0, 1, -1, 2**63 - 1, "", "0x00", 1.5]
    query = "SELECT typeof(v), quote(v) FROM v ORDER BY rowid"

    def stored() -> list[tuple[str, str]]:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE v (v)")
        db.executemany("INSERT INTO v VALUES (?)", [(value,) for value in values])
        return db.execute(query).fetchall()

    default = stored()
    before = dict(sqlite3.adapters)
    bind_plain_values()
    try:
        assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters  # the adapters are in place...
        assert stored() == default  # ...and store exactly what sqlite3 stores without them
    finally:
        sqlite3.adapters.clear()
        sqlite3.adapters.update(before)
    assert default[:3] == [("null", "NULL"), ("integer", "1"), ("integer", "0")]

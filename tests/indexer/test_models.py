"""The Alembic migrations build exactly the models' schema from an empty database, on both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select

from indexer.errors import IndexerError
from indexer.models import Base, MilestoneRow
from indexer.schema import alembic_config, make_engine, upgrade


def test_upgrade_head_on_an_empty_database_equals_the_models(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0012"


_EVENT = {"chain_id": 1, "tx_hash": "0x" + "a" * 64, "log_index": 0, "block_number": 7}
_ESCROW, _MOD = "0x" + "e" * 40, "0x" + "4d4f44".ljust(64, "0")


def _insert(engine: Engine, table: str, row: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Table(table, MetaData(), autoload_with=conn)), [row])


def _rows(engine: Engine, table: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(Table(table, MetaData(), autoload_with=conn)))]


def test_0004_fills_a_mirror_of_the_old_contracts_and_downgrades_back(engine: Engine) -> None:
    upgrade(engine, "0003")
    procurement = {
        "chain_id": 1, "escrow": _ESCROW, "procurement_id": "0x" + "1" * 64, "ministry_org": _MOD,
        "supplier_org": "0x" + "2" * 64, "supplier": "0x" + "3" * 40, "officer": "0x" + "4" * 40, "panel": "[]",
        "quorum": 1, "title": "t", "spec_hash": "0x" + "5" * 64, "funded": "9", "milestone_count": 1,
        "block_number": 7, "tx_hash": "0x" + "a" * 64, "log_index": 0, "total_funded": "9", "total_released": "0",
        "total_refunded": "4", "total_owed": "0", "paused": True,
    }  # fmt: skip
    _insert(engine, "procurements", procurement)
    _insert(engine, "escrow_registrations", _EVENT | {"procurement_id": "0x" + "1" * 64, "escrow": _ESCROW})
    _insert(engine, "pauses", _EVENT | {"escrow": _ESCROW, "admin": "0x" + "6" * 40, "paused": True})
    _insert(engine, "refunds", _EVENT | {"escrow": _ESCROW, "milestone_id": 0, "vault": "0x" + "7" * 40, "amount": "4"})

    upgrade(engine, "0004")
    (p,) = _rows(engine, "procurements")
    # What the old contracts would have reported: a pause without an end, the default periods, refunds transferred.
    assert (p["paused_until"], p["ruling_period"], p["grace_period"]) == (2**40 - 1, 30 * 86_400, 90 * 86_400)
    assert "paused" not in p
    assert [r["paused_until"] for r in _rows(engine, "pauses")] == [2**40 - 1]
    assert [r["ministry_org"] for r in _rows(engine, "escrow_registrations")] == [_MOD]
    assert [r["kind"] for r in _rows(engine, "refunds")] == ["refunded"]

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert [r["paused"] for r in _rows(engine, "procurements")] == [True]
    assert [r["paused"] for r in _rows(engine, "pauses")] == [True]
    assert "ministry_org" not in _rows(engine, "escrow_registrations")[0]


def test_0005_drops_the_ministrys_owed_share_and_downgrades_back(engine: Engine) -> None:
    upgrade(engine, "0004")
    milestone = {
        "chain_id": 1, "escrow": _ESCROW, "milestone_id": 0, "amount": "5", "due_date": 9, "status": "Refunded",
        "round": 0, "passes": 0, "fails": 0, "owed": "0", "ministry_owed": "0", "dispute_lapses_at": 0,
    }  # fmt: skip
    _insert(engine, "milestones", milestone | {"block_number": 7})
    _insert(engine, "milestone_history", milestone | _EVENT | {"event": "Refunded"})
    refund = {"escrow": _ESCROW, "milestone_id": 0, "vault": "0x" + "7" * 40, "amount": "5", "kind": "refunded"}
    _insert(engine, "refunds", _EVENT | refund)

    upgrade(engine)
    for table in ("milestones", "milestone_history"):
        (row,) = _rows(engine, table)
        assert "ministry_owed" not in row
        assert (row["status"], int(str(row["amount"]))) == ("Refunded", 5)  # the rest kept
    (row,) = _rows(engine, "refunds")
    assert "kind" not in row
    assert int(str(row["amount"])) == 5

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    # What the budget's contracts would have reported in the old columns: nothing owed, every refund sent.
    assert [int(str(r["ministry_owed"])) for r in _rows(engine, "milestones")] == [0]
    assert [int(str(r["ministry_owed"])) for r in _rows(engine, "milestone_history")] == [0]
    assert [r["kind"] for r in _rows(engine, "refunds")] == ["refunded"]


def test_money_round_trips_exactly_beyond_64_bits(engine: Engine) -> None:
    upgrade(engine)
    huge = 2**256 - 1  # an "infinite" approval; also beyond SQLite's and PostgreSQL's bigint
    row = {
        "chain_id": 1, "escrow": "0x" + "1" * 40, "milestone_id": 0, "amount": huge, "due_date": 2**40,
        "status": "Pending", "round": 0, "passes": 0, "fails": 0, "owed": 2**64 + 1,
        "dispute_lapses_at": 2**40, "block_number": 1,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(MilestoneRow), [row])
    with engine.connect() as conn:
        amount, owed = conn.execute(select(MilestoneRow.amount, MilestoneRow.owed)).one()
    assert (amount, owed) == (huge, 2**64 + 1)
    assert type(amount) is int
    assert not isinstance(amount, Decimal | float)


@pytest.mark.parametrize("bad", [-1, 2**256, 1.5, True])
def test_money_refuses_what_is_not_a_uint256(engine: Engine, bad: object) -> None:
    upgrade(engine)
    row = {
        "chain_id": 1, "escrow": "0x" + "1" * 40, "milestone_id": 0, "amount": bad, "due_date": 1,
        "status": "Pending", "round": 0, "passes": 0, "fails": 0, "owed": 0,
        "dispute_lapses_at": 0, "block_number": 1,
    }  # fmt: skip
    with pytest.raises(Exception, match="not a uint256"), engine.begin() as conn:
        conn.execute(insert(MilestoneRow), [row])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL"),
        ("mysql://localhost/x", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite"),
    ],
)
def test_bad_database_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(IndexerError.__mro__[1], match=message):
        make_engine(url)

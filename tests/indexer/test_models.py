"""The Alembic migrations build exactly the models' schema from an empty database, on both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select

from indexer.errors import IndexerError
from indexer.models import Base, MilestoneRow
from indexer.schema import make_engine, upgrade


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
        assert MigrationContext.configure(conn).get_current_revision() == "0003"


def test_money_round_trips_exactly_beyond_64_bits(engine: Engine) -> None:
    upgrade(engine)
    huge = 2**256 - 1  # an "infinite" approval; also beyond SQLite's and PostgreSQL's bigint
    row = {
        "chain_id": 1, "escrow": "0x" + "1" * 40, "milestone_id": 0, "amount": huge, "due_date": 2**40,
        "status": "Pending", "round": 0, "passes": 0, "fails": 0, "owed": 2**64 + 1, "block_number": 1,
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
        "status": "Pending", "round": 0, "passes": 0, "fails": 0, "owed": 0, "block_number": 1,
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

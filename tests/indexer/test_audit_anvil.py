"""The audit's chain questions on a real anvil, where they go through the aggregator (``ChainSource.call_many``):
a tampered book, milestone state, ruling period and role in the mirror is each named, and an untouched mirror
agrees with the chain field for field."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update

from chain.logs import ChainSource
from indexer import audit
from indexer.models import MilestoneRow, ProcurementRow, RoleMembership
from indexer.schema import make_engine
from indexer.store import Store
from indexer.sync import Indexer
from scripts.bench_indexer import Chain

pytestmark = pytest.mark.integration


def _mirror(chain: Chain, path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    with Indexer(engine, ChainSource(chain.rpc), chain.system, chain.build) as indexer:
        indexer.catch_up()
    return engine


def _compare(chain: Chain, engine: Engine) -> tuple[list[audit.Difference], dict[str, int], ChainSource]:
    source = ChainSource(chain.rpc)
    cursor = Store(engine, source.chain_id).cursor()
    assert cursor is not None
    found, checked = audit.compare_chain(engine, source, chain.system, chain.build, cursor)
    return found, checked, source


def test_an_untouched_mirror_agrees_with_the_chain(paid_anvil: Chain, tmp_path: Path) -> None:
    engine = _mirror(paid_anvil, tmp_path / "mirror.db")
    found, checked, source = _compare(paid_anvil, engine)
    assert source._aggregates  # the questions went through the aggregator
    assert found == []
    assert checked["escrows"] >= 3
    assert checked["chain_calls"] > 5 * checked["escrows"]


def test_each_tampered_value_is_named(paid_anvil: Chain, tmp_path: Path) -> None:
    engine = _mirror(paid_anvil, tmp_path / "mirror.db")
    with engine.begin() as conn:
        escrows = sorted(conn.execute(select(ProcurementRow.escrow)).scalars())
        first, last = escrows[0], escrows[-1]
        conn.execute(update(ProcurementRow).where(ProcurementRow.escrow == first).values(total_released=1))
        conn.execute(update(ProcurementRow).where(ProcurementRow.escrow == last).values(ruling_period=1))
        conn.execute(
            update(MilestoneRow)
            .where(MilestoneRow.escrow == last, MilestoneRow.milestone_id == 1)
            .values(status="Disputed", amount=7)
        )
        member = conn.execute(select(RoleMembership).order_by(RoleMembership.account)).first()
        assert member is not None
        conn.execute(
            delete(RoleMembership).where(RoleMembership.role == member.role, RoleMembership.account == member.account)
        )
    found, _, source = _compare(paid_anvil, engine)
    assert source._aggregates
    named = {(d.table, d.key, d.field): (d.mirror, d.other) for d in found}
    assert named[("procurements", first, "total_released")][0] == 1
    assert ("procurements", first, "balanceOf") in named  # the books no longer add up to the escrow's balance
    assert named[("procurements", last, "ruling_period")][0] == 1
    milestone = f"({last}, 1)"
    assert named[("milestones", milestone, "status")] == ("Disputed", "Paid")
    assert named[("milestones", milestone, "amount")][0] == 7
    assert named[("role_memberships", f"({member.role}, {member.account})", "held")] == (False, True)
    assert len(found) == len(named) == 6

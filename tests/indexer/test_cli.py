"""`procure index` and `procure audit` end to end on the in-process chain (through the standalone group)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from chain import ChainSource
from chain.deployment import manifest_path
from indexer.errors import IndexerError
from indexer.models import MilestoneRow, PaymentRow, ProcurementRow
from indexer.schema import make_engine
from indexer.store import Store
from indexer.sync import Indexer, SyncConfig
from scripts._common import Context
from scripts.cli_indexer import standalone
from tests.tester import new_tester
from tests.world import World


@pytest.fixture
def var_dir(tmp_path: Path, scenario_world: World) -> Path:
    """A var/ folder whose manifest points at the world's system."""
    path = manifest_path(tmp_path, scenario_world.system.chain_id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(scenario_world.system.to_json()))
    return tmp_path


def _run(world: World, var_dir: Path, *args: str) -> Result:
    context = Context(transport=world.rpc, var_dir=var_dir)
    return CliRunner().invoke(standalone, list(args), obj=context, catch_exceptions=False)


def test_index_status_replay_and_verify(scenario_world: World, var_dir: Path) -> None:
    url = f"sqlite:///{var_dir / 'ledger.db'}"
    status = _run(scenario_world, var_dir, "index", "status")
    assert status.exit_code == 0
    assert "no mirror" in status.output
    once = _run(scenario_world, var_dir, "index", "--once")  # the default database: var/ledger.db
    assert once.exit_code == 0, once.output
    assert "mirror at block" in once.output
    status = _run(scenario_world, var_dir, "index", "--db", url, "status")
    head = scenario_world.w3.eth.block_number
    assert f"head    {head}" in status.output
    assert "lag     0 blocks" in status.output
    replayed = _run(scenario_world, var_dir, "audit", "replay", "--db", f"sqlite:///{var_dir / 'replay.db'}")
    assert replayed.exit_code == 0, replayed.output
    final_hash = replayed.output.strip().splitlines()[-1]
    assert final_hash in status.output  # the replay's digest equals the live mirror's hash chain
    verified = _run(scenario_world, var_dir, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "no differences" in verified.output

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(PaymentRow).where(PaymentRow.kind == "deferred").values(amount=1))
    engine.dispose()
    tampered = _run(scenario_world, var_dir, "audit", "verify", "--json")
    assert tampered.exit_code == 1
    report = json.loads(tampered.output)
    assert not report["ok"]
    assert {(d["source"], d["table"], d["field"], d["mirror"]) for d in report["differences"]} == {
        ("replay", "payments", "amount", "1")
    }

    # The auditor's own replay made above, instead of a fresh one: the same difference. The live mirror itself,
    # or both ways of replaying at once, are refused in one line.
    replay_url = f"sqlite:///{var_dir / 'replay.db'}"
    against = _run(scenario_world, var_dir, "audit", "verify", "--json", "--against-replay", replay_url)
    assert against.exit_code == 1
    assert json.loads(against.output)["differences"] == report["differences"]
    itself = _run(scenario_world, var_dir, "audit", "verify", "--against-replay", url)
    assert itself.exit_code == 1
    assert f"{url} is the live mirror itself, not a replay of it" in itself.output
    assert "Traceback" not in itself.output
    context = Context(transport=scenario_world.rpc, var_dir=var_dir)
    both = CliRunner().invoke(
        standalone, ["audit", "verify", "--replay-db", replay_url, "--against-replay", replay_url], obj=context
    )
    assert both.exit_code == 2
    assert "--replay-db replays afresh, --against-replay uses an earlier replay: give one" in both.output


def test_status_against_another_chain_of_the_same_id_says_so_and_fails(scenario_world: World, var_dir: Path) -> None:
    once = _run(scenario_world, var_dir, "index", "--once")
    assert once.exit_code == 0, once.output
    _, fresh = new_tester()  # a node started afresh: the same chain id, another chain
    assert fresh.chain_id == scenario_world.rpc.chain_id
    context = Context(transport=fresh, var_dir=var_dir)
    status = CliRunner().invoke(standalone, ["index", "status"], obj=context)
    assert status.exit_code == 1, status.output
    genesis = ChainSource(fresh).genesis_hash()
    assert f"the node is another chain {fresh.chain_id} than the mirror's: its genesis block is {genesis}" in (
        status.output
    )
    assert "lag" not in status.output
    # Nor does the indexer write another chain into it (whose system may well sit at the same addresses).
    engine = make_engine(f"sqlite:///{var_dir / 'ledger.db'}")
    store, system = Store(engine, fresh.chain_id), scenario_world.system
    cursor = store.cursor()
    assert cursor is not None
    assert cursor.genesis_hash == ChainSource(scenario_world.rpc).genesis_hash()
    with pytest.raises(IndexerError, match="refusing to mirror another chain into it"):
        store.init_cursor(
            start_block=system.deployed_block,
            before_hash=cursor.block_hash,
            registry=system.registry,
            token=system.token,
            factory=system.factory,
            genesis_hash=genesis,
        )
    engine.dispose()


def test_a_hand_edited_payment_is_found_by_the_scheduled_check(scenario_world: World, var_dir: Path) -> None:
    once = _run(scenario_world, var_dir, "index", "--once")
    assert once.exit_code == 0, once.output
    clean = _run(scenario_world, var_dir, "index", "check", "--all")
    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("the mirror matches the chain over blocks ")
    url = f"sqlite:///{var_dir / 'ledger.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        payment = conn.execute(select(PaymentRow).order_by(PaymentRow.block_number)).first()
        assert payment is not None
        conn.execute(
            update(PaymentRow).where(PaymentRow.tx_hash == payment.tx_hash).values(amount=payment.amount // 10)
        )
    # What the indexer does as it follows the chain, on its schedule (here: at once).
    config = SyncConfig(recheck_recent_s=0.0, recheck_all_s=0.001)
    indexer = Indexer(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build, config)
    rounds = iter(range(2))
    with indexer:
        indexer.follow(lambda: next(rounds, None) is None)
    engine.dispose()
    status = CliRunner().invoke(
        standalone, ["index", "status"], obj=Context(transport=scenario_world.rpc, var_dir=var_dir)
    )
    assert status.exit_code == 1, status.output
    expected = (
        f"the mirror differs from the chain at block {payment.block_number}: payments row (block "
        f"{payment.block_number}, log {payment.log_index}, tx {payment.tx_hash[:10]}...) amount is "
        f"{payment.amount // 10!r} in the mirror, {payment.amount!r} on the chain"
    )
    assert expected in status.output
    found = _run(scenario_world, var_dir, "index", "check", "--all")
    assert found.exit_code == 1
    assert expected in found.output

    # The rows the gateway serves that no single event gives (a milestone as it stands, a procurement's books) are
    # checked against the contracts: a hand-edited amount is reported at the block of the milestone's last change.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(PaymentRow).where(PaymentRow.tx_hash == payment.tx_hash).values(amount=payment.amount))
        milestone = conn.execute(select(MilestoneRow).order_by(MilestoneRow.block_number.desc())).first()
        assert milestone is not None
        key = (MilestoneRow.escrow == milestone.escrow) & (MilestoneRow.milestone_id == milestone.milestone_id)
        conn.execute(update(MilestoneRow).where(key).values(amount=milestone.amount // 10))
    found = _run(scenario_world, var_dir, "index", "check", "--all")
    assert found.exit_code == 1, found.output
    assert (
        f"the mirror differs from the chain at block {milestone.block_number}: milestones row ({milestone.escrow}, "
        f"{milestone.milestone_id}) amount is {milestone.amount // 10!r} in the mirror, {milestone.amount!r} on the "
        "chain"
    ) in found.output
    books = ProcurementRow.escrow == milestone.escrow
    with engine.begin() as conn:
        conn.execute(update(MilestoneRow).where(key).values(amount=milestone.amount))
        released = conn.execute(select(ProcurementRow.total_released).where(books)).scalar_one()
        conn.execute(update(ProcurementRow).where(books).values(total_released=released + 1))
    engine.dispose()
    found = _run(scenario_world, var_dir, "index", "check", "--all")
    assert found.exit_code == 1, found.output
    assert f"procurements row {milestone.escrow} " in found.output  # its held balance and total_released


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "--once", "--db", "mysql://x/y"], "unsupported database 'mysql'"),
        (["audit", "verify", "--db", "nonsense"], "not a database URL"),
        (["index", "--once", "--confirmations", "-1"], "-1 is not in the range"),
        (["index", "--once", "--heartbeat", "2"], "--heartbeat 2 needs --lease-ttl of at least 6"),
        (["index", "--once", "--lease-ttl", "0.1"], "0.1 is not in the range"),
    ],
)
def test_bad_input_gets_one_clear_line(scenario_world: World, var_dir: Path, args: list[str], message: str) -> None:
    result = _run(scenario_world, var_dir, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_without_a_manifest_the_error_says_what_to_do(scenario_world: World, tmp_path: Path) -> None:
    result = _run(scenario_world, tmp_path, "index", "--once")
    assert result.exit_code == 1
    assert "nothing deployed on chain" in result.output


def test_confirmations_that_contradict_the_chains_finality_are_warned_of_once(
    scenario_world: World, var_dir: Path
) -> None:
    path = manifest_path(var_dir, scenario_world.system.chain_id)
    path.write_text(json.dumps(scenario_world.system.to_json() | {"finality": "immediate"}))
    url = f"sqlite:///{var_dir / 'ledger.db'}"
    lagging = _run(scenario_world, var_dir, "index", "--once", "--db", url, "--confirmations", "2")
    assert lagging.exit_code == 0, lagging.output
    assert lagging.output.count("lags 2 blocks for nothing") == 1
    assert f"mirror at block {scenario_world.w3.eth.block_number - 2} " in lagging.output
    following = _run(scenario_world, var_dir, "index", "--once", "--db", url)  # the finality says: no lag
    assert "warning" not in following.output
    assert f"mirror at block {scenario_world.w3.eth.block_number} " in following.output

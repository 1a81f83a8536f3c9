"""Red flags on procurements played through the real contracts (eth-tester), mirrored by the indexer, block times
read from the node: the demo's kind of procurement delivered over half a year trips nothing; one whose due date is
amended three times trips amendment-count alone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from eth_utils.crypto import keccak

from chain.logs import ChainSource
from indexer.flags import DEFAULT_THRESHOLDS, Flag, find_flags, load_thresholds
from indexer.flags import Context as FlagContext
from indexer.ocds.releases import ChainBlockTimes
from indexer.schema import make_engine
from indexer.sync import Indexer
from scripts._common import Context
from scripts.cli import main
from tests.helpers import amendment_content, new_escrow, travel_days
from tests.world import World


def _deliver(world: World) -> str:
    """The demo's shape: three milestones, each delivered, passed by two evaluators and paid before its due date."""
    escrow, _ = new_escrow(world, title="Night-vision goggles, delivered")
    supplier, eval1, eval2 = world.sender("supplier"), world.sender("eval1"), world.sender("eval2")
    for milestone, wait in enumerate((25, 55, 85)):  # due in 30, 90 and 180 days
        travel_days(world, wait)
        supplier.transact(escrow.functions.submitEvidence(milestone, keccak(text=f"m{milestone}"), "ipfs://m"))
        travel_days(world, 3)
        for evaluator in (eval1, eval2):
            evaluator.transact(escrow.functions.attest(milestone, 1, True, keccak(text=f"report {milestone}")))
    return str(escrow.address)


def _amend_thrice(world: World) -> str:
    escrow, _ = new_escrow(world, title="Radar spares, rescheduled")
    officer = world.sender("officer")
    for n in range(3):
        travel_days(world, 20)
        due = world.now() + (200 + n) * 86_400
        officer.transact(escrow.functions.proposeAmendment(2, 1, 0, due, keccak(text=f"later {n}")))
        approval = amendment_content(escrow, n)
        world.sender("officer2").transact(escrow.functions.approveAmendment(*approval.values()))
    return str(escrow.address)


Flags = Callable[..., list[Flag]]
Procure = Callable[..., Result]


@pytest.fixture(scope="module")
def played(
    session_world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flags, dict[str, str], Procure]]:
    """Both procurements played and mirrored; the flags of the chain (given a thresholds file), the escrows, and
    ``procure audit flags`` on the mirror."""
    world = session_world
    snapshot = world.tester.take_snapshot()
    var = tmp_path_factory.mktemp("flags-chain")
    engine = make_engine(f"sqlite:///{var / 'ledger.db'}")
    block_times = ChainBlockTimes(world.rpc)

    def flags(thresholds: Path | None = None) -> list[Flag]:
        with engine.connect() as conn:
            return find_flags(FlagContext(conn, world.w3.eth.chain_id, load_thresholds(thresholds), block_times))

    try:
        escrows = {"delivered": _deliver(world), "amended": _amend_thrice(world)}
        with Indexer(engine, ChainSource(world.rpc), world.system, world.build) as indexer:
            indexer.catch_up()
        context = Context(transport=world.rpc, var_dir=var)

        def procure(*args: str) -> Result:
            return CliRunner().invoke(main, ["audit", "flags", "--db", str(engine.url), *args], obj=context)

        yield flags, escrows, procure
    finally:
        engine.dispose()
        world.tester.revert_to_snapshot(snapshot)


def test_a_procurement_delivered_over_half_a_year_trips_nothing(
    played: tuple[Flags, dict[str, str], Procure], tmp_path: Path
) -> None:
    flags, escrows, _ = played
    assert [flag.summary for flag in flags() if flag.escrow == escrows["delivered"]] == []
    # Delivered in 174 days: held to 200 days, it would be too fast.
    slower = tmp_path / "slower.toml"
    slower.write_text(DEFAULT_THRESHOLDS.read_text().replace("days = 60", "days = 200"))
    (flag,) = [flag for flag in flags(slower) if flag.escrow == escrows["delivered"]]
    assert flag.rule == "fast-completion"
    assert flag.records["seconds_to_completion"] // 86_400 == 174
    assert flag.records["value_yen"] == 200_000_000


def test_three_amendments_through_the_contracts_trip_amendment_count_alone(
    played: tuple[Flags, dict[str, str], Procure],
) -> None:
    flags, escrows, _ = played
    found = flags()
    (flag,) = [flag for flag in found if flag.escrow == escrows["amended"]]
    assert flag.rule == "amendment-count"
    assert flag.records["amendments"] == [0, 1, 2]
    assert len(flag.records["transactions"]) == 3
    assert "3 amendments approved (limit 3)" in flag.summary
    assert found == [flag], "nothing else on the chain trips a rule"


def test_procure_audit_flags_prints_a_line_in_words_and_json(played: tuple[Flags, dict[str, str], Procure]) -> None:
    _, escrows, procure = played
    said = procure()
    assert said.exit_code == 0, said.output
    assert said.stdout.splitlines() == [
        "amendment-count: MOD procurement 'Radar spares, rescheduled' (supplier NVE) FY2027: 3 amendments approved "
        "(limit 3)"
    ]
    assert "1 flag from 14 rules" in said.stderr
    answer = json.loads(procure("--json", "--rule", "amendment-count").stdout)
    (flag,) = answer["flags"]
    assert flag["escrow"] == escrows["amended"]
    assert flag["records"]["amendments"] == [0, 1, 2]
    assert [rule["id"] for rule in answer["rules"]] == ["amendment-count"]
    assert {entry["id"] for entry in answer["notComputable"]} >= {"single-bid", "bid-price", "short-submission-period"}
    assert procure("--ministry", "MOFA").stdout == ""
    assert procure("--fy", "2030").stdout == ""


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--rule", "no-such-rule"], "unknown rule no-such-rule; the rules are amendment-growth"),
        (["--thresholds", "/nonexistent.toml"], "cannot read the thresholds file /nonexistent.toml"),
        (["--fy", "twenty"], "'twenty' is not a valid integer"),
    ],
)
def test_procure_audit_flags_refuses_bad_options_in_one_line(
    played: tuple[Flags, dict[str, str], Procure], args: list[str], error: str
) -> None:
    said = played[2](*args)
    assert said.exit_code != 0
    assert error in said.output
    assert "Traceback" not in said.output

"""`procure budget` against the test gateway: a budget file enacted by the finance authority and distributed by each
ministry's finance officer (a second run sends nothing), a transfer requested, approved and refused in one line
each, refusals said in the contract's words with a non-zero exit, and the lines shown per ministry.

One world for the module (the commands build on each other), rolled back at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from chain import TxSender
from chain.budget import LineKey
from chain.system import error_decoder
from gateway.main import create_app
from scripts._common import Context
from scripts.cli_budget import budget
from scripts.cli_client import ClientState
from tests.gateway.conftest import Api, make_settings
from tests.tester import deterministic_account, fund_accounts
from tests.world import World

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "budgets" / "budget-fy2026.yaml"
TX = r": tx 0x[0-9a-f]{64}"
_STATES: dict[str, ClientState] = {}


@pytest.fixture(scope="module")
def api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The gateway on the session's chain for this module (waiting for the mirror only briefly: the tests run the
    indexer themselves); the chain rolled back afterwards."""
    world = session_world
    snapshot = world.tester.take_snapshot()
    account = deterministic_account("budget commands relayer")
    fund_accounts(world.tester, [account])
    relayer = TxSender(world.rpc, account, error_decoder(world.build))
    settings = make_settings(tmp_path_factory.mktemp("budget-commands"), wait_timeout_s=0.05)
    app = create_app(settings, rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client=client, world=world, app=app)
    finally:
        _STATES.clear()
        world.tester.revert_to_snapshot(snapshot)


def run(api: Api, label: str, *args: str) -> Result:
    """``procure budget ARGS`` as ``label`` (signed in once per label: sign-ins are rate-limited)."""
    if label not in _STATES:
        _STATES[label] = ClientState(Context(account=api.world.accounts[label]), "http://testserver", http=api.client)
    return CliRunner().invoke(budget, list(args), obj=_STATES[label])


def year(api: Api) -> int:
    """A fiscal year the world has no budget for yet."""
    return api.world.fiscal_year + 1


def test_a_budget_file_is_enacted_once_by_whoever_may_sign_each_act(api: Api) -> None:
    fy = str(year(api))
    api.sync()
    first = run(api, "finance", "enact", str(EXAMPLE), "--fiscal-year", fy)
    assert first.exit_code == 0, first.output
    enacted = first.output.strip().splitlines()
    assert len(enacted) == 4, first.output  # three items, and who the rest is left to
    assert re.fullmatch(r"lines\[0\]: DEF-EQUIP \(.+\) of MOD: 2,480,000,000,000 yen appropriated" + TX, enacted[0])
    assert enacted[-1] == "6 act(s) of this file are left to MOD's finance officer and MOFA's finance officer"
    api.sync()
    mod = run(api, "treasury", "enact", str(EXAMPLE), "--fiscal-year", fy)
    assert mod.exit_code == 0, mod.output
    assert re.match(r"lines\[0\]\.subItems\[0\]: EQUIP-PURCHASE \(.+\) of DEF-EQUIP: 1,620,000,000,000 yen", mod.output)
    assert len(mod.output.strip().splitlines()) == 4  # MOD's lines, and nothing said of MOFA's (it does not see them)
    api.sync()
    assert run(api, "mofa_treasury", "enact", str(EXAMPLE), "--fiscal-year", fy).exit_code == 0
    api.sync()
    nothing = run(api, "treasury", "enact", str(EXAMPLE), "--fiscal-year", fy).output.strip()
    assert nothing == f"{EXAMPLE}: everything is on chain for FY{fy} (nothing to do)"
    marks = api.chain_marks()
    again = run(api, "finance", "enact", str(EXAMPLE), "--fiscal-year", fy)
    assert again.output.strip() == f"{EXAMPLE}: everything is on chain for FY{fy} (nothing to do)"
    assert api.chain_marks() == marks
    line = api.world.budget.functions.line(LineKey.of(int(fy), "MOFA", "MOFA-HQ", "ODA-GRANT", "OSA-EQUIP").as_tuple())
    assert line.call()[3] == 8_100_000_000  # allotted


def test_a_wrong_budget_file_sends_nothing(api: Api, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("amount: 610000000000", 'amount: "610,000,000,000"')
    wrong.write_text(text.replace("appropriation: 540000000000", "appropriation: 540000000000.0"), encoding="utf-8")
    marks = api.chain_marks()
    result = run(api, "finance", "enact", str(wrong), "--fiscal-year", str(year(api) + 1))
    assert result.exit_code == 1
    assert "2 problems, nothing was sent" in result.output
    assert "lines[0].subItems[1].amount: write whole yen without separators: 610000000000" in result.output
    assert "lines[1].appropriation: write whole yen without a decimal point: 540000000000" in result.output
    assert api.chain_marks() == marks


def test_a_transfer_requested_and_decided_in_one_line_each(api: Api, tmp_path: Path) -> None:
    fy = year(api)
    purchase, maint = (f"{fy}/MOD/MOD-HQ/DEF-EQUIP/{sub}" for sub in ("EQUIP-PURCHASE", "EQUIP-MAINT"))
    rationale = tmp_path / "rationale.txt"
    rationale.write_text("Maintenance backlog of the F-15 fleet", encoding="utf-8")
    request = ("transfer", "request", "--from", purchase, "--to", maint, "--rationale", str(rationale))
    for amount in ("5000000000", "7"):
        result = run(api, "treasury", *request, "--amount", amount)
        assert re.fullmatch("transfer requested" + TX, result.output.strip()), result.output
    api.sync()
    shown = run(api, "auditor", "show", "--fy", str(fy), "--ministry", "MOD")
    assert shown.exit_code == 0, shown.output
    assert re.search(r"EQUIP-PURCHASE\s+1,620,000,000,000\s+0\s+0\s+1,620,000,000,000", shown.output), shown.output
    assert re.search(
        r"pending transfer 1: DEF-EQUIP/EQUIP-PURCHASE -> DEF-EQUIP/EQUIP-MAINT 5,000,000,000 yen", shown.output
    )
    refused = run(api, "treasury", "transfer", "approve", "1")
    assert refused.exit_code == 1
    assert "is not the finance authority" in refused.output, refused.output
    approved = run(api, "finance", "transfer", "approve", "1")
    assert re.fullmatch("transfer 1 approved" + TX, approved.output.strip()), approved.output
    refused_two = run(api, "finance", "transfer", "refuse", "2", "--reason", "0x" + "ab" * 32)
    assert re.fullmatch("transfer 2 refused" + TX, refused_two.output.strip()), refused_two.output
    api.sync()
    after = run(api, "auditor", "show", "--fy", str(fy), "--ministry", "MOD").output
    assert re.search(r"EQUIP-MAINT\s+615,000,000,000\s", after), after
    assert "pending transfer" not in after


def test_another_ministrys_line_is_refused_in_the_contracts_words(api: Api) -> None:
    marks = api.chain_marks()
    line = f"{year(api)}/MOD/MOD-HQ/DEF-EQUIP/EQUIP-PURCHASE"
    result = run(api, "mofa_treasury", "distribute", "--line", line, "--change", "1")
    assert result.exit_code == 1
    assert result.output.strip().endswith("is not a treasury (finance) officer of MOD"), result.output
    bad = run(api, "treasury", "distribute", "--line", "MOD/MOD-HQ", "--change", "1")
    assert bad.exit_code == 2
    assert "is not written as 2026/MOD/MOD-HQ/DEF-EQUIP/EQUIP-PURCHASE" in bad.output
    assert api.chain_marks() == marks

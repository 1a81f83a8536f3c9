"""Every `procure` command against an in-process eth-tester chain, through click's runner."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from chain import Signer, TxSender
from chain.budget import fiscal_year_containing, fiscal_year_start
from chain.clients import DAY, EscrowClient, MilestoneStatus, system_clients
from chain.devnet import (
    DEMO_FIRST_DUE_DAYS,
    DEV_CAST,
    dev_budget_as,
    dev_relayer_keystore,
    ensure_demo_procurement,
    seed_cast,
)
from chain.keys import dev_account, write_keystore
from chain.spec import load_spec
from chain.system import error_decoder
from chain.times import JST
from scripts._common import Context
from scripts.cli import main
from tests.tester import TesterTransport, fund_accounts, new_tester
from tests.world import next_fiscal_year

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "night-vision.yaml"


@dataclass
class Ledger:
    """A deployed, seeded chain plus a way to run commands against it."""

    rpc: TesterTransport
    var_dir: Path
    accounts: list[Signer]

    def run(self, *args: str, input_text: str | None = None) -> Result:
        context = Context(transport=self.rpc, var_dir=self.var_dir)
        return CliRunner().invoke(main, list(args), obj=context, input=input_text)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def fails(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
        return result.output


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    _, rpc = new_tester()
    tester = rpc.tester
    tester.time_travel(next_fiscal_year(rpc.latest_timestamp())[1])  # the specs' milestones fall in one year
    accounts = [dev_account(i, rpc.chain_id) for i in range(14)]
    fund_accounts(tester, accounts)
    ledger = Ledger(rpc=rpc, var_dir=tmp_path_factory.mktemp("var"), accounts=accounts)
    ledger.ok("deploy")
    system = Context(transport=rpc, var_dir=ledger.var_dir).system()
    decoder = error_decoder()
    registry, _, _ = system_clients(rpc, system, TxSender(rpc, accounts[0], decoder))
    seed_cast(registry, dev_budget_as(rpc, system), {i: a.address for i, a in enumerate(accounts)})
    snapshot = tester.take_snapshot()
    yield ledger
    tester.revert_to_snapshot(snapshot)


def _spec(tmp_path: Path, ledger: Ledger, **changes: object) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    today = dt.datetime.fromtimestamp(ledger.rpc.latest_timestamp(), dt.UTC).date()
    for i, milestone in enumerate(data["milestones"]):
        milestone["due"] = (today + dt.timedelta(days=10 * (i + 1))).isoformat()  # within the year (see deployed)
    data["id"] = f"ocds-b5fd17-MOD-test-{tmp_path.name}"
    data.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_deploy_twice_does_nothing_the_second_time(deployed: Ledger) -> None:
    out = deployed.ok("deploy")
    assert "already deployed (nothing to do)" in out
    manifest = json.loads(next((deployed.var_dir / "deployments").glob("*.json")).read_text())
    assert {"registry", "token", "factory", "implementation", "deployedBlock", "artifacts"} <= set(manifest)
    assert manifest["artifacts"]["MilestoneEscrow"]["sourceHash"]


def test_manifest_pointing_at_no_code_is_reported(deployed: Ledger, tmp_path: Path) -> None:
    other = tmp_path / "var"
    (other / "deployments").mkdir(parents=True)
    manifest = json.loads(next((deployed.var_dir / "deployments").glob("*.json")).read_text())
    manifest["registry"] = "0x" + "12" * 20
    (other / "deployments" / f"{deployed.rpc.chain_id}.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(main, ["deploy"], obj=Context(transport=deployed.rpc, var_dir=other))
    assert result.exit_code == 1
    assert "points at addresses with no code" in result.output
    assert "registry 0x1212121212121212121212121212121212121212" in result.output


def test_org_add_bind_vault_show_and_roles(deployed: Ledger) -> None:
    newcomer = deployed.accounts[11].address
    assert "organization MLIT (ministry) registered" in deployed.ok(
        "org", "add", "MLIT", "--kind", "ministry", "--name", "Ministry of Land, Infrastructure, Transport and Tourism"
    )
    assert "bound to MLIT" in deployed.ok("org", "bind", "--direct", newcomer, "MLIT")
    assert f"organization MLIT active, vault {newcomer}: tx" in deployed.ok(
        "org", "vault", "--direct", "MLIT", "--vault", newcomer
    )
    assert deployed.ok("org", "show", "MLIT").strip() == f"MLIT: ministry, active, vault {newcomer}"
    assert "procurement-officer granted" in deployed.ok("role", "grant", "--direct", "procurement-officer", newcomer)
    assert "procurement-officer revoked" in deployed.ok("org", "revoke", "--direct", "procurement-officer", newcomer)
    # A supplier role cannot go to a ministry account: the registry's refusal in words, in one line.
    short = f"{newcomer[:6]}...{newcomer[-4:]}"
    out = deployed.fails("role", "grant", "--direct", "supplier", newcomer)
    assert out.strip() == f"Error: MLIT's account {short} belongs to a ministry, which cannot be a supplier"
    verbose = deployed.fails("--verbose", "role", "grant", "--direct", "supplier", newcomer)
    assert f"[RegistryRoleKindMismatch(account={newcomer}, role=0x" in verbose
    # Only the registry admin registers organizations.
    out = deployed.fails("--dev-account", "3", "org", "add", "EVIL", "--kind", "supplier", "--name", "x")
    supplier = deployed.accounts[3].address
    assert out.strip() == f"Error: NVE's account {supplier[:6]}...{supplier[-4:]} is not the registry admin"


def test_procurement_create_show_list(deployed: Ledger, tmp_path: Path) -> None:
    spec = _spec(tmp_path, deployed)
    out = deployed.ok("--dev-account", "1", "procurement", "create", str(spec))
    escrow_address = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("escrow"))
    assert "funded 360,000,000 yen" in out
    assert out.count("tx ") == 1  # create (the ledger mints the funding on the obligation: no approval)
    escrow = EscrowClient(deployed.rpc, escrow_address)
    assert [m.status for m in escrow.milestones()] == [MilestoneStatus.PENDING] * 3
    assert escrow.totals().funded == 360_000_000
    assert escrow.terms().quorum == 2
    kept = deployed.var_dir / "specs" / f"{hashlib.sha256(spec.read_bytes()).hexdigest()}.yaml"
    assert kept.read_bytes() == spec.read_bytes(), "the spec is kept for the OCDS publication"
    shown = deployed.ok("procurement", "show", escrow_address)
    assert "panel    2 of 3" in shown
    assert "48,000,000 yen" in shown
    assert "funded 360,000,000" in shown
    assert "periods  ruling 30 days (then a dispute lapses), grace 90 days" in shown
    first_due = yaml.safe_load(spec.read_text())["milestones"][0]["due"]
    assert f"due {first_due} 23:59 JST" in shown  # a person's time: JST, with the date
    listed = next(line for line in deployed.ok("procurement", "list").splitlines() if escrow_address in line)
    assert " MOD " in listed  # a procurement id is unique within its ministry only: the list names it
    # The same ocid again is refused before anything is sent.
    assert "already exists" in deployed.fails("--dev-account", "1", "procurement", "create", str(spec))


def test_bad_spec_lists_every_problem_and_sends_nothing(deployed: Ledger, tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        deployed,
        supplier=deployed.accounts[8].address,  # the auditor, not a supplier
        quorum=2,
        evaluators=[deployed.accounts[4].address, deployed.accounts[1].address],  # the officer evaluates
        fund=10**12,
    )
    data = yaml.safe_load(spec.read_text())
    data["milestones"][1]["due"] = "2001-01-01"
    spec.write_text(yaml.safe_dump(data))
    block_before = deployed.rpc.block_number()
    out = deployed.fails("--dev-account", "1", "procurement", "create", str(spec))
    assert block_before == deployed.rpc.block_number()
    assert "fund: 1000000000000 yen is more than the total" in out
    # Fix the off-chain mistake: the on-chain ones are then all listed at once.
    data["fund"] = "full"
    spec.write_text(yaml.safe_dump(data))
    out = deployed.fails("--dev-account", "1", "procurement", "create", str(spec))
    assert "is not an active supplier" in out
    assert "evaluators[1]: the creating officer cannot evaluate" in out
    assert "milestones[1].due: 2001-01-01 is not in the future" in out
    assert block_before == deployed.rpc.block_number()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"quorum": 4}, "quorum: 4 is larger than the panel of 3"),
        ({"milestones": [{"title": "x", "amount": 1.5, "due": "2030-01-01"}]}, "milestones[0].amount"),
        ({"milestones": [{"title": "x", "amount": "12,000", "due": "2030-01-01"}]}, "milestones[0].amount"),
        ({"supplier": "0x1234"}, "supplier: not an Ethereum address"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"milestones": []}, "milestones: List should have at least 1 item"),
    ],
)
def test_spec_mistakes_name_their_field(
    deployed: Ledger, tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    spec = _spec(tmp_path, deployed, **change)
    assert expected in deployed.fails("--dev-account", "1", "procurement", "create", str(spec))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("amount: 60,000,000", "milestones[0].amount: write whole yen without separators: 60000000"),
        ("amount: 30000000.0", "milestones[0].amount: write whole yen without a decimal point: 30000000"),
        ("amount: 1.5", "milestones[0].amount: yen have no fractions: write a whole number of yen, not 1.5"),
        ("due: 2027-02-30", "milestones[0].due: '2027-02-30' is not a date: write YYYY-MM-DD (a day that exists)"),
    ],
)
def test_a_mistyped_amount_or_date_is_one_line_naming_the_field_and_the_fix(
    deployed: Ledger, tmp_path: Path, written: str, expected: str
) -> None:
    spec = _spec(tmp_path, deployed)
    text = spec.read_text()
    field = written.split(":")[0]
    first = next(line for line in text.splitlines() if line.strip().startswith(f"{field}:"))
    spec.write_text(text.replace(first, first[: first.index(field)] + written, 1))  # written by hand, unquoted
    result = deployed.run("--dev-account", "1", "procurement", "create", str(spec))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {spec}: {expected}")
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


def test_dry_run_sends_nothing(deployed: Ledger, tmp_path: Path) -> None:
    spec = _spec(tmp_path, deployed)
    before = deployed.rpc.block_number()
    assert "valid; would create" in deployed.ok("--dev-account", "1", "procurement", "create", str(spec), "--dry-run")
    assert deployed.rpc.block_number() == before


def test_keystore_signing_and_wrong_password(deployed: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    officer = deployed.accounts[1]
    keystore = write_keystore(officer, tmp_path / "officer.json", "correct horse")
    spec = _spec(tmp_path, deployed)
    monkeypatch.setenv("PROCURE_KEYSTORE_PASSWORD", "wrong")
    assert "wrong password" in deployed.fails("--keystore", str(keystore), "procurement", "create", str(spec))
    monkeypatch.setenv("PROCURE_KEYSTORE_PASSWORD", "correct horse")
    assert "created" in deployed.ok("--keystore", str(keystore), "procurement", "create", str(spec))
    assert (keystore.stat().st_mode & 0o777) == 0o600


def test_dev_keys_refused_on_other_chains() -> None:
    from chain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="dev keys are refused on chain id 1"):
        dev_account(0, 1)


def test_every_command_has_help() -> None:
    for args in (
        [],
        ["node"],
        ["deploy"],
        ["org", "add"],
        ["org", "bind"],
        ["role", "grant"],
        ["procurement", "create"],
        ["procurement", "show"],
        ["procurement", "list"],
        ["up"],
    ):
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage:" in result.output


def test_cast_matches_the_example_spec() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    by_label = {m.label: dev_account(m.index, 31337).address for m in DEV_CAST}
    assert data["supplier"] == by_label["supplier"]
    assert data["evaluators"] == [by_label[x] for x in ("evaluator-atla", "evaluator-jqa", "evaluator-nite")]


def test_the_demo_procurement_falls_due_after_the_day_it_is_seeded(deployed: Ledger) -> None:
    """The example's dates are fixed (2027-2028); seeded two years on, the demo's are still ahead of the chain."""
    rpc = deployed.rpc
    snapshot = rpc.tester.take_snapshot()
    try:
        year = fiscal_year_containing(rpc.latest_timestamp()) + 2
        rpc.tester.time_travel(fiscal_year_start(year) + 40 * DAY)  # mid-May, two fiscal years on
        system = Context(transport=rpc, var_dir=deployed.var_dir).system()
        decoder = error_decoder()
        admin = TxSender(rpc, deployed.accounts[0], decoder)
        registry, _, _ = system_clients(rpc, system, admin)
        seed_cast(registry, dev_budget_as(rpc, system), {i: a.address for i, a in enumerate(deployed.accounts)})
        _, _, factory = system_clients(rpc, system, TxSender(rpc, deployed.accounts[1], decoder))
        escrow, created = ensure_demo_procurement(factory, registry, load_spec(EXAMPLE))
        assert created
        now = rpc.latest_timestamp()
        today = dt.datetime.fromtimestamp(now, JST).date()
        dues = [m.due_date for m in EscrowClient(rpc, escrow).milestones()]
        first = dt.datetime.combine(today + dt.timedelta(days=DEMO_FIRST_DUE_DAYS), dt.time(23, 59, 59), JST)
        example = load_spec(EXAMPLE).spec.milestones
        spacing = [(m.due - example[0].due).days * DAY for m in example]  # type: ignore[operator]
        assert dues == [int(first.timestamp()) + gap for gap in spacing]
        assert all(due > now for due in dues)
    finally:
        rpc.tester.revert_to_snapshot(snapshot)


def test_the_gateways_relayer_is_given_no_role_nor_organization(deployed: Ledger) -> None:
    keys = deployed.var_dir / "keys"
    dev_relayer_keystore(deployed.var_dir, deployed.rpc.chain_id)  # what `procure up` writes for its gateway
    relayer = deployed.accounts[11].address
    try:
        for args in (("role", "grant", "procurement-officer", relayer), ("org", "bind", relayer, "MOD")):
            before = deployed.rpc.block_number()
            out = deployed.fails(*args)
            assert out.strip() == (
                f"Error: {relayer} is the gateway's relayer ({keys / 'relayer.json'}): a relayer holds no role and "
                "belongs to no organization, or relaying breaks; use another account"
            )
            assert deployed.rpc.block_number() == before
    finally:
        for path in keys.iterdir():
            path.unlink()
        keys.rmdir()


def test_budget_commands_send_directly_to_the_node_without_a_gateway(deployed: Ledger) -> None:
    """`procure budget ... --direct`: the acts signed with the key and sent to the node by the signer (no gateway
    runs here: PROCURE_GATEWAY_URL points at nothing), what is enacted read from the ledger itself."""
    from chain.clients import budget_clients
    from chain.devnet import DEV_BUDGET_FILE

    rpc = deployed.rpc
    snapshot = rpc.tester.take_snapshot()
    try:
        system = Context(transport=rpc, var_dir=deployed.var_dir).system()
        _, office = budget_clients(rpc, system)
        fy = str(fiscal_year_containing(rpc.latest_timestamp()) + 1)
        nowhere = ("budget", "--gateway", "http://127.0.0.1:9")
        enacted = deployed.ok(
            "--dev-account", "12", *nowhere, "enact", str(DEV_BUDGET_FILE), "--fiscal-year", fy, "--direct"
        )
        assert enacted.count(": tx 0x") == 3, enacted  # the three items' appropriations
        assert enacted.strip().endswith("left to MOD's finance officer and MOFA's finance officer")
        mod = deployed.ok(
            "--dev-account", "2", *nowhere, "enact", str(DEV_BUDGET_FILE), "--fiscal-year", fy, "--direct"
        )
        assert "EQUIP-PURCHASE" in mod
        again = deployed.ok(
            "--dev-account", "2", *nowhere, "enact", str(DEV_BUDGET_FILE), "--fiscal-year", fy, "--direct"
        )
        assert ": tx 0x" not in again  # what is on chain is left out
        # The transfer the dev budget left pending, approved by its number: its content read from the chain's log.
        pending = office.transfer_count()
        assert office.transfer_pending(pending)
        out = deployed.ok("--dev-account", "12", *nowhere, "transfer", "approve", "--direct", str(pending))
        assert out.startswith(f"transfer {pending} approved: tx 0x")
        assert not office.transfer_pending(pending)
        # A supplier distributing: the ledger's refusal in words, nothing sent (its nonce unchanged).
        supplier = deployed.accounts[3].address
        before = rpc.transaction_count(supplier)
        line = f"{fy}/MOD/MOD-HQ/DEF-EQUIP/EQUIP-PURCHASE"
        out = deployed.fails("--dev-account", "3", *nowhere, "distribute", "--direct", "--line", line, "--change", "1")
        assert out.startswith("Error: NVE's account"), out
        assert rpc.transaction_count(supplier) == before
    finally:
        rpc.tester.revert_to_snapshot(snapshot)

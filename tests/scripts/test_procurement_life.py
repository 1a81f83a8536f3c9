"""A whole procurement's life through `procure` commands alone, as its parties would type them: the officer creates
it from a spec file, and every later act of every party is a `procure client` command signed with its own dev key
and relayed by the gateway. Each command's one-line result is asserted word for word."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient

from chain import TxSender
from chain.clients import system_clients
from chain.devnet import DEV_INDEX, dev_budget_as, seed_cast
from chain.keys import dev_account
from chain.system import error_decoder
from gateway.main import create_app
from indexer.sync import ChainSource, Indexer
from scripts._common import Context
from scripts.cli import main
from scripts.cli_client import ClientState, client
from tests.gateway.conftest import make_settings
from tests.tester import TesterTransport, fund_accounts, new_tester
from tests.world import next_fiscal_year

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "night-vision.yaml"
NO_VAULT = "0x" + "0" * 40
TX = r": tx 0x[0-9a-f]{64}"
SUPPLIER = dev_account(DEV_INDEX["supplier"], 31337).address  # the same on every dev chain
DAY = 86_400
EVIDENCE = r"evidence 0x[0-9a-f]{{16}}\.\.\. submitted for milestone {}"


@dataclass
class Ledger:
    """The dev cast on an in-process chain, the gateway over it, and the `procure` command."""

    rpc: TesterTransport
    var_dir: Path
    http: TestClient
    states: dict[str, ClientState]

    def procure(self, *args: str) -> Result:
        """``procure ARGS`` (the chain commands)."""
        return CliRunner().invoke(main, list(args), obj=Context(transport=self.rpc, var_dir=self.var_dir))

    def client(self, label: str, *args: str) -> Result:
        """``procure --dev-account N client ARGS`` as the dev cast's ``label`` (one sign-in per label)."""
        if label not in self.states:
            account = dev_account(DEV_INDEX[label], self.rpc.chain_id)
            self.states[label] = ClientState(Context(account=account), "http://testserver", http=self.http)
        return CliRunner().invoke(client, list(args), obj=self.states[label])

    def says(self, label: str, *args: str, line: str) -> str:
        """Run a client command; its one line must be ``line`` (a regular expression) then the transaction."""
        result = self.client(label, *args)
        assert result.exit_code == 0, result.output
        assert re.fullmatch(line + TX, result.output.strip()), result.output
        return result.output

    def sync(self) -> None:
        """Run the indexer once (``procure index --once``) over the gateway's database."""
        state = self.http.app.state.gateway  # type: ignore[attr-defined]
        with Indexer(state.engine, ChainSource(self.rpc), state.ledger.system, state.ledger.build) as indexer:
            indexer.catch_up()

    def travel(self, seconds: int) -> None:
        """Move the chain's clock (the gateway reads it at most once a second)."""
        self.rpc.tester.time_travel(self.rpc.latest_timestamp() + seconds)
        time.sleep(1.1)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    _, rpc = new_tester()
    rpc.tester.time_travel(next_fiscal_year(rpc.latest_timestamp())[1] + DAY)  # day 2 of a fiscal year
    accounts = [dev_account(i, rpc.chain_id) for i in range(14)]
    fund_accounts(rpc.tester, accounts)
    var_dir = tmp_path / "var"
    assert CliRunner().invoke(main, ["deploy"], obj=Context(transport=rpc, var_dir=var_dir)).exit_code == 0
    context = Context(transport=rpc, var_dir=var_dir)
    system = context.system()
    registry, _, _ = system_clients(rpc, system, TxSender(rpc, accounts[0], error_decoder()))
    seed_cast(registry, dev_budget_as(rpc, system), {i: a.address for i, a in enumerate(accounts)})
    relayer = TxSender(rpc, accounts[DEV_INDEX["relayer"]], error_decoder())
    # No indexer follows the chain here (the test syncs when it reads the mirror): every client command's ?wait=true
    # gives up on the mirror at once, not after the usual 2 s (which, 18 times over, was most of this test's time).
    settings = make_settings(tmp_path, wait_timeout_s=0.05)
    app = create_app(settings, rpc=rpc, system=system, relayer=relayer, build=context.build())
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Ledger(rpc=rpc, var_dir=var_dir, http=http, states={})


def _spec(ledger: Ledger, tmp_path: Path) -> tuple[Path, str]:
    data = yaml.safe_load(EXAMPLE.read_text())
    today = dt.datetime.fromtimestamp(ledger.rpc.latest_timestamp(), dt.UTC).date()
    amounts = (30_000_000, 50_000_000, 20_000_000, 40_000_000)
    data["milestones"] = [
        {"title": f"Lot {i + 1}", "amount": amount, "due": (today + dt.timedelta(days=20 * (i + 1))).isoformat()}
        for i, amount in enumerate(amounts)
    ]
    data["fund"] = 100_000_000  # of 140,000,000: the rest is drawn later
    data["id"] = ocid = "ocds-b5fd17-MOD-2026-0777"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, ocid


def test_a_procurement_lives_through_procure_commands_alone(ledger: Ledger, tmp_path: Path) -> None:
    spec, ocid = _spec(ledger, tmp_path)
    report, rationale, ruling = (tmp_path / name for name in ("report.pdf", "rationale.txt", "ruling.txt"))
    report.write_bytes(b"%PDF-1.7 test report, lot 1")
    rationale.write_text("lot 2 reduced to 400 units\n")
    ruling.write_text("half of lot 2 is payable\n")
    drawing = tmp_path / "test-data.csv"
    drawing.write_text("unit,fom\n1,1850\n")

    created = ledger.procure("--dev-account", "1", "procurement", "create", str(spec))
    assert created.exit_code == 0, created.output
    escrow = re.search(r"escrow\s+(0x[0-9a-fA-F]{40})", created.output)
    assert escrow is not None, created.output

    # A session token for scripts: the API then works with any HTTP client (curl in README).
    issued = ledger.client("auditor", "token")
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert "\n" not in token  # only the token on stdout; its expiry goes to stderr
    assert "valid until" in issued.stderr
    state = ledger.http.get(f"/procurements/{ocid}/state", headers={"Authorization": f"Bearer {token}"})
    assert state.status_code == 200, state.text
    assert state.json()["escrow"] == escrow.group(1)
    assert ledger.http.get(f"/procurements/{ocid}/state", headers={"Authorization": "Bearer x"}).status_code == 401

    # Fund more: drawn on the procurement's budget obligation (no ERC-20 allowance involved). The on-chain id names
    # the procurement as well as its ocid.
    on_chain_id = "0x" + keccak(text=ocid).hex()
    ledger.says("officer", "fund", on_chain_id, "--amount", "40000000", line="40,000,000 yen paid into the escrow")

    # Evidence (two documents in one submission), a rejection, evidence again, and a pass that pays.
    ledger.says("supplier", "submit-evidence", ocid, "0", str(report), str(drawing), line=EVIDENCE.format(0))
    ledger.sync()
    inspected = ledger.client("evaluator-atla", "evidence", ocid, "0", "--out", str(tmp_path / "inspect"))
    assert inspected.exit_code == 0, inspected.output
    assert len(inspected.output.strip().splitlines()) == 2, inspected.output
    assert (tmp_path / "inspect" / "report.pdf").read_bytes() == report.read_bytes()
    assert (tmp_path / "inspect" / "test-data.csv").read_bytes() == drawing.read_bytes()
    ledger.says(  # a report file: uploaded, its SHA-256 signed
        "evaluator-atla",
        "attest",
        ocid,
        "0",
        "--fail",
        "--report",
        str(report),
        line="fail attested for milestone 0, round 1",
    )
    ledger.says(
        "evaluator-jqa",
        "attest",
        ocid,
        "0",
        "--fail",
        line=r"fail attested for milestone 0, round 1; milestone rejected: evidence can be submitted again until "
        r"\d{4}-\d\d-\d\d 23:59 JST",
    )
    refused = ledger.client("evaluator-atla", "attest", ocid, "0", "--pass")  # nothing to attest until resubmitted
    assert refused.exit_code == 1, refused.output
    assert re.search(
        r"milestone 0 is Rejected; evidence can be submitted again until \d{4}-\d\d-\d\d 23:59 JST", refused.output
    ), refused.output
    ledger.says("supplier", "submit-evidence", ocid, "0", str(report), line=EVIDENCE.format(0))
    ledger.says("evaluator-atla", "attest", ocid, "0", "--pass", line="pass attested for milestone 0, round 2")
    ledger.says(
        "evaluator-nite",
        "attest",
        escrow.group(1),  # the escrow's address names the procurement as well as its ocid
        "0",
        "--pass",
        line=f"pass attested for milestone 0, round 2; payment of 30,000,000 yen released to {SUPPLIER} \\(NVE\\)",
    )

    # An amendment cutting a delivered milestone: proposed by one officer, consented to by the supplier,
    # approved by a second officer.
    ledger.says("supplier", "submit-evidence", ocid, "1", str(report), line=EVIDENCE.format(1))
    ledger.says(
        "officer",
        "propose-amendment",
        ocid,
        "1",
        "--kind",
        "amount",
        "--new-amount",
        "40000000",
        "--rationale",
        str(rationale),
        line=r"amendment \(amount\) proposed for milestone 1",
    )
    ledger.says("supplier", "consent-to-amendment", ocid, "0", line="consented to amendment 0")
    ledger.says("officer-2", "approve-amendment", ocid, "0", line="amendment 0 approved")

    # A dispute on it, and a ruling.
    ledger.says("supplier", "open-dispute", ocid, "1", "--reason", str(rationale), line="dispute opened on milestone 1")
    ledger.says(
        "reviewer",
        "settle-dispute",
        ocid,
        "1",
        "--supplier-amount",
        "20000000",
        "--ruling",
        str(ruling),
        line="dispute on milestone 1 settled: 20,000,000 yen to the supplier",
    )

    # A pause: a pass while paused defers the payment; after the pause ends early, it is claimed.
    until = dt.datetime.fromtimestamp(ledger.rpc.latest_timestamp() + 7 * DAY, dt.UTC).date().isoformat()
    ledger.says("mod-admin", "pause", ocid, "--until", until, line=f"releases paused until {until} 23:59 JST")
    ledger.says("supplier", "submit-evidence", ocid, "2", str(report), line=EVIDENCE.format(2))
    ledger.says("evaluator-atla", "attest", ocid, "2", "--pass", line="pass attested for milestone 2, round 1")
    ledger.says(
        "evaluator-jqa",
        "attest",
        ocid,
        "2",
        "--pass",
        line=r"pass attested for milestone 2, round 1; payment of 20,000,000 yen deferred: releases are paused "
        r"until \d{4}-\d\d-\d\d \d\d:\d\d JST; then claim it \(claim-payment\)",
    )
    shown = ledger.client("auditor", "show", ocid)
    assert shown.exit_code == 0, shown.output
    assert "RELEASES PAUSED until" in shown.output
    assert re.search(r"\[3\] Pending .* due \d{4}-\d\d-\d\d 23:59 JST .*waiting on the supplier \(NVE\)", shown.output)
    assert re.search(r"\[2\] \w+ .*20,000,000 yen owed: releases are paused", shown.output), shown.output
    ledger.says("mod-admin", "resume", ocid, line="releases resumed")
    ledger.says(
        "supplier",
        "claim-payment",
        ocid,
        "2",
        line=f"owed payment of milestone 2 claimed; payment of 20,000,000 yen released to {SUPPLIER} \\(NVE\\)",
    )

    # The last milestone is never delivered: overdue, then reclaimed.
    ledger.travel(81 * DAY)
    shown = ledger.client("officer", "show", ocid)
    assert re.search(r"\[3\] Pending .*waiting on the supplier \(NVE\): evidence OVERDUE", shown.output), shown.output
    ledger.says("officer", "reclaim", ocid, "3", line="milestone 3 reclaimed")
    ledger.sync()
    final = ledger.client("auditor", "show", ocid).output
    assert "released 70,000,000" in final, final
    # In words first: the ocid, the title, the buying ministry and the supplier, by code and registered name.
    head = final.splitlines()[:2]
    assert head[0].startswith(f"{ocid}  "), final
    assert head[1] == "bought by MOD (Ministry of Defense), supplied by NVE (Nippon Vision Electronics K.K.)", final

    # The chain commands take the same names; an address with a digit missing is refused, not hashed.
    for name in (ocid, escrow.group(1), on_chain_id):
        shown = ledger.procure("procurement", "show", name)
        assert shown.exit_code == 0, shown.output
        assert f"escrow {escrow.group(1)}" in shown.output
    truncated = escrow.group(1)[:-1]
    for wrong in (ledger.procure("procurement", "show", truncated), ledger.client("auditor", "show", truncated)):
        assert wrong.exit_code != 0
        assert "neither an escrow address (0x and 40 hex digits, 39 given)" in wrong.output, wrong.output
        assert "Traceback" not in wrong.output

    # The registry admin deactivates an organization, and activates it again.
    # (UpdateOrganization, signed by the admin and sent by it: --direct; the vault is kept.)
    off = ledger.procure("--dev-account", "0", "org", "deactivate", "--direct", "NVE")
    assert re.fullmatch(f"organization NVE inactive, vault {NO_VAULT}" + TX, off.output.strip()), off.output
    assert ledger.procure("--dev-account", "0", "org", "deactivate", "--direct", "NVE").output.strip() == (
        f"organization NVE inactive, vault {NO_VAULT} already (nothing to do)"
    )
    refused = ledger.procure("--dev-account", "1", "org", "activate", "--direct", "NVE")  # an officer is not the admin
    assert refused.exit_code != 0
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    on = ledger.procure("--dev-account", "0", "org", "activate", "--direct", "NVE")
    assert re.fullmatch(f"organization NVE active, vault {NO_VAULT}" + TX, on.output.strip()), on.output

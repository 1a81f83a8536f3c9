"""`make demo`: the whole story, headless, on a fresh temporary local chain; exits non-zero on any mismatch.

A supplier uploads and submits evidence, two evaluators sign and submit attestations through the gateway (with
the `procure client` commands: keys stay in the client), the payment is released, the indexer mirrors it; the
ministry's finance officer requests a transfer (流用) between two sub-items of the demo's budget item, the finance
authority approves it, and the demo times it from request to funds available on the gateway; an auditor's replay
and verify confirm the mirror.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_utils.crypto import keccak

from chain import Receipt, Transport, TxSender, fiscal_year_containing, fiscal_year_start, project_root
from chain.budget import LineKey
from chain.clients import BudgetClient, BudgetOfficeClient, EscrowClient, MilestoneStatus, system_clients
from chain.connection import connect
from chain.deployment import ensure_deployed
from chain.devnet import DEV_BUDGET_LINE, DEV_INDEX, DEV_ORGS, dev_budget_as, dev_line, dev_relayer_keystore, seed_cast
from chain.keys import dev_account
from chain.logs import EventDecoder
from chain.node import free_port, start_anvil
from chain.spec import load_spec
from chain.system import SystemAddresses, error_decoder
from chain.times import JST
from gateway.client import GatewayClient
from scripts._common import wait_for_http
from scripts.supervisor import Part, Supervisor

EXAMPLE = project_root() / "scripts" / "examples" / "night-vision.yaml"
#: The sub-item (目) the demo's transfer moves yen to from the demo's line (equipment purchase), within its item.
TRANSFER_TO_SUB_ITEM = "EQUIP-MAINT"
TRANSFER_TO_ALLOTMENT = 2_000_000_000  # yen distributed to it first, if the seed did not
TRANSFER_AMOUNT = 1_500_000_000


class DemoFailed(Exception):
    """The ledger did not do what the story says."""


def say(step: str) -> None:
    """Narrate one step in one line."""
    print(f"[demo] {step}", flush=True)


def _procure(env: dict[str, str], *args: str) -> str:
    """Run one `procure` command as its own process (as a person at a terminal would); its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project_root(),
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise DemoFailed(f"`procure {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _wait_http(url: str, timeout: float = 60.0) -> None:
    if not wait_for_http(url, timeout):
        raise DemoFailed(f"{url} did not answer within {timeout:.0f} s")


def _start_a_fiscal_year(transport: Transport) -> int:
    """Move the fresh chain's clock to the second day of the next fiscal year (anvil keeps the offset), so that the
    milestones, due within the next month, fall in one fiscal year whatever today's date; that year."""
    fiscal_year = fiscal_year_containing(transport.latest_timestamp()) + 1
    transport.result("evm_setNextBlockTimestamp", [fiscal_year_start(fiscal_year) + 86_400])
    transport.result("evm_mine", [])
    return fiscal_year


def _example(tmp: Path, now: int) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    # Due within the chain's fiscal year (it starts on its second day), so that the whole total is obligated on
    # this year's line and funded at creation.
    for i, milestone in enumerate(data["milestones"]):
        milestone["due"] = (today + dt.timedelta(days=10 * (i + 1))).isoformat()
    path = tmp / "night-vision.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _when(timestamp: int) -> str:
    """A block time in words, as the ministry reads it."""
    return dt.datetime.fromtimestamp(timestamp, JST).strftime("%Y-%m-%d %H:%M:%S JST")


def _seconds(seconds: float, decimals: int = 1) -> str:
    """A duration in words: "0 seconds", "1.4 seconds", "2 minutes 5.0 seconds"."""
    minutes, rest = divmod(seconds, 60)
    said = f"{rest:.{decimals}f}"
    said += " second" if said in ("1", "1.0") else " seconds"
    return f"{int(minutes)} minute{'' if minutes == 1 else 's'} {said}" if minutes >= 1 else said


def _available_on_gateway(gateway: GatewayClient, line: LineKey) -> int:
    """The line's available yen as the gateway's /budget/lines shows it to the signed-in account (0 if absent)."""
    page = gateway.get("/budget/lines", {"fiscalYear": line.fiscal_year, "ministry": "MOD", "limit": 1_000})
    for shown in page["data"]:
        if (shown["organization"], shown["item"], shown["subItem"]) == _demo_codes(TRANSFER_TO_SUB_ITEM):
            return int(shown["available"])
    return 0


def _demo_codes(sub_item: str) -> tuple[str, str, str]:
    organization, item, _ = DEV_BUDGET_LINE
    return organization, item, sub_item


def _event(client: BudgetOfficeClient, receipt: Receipt, name: str) -> Mapping[str, Any]:
    """The arguments of the one ``name`` event the budget office emitted in ``receipt``."""
    decoder = EventDecoder(client.build)
    found = [
        decoded.args
        for raw in receipt.logs
        if (decoded := decoder.decode(raw, "budget_office", client.rpc.chain_id)) is not None and decoded.event == name
    ]
    if len(found) != 1:
        raise DemoFailed(f"transaction {receipt.tx_hash} emitted {len(found)} {name} events")
    return found[0]


def _transfer(transport: Transport, system: SystemAddresses, gateway_url: str, fiscal_year: int) -> Transfer:
    """MOD's finance officer requests a transfer (流用) from the demo's line to another sub-item of its item, the
    finance authority approves it, and the gateway is read until the receiving line shows the yen available."""
    chain_id = transport.chain_id
    decoder = error_decoder()
    officer = TxSender(transport, dev_account(DEV_INDEX["treasury"], chain_id), decoder)
    finance = TxSender(transport, dev_account(DEV_INDEX["finance"], chain_id), decoder)
    ledger = BudgetClient(transport, system.budget, officer)
    office = BudgetOfficeClient(transport, system.budget_office, officer, ledger.build)
    source = dev_line(fiscal_year)
    target = LineKey.of(fiscal_year, "MOD", *_demo_codes(TRANSFER_TO_SUB_ITEM))
    if not ledger.line(target).exists:  # the seed enacted one sub-item: give the second a part of the item
        ledger.distribute(target, TRANSFER_TO_ALLOTMENT)
    expected = ledger.line(target).available
    gateway = GatewayClient(gateway_url, dev_account(DEV_INDEX["treasury"], chain_id))
    before = _wait_for_available(gateway, target, expected)
    say(f"{TRANSFER_TO_SUB_ITEM} shows {before:,} yen available on the gateway before the transfer")

    rationale = keccak(text=f"FY{fiscal_year}: night-vision maintenance brought forward (demo)")
    started = time.monotonic()
    requested = _event(office, office.request_transfer(source, target, TRANSFER_AMOUNT, rationale), "TransferRequested")
    request = (source.as_tuple(), target.as_tuple(), TRANSFER_AMOUNT, rationale)
    receipt = office.with_sender(finance).approve_transfer(
        requested["transferId"], request, officer.address, requested["requestedAt"]
    )
    approved = _event(office, receipt, "TransferApproved")
    _wait_for_available(gateway, target, before + TRANSFER_AMOUNT)
    return Transfer(int(approved["requestedAt"]), int(approved["approvedAt"]), time.monotonic() - started)


def _wait_for_available(gateway: GatewayClient, line: LineKey, amount: int, timeout: float = 60.0) -> int:
    """Read the gateway until it shows ``amount`` yen available on ``line``; that amount."""
    deadline = time.monotonic() + timeout
    while (shown := _available_on_gateway(gateway, line)) != amount:
        if time.monotonic() > deadline:
            raise DemoFailed(f"the gateway shows {shown:,} yen available on {TRANSFER_TO_SUB_ITEM}, not {amount:,}")
        time.sleep(0.05)
    return shown


@dataclass(frozen=True)
class Transfer:
    """The demo's transfer: its request's and approval's block times, and the wall-clock seconds from sending
    the request to the gateway showing the yen available on the receiving line."""

    requested_at: int
    approved_at: int
    to_funds_available_s: float


def run(workdir: Path) -> None:
    """The whole story in ``workdir``; raises DemoFailed on any mismatch."""
    var = workdir / "var"
    port, api_port = free_port(), free_port()
    node = start_anvil(project_root(), var / "anvil", port=port)
    supervisor: Supervisor | None = None
    try:
        rpc = node.url
        transport = connect(rpc)
        chain_id = transport.chain_id
        fiscal_year = _start_a_fiscal_year(transport)
        say(f"local chain at {rpc} (chain id {chain_id}), state in {var}; its clock starts FY{fiscal_year}")
        decoder = error_decoder()
        admin = TxSender(transport, dev_account(DEV_INDEX["admin"], chain_id), decoder)
        system = ensure_deployed(admin, var).system
        say(f"system deployed: registry {system.registry}, yen token {system.token}")
        registry, _, _ = system_clients(transport, system, admin)
        _, treasury_token, _ = system_clients(transport, system)
        addresses = {i: dev_account(i, chain_id).address for i in DEV_INDEX.values()}
        seed_cast(registry, dev_budget_as(transport, system), addresses)
        say(f"organizations and accounts registered: {', '.join(org.code for org in DEV_ORGS)}")

        db_url = f"sqlite:///{var / 'ledger.db'}"
        env = {
            **os.environ,
            "PROCURE_RPC_URL": rpc,
            "PROCURE_VAR": str(var),
            "PROCURE_DB_URL": db_url,
            "PROCURE_GATEWAY_URL": f"http://127.0.0.1:{api_port}",
        }
        relayer_env = dev_relayer_keystore(var, chain_id)
        spec = _example(workdir, transport.latest_timestamp())
        officer_env = {**env, "PROCURE_DEV_ACCOUNT": str(DEV_INDEX["officer"])}
        _procure(officer_env, "procurement", "create", str(spec))
        loaded = load_spec(spec)
        escrow_address = registry.escrow_of(loaded.spec.ministry, loaded.spec.procurement_id)
        if escrow_address is None:
            raise DemoFailed("the procurement was not created")
        escrow = EscrowClient(transport, escrow_address)
        first = escrow.milestone(0)
        say(
            f"officer created {loaded.spec.id!r}: {loaded.spec.total:,} yen in 3 milestones, "
            f"escrow {escrow_address} funded {escrow.totals().funded:,} yen"
        )

        log_dir = var / "logs"
        supervisor = Supervisor(
            [
                Part("indexer", [sys.executable, "-m", "scripts.cli", "index"], log_dir / "indexer.log", env),
                Part(
                    "gateway",
                    [sys.executable, "-m", "scripts.cli", "serve", "--port", str(api_port)],
                    log_dir / "gateway.log",
                    {**env, **relayer_env},
                ),
            ],
            lambda line: say(line),
        )
        supervisor.start()
        _wait_http(f"http://127.0.0.1:{api_port}/healthz")
        say(f"indexer and gateway running; API docs at http://127.0.0.1:{api_port}/docs")

        supplier = dev_account(DEV_INDEX["supplier"], chain_id).address
        balance_before = treasury_token.balance_of(supplier)
        report = workdir / "prototype-test-report.txt"
        report.write_text("Prototype test report: FOM 1920, MIL-STD-810H passed, 12 units.\n")
        supplier_env = {**env, "PROCURE_DEV_ACCOUNT": str(DEV_INDEX["supplier"])}
        say(_procure(supplier_env, "client", "submit-evidence", loaded.spec.id, "0", str(report)))
        for label in ("evaluator-atla", "evaluator-jqa"):
            evaluator_env = {**env, "PROCURE_DEV_ACCOUNT": str(DEV_INDEX[label])}
            say(f"{label}: " + _procure(evaluator_env, "client", "attest", loaded.spec.id, "0", "--pass"))

        paid = escrow.milestone(0)
        received = treasury_token.balance_of(supplier) - balance_before
        if paid.status is not MilestoneStatus.PAID or received != first.amount:
            raise DemoFailed(f"milestone 0 is {paid.status.name}, supplier received {received:,} yen")
        say(f"payment released: the supplier received {received:,} yen for milestone 0 (prototype test)")
        totals = escrow.totals()
        held = treasury_token.balance_of(escrow_address)
        if held != totals.held:
            raise DemoFailed(f"escrow holds {held:,} yen, books say {totals.held:,}")
        say(f"escrow books balance: funded {totals.funded:,} - released {totals.released:,} = held {held:,} yen")

        transfer = _transfer(transport, system, env["PROCURE_GATEWAY_URL"], fiscal_year)
        say(
            f"transfer of {TRANSFER_AMOUNT:,} yen from {DEV_BUDGET_LINE[2]} to {TRANSFER_TO_SUB_ITEM}: requested by "
            f"MOD's finance officer at {_when(transfer.requested_at)} (block time), approved by the finance "
            f"authority at {_when(transfer.approved_at)} ({_seconds(transfer.approved_at - transfer.requested_at, 0)} "
            "later)"
        )
        say(
            f"request -> funds available: {_seconds(transfer.to_funds_available_s)} until the gateway showed "
            f"{TRANSFER_TO_SUB_ITEM}'s yen available (request sent, approved, mined, mirrored, read)"
        )

        auditor_env = {**env, "PROCURE_DEV_ACCOUNT": str(DEV_INDEX["auditor"])}
        head = transport.block_number()
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:
            status = _procure(auditor_env, "index", "status")
            lines = dict(line.split(None, 1) for line in status.splitlines() if " " in line)
            cursor = int(lines.get("cursor", "-1 -").split()[0])
            if cursor >= head:
                break
            time.sleep(0.5)
        else:
            raise DemoFailed(f"the indexer did not reach block {head}:\n{status}")
        say(f"indexer caught up with block {head}; mirror hash chain {lines.get('hash', '?')[:18]}...")
        shown = _procure(auditor_env, "client", "show", loaded.spec.id)
        if "paid" not in shown.lower():
            raise DemoFailed(f"the gateway does not show milestone 0 paid:\n{shown}")
        say("auditor reads the procurement through the gateway: milestone 0 paid")
        verified = _procure(auditor_env, "audit", "verify")
        say(f"audit verify: {verified.splitlines()[-1] if verified else 'ok'}")
        say("demo finished: evidence -> 2 attestations -> payment -> transfer -> mirror -> audit, all consistent")
    finally:
        if supervisor is not None:
            supervisor.stop()
        node.stop()


def main() -> int:
    """Run the demo in a temporary directory; 0 if the story holds."""
    with tempfile.TemporaryDirectory(prefix="procure-demo-") as tmp:
        try:
            run(Path(tmp))
        except DemoFailed as exc:
            say(f"MISMATCH: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Real node processes: anvil survives SIGKILL with its state; the same flow runs on `npx hardhat node`."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from chain import Transport, TxSender, project_root
from chain.budget import fiscal_year_containing
from chain.clients import EscrowClient, MilestoneStatus, system_clients
from chain.connection import connect
from chain.deployment import ensure_deployed, require_manifest
from chain.devnet import dev_budget_as, seed_cast
from chain.errors import ChainError
from chain.keys import dev_account
from chain.node import AnvilStateGuard, NodeProcess, anvil_state_file, free_port, start_anvil, start_hardhat
from chain.spec import load_spec
from chain.system import error_decoder
from tests.processes import run_procure
from tests.world import next_fiscal_year

pytestmark = pytest.mark.integration

EXAMPLE = project_root() / "scripts" / "examples" / "night-vision.yaml"


def _to_next_fiscal_year(rpc: Transport) -> None:
    """Move the node's clock to the second day of the next fiscal year (anvil and Hardhat keep the offset for
    the blocks after), so that milestones due within the next month fall in one fiscal year whatever the date."""
    rpc.result("evm_setNextBlockTimestamp", [next_fiscal_year(rpc.latest_timestamp())[1]])
    rpc.result("evm_mine", [])


def _example_spec(tmp_path: Path, rpc: Transport) -> Path:
    _to_next_fiscal_year(rpc)
    data = yaml.safe_load(EXAMPLE.read_text())
    today = dt.datetime.fromtimestamp(rpc.latest_timestamp(), dt.UTC).date()
    for i, milestone in enumerate(data["milestones"]):
        milestone["due"] = (today + dt.timedelta(days=10 * (i + 1))).isoformat()  # within this fiscal year
    path = tmp_path / "night-vision.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _deploy_and_create(rpc: Transport, var_dir: Path, spec_path: Path) -> str:
    """Deploy, seed the dev cast, create and fund the example procurement; returns the escrow address."""
    chain_id = rpc.chain_id
    decoder = error_decoder()
    admin = TxSender(rpc, dev_account(0, chain_id), decoder)
    system = ensure_deployed(admin, var_dir).system
    registry, _, _ = system_clients(rpc, system, admin)
    seed_cast(registry, dev_budget_as(rpc, system), {i: dev_account(i, chain_id).address for i in range(14)})
    _, _, factory = system_clients(rpc, system, TxSender(rpc, dev_account(1, chain_id), decoder))
    loaded = load_spec(spec_path)
    line = loaded.line(fiscal_year_containing(rpc.latest_timestamp()))
    created = factory.create(loaded.to_chain(), loaded.spec.fund_amount, line, loaded.authority_id)
    return created.escrow


def _snapshot(rpc: Transport, escrow_address: str) -> dict[str, object]:
    escrow = EscrowClient(rpc, escrow_address)
    logs = rpc.result("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest"}])
    return {
        "terms": escrow.terms(),
        "milestones": escrow.milestones(),
        "totals": escrow.totals(),
        "logs": [(log["blockNumber"], log["logIndex"], log["address"], log["data"]) for log in logs],
    }


@pytest.fixture
def anvil_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def test_anvil_keeps_state_and_logs_across_sigkill(tmp_path: Path, anvil_dir: Path) -> None:
    port = free_port()
    node = start_anvil(project_root(), anvil_dir / "anvil", port=port)
    try:
        rpc = connect(node.url)
        escrow = _deploy_and_create(rpc, anvil_dir, _example_spec(tmp_path, rpc))
        before = _snapshot(rpc, escrow)
        assert [m.status for m in before["milestones"]] == [MilestoneStatus.PENDING] * 3  # type: ignore[attr-defined]
        assert before["totals"].funded == 360_000_000  # type: ignore[attr-defined]
        head = rpc.block_number()
        time.sleep(2.5)  # anvil writes its state file every second
        node.kill()
        with pytest.raises(ProcessLookupError):
            os.killpg(node.pid, 0)  # the whole group is gone: no orphan
        node = start_anvil(project_root(), anvil_dir / "anvil", port=port)
        rpc = connect(node.url)
        assert rpc.block_number() == head
        assert _snapshot(rpc, escrow) == before
        # The manifest still matches the chain, so `procure deploy` does nothing.
        require_manifest(rpc, anvil_dir)
        env = {**os.environ, "PROCURE_VAR": str(anvil_dir), "PROCURE_RPC_URL": node.url}
        shown = run_procure(env, "procurement", "show", escrow)
        assert shown.returncode == 0, shown.stderr
        assert "panel    2 of 3" in shown.stdout
        deployed = run_procure(env, "deploy")
        assert deployed.returncode == 0, deployed.stderr
        assert "already deployed" in deployed.stdout
    finally:
        node.stop()


def test_anvil_restores_its_last_whole_state_when_a_kill_tore_the_file(anvil_dir: Path) -> None:
    """anvil rewrites its state file in place every second: a SIGKILL in mid-write tears it, and anvil then refuses
    to start ("EOF while parsing"). The guard puts back the last whole copy and keeps the torn file."""
    state_dir = anvil_dir / "anvil"
    port = free_port()
    node = start_anvil(project_root(), state_dir, port=port)
    try:
        rpc = connect(node.url)
        payer, payee = rpc.result("eth_accounts", [])[:2]
        sent = [
            rpc.result("eth_sendTransaction", [{"from": payer, "to": payee, "value": hex(10**18)}]) for _ in range(3)
        ]
        deadline = time.monotonic() + 30  # anvil answers a send before it has mined it: wait for the receipts
        while any(rpc.result("eth_getTransactionReceipt", [tx]) is None for tx in sent):
            assert time.monotonic() < deadline, "anvil mined none of the transactions within 30 s"
            time.sleep(0.05)
        head, balance = rpc.block_number(), rpc.result("eth_getBalance", [payee, "latest"])
        state = anvil_state_file(state_dir)
        assert node.guard is not None
        deadline = time.monotonic() + 30  # anvil writes its state every second, the guard copies it every second
        while not (state.exists() and node.guard.copy.exists() and state.read_bytes() == node.guard.copy.read_bytes()):
            assert time.monotonic() < deadline, "the guard made no copy of anvil's state within 30 s"
            time.sleep(0.5)
        time.sleep(2.5)  # anvil rewrites the file after the last block; the guard copies the last version
        node.kill()
        whole = state.read_bytes()
        state.write_bytes(whole[: len(whole) // 2])  # what a kill in mid-write leaves
        node = start_anvil(project_root(), state_dir, port=port)
        rpc = connect(node.url)
        assert rpc.block_number() == head
        assert rpc.result("eth_getBalance", [payee, "latest"]) == balance
        assert node.guard is not None
        assert node.guard.restored is not None
        assert "restored the last whole copy" in node.guard.restored
        torn = list(state_dir.glob("state.torn-*.json"))
        assert [path.read_bytes() for path in torn] == [whole[: len(whole) // 2]]
        assert "was torn" in (state_dir / "anvil.log").read_text()
    finally:
        node.stop()


def test_a_torn_state_file_without_a_whole_copy_is_refused_and_left_in_place(tmp_path: Path) -> None:
    guard = AnvilStateGuard(tmp_path)
    state = anvil_state_file(tmp_path)
    state.write_bytes(b'{"block": {"number": "0x1"}, "accounts": {"0xab": {"bal')
    with pytest.raises(ChainError, match=r"is torn .* no whole copy"):
        guard.restore()
    assert state.read_bytes().endswith(b'"bal')
    assert not list(tmp_path.glob("state.torn-*"))


def test_the_guard_copies_only_whole_versions_of_the_state_file(tmp_path: Path) -> None:
    guard = AnvilStateGuard(tmp_path)
    state = anvil_state_file(tmp_path)
    state.write_bytes(b'{"block": 1}')
    assert guard.save()
    state.write_bytes(b'{"block": 2, "acc')  # anvil in mid-write
    assert not guard.save()
    assert guard.copy.read_bytes() == b'{"block": 1}'
    state.write_bytes(b'{"block": 2}')
    assert guard.save()
    assert guard.copy.read_bytes() == b'{"block": 2}'


def test_same_flow_on_hardhat_node(tmp_path: Path) -> None:
    port = free_port()
    node: NodeProcess = start_hardhat(project_root(), tmp_path / "hardhat", port=port)
    try:
        rpc = connect(node.url)
        assert rpc.chain_id == 31337
        escrow = _deploy_and_create(rpc, tmp_path / "var", _example_spec(tmp_path, rpc))
        state = _snapshot(rpc, escrow)
        assert [m.status for m in state["milestones"]] == [MilestoneStatus.PENDING] * 3  # type: ignore[attr-defined]
        assert state["totals"].funded == 360_000_000  # type: ignore[attr-defined]
        assert len(state["logs"]) > 20  # type: ignore[arg-type]
    finally:
        node.stop()
        with pytest.raises(ProcessLookupError):
            os.killpg(node.pid, 0)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_procure_node_stops_cleanly_without_orphans(tmp_path: Path, stop_signal: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "PROCURE_VAR": str(tmp_path / "var")}
    command = [sys.executable, "-m", "scripts.cli", "node", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=project_root())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "anvil running at" in line, line
    node_pid = int(line.split("pid ")[1].split(")")[0])
    assert connect(f"http://127.0.0.1:{port}").chain_id == 31337
    proc.send_signal(stop_signal)
    assert proc.wait(timeout=30) == 0
    assert "anvil stopped" in proc.stdout.read()
    with pytest.raises(ProcessLookupError):
        os.killpg(node_pid, 0)

"""Reorgs of depth 1 to 5 under a running indexer on anvil: afterwards the mirror equals the canonical chain."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import select

from chain import ChainSource, dev_account, project_root
from indexer.audit import verify
from indexer.models import MilestoneRow
from indexer.schema import make_engine
from indexer.store import Store
from scripts.bench_indexer import (
    EVAL_A,
    EVAL_B,
    SUPPLIER,
    Chain,
    create_procurement,
    generate_events,
    running_anvil,
    send_and_wait,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil with the system deployed, some history, and one procurement of eight open milestones."""
    with running_anvil(tmp_path_factory.mktemp("reorg")) as running:
        generate_events(running, 60, milestones=3, per_round=2)
        running.open_escrow = create_procurement(running, 8)  # type: ignore[attr-defined]
        yield running


def _send(chain: Chain, sender: int, to: str, data: str) -> None:
    send_and_wait(chain.rpc, {"from": dev_account(sender, chain.rpc.chain_id).address, "to": to, "data": data})


def _data(chain: Chain, contract: str, function: str, *args: object) -> str:
    return "0x" + chain.build.codec(contract).function(function).encode(args).hex()


def _wait_for_head(chain: Chain, url: str, process: subprocess.Popen[bytes]) -> None:
    head = chain.rpc.result("eth_getBlockByNumber", ["latest", False])
    expected = (int(head["number"], 16), str(head["hash"]))
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                cursor = Store(engine, chain.system.chain_id).cursor()
            except Exception:  # schema not created yet
                cursor = None
            if cursor is not None and (cursor.block_number, cursor.block_hash) == expected:
                return
            time.sleep(0.05)
        raise AssertionError(f"the indexer did not reach {expected}")
    finally:
        engine.dispose()


def test_reorgs_of_depth_one_to_five_under_a_running_indexer(chain: Chain, db_url: str) -> None:
    escrow_address: str = chain.open_escrow  # type: ignore[attr-defined]
    supplier = dev_account(SUPPLIER, chain.rpc.chain_id).address
    env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(chain.var_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli_indexer", "index", "--db", db_url, "--poll", "0.05"],
        cwd=project_root(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_head(chain, db_url, process)
        for depth in range(1, 6):
            snapshot = chain.rpc.result("evm_snapshot", [])
            milestone = depth
            evidence = _data(
                chain, "MilestoneEscrow", "submitEvidence", milestone, keccak(text=f"o{depth}"), "ipfs://o"
            )
            token = chain.system.token
            orphan_actions = [  # one block each: evidence, two passes (approved and paid), then approvals
                (SUPPLIER, escrow_address, evidence),
                (
                    EVAL_A,
                    escrow_address,
                    _data(chain, "MilestoneEscrow", "attest", milestone, 1, True, keccak(text="a")),
                ),
                (
                    EVAL_B,
                    escrow_address,
                    _data(chain, "MilestoneEscrow", "attest", milestone, 1, True, keccak(text="b")),
                ),
                (SUPPLIER, token, _data(chain, "YenToken", "approve", supplier, depth)),
                (SUPPLIER, token, _data(chain, "YenToken", "approve", supplier, depth + 1)),
            ][:depth]
            for sender, to, data in orphan_actions:
                _send(chain, sender, to, data)
            _wait_for_head(chain, db_url, process)
            assert chain.rpc.result("evm_revert", [snapshot]) is True
            for i in range(depth + 1):  # a longer, different branch: approvals only
                _send(chain, SUPPLIER, token, _data(chain, "YenToken", "approve", supplier, 1000 + i))
            _wait_for_head(chain, db_url, process)
            engine = make_engine(db_url)
            try:
                with engine.connect() as conn:
                    status = conn.execute(
                        select(MilestoneRow.status, MilestoneRow.round).where(
                            MilestoneRow.escrow == escrow_address, MilestoneRow.milestone_id == milestone
                        )
                    ).one()
            finally:
                engine.dispose()
            assert tuple(status) == ("Pending", 0), f"depth {depth}: milestone state not restored"
    finally:
        process.terminate()
        process.wait(30)
    engine = make_engine(db_url)
    try:
        report = verify(engine, ChainSource(chain.rpc), chain.system, chain.build)
    finally:
        engine.dispose()
    assert report.differences == []

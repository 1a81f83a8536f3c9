"""A world that exercises every event the mirror maps, and its recording as JSON-RPC logs (the golden fixture).

Regenerate the fixture after a deliberate change of contracts or mappers::

    .venv/bin/python -m tests.indexer.scenario
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from chain.logs import ChainSource
from chain.roles import Role, org_id
from tests.helpers import new_escrow, relay, travel_days
from tests.world import World, build_world

RESOURCES = Path(__file__).resolve().parent / "resources"
LOGS_FIXTURE = RESOURCES / "world_logs.json"
ROWS_FIXTURE = RESOURCES / "expected_rows.json"


def run_scenario(world: World) -> dict[str, str]:
    """Drive two procurements through every path; returns the escrow addresses by name."""
    officer, officer2, supplier = world.sender("officer"), world.sender("officer2"), world.sender("supplier")
    eval1, eval2, reviewer = world.sender("eval1"), world.sender("eval2"), world.sender("reviewer")
    doc = keccak(text="evidence")

    a, _ = new_escrow(world, title="Night-vision goggles, lot 1")
    fa = a.functions
    # m0: direct evidence, one direct and one relayed pass -> approved and paid at once.
    supplier.transact(fa.submitEvidence(0, doc, "ipfs://lot1/m0"))
    eval1.transact(fa.attest(0, 1, True, keccak(text="r1")))
    relay(world, a, "eval2", "Attest", {"milestoneId": 0, "round": 1, "pass": True, "reportHash": keccak(text="r2")})
    # m1: relayed evidence, two fails -> rejected; resubmitted, disputed, settled 20M / 30M.
    relay(world, a, "supplier", "SubmitEvidence", {"milestoneId": 1, "documentHash": doc, "uri": "ipfs://lot1/m1"})
    eval1.transact(fa.attest(1, 1, False, keccak(text="f1")))
    eval2.transact(fa.attest(1, 1, False, keccak(text="f2")))
    supplier.transact(fa.submitEvidence(1, doc, "ipfs://lot1/m1-v2"))
    supplier.transact(fa.openDispute(1, keccak(text="reason")))
    reviewer.transact(fa.settleDispute(1, 20_000_000, keccak(text="ruling")))
    # m2: amount cut (refund of the excess), due date moved, paid while paused (deferred) then claimed.
    officer.transact(fa.proposeAmendment(2, 0, 100_000_000, 0, keccak(text="cut")))
    officer2.transact(fa.approveAmendment(0))
    officer.transact(fa.proposeAmendment(2, 1, 0, world.now() + 200 * 86_400, keccak(text="later")))
    officer2.transact(fa.approveAmendment(1))
    world.sender("mod_admin").transact(fa.setPaused(True))
    supplier.transact(fa.submitEvidence(2, doc, "ipfs://lot1/m2"))
    eval1.transact(fa.attest(2, 1, True, keccak(text="p1")))
    eval2.transact(fa.attest(2, 1, True, keccak(text="p2")))
    world.sender("mod_admin").transact(fa.setPaused(False))
    world.sender("outsider").transact(fa.claimPayment(2))

    b, _ = new_escrow(
        world, fund=10_000_000, amounts=[30_000_000, 50_000_000], due_in_days=[30, 60], title="Radar spares"
    )
    fb = b.functions
    officer.transact(world.token.functions.approve(b.address, 20_000_000))
    officer.transact(fb.fund(20_000_000))
    officer.transact(fb.proposeAmendment(0, 2, 0, 0, keccak(text="cancel")))
    officer2.transact(fb.approveAmendment(0))
    travel_days(world, 61)
    officer.transact(fb.reclaim(1))

    admin = world.sender("admin")
    registry = world.registry.functions
    admin.transact(registry.revokeRole(Role.AUDITOR.id, world.auditor.address))
    admin.transact(registry.grantRole(Role.AUDITOR.id, world.auditor.address))
    admin.transact(registry.bindAccount(world.outsider.address, org_id("BOA")))
    admin.transact(registry.unbindAccount(world.outsider.address))
    return {"a": a.address, "b": b.address}


def record(world: World) -> dict[str, Any]:
    """Every log of the world's chain since the system was deployed, as JSON-RPC returns them."""
    source = ChainSource(world.rpc)
    from chain.logs import EventDecoder

    topics = EventDecoder(world.build).topics()
    head = source.head()
    return {
        "chain_id": source.chain_id,
        "system": world.system.to_json(),
        "head": {"number": head, "hash": source.header(head).hash},  # type: ignore[union-attr]
        "before_hash": source.header(world.system.deployed_block - 1).hash,  # type: ignore[union-attr]
        "logs": source.logs(world.system.deployed_block, head, topics),
    }


if __name__ == "__main__":
    from tests.indexer.golden import expected_rows

    world = build_world()
    escrows = run_scenario(world)
    recorded = record(world) | {"escrows": escrows}
    LOGS_FIXTURE.write_text(json.dumps(recorded, indent=1) + "\n")
    ROWS_FIXTURE.write_text(json.dumps(expected_rows(recorded), indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(recorded['logs'])} logs to {LOGS_FIXTURE}")

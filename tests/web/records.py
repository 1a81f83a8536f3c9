"""The chain acts the demo lacks, for the read pages to show something: the supplier's evidence on the first
milestone, two evaluators' passes (which release its payment and disburse from the budget line), and the finance
authority's approval of the transfer the demo leaves pending."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from eth_utils.crypto import keccak

from chain import TxSender
from chain.budget import LineKey
from chain.clients import AmendmentKind, BudgetOfficeClient, EscrowClient
from chain.devnet import DEV_BUDGET_LINE, DEV_INDEX, DEV_PENDING_TRANSFER
from chain.keys import dev_account
from chain.system import error_decoder
from tests.web.conftest import Demo, build_demo

__all__ = ["EVIDENCE_HASH", "RAISED", "RecordedDemo", "Records", "add_records", "build_recorded_demo"]

EVIDENCE_HASH = keccak(text="prototype test report (demo)")
RAISED = 90_000_000  # the second milestone's new amount (72,000,000 yen at creation)
_RATIONALE = keccak(text="maintenance backlog: equipment purchase yen moved to maintenance (demo)")


@dataclass(frozen=True)
class Records:
    """What ``add_records`` did: the transfer approved and the accounts that acted."""

    transfer_id: int
    source: LineKey
    target: LineKey
    supplier: str
    evaluators: tuple[str, str]


def add_records(demo: Demo) -> Records:
    """Submit, attest (2 of 3: the first milestone is paid), approve the pending transfer; mirror it all."""
    rpc = demo.rpc
    state = demo.app.state.gateway
    build, system, chain_id = state.ledger.build, state.ledger.system, rpc.chain_id
    decoder = error_decoder(build)

    def sender(label: str) -> TxSender:
        return TxSender(rpc, dev_account(DEV_INDEX[label], chain_id), decoder)

    supplier, atla, jqa = sender("supplier"), sender("evaluator-atla"), sender("evaluator-jqa")
    EscrowClient(rpc, demo.escrow, supplier, build).submit_evidence(0, EVIDENCE_HASH, "ipfs://demo/prototype-test")
    for evaluator in (atla, jqa):
        EscrowClient(rpc, demo.escrow, evaluator, build).attest(0, 1, True, keccak(text=f"report {evaluator.address}"))
    # A price raise approved days after creation: the amendment-soon red flag (and an amendment with its approver).
    rationale = keccak(text="more units (demo)")
    functions = EscrowClient(rpc, demo.escrow, None, build).contract.functions
    for label, call in (
        ("officer", functions.proposeAmendment(1, AmendmentKind.AMOUNT, RAISED, 0, rationale)),
        ("officer-2", functions.approveAmendment(0, 1, AmendmentKind.AMOUNT, RAISED, 0, rationale)),
    ):
        sender(label).send_data(call.to, call.data)
    office = BudgetOfficeClient(rpc, system.budget_office, sender("finance"), build)
    transfer_id = office.transfer_count()
    requested = office.requested_transfer(transfer_id)
    assert requested is not None, "the demo's pending transfer is not on chain"
    from_sub, to_sub, amount = DEV_PENDING_TRANSFER
    source, target = (LineKey.of(demo.fiscal_year, "MOD", *DEV_BUDGET_LINE[:2], sub) for sub in (from_sub, to_sub))
    request = (source.as_tuple(), target.as_tuple(), amount, _RATIONALE)
    office.approve_transfer(transfer_id, request, requested["requester"], requested["requestedAt"])
    demo.sync()
    return Records(transfer_id, source, target, supplier.address, (atla.address, jqa.address))


@dataclass
class RecordedDemo(Demo):
    """The demo world with ``add_records``' acts."""

    records: Records


def build_recorded_demo(tmp_path: Path) -> RecordedDemo:
    """``build_demo``, then ``add_records``."""
    world = build_demo(tmp_path)
    records = add_records(world)
    return RecordedDemo(**{field.name: getattr(world, field.name) for field in fields(world)}, records=records)

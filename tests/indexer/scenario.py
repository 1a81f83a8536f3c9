"""A world that exercises every event the mirror maps, and its recording as JSON-RPC logs (the golden fixture).

Regenerate the fixture after a deliberate change of contracts or mappers::

    .venv/bin/python -m tests.indexer.scenario
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from chain.budget import AppropriationAct, CarryOverKind, LineKey, fiscal_year_start
from chain.eip712 import Action, sign_action
from chain.logs import ChainSource
from chain.roles import Role, org_id
from tests.helpers import amendment_content, new_escrow, relay, travel_days
from tests.world import DAY, World, build_world

RESOURCES = Path(__file__).resolve().parent / "resources"
LOGS_FIXTURE = RESOURCES / "world_logs.json"
ROWS_FIXTURE = RESOURCES / "expected_rows.json"


def _approve(world: World, label: str, escrow: Contract, amendment_id: int) -> None:
    """Approve an amendment as ``label``, naming its stored content."""
    fields = amendment_content(escrow, amendment_id)
    world.sender(label).transact(escrow.functions.approveAmendment(*fields.values()))


def run_scenario(world: World) -> dict[str, str]:
    """Drive four procurements through every path; returns the escrow addresses by name."""
    officer, supplier = world.sender("officer"), world.sender("supplier")
    eval1, eval2, reviewer = world.sender("eval1"), world.sender("eval2"), world.sender("reviewer")
    admin, mod_admin, outsider = world.sender("admin"), world.sender("mod_admin"), world.sender("outsider")
    registry = world.registry.functions
    doc = keccak(text="evidence")
    mod, vault = org_id("MOD"), world.vault.address

    a, params_a = new_escrow(world, title="Night-vision goggles, lot 1")
    fa = a.functions
    # m0: direct evidence, one direct and one relayed pass -> approved and paid at once.
    supplier.transact(fa.submitEvidence(0, doc, "ipfs://lot1/m0"))
    eval1.transact(fa.attest(0, 1, True, keccak(text="r1")))
    relay(world, a, "eval2", "Attest", {"milestoneId": 0, "round": 1, "pass": True, "reportHash": keccak(text="r2")})
    # m1: relayed evidence, two fails -> rejected; resubmitted, disputed, settled 20M / 30M while the ministry is
    # deactivated: its share goes back to the budget line all the same (Refunded; nothing is owed to a ministry).
    relay(world, a, "supplier", "SubmitEvidence", {"milestoneId": 1, "documentHash": doc, "uri": "ipfs://lot1/m1"})
    eval1.transact(fa.attest(1, 1, False, keccak(text="f1")))
    eval2.transact(fa.attest(1, 1, False, keccak(text="f2")))
    supplier.transact(fa.submitEvidence(1, doc, "ipfs://lot1/m1-v2"))
    supplier.transact(fa.openDispute(1, keccak(text="reason")))
    admin.transact(registry.updateOrganization(mod, False, vault))
    reviewer.transact(fa.settleDispute(1, 20_000_000, keccak(text="ruling")))
    admin.transact(registry.updateOrganization(mod, True, vault))
    # m2: amount cut (refund of the excess), due date moved, paid while paused (deferred) then claimed.
    officer.transact(fa.proposeAmendment(2, 0, 100_000_000, 0, keccak(text="cut")))
    _approve(world, "officer2", a, 0)
    officer.transact(fa.proposeAmendment(2, 1, 0, world.now() + 200 * 86_400, keccak(text="later")))
    _approve(world, "officer2", a, 1)
    mod_admin.transact(fa.pauseUntil(world.now() + 20 * 86_400))
    supplier.transact(fa.submitEvidence(2, doc, "ipfs://lot1/m2"))
    eval1.transact(fa.attest(2, 1, True, keccak(text="p1")))
    eval2.transact(fa.attest(2, 1, True, keccak(text="p2")))
    mod_admin.transact(fa.resume())
    outsider.transact(fa.claimPayment(2))

    b, _ = new_escrow(
        world, fund=10_000_000, amounts=[30_000_000, 50_000_000], due_in_days=[30, 60], title="Radar spares"
    )
    fb = b.functions
    officer.transact(world.token.functions.approve(b.address, 20_000_000))
    officer.transact(fb.fund(20_000_000))
    officer.transact(fb.proposeAmendment(0, 2, 0, 0, keccak(text="cancel")))
    _approve(world, "officer2", b, 0)

    # Another ministry uses the same procurement id as lot 1: ids are scoped by ministry (unfunded here).
    mofa_params = world.procurement_params(procurement_id=params_a[0], title="MOFA's own lot 1")
    mofa, _ = world.create_procurement(mofa_params, 0, label="mofa_officer")

    c, _ = new_escrow(world, amounts=[10_000_000] * 4, due_in_days=[300] * 4, title="Thermal sights")
    fc = c.functions
    # m0: eval1 passes, then loses its role: eval2's pass does not reach the quorum (AttestationsDisregarded);
    # eval3's does.
    supplier.transact(fc.submitEvidence(0, doc, "ipfs://sights/m0"))
    eval1.transact(fc.attest(0, 1, True, keccak(text="s1")))
    admin.transact(registry.revokeRole(Role.EVALUATOR.id, world.eval1.address))
    eval2.transact(fc.attest(0, 1, True, keccak(text="s2")))
    world.sender("eval3").transact(fc.attest(0, 1, True, keccak(text="s3")))
    admin.transact(registry.grantRole(Role.EVALUATOR.id, world.eval1.address))
    # m3: under evaluation, cut with the supplier's signed consent; then disputed by an officer, and the dispute
    # lapses after the ruling period (30 days): back to Submitted, the due date moved by the time frozen.
    supplier.transact(fc.submitEvidence(3, doc, "ipfs://sights/m3"))
    officer.transact(fc.proposeAmendment(3, 0, 8_000_000, 0, keccak(text="cut m3")))
    consent = amendment_content(c, 0)
    relay(world, c, "supplier", "ConsentToAmendment", consent)
    _approve(world, "officer2", c, 0)
    officer.transact(fc.openDispute(3, keccak(text="stall")))
    travel_days(world, 31)
    outsider.transact(fc.lapseDispute(3))
    # m1, m2: evidence, then the supplier is off-boarded (role revoked, account unbound): the approved payments
    # are deferred; a review body redirects m1 to the supplier's colleague and m2 back to the ministry, and after
    # the grace period (90 days) anyone carries the rulings out.
    supplier.transact(fc.submitEvidence(1, doc, "ipfs://sights/m1"))
    supplier.transact(fc.submitEvidence(2, doc, "ipfs://sights/m2"))
    admin.transact(registry.revokeRole(Role.SUPPLIER.id, world.supplier.address))
    admin.transact(registry.unbindAccount(world.supplier.address))
    for milestone in (1, 2):
        eval1.transact(fc.attest(milestone, 1, True, keccak(text=f"o{milestone}")))
        eval2.transact(fc.attest(milestone, 1, True, keccak(text=f"q{milestone}")))
    reviewer.transact(fc.redirectOwed(1, world.supplier_colleague.address, keccak(text="successor")))
    reviewer.transact(fc.redirectOwed(2, "0x" + "00" * 20, keccak(text="back to MOD")))
    travel_days(world, 91)
    outsider.transact(fc.claimPayment(1))
    outsider.transact(fc.claimPayment(2))
    officer.transact(fb.reclaim(1))  # long past its due date
    # The supplier is on-boarded again (later tests of a module run on this world: its cast is left whole).
    admin.transact(registry.bindAccount(world.supplier.address, org_id("NVE")))
    admin.transact(registry.grantRole(Role.SUPPLIER.id, world.supplier.address))

    # Signatures withdrawn: directly, and by a signature relayed through the registry.
    eval1.transact(registry.invalidateNonces(registry.nonces(world.eval1.address).call() + 3))
    nonce = registry.nonces(world.eval2.address).call()
    action = Action("InvalidateNonces", {"newNonce": nonce + 1}, nonce, world.now() + 3600)
    signature = sign_action(world.eval2, action, chain_id=world.w3.eth.chain_id, escrow=world.registry.address)
    outsider.transact(registry.invalidateNoncesBySig(*action.call_args(world.eval2.address, signature)))

    admin.transact(registry.revokeRole(Role.AUDITOR.id, world.auditor.address))
    admin.transact(registry.grantRole(Role.AUDITOR.id, world.auditor.address))
    admin.transact(registry.bindAccount(world.outsider.address, org_id("BOA")))
    admin.transact(registry.unbindAccount(world.outsider.address))
    multi_year = run_budget(world)
    return {"a": a.address, "b": b.address, "c": c.address, "mofa": mofa, "multi_year": multi_year}


def _line_words(key: LineKey) -> dict[str, Any]:
    """A line key as the signed acts' typed data names it."""
    return {
        "fiscalYear": key.fiscal_year,
        "ministry": key.ministry,
        "organization": key.organization,
        "item": key.item,
        "subItem": key.sub_item,
    }


def run_budget(world: World) -> str:
    """The budget's acts beyond what procurements do: supplementary budgets (one a cut), a second sub-item line
    given and partly taken back (one of them signed and relayed), transfers approved, refused, withdrawn and left
    pending, a cross-ministry grant used then revoked and a view grant kept, a multi-year authority and its later
    part, then the year end: a carry-over, the year closed, its lines settled, the next year's budget and the later
    part obligated. Returns the multi-year procurement's escrow."""
    finance, treasury, outsider = world.sender("finance"), world.sender("treasury"), world.sender("outsider")
    budget, office = world.budget.functions, world.budget_office.functions
    fy, mod = world.fiscal_year, world.lines["MOD"]
    spares = LineKey.of(fy, "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-SPARES")
    supplementary = int(AppropriationAct.SUPPLEMENTARY)
    item = mod.item_key.as_tuple()
    finance.transact(budget.enactAppropriation(item, supplementary, 2_000_000_000, 0, keccak(text="supplementary 1")))
    finance.transact(budget.enactAppropriation(item, supplementary, -500_000_000, 0, keccak(text="supplementary 2")))
    treasury.transact(budget.distribute(spares.as_tuple(), 3_000_000_000))
    relay(world, world.budget_office, "treasury", "Distribute", {"line": _line_words(spares), "change": -1_000_000_000})

    def request(amount: int) -> tuple[int, tuple[Any, ...], str, int]:
        content = (mod.as_tuple(), spares.as_tuple(), amount, keccak(text=f"rationale {amount}"))
        receipt = treasury.transact(office.requestTransfer(content))
        (requested,) = world.budget_office.events.TransferRequested().process_receipt(receipt.raw, errors=DISCARD)
        args = requested["args"]
        return args["transferId"], content, args["requester"], args["requestedAt"]

    finance.transact(office.approveTransfer(*request(100_000_000)))
    finance.transact(office.refuseTransfer(*request(200_000_000), keccak(text="not justified")))
    treasury.transact(office.withdrawTransfer(*request(300_000_000)))
    request(400_000_000)  # left pending

    mofa = org_id("MOFA")
    obligate, view = 2, 1  # IBudgetOffice.AccessKind
    treasury.transact(office.grantAccess(mod.as_tuple(), mofa, obligate, 50_000_000, world.now() + 30 * DAY))
    joint = world.procurement_params(
        procurement_id=keccak(text="MOFA joint program"), amounts=[20_000_000], due_in_days=[60], title="Joint program"
    )
    world.create_procurement(joint, 20_000_000, label="mofa_officer", line=mod)
    treasury.transact(office.revokeAccess(mod.as_tuple(), mofa))
    treasury.transact(office.grantAccess(spares.as_tuple(), mofa, view, 0, world.now() + 400 * DAY))

    authority = keccak(text="radar, FY+0 and FY+1")
    terms = (mod.as_tuple(), 300_000_000, [100_000_000, 200_000_000])
    finance.transact(office.enactAuthority(authority, terms, keccak(text="multi-year authority act")))
    radar = world.procurement_params(
        procurement_id=keccak(text="radar, two years"), amounts=[60_000_000, 150_000_000], due_in_days=[30, 300]
    )
    escrow, _ = world.create_procurement(radar, 60_000_000, authority=authority)

    world.tester.time_travel(fiscal_year_start(fy + 1) + DAY)
    carry = int(CarryOverKind.AUTHORIZED)
    finance.transact(budget.approveCarryOver(spares.as_tuple(), carry, 500_000_000, keccak(text="delivery slipped")))
    finance.transact(budget.closeFiscalYear(fy))
    outsider.transact(budget.settleLine(mod.as_tuple()))
    outsider.transact(budget.settleLine(spares.as_tuple()))
    world.enact_line("MOD", mod.in_year(fy + 1), 45_000_000_000, 30_000_000_000, "treasury")
    outsider.transact(budget.obligateScheduled(escrow))
    # The world now lives in the next fiscal year: its procurements obligate that year's lines (the tests' fixture
    # puts the year and lines back with the chain's snapshot).
    world.enact_line("MOFA", world.lines["MOFA"].in_year(fy + 1), 45_000_000_000, 30_000_000_000, "mofa_treasury")
    world.fiscal_year = fy + 1
    world.lines = {ministry: line.in_year(fy + 1) for ministry, line in world.lines.items()}
    return str(escrow)


def record(world: World) -> dict[str, Any]:
    """Every log of the world's chain since the system was deployed, as JSON-RPC returns them (with block times)."""
    source = ChainSource(world.rpc)
    from chain.logs import EventDecoder

    topics = EventDecoder(world.build).topics()
    head = source.head()
    return {
        "chain_id": source.chain_id,
        "system": world.system.to_json(),
        "head": {"number": head, "hash": source.header(head).hash},  # type: ignore[union-attr]
        "before_hash": source.header(world.system.deployed_block - 1).hash,  # type: ignore[union-attr]
        "logs": source.with_block_times(source.logs(world.system.deployed_block, head, topics)),
    }


if __name__ == "__main__":
    from tests.indexer.golden import expected_rows

    world = build_world()
    escrows = run_scenario(world)
    recorded = record(world) | {"escrows": escrows}
    LOGS_FIXTURE.write_text(json.dumps(recorded, indent=1) + "\n")
    ROWS_FIXTURE.write_text(json.dumps(expected_rows(recorded), indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(recorded['logs'])} logs to {LOGS_FIXTURE}")

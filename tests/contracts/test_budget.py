"""BudgetLedger and BudgetOffice: appropriations, distribution, obligations, money following the budget,
transfers, cross-ministry grants, multi-year authorities, year end and signed acts; each attack the issue names.

The world (tests/world.py) starts on day 2 of a fiscal year with one enacted item per ministry (MOD, MOFA) of
50 bn yen, 40 bn of it distributed to one sub-item line, which the world's procurements obligate.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.crypto import keccak

from chain import ACTIONS, BUDGET_OFFICE, LineKey, Receipt, fiscal_year_start
from chain.eip712 import Action, sign_action
from chain.roles import Role, org_id
from tests.contracts.test_registry import ZERO, addr, attempt, books_checked, make_escrow, send
from tests.helpers import event, events, reverts
from tests.world import DAY, ZERO32, World

MOD, MOFA, MOF_BB = org_id("MOD"), org_id("MOFA"), org_id("MOF-BB")
INITIAL, SUPPLEMENTARY = 0, 1
AUTHORIZED, ACCIDENT = 0, 1
VIEW, OBLIGATE = 1, 2
INSTRUMENT = keccak(text="Act No. 1 of 2027: general account budget")
TRANSFER_BETWEEN_ITEMS, CARRY_OVER = 1, 2
ITEM, LINE = 50_000_000_000, 40_000_000_000


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


_ids = itertools.count()


def mod_line(world: World) -> LineKey:
    return world.lines["MOD"]


def sibling(line: LineKey, sub_item: str = "SPARE-PARTS") -> LineKey:
    """Another sub-item line of the same item (a 流用 target)."""
    return LineKey(line.fiscal_year, line.ministry, line.organization, line.item, sub_item.encode().ljust(32, b"\0"))


def other_item(line: LineKey, item: str = "DEF-FACILITY") -> LineKey:
    """A line of another item of the same ministry and organization (a 移用 target)."""
    code = item.encode().ljust(32, b"\0")
    return LineKey(line.fiscal_year, line.ministry, line.organization, code, b"FACILITY-WORKS".ljust(32, b"\0"))


def line_of(world: World, key: LineKey) -> dict[str, Any]:
    names = ("series", "exists", "settled", "allotted", "obligated", "disbursed", "carryOver", "available")
    return dict(zip(names, world.budget.functions.line(key.as_tuple()).call(), strict=True))


def item_of(world: World, key: LineKey) -> dict[str, Any]:
    names = ("initialEnacted", "authorizations", "enacted", "appropriation", "distributed")
    return dict(zip(names, world.budget.functions.item(key.item_key.as_tuple()).call(), strict=True))


def enact(world: World, key: LineKey, amount: int, act: int = INITIAL, auth: int = 0, label: str = "finance") -> Any:
    fn = world.budget.functions.enactAppropriation(key.item_key.as_tuple(), act, amount, auth, INSTRUMENT)
    return attempt(world, label, fn)


def distribute(world: World, key: LineKey, change: int, label: str = "treasury") -> Any:
    return attempt(world, label, world.budget.functions.distribute(key.as_tuple(), change))


def procurement(world: World, amounts: list[int], label: str = "officer", **kw: Any) -> tuple[Any, ...]:
    return world.procurement_params(
        procurement_id=keccak(text=f"budget-test-{next(_ids)}"),
        amounts=amounts,
        due_in_days=kw.pop("due_in_days", [30 * (i + 1) for i in range(len(amounts))]),
        **kw,
    )


def create(
    world: World,
    p: tuple[Any, ...],
    fund: int,
    label: str = "officer",
    line: LineKey | None = None,
    authority: bytes = ZERO32,
) -> Any:
    key = (line or world.line_of(label)).as_tuple()
    return attempt(world, label, world.factory.functions.createProcurement(p, fund, key, authority))


def request_transfer(
    world: World, source: LineKey, target: LineKey, amount: int, label: str = "treasury"
) -> tuple[int, tuple[Any, ...], str, int]:
    """Request a transfer; returns (id, request tuple, requester, requestedAt) as an approval names them."""
    request = (source.as_tuple(), target.as_tuple(), amount, keccak(text="rationale"))
    receipt = attempt(world, label, world.budget_office.functions.requestTransfer(request))
    ev = event(world.budget_office, receipt, "TransferRequested")
    return ev["transferId"], request, ev["requester"], ev["requestedAt"]


def budget_sig(
    world: World,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    nonce: int | None = None,
    sign_as: str | None = None,
) -> tuple[str, int, bytes]:
    """(signer address, deadline, signature) of a budget act signed by ``sign_as`` (default: the signer)."""
    account = world.accounts[signer]
    action = Action(
        primary_type,
        fields,
        world.registry.functions.nonces(account.address).call() if nonce is None else nonce,
        world.now() + 3600,
    )
    signature = sign_action(
        world.accounts[sign_as or signer], action, chain_id=world.w3.eth.chain_id, escrow=world.budget_office.address
    )
    return account.address, action.deadline, signature


def key_fields(key: LineKey) -> dict[str, Any]:
    return {
        "fiscalYear": key.fiscal_year,
        "ministry": key.ministry,
        "organization": key.organization,
        "item": key.item,
        "subItem": key.sub_item,
    }


def item_fields(key: LineKey) -> dict[str, Any]:
    return {k: v for k, v in key_fields(key).items() if k != "subItem"}


# ----------------------------------------------------------------------------------------------- appropriations


def test_world_budget(world: World) -> None:
    key = mod_line(world)
    assert item_of(world, key) == {
        "initialEnacted": True,
        "authorizations": TRANSFER_BETWEEN_ITEMS | CARRY_OVER,
        "enacted": ITEM,
        "appropriation": ITEM,
        "distributed": LINE,
    }
    assert line_of(world, key) == {
        "series": 1,
        "exists": True,
        "settled": False,
        "allotted": LINE,
        "obligated": 0,
        "disbursed": 0,
        "carryOver": 0,
        "available": LINE,
    }
    assert world.token.functions.totalSupply().call() == 0  # nothing exists before a procurement draws


@pytest.mark.parametrize("label", ["treasury", "mod_admin", "officer", "mofa_treasury", "admin", "auditor"])
def test_no_ministry_enacts_a_budget(world: World, label: str) -> None:
    """A spending ministry never enacts its own budget (nor another's); only the finance authority does."""
    new = sibling(mod_line(world)).in_year(world.fiscal_year)
    key = LineKey(new.fiscal_year, MOD, new.organization, b"NEW-ITEM".ljust(32, b"\0"), new.sub_item)
    org = world.registry.functions.organizationOf(addr(world, label)).call()
    with reverts("BudgetUnauthorized", addr(world, label), Role.FINANCE_AUTHORITY.id, org):
        enact(world, key, 1_000, label=label)


def test_enact_initial_and_supplementary(world: World) -> None:
    key = LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-WORKS")
    receipt = enact(world, key, 7_000_000_000, auth=TRANSFER_BETWEEN_ITEMS)
    assert event(world.budget, receipt, "AppropriationEnacted") == {
        "fiscalYear": world.fiscal_year,
        "ministry": MOD,
        "authority": addr(world, "finance"),
        "key": item_fields(key),
        "act": INITIAL,
        "amount": 7_000_000_000,
        "enacted": 7_000_000_000,
        "appropriation": 7_000_000_000,
        "authorizations": TRANSFER_BETWEEN_ITEMS,
        "instrumentHash": INSTRUMENT,
    }
    with reverts("BudgetInitialBudget", key.item_key.as_tuple(), True):
        enact(world, key, 1)
    receipt = enact(world, key, -2_000_000_000, act=SUPPLEMENTARY)
    assert event(world.budget, receipt, "AppropriationEnacted")["appropriation"] == 5_000_000_000
    distribute(world, key, 4_000_000_000)
    # A cut never takes back what the ministry has distributed.
    with reverts("BudgetExceedsItem", key.item_key.as_tuple(), 1_000_000_000, 1_000_000_001):
        enact(world, key, -1_000_000_001, act=SUPPLEMENTARY)
    unknown = LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "NEVER", "X")
    with reverts("BudgetInitialBudget", unknown.item_key.as_tuple(), False):
        enact(world, unknown, 5, act=SUPPLEMENTARY)
    with reverts("BudgetMissingHash"):
        attempt(
            world, "finance", world.budget.functions.enactAppropriation(unknown.item_key.as_tuple(), 0, 5, 0, ZERO32)
        )


def test_enact_only_for_a_ministry(world: World) -> None:
    for code in ("MOF-BB", "NVE", "NOBODY"):
        key = LineKey.of(world.fiscal_year, "MOD", "X", "Y", "Z")
        key = LineKey(key.fiscal_year, org_id(code), key.organization, key.item, key.sub_item)
        with reverts("BudgetUnknownMinistry", org_id(code)):
            enact(world, key, 5)


def test_revoked_finance_officer_cannot_act(world: World) -> None:
    send(world, "admin", world.registry.functions.revokeRole(Role.FINANCE_AUTHORITY.id, addr(world, "finance")))
    key = LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-WORKS")
    with reverts("BudgetUnauthorized", addr(world, "finance"), Role.FINANCE_AUTHORITY.id, MOF_BB):
        enact(world, key, 5)
    enact(world, key, 5, label="finance2")


# ----------------------------------------------------------------------------------------------- distribution


def test_distribution_never_exceeds_the_item(world: World) -> None:
    key = mod_line(world)
    spare = sibling(key)
    receipt = distribute(world, spare, 6_000_000_000)
    assert event(world.budget, receipt, "SeriesRegistered")["series"] == 3  # after MOD's and MOFA's lines
    assert event(world.budget, receipt, "Distributed") == {
        "series": 3,
        "fiscalYear": world.fiscal_year,
        "officer": addr(world, "treasury"),
        "line": key_fields(spare),
        "change": 6_000_000_000,
        "allotted": 6_000_000_000,
        "itemDistributed": 46_000_000_000,
    }
    with reverts("BudgetExceedsItem", key.item_key.as_tuple(), 4_000_000_000, 4_000_000_001):
        distribute(world, spare, 4_000_000_001)
    with reverts("BudgetExceedsAvailable", spare.as_tuple(), 6_000_000_000, 6_000_000_001):
        distribute(world, spare, -6_000_000_001)
    distribute(world, spare, -6_000_000_000)
    assert item_of(world, key)["distributed"] == LINE


def test_only_the_lines_ministry_distributes(world: World) -> None:
    key = sibling(mod_line(world))
    for label in ("mofa_treasury", "officer", "mod_admin", "finance"):
        with reverts("BudgetUnauthorized", addr(world, label), Role.TREASURY.id, MOD):
            distribute(world, key, 5, label=label)


# ----------------------------------------------------------------------------------------------- obligations


def test_procurement_that_does_not_fit_is_refused_with_the_line_and_both_amounts(world: World) -> None:
    key = mod_line(world)
    big = procurement(world, [LINE // 2, LINE // 2 + 1])
    with reverts("BudgetExceedsAvailable", key.as_tuple(), LINE, LINE + 1):
        create(world, big, 0)
    fits = procurement(world, [LINE // 2, LINE // 2])
    create(world, fits, 1_000)
    assert line_of(world, key)["available"] == 0
    with reverts("BudgetExceedsAvailable", key.as_tuple(), 0, 1):
        create(world, procurement(world, [1]), 0)


def test_obligation_against_a_line_of_another_year_is_refused(world: World) -> None:
    p = procurement(world, [1_000])
    next_year = mod_line(world).in_year(world.fiscal_year + 1)
    with reverts("BudgetNotCurrentYear", world.fiscal_year + 1, world.fiscal_year):
        create(world, p, 0, line=next_year)
    unknown = sibling(mod_line(world), "NOTHING")
    with reverts("BudgetUnknownLine", unknown.as_tuple()):
        create(world, p, 0, line=unknown)


def test_funding_draws_on_the_obligation_and_never_beyond(world: World) -> None:
    """An amendment raising a milestone raises the need, not the obligation: funding it needs the officer to
    obligate more of the line first (and only what is needed)."""
    escrow, p = make_escrow(world, fund=0)
    total = sum(p[4])
    assert world.budget.functions.obligation(escrow.address).call() == (1, world.fiscal_year, total, 0, 0)
    receipt = send(world, "officer", escrow.functions.fund(total))
    assert events(world.token, receipt, "Transfer") == [{"from": ZERO, "to": escrow.address, "value": total}]
    minted = event(world.token, receipt, "Minted")
    assert (minted["to"], minted["treasury"], minted["amount"]) == (escrow.address, world.budget.address, total)
    send(world, "officer", escrow.functions.proposeAmendment(0, 0, p[4][0] + 5_000, 0, keccak(text="more")))
    send(world, "officer2", escrow.functions.approveAmendment(0, 0, 0, p[4][0] + 5_000, 0, keccak(text="more")))
    with reverts("BudgetDrawExceedsObligation", escrow.address, 0, 5_000):
        attempt(world, "officer", escrow.functions.fund(5_000))
    with reverts("BudgetObligationExceedsNeed", escrow.address, 5_000, 5_001):
        attempt(world, "officer", world.budget.functions.increaseObligation(escrow.address, 5_001))
    with reverts("BudgetUnauthorized", addr(world, "mofa_officer"), Role.PROCUREMENT_OFFICER.id, MOFA):
        attempt(world, "mofa_officer", world.budget.functions.increaseObligation(escrow.address, 5_000))
    receipt = send(world, "officer", world.budget.functions.increaseObligation(escrow.address, 5_000))
    assert event(world.budget, receipt, "Obligated")["escrowObligated"] == total + 5_000
    send(world, "officer", escrow.functions.fund(5_000))
    assert line_of(world, mod_line(world))["obligated"] == total + 5_000


@pytest.mark.parametrize("label", ["treasury", "admin", "finance", "officer", "mod_admin"])
def test_no_yen_minted_outside_the_budget(world: World, label: str) -> None:
    """The treasury's free minting is gone: only the ledger mints, and only into an escrow within its obligation;
    nobody can draw or burn through the ledger but a procurement's escrow."""
    with reverts("YenTokenUnauthorizedMinter", addr(world, label)):
        attempt(world, label, world.token.functions.mint(addr(world, label), 1, b"\x01" * 32))
    with reverts("YenTokenUnauthorizedMinter", addr(world, label)):
        attempt(world, label, world.token.functions.burn(addr(world, label), 1, b"\x01" * 32))
    for fn in (
        world.budget.functions.draw(1),
        world.budget.functions.disburse(1),
        world.budget.functions.returnFunds(0, 0),
    ):
        with reverts("BudgetUnauthorizedCaller", addr(world, label)):
            attempt(world, label, fn)
    with reverts("BudgetUnauthorizedCaller", addr(world, label)):
        attempt(
            world,
            label,
            world.budget.functions.obligate(
                ZERO, MOD, ZERO, mod_line(world).as_tuple(), ZERO32, [1], [world.now() + DAY], 1
            ),
        )


def test_yen_never_reach_an_escrow_but_by_minting(world: World) -> None:
    escrow, _ = make_escrow(world)
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    with reverts("YenTokenDirectTransferToEscrow", escrow.address, addr(world, "supplier")):
        attempt(world, "supplier", world.token.functions.transfer(escrow.address, 1))


def test_payment_is_a_disbursement_and_refunds_deobligate(world: World) -> None:
    key = mod_line(world)
    escrow, p = make_escrow(world)
    total = sum(p[4])
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    receipt = send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    assert event(world.budget, receipt, "Disbursed") == {
        "escrow": escrow.address,
        "series": 1,
        "fiscalYear": world.fiscal_year,
        "amount": p[4][0],
        "lineDisbursed": p[4][0],
    }
    # Milestone 1 reclaimed after its due date: its yen are burned and go back to the line.
    world.tester.time_travel(p[5][1] + 1)
    receipt = send(world, "officer", escrow.functions.reclaim(1))
    assert event(world.budget, receipt, "Deobligated") == {
        "escrow": escrow.address,
        "series": 1,
        "fiscalYear": world.fiscal_year,
        "returned": p[4][1],
        "released": 0,
        "unplanned": 0,
        "lineObligated": total - p[4][1],
        "escrowObligated": total - p[4][1],
    }
    assert event(world.token, receipt, "Burned")["amount"] == p[4][1]
    assert line_of(world, key) | {"series": 0} == {
        "series": 0,
        "exists": True,
        "settled": False,
        "allotted": LINE,
        "obligated": total - p[4][1],
        "disbursed": p[4][0],
        "carryOver": 0,
        "available": LINE - total + p[4][1],
    }


def test_underfunded_escrow_deobligates_what_it_will_never_draw(world: World) -> None:
    """A cancelled milestone of an escrow that never held its yen: the obligation is released all the same."""
    escrow, p = make_escrow(world, fund=0)
    send(world, "officer", escrow.functions.proposeAmendment(2, 2, 0, 0, keccak(text="cancel")))
    receipt = send(world, "officer2", escrow.functions.approveAmendment(0, 2, 2, 0, 0, keccak(text="cancel")))
    ev = event(world.budget, receipt, "Deobligated")
    assert (ev["returned"], ev["released"], ev["escrowObligated"]) == (0, p[4][2], sum(p[4]) - p[4][2])


def test_ruling_ministry_share_goes_back_to_the_line(world: World) -> None:
    escrow, p = make_escrow(world)
    send(world, "supplier", escrow.functions.submitEvidence(1, b"\x11" * 32, "ipfs://x"))
    send(world, "supplier", escrow.functions.openDispute(1, keccak(text="reason")))
    receipt = send(world, "reviewer", escrow.functions.settleDispute(1, 20_000_000, keccak(text="ruling")))
    assert event(world.budget, receipt, "Disbursed")["amount"] == 20_000_000
    assert event(world.budget, receipt, "Deobligated")["returned"] == p[4][1] - 20_000_000
    assert line_of(world, mod_line(world))["obligated"] == sum(p[4]) - (p[4][1] - 20_000_000)


# ----------------------------------------------------------------------------------------------- cross-ministry


def grant(world: World, kind: int, cap: int, days: int = 30, label: str = "treasury") -> Any:
    fn = world.budget_office.functions.grantAccess(
        mod_line(world).as_tuple(), MOFA, kind, cap, world.now() + days * DAY
    )
    return attempt(world, label, fn)


def test_procurement_against_another_ministrys_line_needs_a_grant(world: World) -> None:
    p = procurement(world, [1_000_000], label="mofa_officer")
    with reverts("BudgetAccessDenied", 1, world.fiscal_year, MOFA):
        create(world, p, 0, label="mofa_officer", line=mod_line(world))
    grant(world, VIEW, 0)
    with reverts("BudgetAccessDenied", 1, world.fiscal_year, MOFA):
        create(world, p, 0, label="mofa_officer", line=mod_line(world))


def test_grant_to_obligate_up_to_a_cap_records_both_ministries(world: World) -> None:
    receipt = grant(world, OBLIGATE, 3_000_000)
    assert event(world.budget_office, receipt, "AccessGranted")["kind"] == OBLIGATE
    p = procurement(world, [2_000_000], label="mofa_officer")
    receipt = create(world, p, 2_000_000, label="mofa_officer", line=mod_line(world))
    escrow = event(world.factory, receipt, "ProcurementCreated")["escrow"]
    assert event(world.budget_office, receipt, "AccessUsed") == {
        "series": 1,
        "fiscalYear": world.fiscal_year,
        "grantee": MOFA,
        "ministry": MOD,
        "escrow": escrow,
        "amount": 2_000_000,
        "used": 2_000_000,
    }
    obligated = event(world.budget, receipt, "Obligated")
    assert (obligated["buyer"], obligated["lineMinistry"]) == (MOFA, MOD)
    with reverts("BudgetGrantExceeded", 1, world.fiscal_year, MOFA, 1_000_000, 1_000_001):
        create(world, procurement(world, [1_000_001]), 0, label="mofa_officer", line=mod_line(world))


def test_grant_renewed_below_what_was_used_leaves_nothing(world: World) -> None:
    grant(world, OBLIGATE, 3_000_000)
    create(world, procurement(world, [2_000_000]), 0, label="mofa_officer", line=mod_line(world))
    grant(world, OBLIGATE, 1_000_000)
    with reverts("BudgetGrantExceeded", 1, world.fiscal_year, MOFA, 0, 1):
        create(world, procurement(world, [1]), 0, label="mofa_officer", line=mod_line(world))


def test_grant_expires_by_itself_and_can_be_revoked(world: World) -> None:
    grant(world, OBLIGATE, 3_000_000, days=10)
    world.tester.time_travel(world.now() + 10 * DAY)
    with reverts("BudgetAccessDenied", 1, world.fiscal_year, MOFA):
        create(world, procurement(world, [1_000]), 0, label="mofa_officer", line=mod_line(world))
    grant(world, OBLIGATE, 3_000_000)
    receipt = attempt(world, "treasury", world.budget_office.functions.revokeAccess(mod_line(world).as_tuple(), MOFA))
    assert event(world.budget_office, receipt, "AccessRevoked")["grantee"] == MOFA
    with reverts("BudgetAccessDenied", 1, world.fiscal_year, MOFA):
        create(world, procurement(world, [1_000]), 0, label="mofa_officer", line=mod_line(world))


def test_only_the_lines_ministry_grants(world: World) -> None:
    for label in ("mofa_treasury", "officer", "finance", "mod_admin"):
        with reverts("BudgetOfficeUnauthorized", addr(world, label), Role.TREASURY.id, MOD):
            grant(world, OBLIGATE, 5, label=label)
    with reverts("BudgetInvalidGrant", MOD, OBLIGATE, 5, world.now() + 30 * DAY + 1):
        fn = world.budget_office.functions.grantAccess(
            mod_line(world).as_tuple(), MOD, OBLIGATE, 5, world.now() + 30 * DAY + 1
        )
        attempt(world, "treasury", fn)


# ----------------------------------------------------------------------------------------------- transfers


def test_transfer_between_sub_items_takes_effect_on_approval(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    distribute(world, spare, 1_000)
    transfer_id, request, requester, requested_at = request_transfer(world, key, spare, 5_000_000)
    assert line_of(world, key)["allotted"] == LINE  # nothing moves on request
    world.tester.time_travel(world.now() + 3 * DAY)
    receipt = attempt(
        world, "finance", world.budget_office.functions.approveTransfer(transfer_id, request, requester, requested_at)
    )
    approved = event(world.budget_office, receipt, "TransferApproved")
    assert approved["approvedAt"] - approved["requestedAt"] >= 3 * DAY
    assert approved["requester"] == addr(world, "treasury")
    assert event(world.budget, receipt, "Transferred") == {
        "transferId": transfer_id,
        "fromSeries": 1,
        "toSeries": 3,
        "fiscalYear": world.fiscal_year,
        "amount": 5_000_000,
        "betweenItems": False,
        "fromAllotted": LINE - 5_000_000,
        "toAllotted": 5_001_000,
    }
    with reverts("BudgetUnknownTransfer", transfer_id):  # approved once only
        attempt(
            world,
            "finance",
            world.budget_office.functions.approveTransfer(transfer_id, request, requester, requested_at),
        )


def test_a_ministry_cannot_approve_its_own_transfer(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    transfer_id, request, requester, at = request_transfer(world, key, spare, 5)
    for label in ("treasury", "mod_admin", "officer", "mofa_treasury"):
        org = world.registry.functions.organizationOf(addr(world, label)).call()
        with reverts("BudgetOfficeUnauthorized", addr(world, label), Role.FINANCE_AUTHORITY.id, org):
            attempt(world, label, world.budget_office.functions.approveTransfer(transfer_id, request, requester, at))


def test_approval_names_exactly_what_was_requested(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    transfer_id, request, requester, at = request_transfer(world, key, spare, 5_000)
    office = world.budget_office.functions
    more = (request[0], request[1], 50_000, request[3])
    for args in (
        (transfer_id, more, requester, at),
        (transfer_id, request, addr(world, "finance"), at),
        (transfer_id, request, requester, at + 1),
        (transfer_id + 1, request, requester, at),
    ):
        with reverts("BudgetUnknownTransfer", args[0]):
            attempt(world, "finance", office.approveTransfer(*args))


def test_transfer_can_never_leave_a_line_obligated_beyond_its_allotment(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    with reverts("BudgetExceedsAvailable", key.as_tuple(), LINE, LINE + 1):
        request_transfer(world, key, spare, LINE + 1)
    transfer_id, request, requester, at = request_transfer(world, key, spare, LINE)
    create(world, procurement(world, [1]), 0)  # obligates 1 yen meanwhile
    with reverts("BudgetExceedsAvailable", key.as_tuple(), LINE - 1, LINE):
        attempt(world, "finance", world.budget_office.functions.approveTransfer(transfer_id, request, requester, at))


def test_transfer_between_items_needs_the_diets_authorization(world: World) -> None:
    key = mod_line(world)
    target = other_item(key)
    enact(world, target, 1_000_000)  # no TRANSFER_BETWEEN_ITEMS on the target item
    with reverts("BudgetTransferNotAuthorized", key.item_key.as_tuple(), target.item_key.as_tuple()):
        request_transfer(world, key, target, 5)
    enact(world, target, 1, act=SUPPLEMENTARY, auth=TRANSFER_BETWEEN_ITEMS)
    transfer_id, request, requester, at = request_transfer(world, key, target, 5_000)
    receipt = attempt(
        world, "finance", world.budget_office.functions.approveTransfer(transfer_id, request, requester, at)
    )
    assert event(world.budget, receipt, "Transferred")["betweenItems"]
    assert item_of(world, key)["appropriation"] == ITEM - 5_000
    assert item_of(world, target)["appropriation"] == 1_000_001 + 5_000


def test_transfer_between_ministries_refused(world: World) -> None:
    with reverts("BudgetInvalidTransfer"):
        request_transfer(world, mod_line(world), world.lines["MOFA"], 5)
    with reverts("BudgetOfficeUnauthorized", addr(world, "mofa_treasury"), Role.TREASURY.id, MOD):
        request_transfer(world, mod_line(world), sibling(mod_line(world)), 5, label="mofa_treasury")


def test_transfer_withdrawn_or_refused_with_a_reason(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    office = world.budget_office.functions
    transfer_id, request, requester, at = request_transfer(world, key, spare, 5)
    receipt = attempt(world, "treasury", office.withdrawTransfer(transfer_id, request, requester, at))
    assert event(world.budget_office, receipt, "TransferWithdrawn")["transferId"] == transfer_id
    transfer_id, request, requester, at = request_transfer(world, key, spare, 5)
    with reverts("BudgetOfficeMissingHash"):
        attempt(world, "finance", office.refuseTransfer(transfer_id, request, requester, at, ZERO32))
    reason = keccak(text="not justified")
    receipt = attempt(world, "finance", office.refuseTransfer(transfer_id, request, requester, at, reason))
    assert event(world.budget_office, receipt, "TransferRefused")["reasonHash"] == reason
    assert not office.transferPending(transfer_id).call()
    assert line_of(world, key)["allotted"] == LINE


def test_request_of_a_revoked_finance_officer_cannot_be_approved(world: World) -> None:
    transfer_id, request, requester, at = request_transfer(world, mod_line(world), sibling(mod_line(world)), 5)
    send(world, "admin", world.registry.functions.revokeRole(Role.TREASURY.id, addr(world, "treasury")))
    with reverts("BudgetRequesterNotCurrent", transfer_id, addr(world, "treasury")):
        attempt(world, "finance", world.budget_office.functions.approveTransfer(transfer_id, request, requester, at))


# ----------------------------------------------------------------------------------------------- year end


def to_next_year(world: World) -> None:
    world.tester.time_travel(fiscal_year_start(world.fiscal_year + 1) + 1)


def test_year_closes_once_and_only_after_it_ends(world: World) -> None:
    fy = world.fiscal_year
    ends = fiscal_year_start(fy + 1)
    with reverts("BudgetYearNotOver", fy, ends):
        attempt(world, "finance", world.budget.functions.closeFiscalYear(fy))
    to_next_year(world)
    with reverts("BudgetUnauthorized", addr(world, "treasury"), Role.FINANCE_AUTHORITY.id, MOD):
        attempt(world, "treasury", world.budget.functions.closeFiscalYear(fy))
    receipt = attempt(world, "finance", world.budget.functions.closeFiscalYear(fy))
    assert event(world.budget, receipt, "FiscalYearClosed")["fiscalYear"] == fy
    with reverts("BudgetYearClosed", fy):
        attempt(world, "finance", world.budget.functions.closeFiscalYear(fy))
    with reverts("BudgetYearClosed", fy):
        distribute(world, sibling(mod_line(world)), 5)


def test_year_end_lapses_only_the_unobligated_balance(world: World) -> None:
    """Unobligated yen lapse except an approved carry-over; unpaid obligations move to the next year's line with
    an explicit record, and a payment after year end is a disbursement of that line."""
    key = mod_line(world)
    escrow, p = make_escrow(world)
    total = sum(p[4])
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "supplier", escrow.functions.submitEvidence(1, b"\x11" * 32, "ipfs://x"))  # inspected after year end
    to_next_year(world)
    with reverts("BudgetExceedsAvailable", key.as_tuple(), LINE - total, LINE - total + 1):
        attempt(
            world,
            "finance",
            world.budget.functions.approveCarryOver(key.as_tuple(), AUTHORIZED, LINE - total + 1, keccak(text="r")),
        )
    receipt = attempt(
        world,
        "finance",
        world.budget.functions.approveCarryOver(key.as_tuple(), ACCIDENT, 1_000_000, keccak(text="flood")),
    )
    assert event(world.budget, receipt, "CarryOverApproved")["carryOver"] == 1_000_000
    attempt(world, "finance", world.budget.functions.closeFiscalYear(world.fiscal_year))
    with reverts("BudgetYearClosed", world.fiscal_year):
        attempt(
            world, "finance", world.budget.functions.approveCarryOver(key.as_tuple(), ACCIDENT, 1, keccak(text="late"))
        )
    receipt = attempt(world, "outsider", world.budget.functions.settleLine(key.as_tuple()))
    unpaid = total - p[4][0]
    assert event(world.budget, receipt, "LineSettled") == {
        "series": 1,
        "fiscalYear": world.fiscal_year,
        "settler": addr(world, "outsider"),
        "line": key_fields(key),
        "lapsed": LINE - total - 1_000_000,
        "carriedOver": 1_000_000,
        "carriedObligations": unpaid,
        "nextAllotted": unpaid + 1_000_000,
        "nextObligated": unpaid,
    }
    with reverts("BudgetLineSettled", key.as_tuple()):
        attempt(world, "outsider", world.budget.functions.settleLine(key.as_tuple()))
    old = line_of(world, key)
    assert (old["settled"], old["obligated"], old["disbursed"]) == (True, total, p[4][0])
    nxt = key.in_year(world.fiscal_year + 1)
    assert line_of(world, nxt)["available"] == 1_000_000
    # Milestone 1 is paid in the new year: a disbursement of the new year's line.
    send(world, "eval1", escrow.functions.attest(1, 1, True, b"\x22" * 32))
    receipt = send(world, "eval2", escrow.functions.attest(1, 1, True, b"\x22" * 32))
    assert event(world.budget, receipt, "Disbursed")["fiscalYear"] == world.fiscal_year + 1
    assert world.budget.functions.obligation(escrow.address).call()[1] == world.fiscal_year + 1


@pytest.mark.parametrize("carried", [True, False], ids=["carried-over", "next-years-budget"])
def test_a_raise_not_obligated_by_year_end_is_obligated_in_the_next_year(world: World, carried: bool) -> None:
    """An amendment raised a milestone, and the fiscal year ended before an officer obligated the raise. Each
    year's budget stands alone (Public Finance Act, Art. 12): the raise is a new obligation of the year it is made
    in, on that year's line, once the ended year is closed and its line settled (the procurement's unpaid
    obligation moves on, on record). Its yen come from the balance the finance authority carried over (明許繰越,
    Art. 14-3, which the item authorizes) or from the new year's budget. Until then the payment of the raised
    milestone waits on the escrow's books: nothing is lost or stranded."""
    fy, key = world.fiscal_year, mod_line(world)
    nxt, more = key.in_year(fy + 1), 5_000
    escrow, p = make_escrow(world)
    total, raised = sum(p[4]), p[4][0] + more
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "officer", escrow.functions.proposeAmendment(0, 0, raised, 0, keccak(text="more")))
    send(world, "officer2", escrow.functions.approveAmendment(0, 0, 0, raised, 0, keccak(text="more")))
    to_next_year(world)
    increase = world.budget.functions.increaseObligation(escrow.address, more)
    with reverts("BudgetPreviousYearOpen", 1, fy):
        attempt(world, "officer", increase)
    if carried:
        carry = world.budget.functions.approveCarryOver(key.as_tuple(), AUTHORIZED, more, keccak(text="slipped"))
        attempt(world, "finance", carry)
    attempt(world, "finance", world.budget.functions.closeFiscalYear(fy))
    attempt(world, "outsider", world.budget.functions.settleLine(key.as_tuple()))
    if not carried:
        with reverts("BudgetExceedsAvailable", nxt.as_tuple(), 0, more):
            attempt(world, "officer", increase)
        enact(world, nxt, more)
        distribute(world, nxt, more)
    obligated = event(world.budget, send(world, "officer", increase), "Obligated")
    assert (obligated["fiscalYear"], obligated["amount"], obligated["escrowObligated"]) == (fy + 1, more, total + more)
    assert line_of(world, nxt)["obligated"] == total + more  # the year's unpaid obligation and the raise
    assert line_of(world, nxt)["available"] == 0
    send(world, "officer", escrow.functions.fund(more))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    receipt = send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    assert event(escrow, receipt, "PaymentReleased")["amount"] == raised
    disbursed = event(world.budget, receipt, "Disbursed")
    assert (disbursed["fiscalYear"], disbursed["amount"]) == (fy + 1, raised)


def test_authorized_carry_over_needs_the_budgets_authorization(world: World) -> None:
    key = world.lines["MOFA"]
    plain = LineKey.of(world.fiscal_year, "MOFA", "MOFA-HQ", "PLAIN", "X")
    enact(world, plain, 1_000)
    distribute(world, plain, 1_000, label="mofa_treasury")
    to_next_year(world)
    with reverts("BudgetCarryOverNotAuthorized", plain.as_tuple(), AUTHORIZED):
        attempt(
            world, "finance", world.budget.functions.approveCarryOver(plain.as_tuple(), AUTHORIZED, 5, keccak(text="r"))
        )
    attempt(world, "finance", world.budget.functions.approveCarryOver(key.as_tuple(), AUTHORIZED, 5, keccak(text="r")))


# ----------------------------------------------------------------------------------------------- multi-year


def enact_authority(
    world: World, authority_id: bytes, line: LineKey, ceiling: int, schedule: list[int], label: str = "finance"
) -> Any:
    terms = (line.as_tuple(), ceiling, schedule)
    return attempt(world, label, world.budget_office.functions.enactAuthority(authority_id, terms, INSTRUMENT))


def test_multi_year_authority_limits(world: World) -> None:
    mofa = world.lines["MOFA"]
    with reverts("BudgetInvalidAuthority", keccak(text="six")):
        enact_authority(world, keccak(text="six"), mofa, 60, [10] * 6)
    enact_authority(world, keccak(text="five"), mofa, 50, [10] * 5)
    enact_authority(world, keccak(text="defense-ten"), mod_line(world), 100, [10] * 10)
    with reverts("BudgetInvalidAuthority", keccak(text="eleven")):
        enact_authority(world, keccak(text="eleven"), mod_line(world), 110, [10] * 11)
    with reverts("BudgetOfficeUnauthorized", addr(world, "treasury"), Role.FINANCE_AUTHORITY.id, MOD):
        enact_authority(world, keccak(text="own"), mod_line(world), 100, [10], label="treasury")


def test_later_years_obligate_their_line_once_enacted(world: World) -> None:
    key = mod_line(world)
    authority = keccak(text="night-vision FY+0..+2")
    enact_authority(world, authority, key, 300_000_000, [100_000_000, 200_000_000, 0])
    due = [30, 400]  # the second milestone falls in the next fiscal year
    p = procurement(world, [60_000_000, 150_000_000], due_in_days=due)
    with reverts("BudgetOutsideAuthority", ZERO32, world.fiscal_year + 1):
        create(world, p, 0)
    receipt = create(world, p, 60_000_000, authority=authority)
    escrow = event(world.factory, receipt, "ProcurementCreated")["escrow"]
    scheduled = event(world.budget_office, receipt, "ObligationScheduled")
    assert (scheduled["fiscalYear"], scheduled["amount"]) == (world.fiscal_year + 1, 150_000_000)
    assert world.budget.functions.obligation(escrow).call() == (
        1,
        world.fiscal_year,
        60_000_000,
        60_000_000,
        150_000_000,
    )
    with reverts("BudgetExceedsSchedule", authority, world.fiscal_year + 1, 50_000_000, 150_000_000):
        create(world, procurement(world, [1, 150_000_000], due_in_days=due), 0, authority=authority)
    # The next year: nothing can be obligated before the year carrying the escrow is settled and its line enacted.
    to_next_year(world)
    with reverts("BudgetPreviousYearOpen", 1, world.fiscal_year):
        attempt(world, "outsider", world.budget.functions.obligateScheduled(escrow))
    attempt(world, "finance", world.budget.functions.closeFiscalYear(world.fiscal_year))
    attempt(world, "outsider", world.budget.functions.settleLine(key.as_tuple()))
    nxt = key.in_year(world.fiscal_year + 1)
    with reverts("BudgetExceedsAvailable", nxt.as_tuple(), 0, 150_000_000):
        attempt(world, "outsider", world.budget.functions.obligateScheduled(escrow))
    enact(world, nxt, 1_000_000_000)
    distribute(world, nxt, 500_000_000)
    receipt = attempt(world, "outsider", world.budget.functions.obligateScheduled(escrow))
    assert event(world.budget, receipt, "Obligated")["escrowObligated"] == 210_000_000
    assert line_of(world, nxt)["obligated"] == 60_000_000 + 150_000_000
    with reverts("BudgetNothingScheduled", escrow, world.fiscal_year + 1):
        attempt(world, "outsider", world.budget.functions.obligateScheduled(escrow))
    send(world, "officer", world.escrow(escrow).functions.fund(150_000_000))


# ----------------------------------------------------------------------------------------------- signed acts


def relay(world: World, label: str, primary_type: str, words: dict[str, Any]) -> Receipt:
    """A budget act as a relayer sends it, made from its declaration (chain/actions.py): the message from the
    act's words, signed by ``label``, relayed by an outsider. The same act signed by another key is refused first."""
    declared = ACTIONS[primary_type]
    signer = world.accounts[label]
    nonce = world.registry.functions.nonces(signer.address).call()
    action = Action(primary_type, declared.message(words), nonce, world.now() + 3600)
    office = world.budget_office
    function = getattr(office.functions, declared.function)
    chain_id = world.w3.eth.chain_id
    forged = sign_action(world.accounts["outsider"], action, chain_id=chain_id, escrow=office.address)
    with reverts("BudgetInvalidSignature", signer.address):
        attempt(world, "outsider", function(*action.call_args(signer.address, forged)))
    signature = sign_action(signer, action, chain_id=chain_id, escrow=office.address)
    receipt = send(world, "outsider", function(*action.call_args(signer.address, signature)))
    assert receipt.gas_used <= declared.gas  # the relayer's limit holds (the acts below include each worst case)
    used = event(office, receipt, "SignatureUsed")
    assert (used["signer"], used["relayer"], used["nonce"]) == (signer.address, addr(world, "outsider"), nonce)
    return receipt


def test_every_budget_act_is_relayed_from_its_declaration(world: World) -> None:
    """Each signed budget act declared for the budget office, its words turned into typed data by its declaration
    (codes as text, choices by name, structs as mappings) and relayed: the office accepts exactly its signer's
    signature, and the act takes effect as that signer's."""
    fy = world.fiscal_year
    acts: set[str] = set()

    def act(label: str, primary_type: str, words: dict[str, Any]) -> Receipt:
        acts.add(primary_type)
        return relay(world, label, primary_type, words)

    item = {"fiscalYear": fy, "ministry": "MOD", "organization": "MOD-HQ", "item": "DEF-FACILITY"}
    works, repairs = {**item, "subItem": "FACILITY-WORKS"}, {**item, "subItem": "FACILITY-REPAIR"}
    finance, treasury = addr(world, "finance"), addr(world, "treasury")
    instrument = "0x" + INSTRUMENT.hex()
    words = {"key": item, "act": "initial", "amount": 9_000, "authorizations": 3, "instrumentHash": instrument}
    enacted = event(world.budget, act("finance", "EnactAppropriation", words), "AppropriationEnacted")
    assert (enacted["authority"], enacted["appropriation"]) == (finance, 9_000)
    receipt = act("treasury", "Distribute", {"line": works, "change": 6_000})
    assert event(world.budget, receipt, "Distributed")["allotted"] == 6_000
    grant = {"line": works, "grantee": "MOFA", "kind": "obligate", "cap": 1_000, "expiresAt": world.now() + DAY}
    assert event(world.budget_office, act("treasury", "GrantAccess", grant), "AccessGranted")["cap"] == 1_000
    act("treasury", "RevokeAccess", {"line": works, "grantee": "MOFA"})
    assert (
        world.budget_office.functions.grant(
            LineKey.of(fy, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-WORKS").as_tuple(), MOFA
        ).call()[0]
        == 0
    )
    request = {"from": works, "to": repairs, "amount": 2_000, "rationaleHash": "0x" + "ab" * 32}
    for decision, label, extra in (
        ("ApproveTransfer", "finance", {}),
        ("RefuseTransfer", "finance", {"reasonHash": "0x" + "cd" * 32}),
        ("WithdrawTransfer", "treasury", {}),
    ):
        requested = event(
            world.budget_office, act("treasury", "RequestTransfer", {"request": request}), "TransferRequested"
        )
        assert requested["requester"] == treasury
        pending = {"transferId": requested["transferId"], "request": request, "requester": treasury}
        receipt = act(label, decision, {**pending, "requestedAt": requested["requestedAt"], **extra})
        assert not world.budget_office.functions.transferPending(requested["transferId"]).call()
    assert event(world.budget_office, receipt, "TransferWithdrawn")["transferId"] == requested["transferId"]
    assert line_of(world, LineKey.of(fy, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-REPAIR"))["allotted"] == 2_000
    line = {
        "fiscalYear": fy,
        "ministry": "MOD",
        "organization": "MOD-HQ",
        "item": "DEF-EQUIP",
        "subItem": "EQUIP-PURCHASE",
    }
    terms = {"line": line, "ceiling": 300, "schedule": [30] * 10}  # the longest: the defense ministry's 10 years
    words = {"authorityId": "0x" + keccak(text="signed authority").hex(), "terms": terms, "instrumentHash": instrument}
    enacted = event(world.budget_office, act("finance", "EnactAuthority", words), "AuthorityEnacted")
    assert (enacted["authority"], enacted["terms"]["ceiling"], enacted["terms"]["schedule"]) == (
        finance,
        300,
        [30] * 10,
    )
    escrow, p = make_escrow(world)
    send(world, "officer", escrow.functions.proposeAmendment(0, 0, p[4][0] + 5_000, 0, keccak(text="more")))
    send(world, "officer2", escrow.functions.approveAmendment(0, 0, 0, p[4][0] + 5_000, 0, keccak(text="more")))
    receipt = act("officer", "IncreaseObligation", {"escrow": escrow.address, "amount": 5_000})
    obligated = event(world.budget, receipt, "Obligated")
    assert (obligated["officer"], obligated["escrowObligated"]) == (addr(world, "officer"), sum(p[4]) + 5_000)
    to_next_year(world)
    carry = {"line": works, "kind": "accident", "amount": 1_000, "reasonHash": "0x" + "ef" * 32}
    assert event(world.budget, act("finance", "ApproveCarryOver", carry), "CarryOverApproved")["carryOver"] == 1_000
    assert (
        event(world.budget, act("finance", "CloseFiscalYear", {"fiscalYear": fy}), "FiscalYearClosed")["fiscalYear"]
        == fy
    )
    assert acts == {name for name, declared in ACTIONS.items() if declared.contract == BUDGET_OFFICE}


def test_signed_enactment_and_replay(world: World) -> None:
    key = LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-WORKS")
    item = item_fields(key)
    fields = {"key": item, "act": 0, "amount": 7_000, "authorizations": 0, "instrumentHash": INSTRUMENT}
    signer, deadline, signature = budget_sig(world, "finance", "EnactAppropriation", fields)
    office = world.budget_office.functions
    call = office.enactAppropriationBySig(key.item_key.as_tuple(), 0, 7_000, 0, INSTRUMENT, signer, deadline, signature)
    receipt = attempt(world, "outsider", call)
    assert event(world.budget, receipt, "AppropriationEnacted")["authority"] == signer
    assert event(world.budget_office, receipt, "SignatureUsed")["relayer"] == addr(world, "outsider")
    with reverts("BudgetInvalidSignature", signer):  # the nonce moved on: no replay
        attempt(world, "outsider", call)


def test_signature_reused_for_another_line_or_year_is_refused(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    fields = {"line": key_fields(spare), "change": 1_000}
    signer, deadline, signature = budget_sig(world, "treasury", "Distribute", fields)
    office = world.budget_office.functions
    for other in (sibling(key, "OTHER"), spare.in_year(world.fiscal_year + 1)):
        with reverts("BudgetInvalidSignature", signer):
            attempt(world, "outsider", office.distributeBySig(other.as_tuple(), 1_000, signer, deadline, signature))
    attempt(world, "outsider", office.distributeBySig(spare.as_tuple(), 1_000, signer, deadline, signature))
    assert line_of(world, spare)["allotted"] == 1_000


def test_signed_act_of_a_signer_without_the_role_is_refused(world: World) -> None:
    """A signature is only as good as its signer's role: the finance officer's key signing an enactment, or a
    revoked finance authority's, is refused by the ledger's own role check."""
    key = LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "DEF-FACILITY", "FACILITY-WORKS")
    item = item_fields(key)
    fields = {"key": item, "act": 0, "amount": 7_000, "authorizations": 0, "instrumentHash": INSTRUMENT}
    office = world.budget_office.functions
    signer, deadline, signature = budget_sig(world, "treasury", "EnactAppropriation", fields)
    with reverts("BudgetUnauthorized", signer, Role.FINANCE_AUTHORITY.id, MOD):
        attempt(
            world,
            "outsider",
            office.enactAppropriationBySig(
                key.item_key.as_tuple(), 0, 7_000, 0, INSTRUMENT, signer, deadline, signature
            ),
        )
    send(world, "admin", world.registry.functions.revokeRole(Role.FINANCE_AUTHORITY.id, addr(world, "finance")))
    signer, deadline, signature = budget_sig(world, "finance", "EnactAppropriation", fields)
    with reverts("BudgetUnauthorized", signer, Role.FINANCE_AUTHORITY.id, MOF_BB):
        attempt(
            world,
            "outsider",
            office.enactAppropriationBySig(
                key.item_key.as_tuple(), 0, 7_000, 0, INSTRUMENT, signer, deadline, signature
            ),
        )


def test_signed_transfer_request_and_approval(world: World) -> None:
    key, spare = mod_line(world), sibling(mod_line(world))
    rationale = keccak(text="rationale")
    request_fields = {"from": key_fields(key), "to": key_fields(spare), "amount": 5_000, "rationaleHash": rationale}
    request = (key.as_tuple(), spare.as_tuple(), 5_000, rationale)
    signer, deadline, signature = budget_sig(world, "treasury", "RequestTransfer", {"request": request_fields})
    receipt = attempt(
        world, "outsider", world.budget_office.functions.requestTransferBySig(request, signer, deadline, signature)
    )
    requested = event(world.budget_office, receipt, "TransferRequested")
    assert requested["requester"] == signer
    fields = {
        "transferId": requested["transferId"],
        "request": request_fields,
        "requester": signer,
        "requestedAt": requested["requestedAt"],
    }
    approver, deadline, signature = budget_sig(world, "finance", "ApproveTransfer", fields)
    call = world.budget_office.functions.approveTransferBySig(
        requested["transferId"], request, signer, requested["requestedAt"], approver, deadline, signature
    )
    receipt = attempt(world, "outsider", call)
    assert event(world.budget_office, receipt, "TransferApproved")["approver"] == approver
    assert line_of(world, spare)["allotted"] == 5_000

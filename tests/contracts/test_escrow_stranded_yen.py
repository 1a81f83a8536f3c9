"""MilestoneEscrow: no yen is ever stranded. The ministry's share of a refund goes back to the budget line at
once, whatever the ministry's vault or state; a pause ends; the owed yen of an off-boarded supplier are
redirected by a review body's ruling after the procurement's grace period (to the supplier organization's
successor account or back to the budget line)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3.contract import Contract

from chain.budget import fiscal_year_start
from chain.clients import MilestoneStatus as Status
from chain.roles import org_id
from tests.contracts.test_escrow import (
    M0,
    M1,
    REASON,
    RULING,
    TOTAL,
    approve_milestone,
    balance,
    due,
    ms,
    next_tx_at,
    pause,
    submit,
    totals,
)
from tests.contracts.test_registry import (
    MOD,
    NVE,
    REVIEW_BODY,
    SUPPLIER,
    ZERO,
    addr,
    assert_only,
    attempt,
    books_checked,
    denied_with,
    make_escrow,
    relayed,
    reverts,
    send,
)
from tests.helpers import event, events
from tests.world import DAY, World

MOJ = org_id("MOJ")
GRACE = 90 * DAY  # the default grace period
OTHER_RULING = b"\x56" * 32


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


@pytest.fixture
def escrow(world: World) -> Contract:
    return make_escrow(world)[0]


# ----------------------------------------------------------------------------------------------- ministry's share


def test_refund_needs_no_vault(world: World, escrow: Contract) -> None:
    """A reclaim goes back to the budget line (burned and de-obligated by the ledger): the ministry's vault plays
    no part, so nothing about it can strand or block a refund."""
    vault_before = balance(world, "vault")
    next_tx_at(world, due(escrow, 0) + 1)
    supply = world.token.functions.totalSupply().call()
    receipt = send(world, "officer", escrow.functions.reclaim(0))
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 0, "vault": world.budget.address, "amount": M0}
    assert world.token.functions.totalSupply().call() == supply - M0
    assert totals(escrow) == (TOTAL, 0, M0, 0)
    assert balance(world, "vault") == vault_before


def test_refunds_across_the_year_end_go_back_to_the_line_carrying_the_obligation(
    world: World, escrow: Contract
) -> None:
    """A fiscal year's end strands nothing: a refund after it goes back to the ended year's line while that year
    is open or closed, and to the next year's line once the ended line is settled (its unpaid obligation moved
    there). Each is burned and de-obligated from the line that carries the obligation at that moment."""
    fy, key = world.fiscal_year, world.lines["MOD"]
    world.tester.time_travel(fiscal_year_start(fy + 1) + DAY)  # every milestone is past its due date
    budget = world.budget.functions
    amounts = [ms(escrow, m).amount for m in range(3)]

    def reclaim(m: int) -> dict[str, object]:
        supply = world.token.functions.totalSupply().call()
        receipt = send(world, "officer", escrow.functions.reclaim(m))
        assert world.token.functions.totalSupply().call() == supply - amounts[m]
        return event(world.budget, receipt, "Deobligated")

    deobligated = reclaim(0)  # the year ended, still open
    assert (deobligated["fiscalYear"], deobligated["returned"]) == (fy, amounts[0])
    send(world, "finance", budget.closeFiscalYear(fy))
    deobligated = reclaim(1)  # closed, its line not yet settled
    assert (deobligated["fiscalYear"], deobligated["returned"]) == (fy, amounts[1])
    send(world, "outsider", budget.settleLine(key.as_tuple()))
    deobligated = reclaim(2)  # settled: the unpaid obligation moved on to the next year's line
    assert (deobligated["fiscalYear"], deobligated["returned"]) == (fy + 1, amounts[2])
    assert world.token.functions.balanceOf(escrow.address).call() == 0
    assert world.budget.functions.line(key.in_year(fy + 1).as_tuple()).call()[4] == 0  # nothing left obligated


def test_inactive_ministry_never_blocks_the_suppliers_share(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    supplier_before = balance(world, "supplier")
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, 12_000_000, RULING))
    assert event(escrow, receipt, "PaymentReleased")["amount"] == 12_000_000
    assert event(escrow, receipt, "Refunded") == {
        "milestoneId": 0,
        "vault": world.budget.address,
        "amount": M0 - 12_000_000,
    }
    assert balance(world, "supplier") == supplier_before + 12_000_000
    assert totals(escrow) == (TOTAL, 12_000_000, M0 - 12_000_000, 0)


# ----------------------------------------------------------------------------------------------- pause


def test_a_pause_ends_by_itself(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    until = pause(world, escrow, 5)
    approve_milestone(world, escrow, 0)
    assert ms(escrow, 0).owed == M0
    next_tx_at(world, until - 1)
    with reverts("EscrowPaused", until):
        attempt(world, "outsider", escrow.functions.claimPayment(0))
    next_tx_at(world, until)
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0
    # Approvals after the end pay at once.
    submit(world, escrow, 1)
    assert event(escrow, approve_milestone(world, escrow, 1), "PaymentReleased")["amount"] == M1


# ----------------------------------------------------------------------------------------------- redirects


def owe_suspended_supplier(world: World, escrow: Contract, milestone_id: int = 0) -> None:
    """The supplier delivers, its organization is suspended, the milestone is approved: the payment is owed."""
    submit(world, escrow, milestone_id)
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    approve_milestone(world, escrow, milestone_id)
    assert ms(escrow, milestone_id).owed > 0


def offboard_supplier_account(world: World) -> None:
    """The supplier's account is released; its organization carries on (with supplier_colleague)."""
    supplier = addr(world, "supplier")
    registry = world.registry.functions
    send(world, "admin", registry.revokeRole(SUPPLIER, supplier))
    send(world, "admin", registry.unbindAccount(supplier))
    send(world, "admin", registry.updateOrganization(NVE, True, ZERO))


def test_redirect_to_the_successor_after_the_grace_period(world: World, escrow: Contract) -> None:
    owe_suspended_supplier(world, escrow)
    offboard_supplier_account(world)
    successor = addr(world, "supplier_colleague")
    receipt = send(world, "reviewer", escrow.functions.redirectOwed(0, successor, RULING))
    ruled_at = world.now()
    assert event(escrow, receipt, "OwedRedirectRuled") == {
        "milestoneId": 0,
        "reviewer": addr(world, "reviewer"),
        "to": successor,
        "amount": M0,
        "executableAt": ruled_at + GRACE,
        "rulingHash": RULING,
    }
    assert tuple(escrow.functions.redirect(0).call()) == (successor, ruled_at + GRACE, RULING)
    # Within the grace period, a claim still tries the supplier, which the token refuses.
    next_tx_at(world, ruled_at + GRACE - 1)
    with reverts("YenTokenUnauthorizedHolder", addr(world, "supplier")):
        attempt(world, "outsider", escrow.functions.claimPayment(0))
    next_tx_at(world, ruled_at + GRACE)
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "OwedRedirected") == {
        "milestoneId": 0,
        "to": successor,
        "amount": M0,
        "rulingHash": RULING,
    }
    assert events(escrow, receipt, "PaymentReleased") == []
    assert balance(world, "supplier_colleague") == M0
    assert ms(escrow, 0).status == Status.PAID
    assert ms(escrow, 0).owed == 0
    assert totals(escrow) == (TOTAL, M0, 0, 0)
    assert tuple(escrow.functions.redirect(0).call()) == (ZERO, 0, b"\x00" * 32)


def test_redirect_back_to_the_ministry(world: World, escrow: Contract) -> None:
    """The supplier's organization is gone for good: its owed yen go back to the ministry (even while paused)."""
    owe_suspended_supplier(world, escrow)
    receipt = send(world, "reviewer", escrow.functions.redirectOwed(0, ZERO, RULING))
    assert event(escrow, receipt, "OwedRedirectRuled")["to"] == ZERO
    pause(world, escrow, 90)
    next_tx_at(world, world.now() + GRACE)
    supply = world.token.functions.totalSupply().call()
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "OwedRedirected") == {
        "milestoneId": 0,
        "to": ZERO,
        "amount": M0,
        "rulingHash": RULING,
    }
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 0, "vault": world.budget.address, "amount": M0}
    assert world.token.functions.totalSupply().call() == supply - M0
    assert ms(escrow, 0).status == Status.REFUNDED
    assert totals(escrow) == (TOTAL, 0, M0, 0)


def test_supplier_reinstated_during_the_grace_period_is_paid(world: World, escrow: Contract) -> None:
    owe_suspended_supplier(world, escrow)
    send(world, "reviewer", escrow.functions.redirectOwed(0, ZERO, RULING))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, True, ZERO))
    next_tx_at(world, world.now() + GRACE + DAY)  # even after the grace period: the supplier can hold yen again
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "PaymentReleased") == {
        "milestoneId": 0,
        "supplier": addr(world, "supplier"),
        "amount": M0,
    }
    assert events(escrow, receipt, "OwedRedirected") == []
    assert tuple(escrow.functions.redirect(0).call()) == (ZERO, 0, b"\x00" * 32)


def test_a_new_ruling_replaces_the_old_and_restarts_the_grace_period(world: World, escrow: Contract) -> None:
    owe_suspended_supplier(world, escrow)
    offboard_supplier_account(world)
    send(world, "reviewer", escrow.functions.redirectOwed(0, ZERO, RULING))
    next_tx_at(world, world.now() + GRACE - DAY)
    receipt = send(world, "reviewer", escrow.functions.redirectOwed(0, addr(world, "supplier_colleague"), OTHER_RULING))
    replaced_at = world.now()
    assert event(escrow, receipt, "OwedRedirectRuled")["executableAt"] == replaced_at + GRACE
    next_tx_at(world, replaced_at + GRACE)
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "OwedRedirected")["rulingHash"] == OTHER_RULING


def test_redirect_refusals(world: World, escrow: Contract) -> None:
    redirect = escrow.functions.redirectOwed
    colleague, other = addr(world, "supplier_colleague"), addr(world, "other_supplier")
    with reverts("EscrowNothingOwed", 0):
        attempt(world, "reviewer", redirect(0, ZERO, RULING))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "reviewer", redirect(3, ZERO, RULING))
    # Owed only because releases are paused: the supplier can still hold yen, nothing to redirect.
    submit(world, escrow, 1)
    pause(world, escrow)
    approve_milestone(world, escrow, 1)
    with reverts("EscrowSupplierNotOffboarded", 1, addr(world, "supplier")):
        attempt(world, "reviewer", redirect(1, ZERO, RULING))
    send(world, "mod_admin", escrow.functions.resume())
    owe_suspended_supplier(world, escrow)
    # While the supplier's organization is suspended, none of its accounts can be a successor.
    with reverts("EscrowInvalidRedirect", 0, colleague):
        attempt(world, "reviewer", redirect(0, colleague, RULING))
    offboard_supplier_account(world)
    for target in (other, addr(world, "supplier"), addr(world, "officer"), addr(world, "vault")):
        with reverts("EscrowInvalidRedirect", 0, target):
            attempt(world, "reviewer", redirect(0, target, RULING))
    # A successor that loses its role before the redirect runs stops it; a new ruling is needed.
    send(world, "reviewer", redirect(0, colleague, RULING))
    send(world, "admin", world.registry.functions.revokeRole(SUPPLIER, colleague))
    next_tx_at(world, world.now() + GRACE)
    with reverts("EscrowInvalidRedirect", 0, colleague):
        attempt(world, "outsider", escrow.functions.claimPayment(0))


def test_redirect_to_a_successor_waits_for_a_pause(world: World, escrow: Contract) -> None:
    owe_suspended_supplier(world, escrow)
    offboard_supplier_account(world)
    send(world, "reviewer", escrow.functions.redirectOwed(0, addr(world, "supplier_colleague"), RULING))
    next_tx_at(world, world.now() + GRACE)
    until = pause(world, escrow)
    with reverts("EscrowPaused", until):
        attempt(world, "outsider", escrow.functions.claimPayment(0))
    next_tx_at(world, until)
    assert event(escrow, send(world, "outsider", escrow.functions.claimPayment(0)), "OwedRedirected")["amount"] == M0


def test_redirect_of_a_settlements_owed_share(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    send(world, "reviewer", escrow.functions.settleDispute(0, 10_000_000, RULING))
    assert (ms(escrow, 0).status, ms(escrow, 0).owed) == (Status.SETTLED, 10_000_000)
    send(world, "reviewer", escrow.functions.redirectOwed(0, ZERO, RULING))
    next_tx_at(world, world.now() + GRACE)
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "Refunded")["amount"] == 10_000_000
    assert ms(escrow, 0).status == Status.SETTLED
    assert totals(escrow) == (TOTAL, 0, M0, 0)


def test_grace_period_is_the_procurements(world: World) -> None:
    escrow, _ = make_escrow(world, grace_period=30 * DAY)
    owe_suspended_supplier(world, escrow)
    receipt = send(world, "reviewer", escrow.functions.redirectOwed(0, ZERO, RULING))
    assert event(escrow, receipt, "OwedRedirectRuled")["executableAt"] == world.now() + 30 * DAY


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_only_review_bodies_redirect(world: World, escrow: Contract, by_sig: bool) -> None:
    owe_suspended_supplier(world, escrow)
    fields = {"milestoneId": 0, "to": ZERO, "rulingHash": RULING}

    def act(label: str) -> object:
        if by_sig:
            return relayed(world, escrow, label, "RedirectOwed", fields)
        return attempt(world, label, escrow.functions.redirectOwed(0, ZERO, RULING))

    assert_only(world, {"reviewer"}, act, denied_with(world, "EscrowUnauthorized", REVIEW_BODY))
    send(world, "admin", world.registry.functions.updateOrganization(org_id("REVIEW"), False, ZERO))
    with reverts("EscrowUnauthorized", addr(world, "reviewer"), REVIEW_BODY):
        act("reviewer")

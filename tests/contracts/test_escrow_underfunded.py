"""An unfunded escrow defers every approved payment without blocking the next milestone."""

from __future__ import annotations

from tests.helpers import event, new_escrow
from tests.world import World

DOC = b"\x11" * 32
REPORT = b"\x22" * 32


def _approve(world: World, escrow_address: str, milestone: int) -> None:
    escrow = world.escrow(escrow_address)
    world.sender("supplier").transact(escrow.functions.submitEvidence(milestone, DOC, "ipfs://doc"))
    world.sender("eval1").transact(escrow.functions.attest(milestone, 1, True, REPORT))
    receipt = world.sender("eval2").transact(escrow.functions.attest(milestone, 1, True, REPORT))
    amount = escrow.functions.milestone(milestone).call()[0]
    assert event(escrow, receipt, "PaymentDeferred") == {
        "milestoneId": milestone,
        "supplier": world.supplier.address,
        "amount": amount,
    }


def test_deferred_payments_accumulate_then_are_claimed_after_funding(world: World) -> None:
    escrow, params = new_escrow(world, fund=0)
    _approve(world, escrow.address, 0)
    _approve(world, escrow.address, 1)  # owed already exceeds what is held: must not revert
    owed = params[4][0] + params[4][1]
    assert escrow.functions.totals().call() == [0, 0, 0, owed]
    assert escrow.functions.shortfall().call() == sum(params[4])

    world.sender("officer").transact(world.token.functions.approve(escrow.address, sum(params[4])))
    world.sender("officer").transact(escrow.functions.fund(sum(params[4])))
    supplier = world.supplier.address
    before = world.token.functions.balanceOf(supplier).call()
    for milestone in (0, 1):
        receipt = world.sender("outsider").transact(escrow.functions.claimPayment(milestone))
        assert event(escrow, receipt, "PaymentReleased")["amount"] == params[4][milestone]
        assert escrow.functions.milestone(milestone).call()[2] == 4  # Paid
    assert world.token.functions.balanceOf(supplier).call() == before + owed
    funded, released, refunded, still_owed = escrow.functions.totals().call()
    assert (released, refunded, still_owed) == (owed, 0, 0)
    assert world.token.functions.balanceOf(escrow.address).call() == funded - released - refunded

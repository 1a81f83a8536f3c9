"""The happy path of a milestone, end to end, asserting every event."""

from __future__ import annotations

from tests.helpers import event, new_escrow
from tests.world import World

DOC = b"\x11" * 32
REPORT = b"\x22" * 32


def test_evidence_two_passes_release_payment(world: World) -> None:
    escrow, params = new_escrow(world)
    amount = params[4][0]
    supplier = world.supplier.address
    before = world.token.functions.balanceOf(supplier).call()

    receipt = world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-doc"))
    assert event(escrow, receipt, "EvidenceSubmitted") == {
        "milestoneId": 0,
        "supplier": supplier,
        "round": 1,
        "documentHash": DOC,
        "uri": "ipfs://bafy-doc",
    }

    receipt = world.sender("eval1").transact(escrow.functions.attest(0, 1, True, REPORT))
    assert event(escrow, receipt, "Attested") == {
        "milestoneId": 0,
        "evaluator": world.eval1.address,
        "round": 1,
        "pass": True,
        "reportHash": REPORT,
    }
    assert escrow.functions.milestone(0).call()[2] == 1  # still Submitted

    receipt = world.sender("eval2").transact(escrow.functions.attest(0, 1, True, REPORT))
    assert event(escrow, receipt, "MilestoneApproved") == {"milestoneId": 0, "round": 1, "amount": amount}
    assert event(escrow, receipt, "PaymentReleased") == {
        "milestoneId": 0,
        "supplier": supplier,
        "amount": amount,
    }
    assert world.token.functions.balanceOf(supplier).call() == before + amount
    assert escrow.functions.milestone(0).call()[2] == 4  # Paid
    funded, released, refunded, owed = escrow.functions.totals().call()
    assert (funded, released, refunded, owed) == (sum(params[4]), amount, 0, 0)
    assert world.token.functions.balanceOf(escrow.address).call() == funded - released - refunded

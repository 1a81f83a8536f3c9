"""MilestoneEscrow: funding, evidence, attestation and quorum, payments and pause, reclaim, amendments,
disputes, signed variants; every test ends with the books invariant checked on every escrow it created.

The detailed matrix of bad signatures (replay, expiry, foreign chain, tampering ...) lives in
test_signatures.py; here each ``...BySig`` function is exercised for its success path and its role check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3.contract import Contract

from chain import Receipt
from chain.clients import AmendmentKind as Kind
from chain.clients import MilestoneStatus as Status
from chain.eip712 import ACTION_TYPES
from tests.contracts.test_registry import (
    ADMIN,
    ATLA,
    CAST,
    EVALUATOR,
    JQA,
    MOD,
    NVE,
    OFFICER,
    REVIEW_BODY,
    SUPPLIER,
    ZERO,
    addr,
    assert_only,
    attempt,
    books_checked,
    denied_with,
    escrows,
    make_escrow,
    relayed,
    reverts,
    send,
)
from tests.helpers import amendment_content, event, events
from tests.world import DAY, World

DOC = b"\x11" * 32
REPORT = b"\x22" * 32
RATIONALE = b"\x33" * 32
REASON = b"\x44" * 32
RULING = b"\x55" * 32
M0, M1, M2 = 30_000_000, 50_000_000, 120_000_000
TOTAL = M0 + M1 + M2
INSPECTION = 10 * DAY
MAX = 2**256 - 1


def allowed(*statuses: Status) -> int:
    """The bit set of statuses that EscrowUnexpectedMilestoneStatus reports."""
    return sum(1 << s for s in statuses)


OPEN = allowed(Status.PENDING, Status.SUBMITTED, Status.REJECTED)
ACCEPTS_EVIDENCE = allowed(Status.PENDING, Status.REJECTED)
DISPUTABLE = allowed(Status.SUBMITTED, Status.REJECTED)
BY_SIG = pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])


@dataclass(frozen=True)
class Milestone:
    amount: int
    due_date: int
    status: Status
    round: int
    passes: int
    fails: int
    owed: int
    dispute_lapses_at: int = 0


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


@pytest.fixture
def escrow(world: World) -> Contract:
    return make_escrow(world)[0]


def ms(escrow: Contract, milestone_id: int) -> Milestone:
    amount, due, status, round_, passes, fails, owed, lapses_at = escrow.functions.milestone(milestone_id).call()
    return Milestone(amount, due, Status(status), round_, passes, fails, owed, lapses_at)


def due(escrow: Contract, milestone_id: int) -> int:
    return ms(escrow, milestone_id).due_date


def totals(escrow: Contract) -> tuple[int, int, int, int]:
    funded, released, refunded, owed = escrow.functions.totals().call()
    return funded, released, refunded, owed


def balance(world: World, who: str) -> int:
    return int(world.token.functions.balanceOf(addr(world, who) if who in world.accounts else who).call())


def next_tx_at(world: World, timestamp: int) -> None:
    """Make the next transaction (and any revert estimate before it) run at exactly ``timestamp``.

    eth-tester mines a block at ``timestamp - 1``; the pending block, where the next transaction runs, is
    then at ``timestamp`` (exact while the chain's clock is ahead of the wall clock: every target here is).
    """
    world.tester.time_travel(timestamp)


def ahead(world: World) -> int:
    """Put the chain's clock a day ahead of the wall clock; returns the time of the next transaction."""
    next_tx_at(world, world.now() + DAY + 1)
    return world.now() + 1


def submit(world: World, escrow: Contract, milestone_id: int, uri: str = "ipfs://evidence") -> Receipt:
    return send(world, "supplier", escrow.functions.submitEvidence(milestone_id, DOC, uri))


def vote(world: World, escrow: Contract, milestone_id: int, label: str, passed: bool, round_: int = 1) -> Receipt:
    return send(world, label, escrow.functions.attest(milestone_id, round_, passed, REPORT))


def approve_milestone(world: World, escrow: Contract, milestone_id: int, round_: int = 1) -> Receipt:
    """eval1 and eval2 pass the current round; returns the deciding receipt."""
    vote(world, escrow, milestone_id, "eval1", True, round_)
    return vote(world, escrow, milestone_id, "eval2", True, round_)


def reject_milestone(world: World, escrow: Contract, milestone_id: int, round_: int = 1) -> Receipt:
    vote(world, escrow, milestone_id, "eval1", False, round_)
    return vote(world, escrow, milestone_id, "eval2", False, round_)


def pause(world: World, escrow: Contract, days: int = 30) -> int:
    """The ministry admin pauses releases for ``days``; returns the end of the pause."""
    until = world.now() + days * DAY
    send(world, "mod_admin", escrow.functions.pauseUntil(until))
    return until


def resume(world: World, escrow: Contract) -> None:
    send(world, "mod_admin", escrow.functions.resume())


def content(escrow: Contract, amendment_id: int) -> dict[str, Any]:
    """An amendment's full content as its approval or consent names it: the stored one, or (for an id that does
    not exist) a cancellation of milestone 0."""
    if amendment_id < escrow.functions.amendmentCount().call():
        return amendment_content(escrow, amendment_id)
    return {
        "amendmentId": amendment_id,
        "milestoneId": 0,
        "kind": Kind.CANCEL,
        "newAmount": 0,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }


def approval(escrow: Contract, amendment_id: int) -> Any:
    """The direct approval of an amendment, naming its stored content."""
    return escrow.functions.approveAmendment(*content(escrow, amendment_id).values())


def perform(
    world: World, escrow: Contract, label: str, primary_type: str, fields: dict[str, Any], *, by_sig: bool
) -> Receipt:
    """The action as ``label``: sent directly, or signed by ``label`` and relayed by the outsider."""
    if by_sig:
        return relayed(world, escrow, label, primary_type, fields)
    names = [f["name"] for f in ACTION_TYPES[primary_type] if f["name"] not in ("nonce", "deadline")]
    fn = getattr(escrow.functions, primary_type[0].lower() + primary_type[1:])(*(fields[n] for n in names))
    return attempt(world, label, fn)


def signature_used(world: World, escrow: Contract, receipt: Receipt, signer: str, nonce: int = 0) -> None:
    assert event(escrow, receipt, "SignatureUsed") == {
        "signer": addr(world, signer),
        "relayer": addr(world, "outsider"),
        "nonce": nonce,
    }


def test_books_check_sees_the_escrows_of_the_test(world: World) -> None:
    start = world.w3.eth.block_number + 1
    first, _ = make_escrow(world)
    second, _ = make_escrow(world, fund=0)
    assert [e.address for e in escrows(world, start)] == [first.address, second.address]


# ----------------------------------------------------------------------------------------------- funding


def test_fund_tops_up_to_the_shortfall(world: World) -> None:
    escrow, _ = make_escrow(world, fund=50_000_000)
    officer, officer2 = addr(world, "officer"), addr(world, "officer2")
    assert escrow.functions.shortfall().call() == TOTAL - 50_000_000

    receipt = send(world, "officer", escrow.functions.fund(100_000_000))
    assert event(escrow, receipt, "Funded") == {"funder": officer, "amount": 100_000_000, "totalFunded": 150_000_000}
    # Minted into the escrow on its obligation: no officer holds yen.
    assert event(world.token, receipt, "Transfer") == {"from": ZERO, "to": escrow.address, "value": 100_000_000}
    assert escrow.functions.shortfall().call() == 50_000_000

    # Any officer of the buying ministry may fund (draw on the procurement's obligation).
    receipt = send(world, "officer2", escrow.functions.fund(50_000_000))
    assert event(escrow, receipt, "Funded") == {"funder": officer2, "amount": 50_000_000, "totalFunded": TOTAL}
    assert escrow.functions.shortfall().call() == 0
    assert totals(escrow) == (TOTAL, 0, 0, 0)
    assert world.budget.functions.obligation(escrow.address).call()[2:4] == (TOTAL, TOTAL)


def test_fund_refuses_zero_and_over_funding(world: World) -> None:
    escrow, _ = make_escrow(world, fund=50_000_000)
    send(world, "officer", world.token.functions.approve(escrow.address, MAX))
    need = TOTAL - 50_000_000
    with reverts("EscrowInvalidFunding", 0, need):
        attempt(world, "officer", escrow.functions.fund(0))
    with reverts("EscrowInvalidFunding", need + 1, need):
        attempt(world, "officer", escrow.functions.fund(need + 1))
    send(world, "officer", escrow.functions.fund(need))
    with reverts("EscrowInvalidFunding", 1, 0):
        attempt(world, "officer", escrow.functions.fund(1))


def test_fund_by_signature_draws_on_the_obligation(world: World) -> None:
    escrow, _ = make_escrow(world, fund=0)
    officer = addr(world, "officer")
    receipt = relayed(world, escrow, "officer", "Fund", {"amount": 1_000})
    signature_used(world, escrow, receipt, "officer")
    assert event(escrow, receipt, "Funded") == {"funder": officer, "amount": 1_000, "totalFunded": 1_000}
    assert event(world.token, receipt, "Transfer") == {"from": ZERO, "to": escrow.address, "value": 1_000}


@BY_SIG
def test_only_ministry_officers_fund(world: World, by_sig: bool) -> None:
    escrow, _ = make_escrow(world, fund=0)
    assert_only(
        world,
        {"officer", "officer2"},
        lambda label: perform(world, escrow, label, "Fund", {"amount": 1_000}, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", OFFICER),
    )


def test_officer_of_deactivated_ministry_cannot_fund(world: World) -> None:
    escrow, _ = make_escrow(world, fund=0)
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    with reverts("EscrowUnauthorized", addr(world, "officer"), OFFICER):
        attempt(world, "officer", escrow.functions.fund(1))


# ----------------------------------------------------------------------------------------------- evidence


def test_submit_evidence(world: World, escrow: Contract) -> None:
    receipt = submit(world, escrow, 1, "ipfs://bafy-delivery-note")
    assert event(escrow, receipt, "EvidenceSubmitted") == {
        "milestoneId": 1,
        "supplier": addr(world, "supplier"),
        "round": 1,
        "documentHash": DOC,
        "uri": "ipfs://bafy-delivery-note",
    }
    assert ms(escrow, 1) == Milestone(M1, due(escrow, 1), Status.SUBMITTED, 1, 0, 0, 0)
    assert ms(escrow, 0).status == Status.PENDING


def test_submit_evidence_by_signature(world: World, escrow: Contract) -> None:
    fields = {"milestoneId": 2, "documentHash": DOC, "uri": "ipfs://signed"}
    receipt = relayed(world, escrow, "supplier", "SubmitEvidence", fields)
    signature_used(world, escrow, receipt, "supplier")
    assert event(escrow, receipt, "EvidenceSubmitted") == {
        "milestoneId": 2,
        "supplier": addr(world, "supplier"),
        "round": 1,
        "documentHash": DOC,
        "uri": "ipfs://signed",
    }


@BY_SIG
def test_only_the_supplier_submits_evidence(world: World, escrow: Contract, by_sig: bool) -> None:
    fields = {"milestoneId": 0, "documentHash": DOC, "uri": "ipfs://x"}
    assert_only(
        world,
        {"supplier"},
        lambda label: perform(world, escrow, label, "SubmitEvidence", fields, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", SUPPLIER),
    )


def test_supplier_must_hold_an_active_role(world: World, escrow: Contract) -> None:
    fn = escrow.functions.submitEvidence(0, DOC, "ipfs://x")
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    with reverts("EscrowUnauthorized", addr(world, "supplier"), SUPPLIER):
        attempt(world, "supplier", fn)
    send(world, "admin", world.registry.functions.updateOrganization(NVE, True, ZERO))
    send(world, "admin", world.registry.functions.revokeRole(SUPPLIER, addr(world, "supplier")))
    with reverts("EscrowUnauthorized", addr(world, "supplier"), SUPPLIER):
        attempt(world, "supplier", fn)


def test_evidence_only_until_the_due_date(world: World, escrow: Contract) -> None:
    due0, due1 = due(escrow, 0), due(escrow, 1)
    next_tx_at(world, due0)  # the last second evidence is accepted
    assert event(escrow, submit(world, escrow, 0), "EvidenceSubmitted")["round"] == 1
    next_tx_at(world, due1 + 1)
    with reverts("EscrowPastDueDate", 1, due1, due1 + 1):
        attempt(world, "supplier", escrow.functions.submitEvidence(1, DOC, "ipfs://late"))


def test_evidence_uri_length_limit(world: World, escrow: Contract) -> None:
    longest = "ipfs://" + "x" * (2048 - 7)
    assert event(escrow, submit(world, escrow, 0, longest), "EvidenceSubmitted")["uri"] == longest
    with reverts("EscrowUriTooLong", 2049, 2048):
        attempt(world, "supplier", escrow.functions.submitEvidence(1, DOC, longest + "x"))
    with reverts("EscrowUriTooLong", 2050, 2048):  # the limit is in bytes, not characters
        attempt(world, "supplier", escrow.functions.submitEvidence(1, DOC, "é" * 1025))
    assert escrow.functions.MAX_URI_LENGTH().call() == 2048


def test_evidence_state_rules(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.SUBMITTED, ACCEPTS_EVIDENCE):
        attempt(world, "supplier", escrow.functions.submitEvidence(0, DOC, "ipfs://again"))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "supplier", escrow.functions.submitEvidence(3, DOC, "ipfs://x"))
    approve_milestone(world, escrow, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PAID, ACCEPTS_EVIDENCE):
        attempt(world, "supplier", escrow.functions.submitEvidence(0, DOC, "ipfs://again"))


def test_resubmission_after_rejection_starts_a_new_round(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval3", True)
    reject_milestone(world, escrow, 0)
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.REJECTED, 1, 1, 2, 0)

    receipt = send(world, "supplier", escrow.functions.submitEvidence(0, REPORT, "ipfs://fixed"))
    assert event(escrow, receipt, "EvidenceSubmitted") == {
        "milestoneId": 0,
        "supplier": addr(world, "supplier"),
        "round": 2,
        "documentHash": REPORT,
        "uri": "ipfs://fixed",
    }
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.SUBMITTED, 2, 0, 0, 0)
    assert not any(escrow.functions.hasAttested(0, addr(world, e)).call() for e in ("eval1", "eval2", "eval3"))
    with reverts("EscrowWrongRound", 0, 1, 2):
        attempt(world, "eval1", escrow.functions.attest(0, 1, True, REPORT))
    vote(world, escrow, 0, "eval1", True, round_=2)
    receipt = vote(world, escrow, 0, "eval2", True, round_=2)
    assert event(escrow, receipt, "MilestoneApproved") == {"milestoneId": 0, "round": 2, "amount": M0}
    assert ms(escrow, 0).status == Status.PAID


# ----------------------------------------------------------------------------------------------- attestation


def test_attest_records_one_vote(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    receipt = vote(world, escrow, 0, "eval3", False)
    assert event(escrow, receipt, "Attested") == {
        "milestoneId": 0,
        "evaluator": addr(world, "eval3"),
        "round": 1,
        "pass": False,
        "reportHash": REPORT,
    }
    assert events(escrow, receipt, "SubmissionRejected") == []
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.SUBMITTED, 1, 0, 1, 0)
    assert escrow.functions.hasAttested(0, addr(world, "eval3")).call()
    assert not escrow.functions.hasAttested(0, addr(world, "eval1")).call()
    assert not escrow.functions.hasAttested(1, addr(world, "eval3")).call()


def test_attest_by_signature(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    fields = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
    receipt = relayed(world, escrow, "eval2", "Attest", fields)
    signature_used(world, escrow, receipt, "eval2")
    assert event(escrow, receipt, "Attested") == {
        "milestoneId": 0,
        "evaluator": addr(world, "eval2"),
        "round": 1,
        "pass": True,
        "reportHash": REPORT,
    }
    assert escrow.functions.hasAttested(0, addr(world, "eval2")).call()


def test_attest_once_per_round(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    for passed in (True, False):
        with reverts("EscrowAlreadyAttested", 0, 1, addr(world, "eval1")):
            attempt(world, "eval1", escrow.functions.attest(0, 1, passed, REPORT))


def test_attest_wrong_round_or_state(world: World, escrow: Contract) -> None:
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PENDING, allowed(Status.SUBMITTED)):
        attempt(world, "eval1", escrow.functions.attest(0, 0, True, REPORT))
    with reverts("EscrowUnknownMilestone", 7, 3):
        attempt(world, "eval1", escrow.functions.attest(7, 1, True, REPORT))
    submit(world, escrow, 0)
    for wrong in (0, 2):
        with reverts("EscrowWrongRound", 0, wrong, 1):
            attempt(world, "eval1", escrow.functions.attest(0, wrong, True, REPORT))


@BY_SIG
def test_only_the_panel_attests(world: World, escrow: Contract, by_sig: bool) -> None:
    """eval4 is an active evaluator but not on this panel; the supplier, its colleague and the creating
    officer are never on a panel."""
    submit(world, escrow, 0)
    fields = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
    assert_only(
        world,
        {"eval1", "eval2", "eval3"},
        lambda label: perform(world, escrow, label, "Attest", fields, by_sig=by_sig),
        lambda label: ("EscrowNotOnPanel", (addr(world, label),)),
    )


def test_panel_member_must_hold_an_active_evaluator_role(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    eval1 = addr(world, "eval1")
    fn = escrow.functions.attest(0, 1, True, REPORT)
    send(world, "admin", world.registry.functions.updateOrganization(ATLA, False, ZERO))
    with reverts("EscrowUnauthorized", eval1, EVALUATOR):
        attempt(world, "eval1", fn)
    send(world, "admin", world.registry.functions.updateOrganization(ATLA, True, ZERO))
    send(world, "admin", world.registry.functions.revokeRole(EVALUATOR, eval1))
    with reverts("EscrowUnauthorized", eval1, EVALUATOR):
        attempt(world, "eval1", fn)


def test_panel_member_moved_to_the_supplier_can_never_attest(world: World, escrow: Contract) -> None:
    """Segregation of duties at run time. The factory refuses the creating officer and the supplier on a panel
    (FactorySegregationOfDuties, see test_factory); a panel member later moved into the supplier's organization
    cannot hold an evaluator role there, so the escrow refuses it as unauthorized (the escrow's own
    EscrowSegregationOfDuties check is a second line that the registry's role kinds keep out of reach)."""
    submit(world, escrow, 0)
    eval1 = addr(world, "eval1")
    send(world, "admin", world.registry.functions.revokeRole(EVALUATOR, eval1))
    send(world, "admin", world.registry.functions.unbindAccount(eval1))
    send(world, "admin", world.registry.functions.bindAccount(eval1, NVE))
    with reverts("RegistryRoleKindMismatch", eval1, EVALUATOR, 2):
        attempt(world, "admin", world.registry.functions.grantRole(EVALUATOR, eval1))
    send(world, "admin", world.registry.functions.grantRole(SUPPLIER, eval1))
    with reverts("EscrowUnauthorized", eval1, EVALUATOR):
        attempt(world, "eval1", escrow.functions.attest(0, 1, True, REPORT))
    fields = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
    with reverts("EscrowUnauthorized", eval1, EVALUATOR):
        relayed(world, escrow, "eval1", "Attest", fields)
    # The supplier and its colleague are simply not on the panel.
    for label in ("supplier", "supplier_colleague", "officer"):
        with reverts("EscrowNotOnPanel", addr(world, label)):
            attempt(world, label, escrow.functions.attest(0, 1, True, REPORT))
    assert ms(escrow, 0).passes == 0


def test_votes_count_only_while_their_evaluator_may_attest(world: World, escrow: Contract) -> None:
    """A vote is recorded once per round; whether it counts is decided with the round, by the evaluator's
    standing at that moment: a disregarded vote counts again once its evaluator is reinstated."""
    submit(world, escrow, 0)
    eval1 = addr(world, "eval1")
    vote(world, escrow, 0, "eval1", True)
    send(world, "admin", world.registry.functions.revokeRole(EVALUATOR, eval1))
    receipt = vote(world, escrow, 0, "eval2", True)
    assert event(escrow, receipt, "AttestationsDisregarded") == {"milestoneId": 0, "round": 1, "evaluators": [eval1]}
    assert events(escrow, receipt, "MilestoneApproved") == []
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.SUBMITTED, 1, 2, 0, 0)
    assert escrow.functions.hasAttested(0, eval1).call()
    send(world, "admin", world.registry.functions.grantRole(EVALUATOR, eval1))
    with reverts("EscrowAlreadyAttested", 0, 1, eval1):  # reinstated, its recorded vote stands; no second one
        attempt(world, "eval1", escrow.functions.attest(0, 1, False, REPORT))
    receipt = vote(world, escrow, 0, "eval3", True)
    assert events(escrow, receipt, "AttestationsDisregarded") == []
    assert event(escrow, receipt, "MilestoneApproved")["amount"] == M0


def test_fails_count_only_while_their_evaluator_may_attest(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval2", False)
    send(world, "admin", world.registry.functions.updateOrganization(JQA, False, ZERO))  # eval2's body
    receipt = vote(world, escrow, 0, "eval1", False)
    assert event(escrow, receipt, "AttestationsDisregarded")["evaluators"] == [addr(world, "eval2")]
    assert events(escrow, receipt, "SubmissionRejected") == []
    receipt = vote(world, escrow, 0, "eval3", False)
    assert event(escrow, receipt, "SubmissionRejected") == {"milestoneId": 0, "round": 1, "fails": 2}
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.REJECTED, 1, 0, 3, 0)


# (panel, quorum, votes, outcome): the outcome comes with the last vote and not before. A round is rejected
# exactly when a pass quorum is out of reach: fails > panel - quorum.
QUORUM_CASES = [
    (3, 2, [True, True], Status.PAID),
    (3, 2, [True, False, True], Status.PAID),
    (3, 2, [False, True, True], Status.PAID),
    (3, 2, [False, False], Status.REJECTED),
    (3, 2, [True, False, False], Status.REJECTED),
    (3, 3, [True, True, True], Status.PAID),
    (3, 3, [True, False], Status.REJECTED),  # 3 passes are no longer possible
    (3, 3, [False], Status.REJECTED),
    (3, 1, [True], Status.PAID),
    (3, 1, [False, False, True], Status.PAID),  # two fails still leave one evaluator who could pass
    (3, 1, [False, False, False], Status.REJECTED),
    (4, 3, [False, True, True, True], Status.PAID),
    (4, 3, [True, False, False], Status.REJECTED),
    (4, 2, [False, False, True, True], Status.PAID),
    (4, 2, [False, False, False], Status.REJECTED),
    (4, 2, [False, True, False, False], Status.REJECTED),
    (4, 2, [True, False, True], Status.PAID),
]


@pytest.mark.parametrize(("size", "quorum", "votes", "outcome"), QUORUM_CASES)
def test_quorum(world: World, size: int, quorum: int, votes: list[bool], outcome: Status) -> None:
    panel = ["eval1", "eval2", "eval3", "eval4"][:size]
    escrow, _ = make_escrow(world, evaluators=[addr(world, e) for e in panel], quorum=quorum)
    submit(world, escrow, 0)
    supplier_before = balance(world, "supplier")
    for i, passed in enumerate(votes):
        receipt = vote(world, escrow, 0, panel[i], passed)
        if i < len(votes) - 1:
            assert ms(escrow, 0).status == Status.SUBMITTED
            assert events(escrow, receipt, "MilestoneApproved") == []
            assert events(escrow, receipt, "SubmissionRejected") == []
    passes, fails = sum(votes), len(votes) - sum(votes)
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), outcome, 1, passes, fails, 0)
    if outcome == Status.PAID:
        assert event(escrow, receipt, "MilestoneApproved") == {"milestoneId": 0, "round": 1, "amount": M0}
        assert event(escrow, receipt, "PaymentReleased") == {
            "milestoneId": 0,
            "supplier": addr(world, "supplier"),
            "amount": M0,
        }
        assert balance(world, "supplier") == supplier_before + M0
        assert totals(escrow) == (TOTAL, M0, 0, 0)
    else:
        assert event(escrow, receipt, "SubmissionRejected") == {"milestoneId": 0, "round": 1, "fails": fails}
        assert events(escrow, receipt, "PaymentReleased") == []
        assert balance(world, "supplier") == supplier_before
    # The round is decided: the rest of the panel can no longer vote on it.
    if len(votes) < size:
        late = panel[len(votes)]
        with reverts("EscrowUnexpectedMilestoneStatus", 0, outcome, allowed(Status.SUBMITTED)):
            attempt(world, late, escrow.functions.attest(0, 1, True, REPORT))


def test_pass_quorum_pays_in_the_deciding_transaction(world: World, escrow: Contract) -> None:
    submit(world, escrow, 2)
    vote(world, escrow, 2, "eval3", True)
    receipt = vote(world, escrow, 2, "eval1", True)
    assert [e["evaluator"] for e in events(escrow, receipt, "Attested")] == [addr(world, "eval1")]
    assert event(escrow, receipt, "MilestoneApproved") == {"milestoneId": 2, "round": 1, "amount": M2}
    assert event(world.token, receipt, "Transfer") == {
        "from": escrow.address,
        "to": addr(world, "supplier"),
        "value": M2,
    }
    assert events(escrow, receipt, "PaymentDeferred") == []
    assert totals(escrow) == (TOTAL, M2, 0, 0)
    assert escrow.functions.shortfall().call() == 0


# ----------------------------------------------------------------------------------------------- pause and payments


def test_pause_until_renew_resume_and_expiry(world: World, escrow: Contract) -> None:
    mod_admin = addr(world, "mod_admin")
    assert (escrow.functions.paused().call(), escrow.functions.pausedUntil().call()) == (False, 0)
    now = ahead(world)
    receipt = send(world, "mod_admin", escrow.functions.pauseUntil(now + 10 * DAY))
    assert event(escrow, receipt, "PauseChanged") == {"admin": mod_admin, "pausedUntil": now + 10 * DAY}
    assert (escrow.functions.paused().call(), escrow.functions.pausedUntil().call()) == (True, now + 10 * DAY)
    # Renewed (or shortened) by a new pause, at most 90 days from the renewal.
    now = ahead(world)
    with reverts("EscrowInvalidPause", now + 90 * DAY + 1, now + 90 * DAY):
        attempt(world, "mod_admin", escrow.functions.pauseUntil(now + 90 * DAY + 1))
    with reverts("EscrowInvalidPause", now, now + 90 * DAY):
        attempt(world, "mod_admin", escrow.functions.pauseUntil(now))
    receipt = send(world, "mod_admin", escrow.functions.pauseUntil(now + 90 * DAY))
    assert event(escrow, receipt, "PauseChanged")["pausedUntil"] == now + 90 * DAY
    receipt = send(world, "mod_admin", escrow.functions.resume())
    assert event(escrow, receipt, "PauseChanged") == {"admin": mod_admin, "pausedUntil": 0}
    assert not escrow.functions.paused().call()
    with reverts("EscrowNotPaused"):
        attempt(world, "mod_admin", escrow.functions.resume())
    # A pause ends by itself.
    until = pause(world, escrow, 1)
    next_tx_at(world, until - 1)
    assert escrow.functions.paused().call()  # the latest block is before the end
    next_tx_at(world, until)
    with reverts("EscrowNotPaused"):
        attempt(world, "mod_admin", escrow.functions.resume())


def test_only_the_buying_ministry_admin_pauses(world: World, escrow: Contract) -> None:
    assert_only(
        world,
        {"mod_admin"},
        lambda label: attempt(world, label, escrow.functions.pauseUntil(world.now() + DAY)),
        denied_with(world, "EscrowUnauthorized", ADMIN),
    )
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    with reverts("EscrowUnauthorized", addr(world, "mod_admin"), ADMIN):
        attempt(world, "mod_admin", escrow.functions.pauseUntil(world.now() + DAY))
    with reverts("EscrowUnauthorized", addr(world, "mod_admin"), ADMIN):
        attempt(world, "mod_admin", escrow.functions.resume())


def test_pause_defers_payment_until_claimed(world: World, escrow: Contract) -> None:
    supplier = addr(world, "supplier")
    submit(world, escrow, 0)
    until = pause(world, escrow)
    receipt = approve_milestone(world, escrow, 0)
    assert event(escrow, receipt, "MilestoneApproved") == {"milestoneId": 0, "round": 1, "amount": M0}
    assert event(escrow, receipt, "PaymentDeferred") == {"milestoneId": 0, "supplier": supplier, "amount": M0}
    assert events(escrow, receipt, "PaymentReleased") == []
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.APPROVED, 1, 2, 0, M0)
    assert totals(escrow) == (TOTAL, 0, 0, M0)
    assert escrow.functions.shortfall().call() == 0  # the owed payment is still covered
    with reverts("EscrowPaused", until):
        attempt(world, "outsider", escrow.functions.claimPayment(0))
    # Everything but releases goes on while paused.
    submit(world, escrow, 1)
    vote(world, escrow, 1, "eval3", False)

    resume(world, escrow)
    before = balance(world, "supplier")
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "PaymentReleased") == {"milestoneId": 0, "supplier": supplier, "amount": M0}
    assert balance(world, "supplier") == before + M0
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.PAID, 1, 2, 0, 0)
    assert totals(escrow) == (TOTAL, M0, 0, 0)
    with reverts("EscrowNothingOwed", 0):
        attempt(world, "outsider", escrow.functions.claimPayment(0))


def test_claim_payment_refusals(world: World, escrow: Contract) -> None:
    with reverts("EscrowNothingOwed", 0):
        attempt(world, "supplier", escrow.functions.claimPayment(0))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "supplier", escrow.functions.claimPayment(3))


def test_anyone_may_claim_an_owed_payment_for_the_supplier(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    pause(world, escrow)
    approve_milestone(world, escrow, 0)
    resume(world, escrow)
    assert_only(
        world,
        set(CAST),
        lambda label: attempt(world, label, escrow.functions.claimPayment(0)),
        lambda label: ("never", ()),
    )


def test_refused_transfer_defers_payment_and_blocks_nothing_else(world: World, escrow: Contract) -> None:
    """The supplier's organization is deactivated: the token refuses to pay it, the approval still goes
    through, every milestone's payment stays owed, and the ministry can still reclaim."""
    supplier = addr(world, "supplier")
    submit(world, escrow, 0)
    submit(world, escrow, 1)
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    for milestone_id, amount in ((0, M0), (1, M1)):
        receipt = approve_milestone(world, escrow, milestone_id)
        assert event(escrow, receipt, "MilestoneApproved")["amount"] == amount
        assert event(escrow, receipt, "PaymentDeferred") == {
            "milestoneId": milestone_id,
            "supplier": supplier,
            "amount": amount,
        }
        assert ms(escrow, milestone_id).status == Status.APPROVED
    assert totals(escrow) == (TOTAL, 0, 0, M0 + M1)
    with reverts("YenTokenUnauthorizedHolder", supplier):
        attempt(world, "outsider", escrow.functions.claimPayment(0))

    next_tx_at(world, due(escrow, 2) + 1)
    receipt = send(world, "officer", escrow.functions.reclaim(2))
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 2, "vault": world.budget.address, "amount": M2}

    send(world, "admin", world.registry.functions.updateOrganization(NVE, True, ZERO))
    before = balance(world, "supplier")
    for milestone_id, amount in ((1, M1), (0, M0)):
        receipt = send(world, "outsider", escrow.functions.claimPayment(milestone_id))
        assert event(escrow, receipt, "PaymentReleased") == {
            "milestoneId": milestone_id,
            "supplier": supplier,
            "amount": amount,
        }
        assert ms(escrow, milestone_id).status == Status.PAID
    assert balance(world, "supplier") == before + M0 + M1
    assert totals(escrow) == (TOTAL, M0 + M1, M2, 0)


def test_underfunded_escrow_defers_and_never_blocks_later_approvals(world: World) -> None:
    escrow, _ = make_escrow(world, fund=40_000_000)
    submit(world, escrow, 0)
    submit(world, escrow, 1)
    submit(world, escrow, 2)
    assert event(escrow, approve_milestone(world, escrow, 0), "PaymentReleased")["amount"] == M0
    # 10 M left: milestone 1 is owed; milestone 2's approval must not trip over that debt.
    assert event(escrow, approve_milestone(world, escrow, 1), "PaymentDeferred")["amount"] == M1
    assert event(escrow, approve_milestone(world, escrow, 2), "PaymentDeferred")["amount"] == M2
    assert totals(escrow) == (40_000_000, M0, 0, M1 + M2)
    assert escrow.functions.shortfall().call() == M1 + M2 - 10_000_000
    with reverts("EscrowInsufficientFunds", M1, 10_000_000):
        attempt(world, "supplier", escrow.functions.claimPayment(1))

    send(world, "officer", world.token.functions.approve(escrow.address, MAX))
    receipt = send(world, "officer", escrow.functions.fund(M1 + M2 - 10_000_000))
    assert event(escrow, receipt, "Funded")["totalFunded"] == TOTAL
    send(world, "supplier", escrow.functions.claimPayment(1))
    send(world, "supplier", escrow.functions.claimPayment(2))
    assert totals(escrow) == (TOTAL, TOTAL, 0, 0)
    assert [ms(escrow, i).status for i in range(3)] == [Status.PAID] * 3


# ----------------------------------------------------------------------------------------------- reclaim


def test_reclaim_pending_after_due_date(world: World, escrow: Contract) -> None:
    due0, vault = due(escrow, 0), world.budget.address
    next_tx_at(world, due0)
    with reverts("EscrowNotYetReclaimable", 0, due0 + 1, due0):
        attempt(world, "officer", escrow.functions.reclaim(0))
    next_tx_at(world, due0 + 1)
    supply = world.token.functions.totalSupply().call()
    receipt = send(world, "officer", escrow.functions.reclaim(0))
    assert event(escrow, receipt, "MilestoneReclaimed") == {
        "milestoneId": 0,
        "officer": addr(world, "officer"),
        "previous": Status.PENDING,
    }
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 0, "vault": vault, "amount": M0}
    assert world.token.functions.totalSupply().call() == supply - M0  # burned: back to the budget line
    assert ms(escrow, 0).status == Status.REFUNDED
    assert totals(escrow) == (TOTAL, 0, M0, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.REFUNDED, ACCEPTS_EVIDENCE):
        attempt(world, "supplier", escrow.functions.submitEvidence(0, DOC, "ipfs://late"))
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.REFUNDED, OPEN):
        attempt(world, "officer", escrow.functions.reclaim(0))


def test_reclaim_rejected_after_due_date(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    reject_milestone(world, escrow, 0)
    now = ahead(world)
    with reverts("EscrowNotYetReclaimable", 0, due(escrow, 0) + 1, now):
        attempt(world, "officer2", escrow.functions.reclaim(0))
    next_tx_at(world, due(escrow, 0) + 1)
    receipt = send(world, "officer2", escrow.functions.reclaim(0))
    assert event(escrow, receipt, "MilestoneReclaimed") == {
        "milestoneId": 0,
        "officer": addr(world, "officer2"),
        "previous": Status.REJECTED,
    }
    assert event(escrow, receipt, "Refunded")["amount"] == M0


def test_reclaim_under_evaluation_waits_for_the_inspection_period(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    due0 = due(escrow, 0)
    assert escrow.functions.INSPECTION_PERIOD().call() == INSPECTION
    for at in (due0 + 1, due0 + INSPECTION):
        next_tx_at(world, at)
        with reverts("EscrowNotYetReclaimable", 0, due0 + INSPECTION + 1, at):
            attempt(world, "officer", escrow.functions.reclaim(0))
    # Evaluators may still decide the round within the inspection period.
    vote(world, escrow, 0, "eval1", True)
    next_tx_at(world, due0 + INSPECTION + 1)
    receipt = send(world, "officer", escrow.functions.reclaim(0))
    assert event(escrow, receipt, "MilestoneReclaimed")["previous"] == Status.SUBMITTED
    assert event(escrow, receipt, "Refunded")["amount"] == M0
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.REFUNDED, allowed(Status.SUBMITTED)):
        attempt(world, "eval2", escrow.functions.attest(0, 1, True, REPORT))


def test_reclaim_works_while_paused(world: World, escrow: Contract) -> None:
    pause(world, escrow, 90)
    next_tx_at(world, due(escrow, 1) + 1)
    receipt = send(world, "officer", escrow.functions.reclaim(1))
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 1, "vault": world.budget.address, "amount": M1}
    assert totals(escrow) == (TOTAL, 0, M1, 0)


def test_reclaim_by_signature(world: World, escrow: Contract) -> None:
    next_tx_at(world, due(escrow, 0) + 1)
    receipt = relayed(world, escrow, "officer2", "Reclaim", {"milestoneId": 0})
    signature_used(world, escrow, receipt, "officer2")
    assert event(escrow, receipt, "MilestoneReclaimed") == {
        "milestoneId": 0,
        "officer": addr(world, "officer2"),
        "previous": Status.PENDING,
    }


def test_reclaim_refusals(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    approve_milestone(world, escrow, 0)
    submit(world, escrow, 1)
    send(world, "supplier", escrow.functions.openDispute(1, REASON))
    next_tx_at(world, due(escrow, 2) + INSPECTION + 1)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PAID, OPEN):
        attempt(world, "officer", escrow.functions.reclaim(0))
    with reverts("EscrowUnexpectedMilestoneStatus", 1, Status.DISPUTED, OPEN):
        attempt(world, "officer", escrow.functions.reclaim(1))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "officer", escrow.functions.reclaim(3))


def test_reclaim_of_unfunded_milestone_refunds_nothing(world: World) -> None:
    escrow, _ = make_escrow(world, fund=0)
    assert escrow.functions.shortfall().call() == TOTAL
    next_tx_at(world, due(escrow, 0) + 1)
    receipt = send(world, "officer", escrow.functions.reclaim(0))
    assert event(escrow, receipt, "MilestoneReclaimed")["previous"] == Status.PENDING
    assert events(escrow, receipt, "Refunded") == []
    assert escrow.functions.shortfall().call() == M1 + M2


@BY_SIG
def test_only_ministry_officers_reclaim(world: World, escrow: Contract, by_sig: bool) -> None:
    next_tx_at(world, due(escrow, 0) + 1)
    assert_only(
        world,
        {"officer", "officer2"},
        lambda label: perform(world, escrow, label, "Reclaim", {"milestoneId": 0}, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", OFFICER),
    )


# ----------------------------------------------------------------------------------------------- amendments


def propose(
    world: World,
    escrow: Contract,
    kind: Kind,
    *,
    milestone_id: int = 0,
    amount: int = 0,
    due_date: int = 0,
    label: str = "officer",
) -> Receipt:
    return send(world, label, escrow.functions.proposeAmendment(milestone_id, kind, amount, due_date, RATIONALE))


def test_amend_amount_down_refunds_the_excess(world: World, escrow: Contract) -> None:
    officer, officer2, due0 = addr(world, "officer"), addr(world, "officer2"), due(escrow, 0)
    assert escrow.functions.proposeAmendment(0, Kind.AMOUNT, 20_000_000, 0, RATIONALE).call({"from": officer}) == 0
    receipt = propose(world, escrow, Kind.AMOUNT, amount=20_000_000)
    assert event(escrow, receipt, "AmendmentProposed") == {
        "amendmentId": 0,
        "milestoneId": 0,
        "proposer": officer,
        "kind": Kind.AMOUNT,
        "newAmount": 20_000_000,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }
    assert escrow.functions.amendmentCount().call() == 1
    assert tuple(escrow.functions.amendment(0).call()) == (
        0,
        Kind.AMOUNT,
        False,
        officer,
        0,
        20_000_000,
        RATIONALE,
        False,
    )
    assert ms(escrow, 0).amount == M0  # nothing changes before the second officer approves

    receipt = send(world, "officer2", approval(escrow, 0))
    assert event(escrow, receipt, "AmendmentApproved") == {
        "amendmentId": 0,
        "milestoneId": 0,
        "approver": officer2,
        "kind": Kind.AMOUNT,
        "oldAmount": M0,
        "newAmount": 20_000_000,
        "oldDueDate": due0,
        "newDueDate": due0,
    }
    assert event(escrow, receipt, "Refunded") == {
        "milestoneId": 0,
        "vault": world.budget.address,
        "amount": 10_000_000,
    }
    assert tuple(escrow.functions.amendment(0).call())[2] is True
    assert ms(escrow, 0) == Milestone(20_000_000, due0, Status.PENDING, 0, 0, 0, 0)
    assert totals(escrow) == (TOTAL, 0, 10_000_000, 0)
    submit(world, escrow, 0)
    assert event(escrow, approve_milestone(world, escrow, 0), "PaymentReleased")["amount"] == 20_000_000


def test_amend_amount_up_raises_the_shortfall(world: World, escrow: Contract) -> None:
    propose(world, escrow, Kind.AMOUNT, amount=45_000_000)
    receipt = send(world, "officer2", approval(escrow, 0))
    approved = event(escrow, receipt, "AmendmentApproved")
    assert (approved["oldAmount"], approved["newAmount"]) == (M0, 45_000_000)
    assert events(escrow, receipt, "Refunded") == []
    assert escrow.functions.shortfall().call() == 15_000_000
    with reverts("EscrowInvalidFunding", 15_000_001, 15_000_000):
        attempt(world, "officer", escrow.functions.fund(15_000_001))
    # The need grew beyond the obligation: the officer obligates the difference on the line, then draws it.
    with reverts("BudgetDrawExceedsObligation", escrow.address, 0, 15_000_000):
        attempt(world, "officer", escrow.functions.fund(15_000_000))
    send(world, "officer", world.budget.functions.increaseObligation(escrow.address, 15_000_000))
    send(world, "officer", escrow.functions.fund(15_000_000))
    submit(world, escrow, 0)
    assert event(escrow, approve_milestone(world, escrow, 0), "PaymentReleased")["amount"] == 45_000_000
    assert totals(escrow) == (TOTAL + 15_000_000, 45_000_000, 0, 0)


def test_amend_due_date_reopens_evidence(world: World, escrow: Contract) -> None:
    due0 = due(escrow, 0)
    new_due = due0 + 30 * DAY
    next_tx_at(world, due0 + 1)
    with reverts("EscrowPastDueDate", 0, due0, due0 + 1):
        attempt(world, "supplier", escrow.functions.submitEvidence(0, DOC, "ipfs://late"))
    receipt = propose(world, escrow, Kind.DUE_DATE, due_date=new_due, label="officer2")
    assert event(escrow, receipt, "AmendmentProposed")["newDueDate"] == new_due
    receipt = send(world, "officer", approval(escrow, 0))
    assert event(escrow, receipt, "AmendmentApproved") == {
        "amendmentId": 0,
        "milestoneId": 0,
        "approver": addr(world, "officer"),
        "kind": Kind.DUE_DATE,
        "oldAmount": M0,
        "newAmount": M0,
        "oldDueDate": due0,
        "newDueDate": new_due,
    }
    assert ms(escrow, 0) == Milestone(M0, new_due, Status.PENDING, 0, 0, 0, 0)
    submit(world, escrow, 0)
    with reverts("EscrowNotYetReclaimable", 0, new_due + INSPECTION + 1, world.now() + 1):
        attempt(world, "officer", escrow.functions.reclaim(0))


def test_amend_cancel_refunds_the_milestone(world: World, escrow: Contract) -> None:
    submit(world, escrow, 1)
    vote(world, escrow, 1, "eval1", True)
    due1 = due(escrow, 1)
    propose(world, escrow, Kind.CANCEL, milestone_id=1)
    # Under evaluation, a cancellation needs the supplier's consent to exactly this content.
    with reverts("EscrowSupplierConsentRequired", 0, 1):
        attempt(world, "officer2", approval(escrow, 0))
    fields = content(escrow, 0)
    receipt = send(world, "supplier", escrow.functions.consentToAmendment(*fields.values()))
    assert event(escrow, receipt, "AmendmentConsented") == {
        "amendmentId": 0,
        "milestoneId": 1,
        "supplier": addr(world, "supplier"),
    }
    assert escrow.functions.amendment(0).call()[7] is True
    receipt = send(world, "officer2", approval(escrow, 0))
    assert event(escrow, receipt, "AmendmentApproved") == {
        "amendmentId": 0,
        "milestoneId": 1,
        "approver": addr(world, "officer2"),
        "kind": Kind.CANCEL,
        "oldAmount": M1,
        "newAmount": M1,
        "oldDueDate": due1,
        "newDueDate": due1,
    }
    assert event(escrow, receipt, "Refunded") == {"milestoneId": 1, "vault": world.budget.address, "amount": M1}
    assert ms(escrow, 1).status == Status.CANCELLED
    assert totals(escrow) == (TOTAL, 0, M1, 0)
    assert escrow.functions.shortfall().call() == 0
    with reverts("EscrowUnexpectedMilestoneStatus", 1, Status.CANCELLED, allowed(Status.SUBMITTED)):
        attempt(world, "eval2", escrow.functions.attest(1, 1, True, REPORT))
    with reverts("EscrowUnexpectedMilestoneStatus", 1, Status.CANCELLED, ACCEPTS_EVIDENCE):
        attempt(world, "supplier", escrow.functions.submitEvidence(1, DOC, "ipfs://x"))


def test_amendment_needs_a_second_officer(world: World, escrow: Contract) -> None:
    propose(world, escrow, Kind.CANCEL)
    with reverts("EscrowSameOfficer", 0, addr(world, "officer")):
        attempt(world, "officer", approval(escrow, 0))


def test_unknown_and_executed_amendments(world: World, escrow: Contract) -> None:
    with reverts("EscrowUnknownAmendment", 0):
        attempt(world, "officer2", approval(escrow, 0))
    with reverts("EscrowUnknownAmendment", 0):
        escrow.functions.amendment(0).call()
    propose(world, escrow, Kind.AMOUNT, amount=1)
    send(world, "officer2", approval(escrow, 0))
    with reverts("EscrowUnknownAmendment", 0):
        attempt(world, "officer2", approval(escrow, 0))
    with reverts("EscrowUnknownAmendment", 1):
        attempt(world, "officer2", approval(escrow, 1))


def test_stale_amendments_are_refused(world: World, escrow: Contract) -> None:
    # Two proposals to the same amount: once one is applied, the other changes nothing.
    propose(world, escrow, Kind.AMOUNT, amount=20_000_000)
    propose(world, escrow, Kind.AMOUNT, amount=20_000_000)
    send(world, "officer2", approval(escrow, 0))
    with reverts("EscrowInvalidAmendment", 0, Kind.AMOUNT, 20_000_000, 0):
        attempt(world, "officer2", approval(escrow, 1))
    # A proposal on a milestone that has since been paid.
    propose(world, escrow, Kind.CANCEL, milestone_id=1)
    submit(world, escrow, 1)
    approve_milestone(world, escrow, 1)
    with reverts("EscrowUnexpectedMilestoneStatus", 1, Status.PAID, OPEN):
        attempt(world, "officer2", approval(escrow, 2))
    # A due date that has passed by the time of approval.
    new_due = due(escrow, 2) + DAY
    propose(world, escrow, Kind.DUE_DATE, milestone_id=2, due_date=new_due)
    next_tx_at(world, new_due + 1)
    with reverts("EscrowInvalidAmendment", 2, Kind.DUE_DATE, 0, new_due):
        attempt(world, "officer2", approval(escrow, 3))


def test_invalid_amendment_values(world: World, escrow: Contract) -> None:
    due0, now = due(escrow, 0), world.now()
    cases = [
        (Kind.AMOUNT, 0, 0),
        (Kind.AMOUNT, M0, 0),  # unchanged
        (Kind.AMOUNT, 2**64, 0),
        (Kind.DUE_DATE, 0, now),  # not in the future
        (Kind.DUE_DATE, 0, due0),  # unchanged
        (Kind.DUE_DATE, 0, 2**40),  # beyond the escrow's range
    ]
    for kind, amount, due_date in cases:
        with reverts("EscrowInvalidAmendment", 0, kind, amount, due_date):
            attempt(world, "officer", escrow.functions.proposeAmendment(0, kind, amount, due_date, RATIONALE))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "officer", escrow.functions.proposeAmendment(3, Kind.CANCEL, 0, 0, RATIONALE))
    submit(world, escrow, 0)
    approve_milestone(world, escrow, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PAID, OPEN):
        attempt(world, "officer", escrow.functions.proposeAmendment(0, Kind.CANCEL, 0, 0, RATIONALE))


def test_amendments_by_signature(world: World, escrow: Contract) -> None:
    fields = {
        "milestoneId": 2,
        "kind": Kind.AMOUNT,
        "newAmount": 100_000_000,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }
    receipt = relayed(world, escrow, "officer", "ProposeAmendment", fields)
    signature_used(world, escrow, receipt, "officer")
    assert event(escrow, receipt, "AmendmentProposed")["proposer"] == addr(world, "officer")
    receipt = relayed(world, escrow, "officer2", "ApproveAmendment", content(escrow, 0))
    signature_used(world, escrow, receipt, "officer2")
    assert event(escrow, receipt, "AmendmentApproved")["approver"] == addr(world, "officer2")
    assert event(escrow, receipt, "Refunded")["amount"] == 20_000_000
    # The proposer's signature cannot approve its own amendment either.
    fields["newAmount"] = 90_000_000
    relayed(world, escrow, "officer", "ProposeAmendment", fields)
    with reverts("EscrowSameOfficer", 1, addr(world, "officer")):
        relayed(world, escrow, "officer", "ApproveAmendment", content(escrow, 1))


@BY_SIG
def test_only_ministry_officers_propose_amendments(world: World, escrow: Contract, by_sig: bool) -> None:
    fields = {"milestoneId": 0, "kind": Kind.CANCEL, "newAmount": 0, "newDueDate": 0, "rationaleHash": RATIONALE}
    assert_only(
        world,
        {"officer", "officer2"},
        lambda label: perform(world, escrow, label, "ProposeAmendment", fields, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", OFFICER),
    )


@BY_SIG
def test_only_another_ministry_officer_approves_amendments(world: World, escrow: Contract, by_sig: bool) -> None:
    propose(world, escrow, Kind.CANCEL)

    def denied(label: str) -> tuple[str, tuple[Any, ...]]:
        if label == "officer":
            return "EscrowSameOfficer", (0, addr(world, label))
        return "EscrowUnauthorized", (addr(world, label), OFFICER)

    assert_only(
        world,
        {"officer2"},
        lambda label: perform(world, escrow, label, "ApproveAmendment", content(escrow, 0), by_sig=by_sig),
        denied,
    )


AMENDMENT_FIELDS = [
    ("milestoneId", 1),
    ("kind", Kind.DUE_DATE),
    ("newAmount", 19_999_999),
    ("newDueDate", 1),
    ("rationaleHash", b"\x34" * 32),
]


@pytest.mark.parametrize(("field", "value"), AMENDMENT_FIELDS, ids=[f for f, _ in AMENDMENT_FIELDS])
def test_approval_and_consent_name_the_full_content(world: World, escrow: Contract, field: str, value: Any) -> None:
    propose(world, escrow, Kind.AMOUNT, amount=20_000_000)
    stored = content(escrow, 0)
    given = {**stored, field: value}
    as_tuple = [given[k] for k in ("milestoneId", "kind", "newAmount", "newDueDate", "rationaleHash")]
    expected = (0, (0, Kind.AMOUNT, 20_000_000, 0, RATIONALE), tuple(as_tuple))
    with reverts("EscrowAmendmentMismatch", *expected):
        attempt(world, "officer2", escrow.functions.approveAmendment(*given.values()))
    with reverts("EscrowAmendmentMismatch", *expected):
        relayed(world, escrow, "officer2", "ApproveAmendment", given)
    with reverts("EscrowAmendmentMismatch", *expected):
        attempt(world, "supplier", escrow.functions.consentToAmendment(*given.values()))
    assert ms(escrow, 0).amount == M0
    send(world, "officer2", approval(escrow, 0))
    assert ms(escrow, 0).amount == 20_000_000


# (kind, amount, due shift in days) of an amendment to milestone 0; whether it goes against the supplier.
CHANGES = [
    (Kind.AMOUNT, M0 - 1, 0, True),
    (Kind.AMOUNT, M0 + 1, 0, False),
    (Kind.DUE_DATE, 0, 10, False),
    (Kind.DUE_DATE, 0, -10, True),
    (Kind.CANCEL, 0, 0, True),
]


@pytest.mark.parametrize("state", [Status.PENDING, Status.SUBMITTED, Status.REJECTED])
@pytest.mark.parametrize(
    ("kind", "amount", "shift", "against"), CHANGES, ids=["cut", "raise", "extend", "hasten", "cancel"]
)
def test_supplier_consent_only_for_changes_against_a_delivery(
    world: World, escrow: Contract, state: Status, kind: Kind, amount: int, shift: int, against: bool
) -> None:
    """Cutting, cancelling or bringing forward a Submitted milestone needs the supplier's consent; any other
    change, or any change of a Pending or Rejected milestone, does not."""
    if state != Status.PENDING:
        submit(world, escrow, 0)
    if state == Status.REJECTED:
        reject_milestone(world, escrow, 0)
    new_due = due(escrow, 0) + shift * DAY if kind == Kind.DUE_DATE else 0
    propose(world, escrow, kind, amount=amount, due_date=new_due)
    if state == Status.SUBMITTED and against:
        with reverts("EscrowSupplierConsentRequired", 0, 0):
            attempt(world, "officer2", approval(escrow, 0))
        send(world, "supplier", escrow.functions.consentToAmendment(*content(escrow, 0).values()))
    send(world, "officer2", approval(escrow, 0))
    assert escrow.functions.amendment(0).call()[2] is True


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_only_the_supplier_consents(world: World, escrow: Contract, by_sig: bool) -> None:
    propose(world, escrow, Kind.CANCEL)
    fields = content(escrow, 0)
    assert_only(
        world,
        {"supplier"},
        lambda label: perform(world, escrow, label, "ConsentToAmendment", fields, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", SUPPLIER),
    )
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    with reverts("EscrowUnauthorized", addr(world, "supplier"), SUPPLIER):
        perform(world, escrow, "supplier", "ConsentToAmendment", fields, by_sig=by_sig)


def test_consent_to_unknown_or_executed_amendments(world: World, escrow: Contract) -> None:
    with reverts("EscrowUnknownAmendment", 0):
        attempt(world, "supplier", escrow.functions.consentToAmendment(*content(escrow, 0).values()))
    propose(world, escrow, Kind.AMOUNT, amount=1)
    fields = content(escrow, 0)
    send(world, "officer2", approval(escrow, 0))
    with reverts("EscrowUnknownAmendment", 0):
        attempt(world, "supplier", escrow.functions.consentToAmendment(*fields.values()))


def test_both_approvals_come_from_current_officers(world: World, escrow: Contract) -> None:
    propose(world, escrow, Kind.DUE_DATE, due_date=due(escrow, 0) + DAY)
    registry = world.registry.functions
    officer = addr(world, "officer")
    send(world, "mod_admin", registry.revokeRole(OFFICER, officer))
    with reverts("EscrowProposerNotOfficer", 0, officer):
        attempt(world, "officer2", approval(escrow, 0))
    send(world, "mod_admin", registry.grantRole(OFFICER, officer))
    send(world, "officer2", approval(escrow, 0))


# ----------------------------------------------------------------------------------------------- disputes


def test_supplier_opens_dispute_on_submitted_milestone(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    receipt = send(world, "supplier", escrow.functions.openDispute(0, REASON))
    lapses_at = world.now() + 30 * DAY
    assert event(escrow, receipt, "DisputeOpened") == {
        "milestoneId": 0,
        "opener": addr(world, "supplier"),
        "previous": Status.SUBMITTED,
        "reasonHash": REASON,
        "lapsesAt": lapses_at,
    }
    assert ms(escrow, 0).status == Status.DISPUTED
    assert ms(escrow, 0).dispute_lapses_at == lapses_at
    assert escrow.functions.shortfall().call() == 0  # a disputed milestone still needs its money
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.DISPUTED, allowed(Status.SUBMITTED)):
        attempt(world, "eval2", escrow.functions.attest(0, 1, True, REPORT))
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.DISPUTED, DISPUTABLE):
        attempt(world, "officer", escrow.functions.openDispute(0, REASON))
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.DISPUTED, OPEN):
        attempt(world, "officer", escrow.functions.proposeAmendment(0, Kind.CANCEL, 0, 0, RATIONALE))


def test_officer_opens_dispute_on_rejected_milestone(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    reject_milestone(world, escrow, 0)
    receipt = send(world, "officer2", escrow.functions.openDispute(0, REASON))
    assert event(escrow, receipt, "DisputeOpened") == {
        "milestoneId": 0,
        "opener": addr(world, "officer2"),
        "previous": Status.REJECTED,
        "reasonHash": REASON,
        "lapsesAt": world.now() + 30 * DAY,
    }


def test_dispute_only_on_submitted_or_rejected(world: World, escrow: Contract) -> None:
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PENDING, DISPUTABLE):
        attempt(world, "supplier", escrow.functions.openDispute(0, REASON))
    submit(world, escrow, 0)
    approve_milestone(world, escrow, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PAID, DISPUTABLE):
        attempt(world, "supplier", escrow.functions.openDispute(0, REASON))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "supplier", escrow.functions.openDispute(3, REASON))


@BY_SIG
def test_only_the_supplier_or_ministry_officers_open_disputes(world: World, escrow: Contract, by_sig: bool) -> None:
    """Anyone but the supplier is judged as an officer: the supplier's colleague is refused as a non-officer."""
    submit(world, escrow, 0)
    assert_only(
        world,
        {"supplier", "officer", "officer2"},
        lambda label: perform(
            world, escrow, label, "OpenDispute", {"milestoneId": 0, "reasonHash": REASON}, by_sig=by_sig
        ),
        denied_with(world, "EscrowUnauthorized", OFFICER),
    )


def test_supplier_disputes_only_while_active(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    with reverts("EscrowUnauthorized", addr(world, "supplier"), SUPPLIER):
        attempt(world, "supplier", escrow.functions.openDispute(0, REASON))


def dispute(world: World, escrow: Contract, milestone_id: int = 0) -> None:
    submit(world, escrow, milestone_id)
    send(world, "supplier", escrow.functions.openDispute(milestone_id, REASON))


def test_settle_dispute_with_a_split(world: World, escrow: Contract) -> None:
    dispute(world, escrow)
    supplier_before, supply = balance(world, "supplier"), world.token.functions.totalSupply().call()
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, 12_000_000, RULING))
    assert event(escrow, receipt, "DisputeSettled") == {
        "milestoneId": 0,
        "reviewer": addr(world, "reviewer"),
        "supplierAmount": 12_000_000,
        "ministryAmount": M0 - 12_000_000,
        "rulingHash": RULING,
    }
    assert event(escrow, receipt, "PaymentReleased") == {
        "milestoneId": 0,
        "supplier": addr(world, "supplier"),
        "amount": 12_000_000,
    }
    assert event(escrow, receipt, "Refunded") == {
        "milestoneId": 0,
        "vault": world.budget.address,
        "amount": M0 - 12_000_000,
    }
    assert ms(escrow, 0).status == Status.SETTLED
    assert balance(world, "supplier") == supplier_before + 12_000_000
    assert world.token.functions.totalSupply().call() == supply - (M0 - 12_000_000)
    assert totals(escrow) == (TOTAL, 12_000_000, M0 - 12_000_000, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.SETTLED, allowed(Status.DISPUTED)):
        attempt(world, "reviewer", escrow.functions.settleDispute(0, 0, RULING))


@pytest.mark.parametrize("supplier_amount", [0, M0], ids=["all-to-ministry", "all-to-supplier"])
def test_settle_dispute_all_to_one_side(world: World, escrow: Contract, supplier_amount: int) -> None:
    dispute(world, escrow)
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, supplier_amount, RULING))
    settled = event(escrow, receipt, "DisputeSettled")
    assert (settled["supplierAmount"], settled["ministryAmount"]) == (supplier_amount, M0 - supplier_amount)
    released = [e["amount"] for e in events(escrow, receipt, "PaymentReleased")]
    refunded = [e["amount"] for e in events(escrow, receipt, "Refunded")]
    assert released == ([M0] if supplier_amount else [])
    assert refunded == ([] if supplier_amount else [M0])
    assert totals(escrow) == (TOTAL, supplier_amount, M0 - supplier_amount, 0)


def test_settlement_refusals(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.SUBMITTED, allowed(Status.DISPUTED)):
        attempt(world, "reviewer", escrow.functions.settleDispute(0, 0, RULING))
    send(world, "officer", escrow.functions.openDispute(0, REASON))
    with reverts("EscrowInvalidSettlement", 0, M0 + 1, M0):
        attempt(world, "reviewer", escrow.functions.settleDispute(0, M0 + 1, RULING))
    with reverts("EscrowUnknownMilestone", 3, 3):
        attempt(world, "reviewer", escrow.functions.settleDispute(3, 0, RULING))


def test_settlement_while_paused_is_owed(world: World, escrow: Contract) -> None:
    dispute(world, escrow)
    pause(world, escrow)
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, 10_000_000, RULING))
    assert event(escrow, receipt, "PaymentDeferred") == {
        "milestoneId": 0,
        "supplier": addr(world, "supplier"),
        "amount": 10_000_000,
    }
    assert event(escrow, receipt, "Refunded")["amount"] == M0 - 10_000_000  # refunds are not paused
    assert ms(escrow, 0) == Milestone(M0, due(escrow, 0), Status.SETTLED, 1, 0, 0, 10_000_000)
    resume(world, escrow)
    receipt = send(world, "supplier", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "PaymentReleased")["amount"] == 10_000_000
    assert ms(escrow, 0).status == Status.SETTLED
    assert totals(escrow) == (TOTAL, 10_000_000, M0 - 10_000_000, 0)


def test_disputes_by_signature(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    receipt = relayed(world, escrow, "supplier", "OpenDispute", {"milestoneId": 0, "reasonHash": REASON})
    signature_used(world, escrow, receipt, "supplier")
    assert event(escrow, receipt, "DisputeOpened")["opener"] == addr(world, "supplier")
    fields = {"milestoneId": 0, "supplierAmount": 1, "rulingHash": RULING}
    receipt = relayed(world, escrow, "reviewer", "SettleDispute", fields)
    signature_used(world, escrow, receipt, "reviewer")
    assert event(escrow, receipt, "DisputeSettled")["reviewer"] == addr(world, "reviewer")


@BY_SIG
def test_only_review_bodies_settle(world: World, escrow: Contract, by_sig: bool) -> None:
    dispute(world, escrow)
    fields = {"milestoneId": 0, "supplierAmount": 1, "rulingHash": RULING}
    assert_only(
        world,
        {"reviewer"},
        lambda label: perform(world, escrow, label, "SettleDispute", fields, by_sig=by_sig),
        denied_with(world, "EscrowUnauthorized", REVIEW_BODY),
    )


def test_dispute_lapses_back_with_the_frozen_time(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    due0 = due(escrow, 0)
    receipt = send(world, "officer", escrow.functions.openDispute(0, REASON))
    opened = world.now()
    lapses_at = event(escrow, receipt, "DisputeOpened")["lapsesAt"]
    assert lapses_at == opened + 30 * DAY
    next_tx_at(world, lapses_at)
    with reverts("EscrowDisputeNotLapsed", 0, lapses_at, lapses_at):
        attempt(world, "outsider", escrow.functions.lapseDispute(0))
    next_tx_at(world, lapses_at + 1)
    with reverts("EscrowRulingPeriodOver", 0, lapses_at, lapses_at + 1):
        attempt(world, "reviewer", escrow.functions.settleDispute(0, 0, RULING))
    receipt = send(world, "outsider", escrow.functions.lapseDispute(0))
    new_due = due0 + (lapses_at + 1 - opened)
    assert event(escrow, receipt, "DisputeLapsed") == {
        "milestoneId": 0,
        "restored": Status.SUBMITTED,
        "newDueDate": new_due,
    }
    # Back where it was, votes included; the time it was frozen is given back to every deadline.
    assert ms(escrow, 0) == Milestone(M0, new_due, Status.SUBMITTED, 1, 1, 0, 0)
    next_tx_at(world, due0 + INSPECTION + 1)
    with reverts("EscrowNotYetReclaimable", 0, new_due + INSPECTION + 1, due0 + INSPECTION + 1):
        attempt(world, "officer", escrow.functions.reclaim(0))
    receipt = vote(world, escrow, 0, "eval2", True)
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.PAID, allowed(Status.DISPUTED)):
        attempt(world, "outsider", escrow.functions.lapseDispute(0))


def test_anyone_may_lapse_a_dispute(world: World, escrow: Contract) -> None:
    dispute(world, escrow)
    next_tx_at(world, world.now() + 30 * DAY + 1)
    fn = escrow.functions.lapseDispute(0)
    assert_only(world, set(CAST), lambda label: attempt(world, label, fn), lambda _: ("never", ()))


def test_a_lapsed_dispute_is_not_reopened_on_the_same_round_and_state(world: World, escrow: Contract) -> None:
    dispute(world, escrow)
    next_tx_at(world, world.now() + 30 * DAY + 1)
    send(world, "outsider", escrow.functions.lapseDispute(0))
    for label in ("supplier", "officer"):
        with reverts("EscrowAlreadyDisputed", 0, 1, Status.SUBMITTED):
            attempt(world, label, escrow.functions.openDispute(0, REASON))
    # Once the round is decided (rejected), its new state may be disputed once; a new round too.
    reject_milestone(world, escrow, 0)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    next_tx_at(world, world.now() + 30 * DAY + 1)
    send(world, "outsider", escrow.functions.lapseDispute(0))
    with reverts("EscrowAlreadyDisputed", 0, 1, Status.REJECTED):
        attempt(world, "supplier", escrow.functions.openDispute(0, REASON))
    submit(world, escrow, 0)
    send(world, "officer", escrow.functions.openDispute(0, REASON))
    assert ms(escrow, 0).status == Status.DISPUTED


def test_an_amendment_waits_out_a_dispute(world: World, escrow: Contract) -> None:
    """Propose, dispute, approve: refused while disputed; after the lapse the approval goes through."""
    submit(world, escrow, 0)
    new_due = due(escrow, 0) + 60 * DAY
    propose(world, escrow, Kind.DUE_DATE, due_date=new_due)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    with reverts("EscrowUnexpectedMilestoneStatus", 0, Status.DISPUTED, OPEN):
        attempt(world, "officer2", approval(escrow, 0))
    next_tx_at(world, world.now() + 30 * DAY + 1)
    send(world, "outsider", escrow.functions.lapseDispute(0))
    send(world, "officer2", approval(escrow, 0))
    assert ms(escrow, 0).due_date == new_due


def test_ruling_period_is_the_procurements(world: World) -> None:
    escrow, _ = make_escrow(world, ruling_period=7 * DAY)
    submit(world, escrow, 0)
    receipt = send(world, "officer", escrow.functions.openDispute(0, REASON))
    assert event(escrow, receipt, "DisputeOpened")["lapsesAt"] == world.now() + 7 * DAY
    next_tx_at(world, world.now() + 7 * DAY)
    send(world, "reviewer", escrow.functions.settleDispute(0, M0, RULING))  # the last second still counts
    assert ms(escrow, 0).status == Status.SETTLED


# ----------------------------------------------------------------------------------------------- signatures, views


def test_signature_basics(world: World, escrow: Contract) -> None:
    """Expired and wrong-key signatures (the full matrix is in test_signatures.py)."""
    fields = {"milestoneId": 0, "documentHash": DOC, "uri": "ipfs://x"}
    now = ahead(world)
    with reverts("EscrowSignatureExpired", now - 1, now):
        relayed(world, escrow, "supplier", "SubmitEvidence", fields, deadline=now - 1)
    with reverts("EscrowInvalidSignature", addr(world, "supplier")):
        relayed(world, escrow, "supplier", "SubmitEvidence", fields, sign_as="supplier_colleague")
    assert world.registry.functions.nonces(addr(world, "supplier")).call() == 0
    relayed(world, escrow, "supplier", "SubmitEvidence", fields, deadline=now)  # the deadline itself is still valid
    assert world.registry.functions.nonces(addr(world, "supplier")).call() == 1


def test_views(world: World, escrow: Contract) -> None:
    typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [typehash, keccak(text="ProcurementEscrow"), keccak(text="1"), world.w3.eth.chain_id, escrow.address],
        )
    )
    assert escrow.functions.domainSeparator().call() == expected
    with reverts("EscrowUnknownMilestone", 3, 3):
        escrow.functions.milestone(3).call()
    with reverts("EscrowNotOnPanel", addr(world, "eval4")):
        escrow.functions.hasAttested(0, addr(world, "eval4")).call()
    assert escrow.functions.amendmentCount().call() == 0
    assert escrow.functions.milestoneCount().call() == 3

"""Regression tests for the weaknesses the independent audit found (issue 11), one or more per finding.

Each test is named after the weakness it guards against (``test_auditNN_<weakness>``) and fails on the
contracts as they were before the fix; the detailed behaviour of each fix is tested with the rest of its
contract (test_escrow.py, test_registry.py, test_factory.py, test_signatures.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.crypto import keccak
from web3.contract import Contract

from chain.clients import AmendmentKind as Kind
from chain.clients import MilestoneStatus as Status
from chain.eip712 import Action, sign_action
from chain.roles import org_id
from tests.contracts.test_escrow import (
    M0,
    RATIONALE,
    REASON,
    RULING,
    TOTAL,
    balance,
    due,
    ms,
    next_tx_at,
    submit,
    totals,
    vote,
)
from tests.contracts.test_registry import (
    EVALUATOR,
    MOD,
    NVE,
    OFFICER,
    SUPPLIER,
    TREASURY,
    ZERO,
    addr,
    attempt,
    books_checked,
    make_escrow,
    relayed,
    reverts,
    send,
)
from tests.helpers import event, events
from tests.world import DAY, ZERO32, World

ATLA = org_id("ATLA")
MOJ = org_id("MOJ")


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


@pytest.fixture
def escrow(world: World) -> Contract:
    return make_escrow(world)[0]


def content(amendment_id: int, milestone_id: int, kind: Kind, amount: int = 0, due_date: int = 0) -> dict[str, Any]:
    """The fields of an ApproveAmendment or ConsentToAmendment action: the amendment's full content."""
    return {
        "amendmentId": amendment_id,
        "milestoneId": milestone_id,
        "kind": kind,
        "newAmount": amount,
        "newDueDate": due_date,
        "rationaleHash": RATIONALE,
    }


def approve(world: World, escrow: Contract, label: str, fields: dict[str, Any]) -> Any:
    fn = escrow.functions.approveAmendment(*fields.values())
    return attempt(world, label, fn)


# ----------------------------------------------------------------------------------------------- 1


def _remove_evaluator(world: World, how: str, label: str) -> None:
    registry = world.registry.functions
    account = addr(world, label)
    if how == "revoked":
        send(world, "admin", registry.revokeRole(EVALUATOR, account))
    elif how == "organization-deactivated":
        send(world, "admin", registry.updateOrganization(ATLA, False, ZERO))
    else:  # rebound to the supplier's organization (its evaluator role has to go first)
        send(world, "admin", registry.revokeRole(EVALUATOR, account))
        send(world, "admin", registry.unbindAccount(account))
        send(world, "admin", registry.bindAccount(account, NVE))
        send(world, "admin", registry.grantRole(SUPPLIER, account))


@pytest.mark.parametrize("how", ["revoked", "organization-deactivated", "rebound-to-supplier"])
def test_audit01_revoked_evaluators_vote_still_counts(world: World, escrow: Contract, how: str) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    _remove_evaluator(world, how, "eval1")
    receipt = vote(world, escrow, 0, "eval2", True)
    assert ms(escrow, 0).status == Status.SUBMITTED, "a revoked evaluator's pass made the quorum"
    assert events(escrow, receipt, "PaymentReleased") == []
    assert event(escrow, receipt, "AttestationsDisregarded") == {
        "milestoneId": 0,
        "round": 1,
        "evaluators": [addr(world, "eval1")],
    }
    receipt = vote(world, escrow, 0, "eval3", True)
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0
    assert ms(escrow, 0).status == Status.PAID


def test_audit01_revoked_evaluators_fail_still_counts(world: World) -> None:
    escrow, _ = make_escrow(world, quorum=2)
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", False)
    _remove_evaluator(world, "revoked", "eval1")
    vote(world, escrow, 0, "eval2", False)
    assert ms(escrow, 0).status == Status.SUBMITTED, "a revoked evaluator's fail made the rejection"
    vote(world, escrow, 0, "eval3", False)
    assert ms(escrow, 0).status == Status.REJECTED


# ----------------------------------------------------------------------------------------------- 2


def test_audit02_amendment_approval_does_not_bind_what_it_approves(world: World, escrow: Contract) -> None:
    due0 = due(escrow, 0)
    # officer2 signs its approval of amendment 0 as a due-date extension ...
    extension = content(0, 0, Kind.DUE_DATE, 0, due0 + 30 * DAY)
    # ... but amendment 0 is a cancellation, and officer relays officer2's signature for it.
    send(world, "officer", escrow.functions.proposeAmendment(0, Kind.CANCEL, 0, 0, RATIONALE))
    stored = (0, Kind.CANCEL, 0, 0, RATIONALE)
    given = (0, Kind.DUE_DATE, 0, due0 + 30 * DAY, RATIONALE)
    with reverts("EscrowAmendmentMismatch", 0, stored, given):
        relayed(world, escrow, "officer2", "ApproveAmendment", extension)
    with reverts("EscrowAmendmentMismatch", 0, stored, given):
        approve(world, escrow, "officer2", extension)
    assert ms(escrow, 0).status == Status.PENDING
    receipt = relayed(world, escrow, "officer2", "ApproveAmendment", content(0, 0, Kind.CANCEL))
    assert event(escrow, receipt, "AmendmentApproved")["kind"] == Kind.CANCEL


# ----------------------------------------------------------------------------------------------- 3


@pytest.mark.parametrize(("kind", "amount"), [(Kind.AMOUNT, 1), (Kind.CANCEL, 0)], ids=["cut-to-1-yen", "cancel"])
def test_audit03_buyer_changes_delivered_milestone_without_supplier(
    world: World, escrow: Contract, kind: Kind, amount: int
) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    send(world, "officer", escrow.functions.proposeAmendment(0, kind, amount, 0, RATIONALE))
    fields = content(0, 0, kind, amount)
    with reverts("EscrowSupplierConsentRequired", 0, 0):
        approve(world, escrow, "officer2", fields)
    assert ms(escrow, 0).status == Status.SUBMITTED
    # With the supplier's consent to the same content (here signed and relayed), it goes through.
    receipt = relayed(world, escrow, "supplier", "ConsentToAmendment", fields)
    assert event(escrow, receipt, "AmendmentConsented") == {
        "amendmentId": 0,
        "milestoneId": 0,
        "supplier": addr(world, "supplier"),
    }
    approve(world, escrow, "officer2", fields)
    assert ms(escrow, 0).status == (Status.CANCELLED if kind == Kind.CANCEL else Status.SUBMITTED)


def test_audit03_dispute_stalls_a_payment_forever(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", True)
    opened = send(world, "officer", escrow.functions.openDispute(0, REASON))
    opened_at = int(world.w3.eth.get_block(opened.block_number)["timestamp"])
    lapses_at = opened_at + 30 * DAY  # the default ruling period
    next_tx_at(world, lapses_at + 1)
    receipt = send(world, "outsider", escrow.functions.lapseDispute(0))
    assert event(escrow, receipt, "DisputeLapsed")["restored"] == Status.SUBMITTED
    receipt = vote(world, escrow, 0, "eval2", True)
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0


def line(world: World) -> tuple[object, ...]:
    """The officer's ministry's budget line, as the factory takes it."""
    return world.line_of("officer").as_tuple()


# ----------------------------------------------------------------------------------------------- 4


def test_audit04_procurement_id_squatted_by_another_ministry(world: World) -> None:
    tender = keccak(text="ocds-b5fd17-MOD-2026-0042")
    squat = world.procurement_params(procurement_id=tender, title="squatted")
    world.create_procurement(squat, 0, "mofa_officer")
    escrow, _ = make_escrow(world, procurement_id=tender)
    assert escrow.functions.totals().call()[0] == TOTAL


# ----------------------------------------------------------------------------------------------- 5


def test_audit05_owed_totals_narrower_than_amounts(world: World) -> None:
    big = 2**47 + 1
    total = 2 * big + 2**50
    # A programme of some 1.1e15 yen: the finance authority enacts it and the ministry distributes it.
    line = world.line_of("officer")
    send(world, "finance", world.budget.functions.enactAppropriation(line.item_key.as_tuple(), 1, total, 0, RULING))
    send(world, "treasury", world.budget.functions.distribute(line.as_tuple(), total))
    escrow, _ = make_escrow(world, amounts=[big, big, 2**50], due_in_days=[30, 30, 30])
    send(world, "mod_admin", escrow.functions.pauseUntil(world.now() + 10 * DAY))
    for milestone_id in (0, 1, 2):
        submit(world, escrow, milestone_id)
        vote(world, escrow, milestone_id, "eval1", True)
        vote(world, escrow, milestone_id, "eval2", True)
        assert ms(escrow, milestone_id).status == Status.APPROVED
    assert totals(escrow)[3] == total


def test_audit05_amounts_beyond_the_books_range_accepted(world: World) -> None:
    too_big = 2**58  # 64 milestones of 2^58 - 1 fit the escrow's 64-bit books; one more yen would not
    params = world.procurement_params(amounts=[too_big], due_in_days=[30])
    with reverts("FactoryInvalidMilestone", 0, too_big, params[5][0]):
        attempt(world, "officer", world.factory.functions.createProcurement(params, 0, line(world), ZERO32))


# ----------------------------------------------------------------------------------------------- 6


def test_audit06_missing_vault_blocks_the_suppliers_share_of_a_ruling(world: World, escrow: Contract) -> None:
    """Since issue 15 the ministry's share of a ruling goes back to the budget line: no vault is involved."""
    vault_before = balance(world, "vault")
    submit(world, escrow, 0)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    before = balance(world, "supplier")
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, 10_000_000, RULING))
    assert balance(world, "supplier") == before + 10_000_000
    assert event(escrow, receipt, "Refunded") == {
        "milestoneId": 0,
        "vault": world.budget.address,
        "amount": M0 - 10_000_000,
    }
    assert balance(world, "vault") == vault_before


def test_audit06_zero_vault_clears_the_ministrys_vault(world: World) -> None:
    with reverts("RegistryInvalidVault", MOD, ZERO):
        attempt(world, "admin", world.registry.functions.updateOrganization(MOD, True, ZERO))


def test_audit06_inactive_ministry_blocks_the_suppliers_share_of_a_ruling(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    send(world, "supplier", escrow.functions.openDispute(0, REASON))
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    before = balance(world, "supplier")
    receipt = send(world, "reviewer", escrow.functions.settleDispute(0, 10_000_000, RULING))
    assert balance(world, "supplier") == before + 10_000_000
    assert event(escrow, receipt, "Refunded")["amount"] == M0 - 10_000_000


# ----------------------------------------------------------------------------------------------- 7


def test_audit07_pause_has_no_end(world: World, escrow: Contract) -> None:
    submit(world, escrow, 0)
    send(world, "mod_admin", escrow.functions.pauseUntil(world.now() + 90 * DAY))
    with reverts("EscrowInvalidPause"):
        attempt(world, "mod_admin", escrow.functions.pauseUntil(world.now() + 91 * DAY))
    vote(world, escrow, 0, "eval1", True)
    vote(world, escrow, 0, "eval2", True)
    assert ms(escrow, 0).status == Status.APPROVED
    next_tx_at(world, world.now() + 90 * DAY + 1)
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0


def test_audit07_owed_yen_of_an_offboarded_supplier_stuck_forever(world: World, escrow: Contract) -> None:
    registry = world.registry.functions
    submit(world, escrow, 0)
    send(world, "admin", registry.updateOrganization(NVE, False, ZERO))  # suspended
    vote(world, escrow, 0, "eval1", True)
    vote(world, escrow, 0, "eval2", True)
    assert ms(escrow, 0).owed == M0
    # Off-boarded: its account released; the organization comes back with a successor account.
    supplier = addr(world, "supplier")
    send(world, "admin", registry.revokeRole(SUPPLIER, supplier))
    send(world, "admin", registry.unbindAccount(supplier))
    send(world, "admin", registry.updateOrganization(NVE, True, ZERO))
    successor = addr(world, "supplier_colleague")
    receipt = send(world, "reviewer", escrow.functions.redirectOwed(0, successor, RULING))
    ruled = event(escrow, receipt, "OwedRedirectRuled")
    assert (ruled["to"], ruled["amount"], ruled["rulingHash"]) == (successor, M0, RULING)
    next_tx_at(world, ruled["executableAt"])
    before = balance(world, "supplier_colleague")
    receipt = send(world, "outsider", escrow.functions.claimPayment(0))
    assert event(escrow, receipt, "OwedRedirected") == {
        "milestoneId": 0,
        "to": successor,
        "amount": M0,
        "rulingHash": RULING,
    }
    assert balance(world, "supplier_colleague") == before + M0


# ----------------------------------------------------------------------------------------------- 8


def test_audit08_ministry_admin_grants_itself_treasury(world: World) -> None:
    mod_admin = addr(world, "mod_admin")
    with reverts("RegistrySelfGrant", mod_admin, TREASURY):
        attempt(world, "mod_admin", world.registry.functions.grantRole(TREASURY, mod_admin))
    with reverts("RegistrySelfGrant", mod_admin, OFFICER):
        attempt(world, "mod_admin", world.registry.functions.grantRole(OFFICER, mod_admin))


def test_audit08_ministry_admin_holds_officer_role(world: World) -> None:
    mod_admin = addr(world, "mod_admin")
    with reverts("RegistryIncompatibleRoles", mod_admin, OFFICER, org_role("MINISTRY_ADMIN_ROLE")):
        attempt(world, "admin", world.registry.functions.grantRole(OFFICER, mod_admin))
    with reverts("RegistryIncompatibleRoles", mod_admin, TREASURY, org_role("MINISTRY_ADMIN_ROLE")):
        attempt(world, "admin", world.registry.functions.grantRole(TREASURY, mod_admin))


def org_role(name: str) -> bytes:
    return keccak(text=name)


def test_audit08_amendment_approved_after_its_proposer_lost_the_officer_role(world: World, escrow: Contract) -> None:
    send(world, "officer", escrow.functions.proposeAmendment(0, Kind.CANCEL, 0, 0, RATIONALE))
    send(world, "admin", world.registry.functions.revokeRole(OFFICER, addr(world, "officer")))
    with reverts("EscrowProposerNotOfficer", 0, addr(world, "officer")):
        approve(world, escrow, "officer2", content(0, 0, Kind.CANCEL))


# ----------------------------------------------------------------------------------------------- 9


def test_audit09_predicted_escrow_address_bound_as_account(world: World) -> None:
    params = world.procurement_params()
    create = world.factory.functions.createProcurement(params, TOTAL, line(world), ZERO32)
    predicted = create.call({"from": addr(world, "officer")})
    send(world, "admin", world.registry.functions.bindAccount(predicted, NVE))
    with reverts("RegistryEscrowAddressBound", predicted, NVE):
        attempt(world, "officer", create)


# ----------------------------------------------------------------------------------------------- 10


def test_audit10_one_fail_rejects_a_round_two_passes_could_still_win(world: World) -> None:
    escrow, _ = make_escrow(world, quorum=1)
    submit(world, escrow, 0)
    vote(world, escrow, 0, "eval1", False)
    assert ms(escrow, 0).status == Status.SUBMITTED
    vote(world, escrow, 0, "eval2", False)
    assert ms(escrow, 0).status == Status.SUBMITTED
    receipt = vote(world, escrow, 0, "eval3", True)
    assert event(escrow, receipt, "PaymentReleased")["amount"] == M0


# ----------------------------------------------------------------------------------------------- 11


def test_audit11_signature_cannot_be_withdrawn(world: World, escrow: Contract) -> None:
    supplier = addr(world, "supplier")
    nonce = world.registry.functions.nonces(supplier).call()
    fields = {"milestoneId": 0, "documentHash": b"\x11" * 32, "uri": "ipfs://old-draft"}
    old_draft = Action("SubmitEvidence", fields, nonce, world.now() + 3600)
    signature = sign_action(
        world.accounts["supplier"], old_draft, chain_id=world.w3.eth.chain_id, escrow=escrow.address
    )
    receipt = send(world, "supplier", world.registry.functions.invalidateNonces(nonce + 1))
    assert event(world.registry, receipt, "NoncesInvalidated") == {
        "signer": supplier,
        "firstNonce": nonce,
        "newNonce": nonce + 1,
        "sender": supplier,
    }
    relay = escrow.functions.submitEvidenceBySig(*old_draft.call_args(supplier, signature))
    with reverts("EscrowInvalidSignature", supplier):
        attempt(world, "outsider", relay)
    assert ms(escrow, 0).status == Status.PENDING

"""ProcurementFactory: validation of every term, the ProcurementCreated event, CREATE2 clone addresses,
registration and the initial funding."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

import chain
from chain.clients import DEFAULT_GRACE_PERIOD, DEFAULT_RULING_PERIOD, sorted_panel
from chain.roles import org_id
from tests.contracts.test_registry import (
    ATLA,
    EVALUATOR,
    MOD,
    MOFA,
    NITE,
    NVE,
    OFFICER,
    SUPPLIER,
    ZERO,
    addr,
    assert_only,
    attempt,
    books_checked,
    reverts,
    send,
)
from tests.helpers import event, events
from tests.world import DAY, ZERO32, World

ID, SUPPLIER_FIELD, EVALUATORS, QUORUM, AMOUNTS, DUE_DATES, SPEC, TITLE, RULING, GRACE = range(10)
U64 = 2**64 - 1
U40 = 2**40 - 1
MAX_AMOUNT = U64 // 64  # 2^58 - 1: 64 milestones of it fit the escrow's 64-bit books
_ids = itertools.count()


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


def params(world: World, **fields: Any) -> tuple[Any, ...]:
    """ProcurementParams: the world's defaults (3 milestones, 2-of-3 panel, a fresh id), with ``fields``
    replaced verbatim (evaluators and supplier as addresses)."""
    base = list(world.procurement_params(procurement_id=keccak(text=f"factory-test-{next(_ids)}")))
    names = (
        "procurement_id",
        "supplier",
        "evaluators",
        "quorum",
        "amounts",
        "due_dates",
        "spec",
        "title",
        "ruling_period",
        "grace_period",
    )
    for name, value in fields.items():
        base[names.index(name)] = value
    return tuple(base)


def create(world: World, p: tuple[Any, ...], fund: int = 0, label: str = "officer") -> Any:
    """The call creating ``p`` against the budget line of ``label``'s ministry, no multi-year authority."""
    return world.factory.functions.createProcurement(p, fund, world.line_of(label).as_tuple(), ZERO32)


def evaluators(world: World, *labels: str) -> list[str]:
    """The panel of these people, in ascending order of address (as the factory requires)."""
    return sorted_panel([addr(world, label) for label in labels])


def encode_terms(p: tuple[Any, ...], ministry: bytes, supplier_org: bytes, officer: str, fund: int) -> bytes:
    """The clone's immutable arguments, as MilestoneEscrow documents their layout."""
    out = bytes(p[ID]) + ministry[:16] + supplier_org[:16]
    out += bytes.fromhex(p[SUPPLIER_FIELD][2:]) + bytes.fromhex(officer[2:])
    out += fund.to_bytes(8, "big") + bytes([p[QUORUM], len(p[EVALUATORS]), len(p[AMOUNTS])])
    out += int(p[RULING]).to_bytes(4, "big") + int(p[GRACE]).to_bytes(4, "big")
    out += b"".join(bytes.fromhex(e[2:]) for e in p[EVALUATORS])
    out += b"".join(a.to_bytes(8, "big") + d.to_bytes(5, "big") for a, d in zip(p[AMOUNTS], p[DUE_DATES], strict=True))
    return out


def salt(ministry: bytes, procurement_id: bytes) -> bytes:
    """The CREATE2 salt: procurement ids are scoped by the buying ministry."""
    return keccak(ministry + procurement_id)


def predict(world: World, args: bytes, salt: bytes) -> str:
    """OpenZeppelin Clones.predictDeterministicAddressWithImmutableArgs, in Python."""
    implementation = bytes.fromhex(world.system.implementation[2:])
    init_code = (
        b"\x61"
        + (len(args) + 45).to_bytes(2, "big")
        + bytes.fromhex("3d81600a3d39f3363d3d373d3d3d363d73")
        + implementation
        + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
        + args
    )
    factory = bytes.fromhex(world.factory.address[2:])
    return to_checksum_address(keccak(b"\xff" + factory + salt + keccak(init_code))[12:])


# ----------------------------------------------------------------------------------------------- success


def test_views(world: World) -> None:
    factory = world.factory.functions
    assert factory.registry().call() == world.registry.address
    assert factory.token().call() == world.token.address
    assert factory.implementation().call() == world.system.implementation
    assert (factory.MAX_EVALUATORS().call(), factory.MAX_MILESTONES().call()) == (16, 64)


def test_create_and_fund(world: World) -> None:
    p = params(world)
    officer = addr(world, "officer")
    total = sum(p[AMOUNTS])
    supply = world.token.functions.totalSupply().call()
    predicted = predict(world, encode_terms(p, MOD, NVE, officer, total), salt(MOD, p[ID]))
    assert create(world, p, total).call({"from": officer}) == predicted

    receipt = send(world, "officer", create(world, p, total))
    created = event(world.factory, receipt, "ProcurementCreated")
    assert dict(created.pop("params")) == {
        "procurementId": p[ID],
        "supplier": p[SUPPLIER_FIELD],
        "evaluators": p[EVALUATORS],
        "quorum": p[QUORUM],
        "amounts": p[AMOUNTS],
        "dueDates": p[DUE_DATES],
        "specHash": p[SPEC],
        "title": p[TITLE],
        "rulingPeriod": DEFAULT_RULING_PERIOD,
        "gracePeriod": DEFAULT_GRACE_PERIOD,
    }
    assert created == {
        "procurementId": p[ID],
        "escrow": predicted,
        "ministryOrg": MOD,
        "officer": officer,
        "supplierOrg": NVE,
        "funded": total,
    }
    assert event(world.registry, receipt, "EscrowRegistered") == {
        "ministryOrg": MOD,
        "procurementId": p[ID],
        "escrow": predicted,
    }
    # The yen come into existence on the procurement's obligation of its budget line, nowhere else.
    assert events(world.token, receipt, "Transfer") == [{"from": ZERO, "to": predicted, "value": total}]
    obligated = event(world.budget, receipt, "Obligated")
    assert obligated == {
        "escrow": predicted,
        "series": 1,
        "fiscalYear": world.fiscal_year,
        "buyer": MOD,
        "lineMinistry": MOD,
        "officer": officer,
        "amount": total,
        "lineObligated": total,
        "escrowObligated": total,
    }
    assert world.budget.functions.obligation(predicted).call() == (1, world.fiscal_year, total, total, 0)
    assert world.registry.functions.escrowOf(MOD, p[ID]).call() == predicted
    assert world.registry.functions.escrowOf(MOFA, p[ID]).call() == ZERO
    assert world.registry.functions.procurementOf(predicted).call() == p[ID]
    assert world.token.functions.balanceOf(predicted).call() == total
    assert world.token.functions.totalSupply().call() == supply + total

    escrow = world.escrow(predicted)
    assert tuple(escrow.functions.terms().call()) == (
        p[ID],
        MOD,
        NVE,
        p[SUPPLIER_FIELD],
        officer,
        world.token.address,
        world.registry.address,
        p[QUORUM],
        p[EVALUATORS],
        DEFAULT_RULING_PERIOD,
        DEFAULT_GRACE_PERIOD,
    )
    assert escrow.functions.milestoneCount().call() == 3
    for i, (amount, due) in enumerate(zip(p[AMOUNTS], p[DUE_DATES], strict=True)):
        assert tuple(escrow.functions.milestone(i).call()) == (amount, due, 0, 0, 0, 0, 0, 0)
    assert escrow.functions.totals().call() == [total, 0, 0, 0]
    assert escrow.functions.shortfall().call() == 0
    assert escrow.functions.amendmentCount().call() == 0
    assert not escrow.functions.paused().call()


def test_clone_code_carries_the_terms(world: World) -> None:
    """The escrow is an EIP-1167 clone of the implementation with the packed terms appended."""
    p = params(world, quorum=1, evaluators=evaluators(world, "eval4"), amounts=[7], due_dates=[world.now() + DAY])
    receipt = send(world, "mofa_officer", create(world, p, label="mofa_officer"))
    escrow = event(world.factory, receipt, "ProcurementCreated")["escrow"]
    args = encode_terms(p, MOFA, NVE, addr(world, "mofa_officer"), 0)
    assert escrow == predict(world, args, salt(MOFA, p[ID]))
    implementation = bytes.fromhex(world.system.implementation[2:])
    expected = bytes.fromhex("363d3d373d3d3d363d73") + implementation + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
    assert bytes(world.w3.eth.get_code(escrow)) == expected + args
    assert world.escrow(escrow).functions.terms().call()[1] == MOFA  # the creating officer's ministry buys


def test_create_without_funding_and_partial_funding(world: World) -> None:
    p = params(world)
    receipt = send(world, "officer", create(world, p, 0))
    assert event(world.factory, receipt, "ProcurementCreated")["funded"] == 0
    assert events(world.token, receipt, "Transfer") == []
    escrow = world.escrow(world.registry.functions.escrowOf(MOD, p[ID]).call())
    assert escrow.functions.shortfall().call() == sum(p[AMOUNTS])

    p = params(world)
    receipt = send(world, "officer", create(world, p, 1_000))
    escrow = world.escrow(event(world.factory, receipt, "ProcurementCreated")["escrow"])
    assert escrow.functions.totals().call() == [1_000, 0, 0, 0]
    assert escrow.functions.shortfall().call() == sum(p[AMOUNTS]) - 1_000


def test_only_active_officers_create(world: World) -> None:
    p = params(world)
    assert_only(
        world,
        {"officer", "officer2", "mofa_officer"},
        lambda label: attempt(world, label, create(world, p, label=label)),
        lambda label: ("FactoryUnauthorized", (addr(world, label),)),
    )


def test_officer_of_deactivated_ministry_or_revoked_cannot_create(world: World) -> None:
    p = params(world)
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    with reverts("FactoryUnauthorized", addr(world, "officer")):
        attempt(world, "officer", create(world, p))
    send(world, "admin", world.registry.functions.updateOrganization(MOD, True, addr(world, "vault")))
    send(world, "mod_admin", world.registry.functions.revokeRole(OFFICER, addr(world, "officer")))
    with reverts("FactoryUnauthorized", addr(world, "officer")):
        attempt(world, "officer", create(world, p))
    send(world, "officer2", create(world, p))


# ----------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("label", ["outsider", "eval1", "officer2", "reviewer"])
def test_invalid_supplier(world: World, label: str) -> None:
    p = params(world, supplier=addr(world, label))
    with reverts("FactoryInvalidSupplier", addr(world, label)):
        attempt(world, "officer", create(world, p))


def test_invalid_supplier_zero_deactivated_or_revoked(world: World) -> None:
    with reverts("FactoryInvalidSupplier", ZERO):
        attempt(world, "officer", create(world, params(world, supplier=ZERO)))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    with reverts("FactoryInvalidSupplier", addr(world, "supplier")):
        attempt(world, "officer", create(world, params(world)))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, True, ZERO))
    send(world, "admin", world.registry.functions.revokeRole(SUPPLIER, addr(world, "supplier")))
    with reverts("FactoryInvalidSupplier", addr(world, "supplier")):
        attempt(world, "officer", create(world, params(world)))
    # The other supplier is unaffected.
    send(world, "officer", create(world, params(world, supplier=addr(world, "other_supplier"))))


@pytest.mark.parametrize(
    ("panel", "bad"),
    [
        (["eval1", "reviewer", "eval2"], "reviewer"),
        (["eval1", "eval2", "outsider"], "outsider"),
        (["eval1", "eval2", "officer2"], "officer2"),
        (["auditor", "eval1", "eval2"], "auditor"),
        (["eval1", "eval2", "eval1"], "eval1"),  # duplicate
        (["eval1", "eval2", "supplier_colleague"], "supplier_colleague"),  # holds no evaluator role
        (["eval1", "other_supplier", "eval2"], "other_supplier"),
    ],
    ids=["review-body", "unbound", "other-officer", "auditor", "duplicate", "supplier-colleague", "other-supplier"],
)
def test_invalid_evaluator(world: World, panel: list[str], bad: str) -> None:
    p = params(world, evaluators=evaluators(world, *panel))
    with reverts("FactoryInvalidEvaluator", addr(world, bad)):
        attempt(world, "officer", create(world, p))


def test_invalid_evaluator_zero_deactivated_or_revoked(world: World) -> None:
    with reverts("FactoryInvalidEvaluator", ZERO):
        attempt(world, "officer", create(world, params(world, evaluators=[addr(world, "eval1"), ZERO])))
    send(world, "admin", world.registry.functions.updateOrganization(ATLA, False, ZERO))
    with reverts("FactoryInvalidEvaluator", addr(world, "eval1")):
        attempt(world, "officer", create(world, params(world)))
    send(world, "admin", world.registry.functions.updateOrganization(ATLA, True, ZERO))
    send(world, "admin", world.registry.functions.revokeRole(EVALUATOR, addr(world, "eval2")))
    with reverts("FactoryInvalidEvaluator", addr(world, "eval2")):
        attempt(world, "officer", create(world, params(world)))


@pytest.mark.parametrize(
    ("creator", "panel", "bad"),
    [
        ("officer", ["eval1", "officer"], "officer"),
        ("officer2", ["officer2", "eval1"], "officer2"),
        ("officer", ["eval1", "supplier"], "supplier"),
    ],
    ids=["creating-officer", "creating-officer-first", "supplier"],
)
def test_segregation_of_duties(world: World, creator: str, panel: list[str], bad: str) -> None:
    """The creating officer and the supplier can never sit on the panel (checked before their roles are)."""
    p = params(world, evaluators=evaluators(world, *panel), quorum=1)
    with reverts("FactorySegregationOfDuties", addr(world, bad)):
        attempt(world, creator, create(world, p))


def test_another_officer_of_the_ministry_is_not_a_segregation_case(world: World) -> None:
    """Only the creating officer is excluded by identity; any other officer fails as a non-evaluator."""
    p = params(world, evaluators=evaluators(world, "eval1", "officer2"), quorum=1)
    with reverts("FactoryInvalidEvaluator", addr(world, "officer2")):
        attempt(world, "officer", create(world, p))


@pytest.mark.parametrize(
    ("size", "quorum"),
    [(0, 0), (0, 1), (3, 0), (3, 4), (1, 2), (17, 2), (17, 17)],
)
def test_invalid_panel(world: World, size: int, quorum: int) -> None:
    panel = [to_checksum_address(keccak(text=f"panel-{i}")[:20]) for i in range(size)]
    with reverts("FactoryInvalidPanel", size, quorum):
        attempt(world, "officer", create(world, params(world, evaluators=panel, quorum=quorum)))


def test_largest_panel_and_quorum(world: World) -> None:
    panel = evaluators(world, "eval1", "eval2", "eval3", "eval4")
    for i in range(12):
        extra = to_checksum_address(keccak(text=f"extra-evaluator-{i}")[:20])
        send(world, "admin", world.registry.functions.bindAccount(extra, NITE))
        send(world, "admin", world.registry.functions.grantRole(EVALUATOR, extra))
        panel.append(extra)
    panel = sorted_panel(panel)
    p = params(world, evaluators=panel, quorum=16)
    receipt = send(world, "officer", create(world, p))
    escrow = world.escrow(event(world.factory, receipt, "ProcurementCreated")["escrow"])
    assert tuple(escrow.functions.terms().call())[7:9] == (16, panel)
    with reverts("FactoryInvalidPanel", 16, 17):
        attempt(world, "officer", create(world, params(world, evaluators=panel, quorum=17)))


def test_unsorted_panel_refused(world: World) -> None:
    """The escrow finds a seat by binary search: the panel must come in ascending order of address."""
    panel = evaluators(world, "eval1", "eval2", "eval3")
    unsorted = [panel[0], panel[2], panel[1]]
    with reverts("FactoryUnsortedPanel", 2, panel[1]):
        attempt(world, "officer", create(world, params(world, evaluators=unsorted)))
    with reverts("FactoryInvalidEvaluator", panel[1]):  # a duplicate is caught as such, not as disorder
        attempt(world, "officer", create(world, params(world, evaluators=[panel[0], panel[1], panel[1]])))
    send(world, "officer", create(world, params(world, evaluators=panel)))


WEEK, YEAR = 7 * DAY, 365 * DAY


@pytest.mark.parametrize(
    ("ruling", "grace", "valid"),
    [
        (WEEK, 30 * DAY, True),
        (YEAR, 730 * DAY, True),
        (WEEK - 1, 90 * DAY, False),
        (YEAR + 1, 90 * DAY, False),
        (30 * DAY, 30 * DAY - 1, False),
        (30 * DAY, 730 * DAY + 1, False),
        (0, 0, False),
    ],
    ids=["shortest", "longest", "ruling-too-short", "ruling-too-long", "grace-too-short", "grace-too-long", "zero"],
)
def test_ruling_and_grace_periods(world: World, ruling: int, grace: int, valid: bool) -> None:
    p = params(world, ruling_period=ruling, grace_period=grace)
    if not valid:
        with reverts("FactoryInvalidPeriods", ruling, grace):
            attempt(world, "officer", create(world, p))
        return
    receipt = send(world, "officer", create(world, p))
    created = event(world.factory, receipt, "ProcurementCreated")
    assert (created["params"]["rulingPeriod"], created["params"]["gracePeriod"]) == (ruling, grace)
    assert tuple(world.escrow(created["escrow"]).functions.terms().call())[9:] == (ruling, grace)


def test_limits_are_published_and_mirrored_by_chain(world: World) -> None:
    """The factory publishes EscrowLimits; chain.clients mirrors them for spec files and clients."""
    factory = world.factory.functions
    assert factory.DEFAULT_RULING_PERIOD().call() == DEFAULT_RULING_PERIOD == 30 * DAY
    assert factory.DEFAULT_GRACE_PERIOD().call() == DEFAULT_GRACE_PERIOD == 90 * DAY
    assert factory.MAX_AMOUNT().call() == MAX_AMOUNT == chain.MAX_AMOUNT
    ruling = (factory.MIN_RULING_PERIOD().call(), factory.MAX_RULING_PERIOD().call())
    grace = (factory.MIN_GRACE_PERIOD().call(), factory.MAX_GRACE_PERIOD().call())
    assert (ruling, grace) == (chain.RULING_PERIOD_RANGE, chain.GRACE_PERIOD_RANGE)


@pytest.mark.parametrize(("amounts", "due_dates"), [(0, 0), (65, 65), (3, 2), (2, 3), (0, 1)])
def test_invalid_milestone_lists(world: World, amounts: int, due_dates: int) -> None:
    now = world.now()
    p = params(world, amounts=[1] * amounts, due_dates=[now + DAY] * due_dates)
    with reverts("FactoryInvalidMilestones", amounts, due_dates):
        attempt(world, "officer", create(world, p))


def test_most_milestones(world: World) -> None:
    now = world.now()
    p = params(world, amounts=list(range(1, 65)), due_dates=[now + (i + 1) * DAY for i in range(64)])
    receipt = send(world, "officer", create(world, p, sum(range(1, 65))))
    escrow = world.escrow(event(world.factory, receipt, "ProcurementCreated")["escrow"])
    assert escrow.functions.milestoneCount().call() == 64
    assert tuple(escrow.functions.milestone(63).call())[:2] == (64, now + 64 * DAY)
    assert escrow.functions.shortfall().call() == 0


@pytest.mark.parametrize(
    ("amount", "due_offset"),
    [(0, DAY), (MAX_AMOUNT + 1, DAY), (U64, DAY), (1, 0), (1, -DAY)],
    ids=["zero-amount", "amount-over-max", "amount-uint64", "due-now", "due-past"],
)
def test_invalid_milestone_values(world: World, amount: int, due_offset: int) -> None:
    now = world.now()
    due = now + due_offset
    p = params(world, amounts=[5, amount, 6], due_dates=[now + DAY, due, now + 2 * DAY])
    with reverts("FactoryInvalidMilestone", 1, amount, due):
        attempt(world, "officer", create(world, p))


def test_due_date_beyond_uint40_refused(world: World) -> None:
    p = params(world, amounts=[5], due_dates=[U40 + 1])
    with reverts("FactoryInvalidMilestone", 0, 5, U40 + 1):
        attempt(world, "officer", create(world, p))
    # The escrow could hold a due date of 2^40 - 1, but the budget refuses it: a milestone due in a later fiscal
    # year needs a multi-year obligation authority covering that year.
    p = params(world, amounts=[5], due_dates=[U40])
    with reverts("BudgetOutsideAuthority", ZERO32, chain.fiscal_year_containing(U40)):
        attempt(world, "officer", create(world, p))


# ----------------------------------------------------------------------------------------------- funding


def test_funding_above_total_refused(world: World) -> None:
    p = params(world)
    total = sum(p[AMOUNTS])
    with reverts("FactoryInvalidFunding", total + 1, total):
        attempt(world, "officer", create(world, p, total + 1))


def test_largest_procurement_fits_the_books(world: World) -> None:
    """64 milestones of the largest amount, fully funded, then all approved while paused: every sum the escrow
    keeps (funded, owed) stays within its 64-bit books, with no overflow anywhere."""
    now = world.now()
    # The budget bounds a procurement before the escrow's limits do: an item's appropriation is at most
    # MAX_YEN (2^56 - 1), so the largest procurement one line can carry is 64 milestones of MAX_YEN // 64.
    max_yen = world.budget.functions.MAX_YEN().call()
    amount = max_yen // 64
    assert amount <= MAX_AMOUNT
    total = 64 * amount
    line = world.line_of("officer")
    send(
        world,
        "finance",
        world.budget.functions.enactAppropriation(
            line.item_key.as_tuple(),
            1,
            max_yen - world.budget.functions.item(line.item_key.as_tuple()).call()[3],
            0,
            keccak(text="supplementary"),
        ),
    )
    undistributed = max_yen - world.budget.functions.item(line.item_key.as_tuple()).call()[4]
    send(world, "treasury", world.budget.functions.distribute(line.as_tuple(), undistributed))
    p = params(world, amounts=[amount] * 64, due_dates=[now + DAY + i for i in range(64)], quorum=1)
    receipt = send(world, "officer", create(world, p, total))
    escrow = world.escrow(event(world.factory, receipt, "ProcurementCreated")["escrow"])
    assert escrow.functions.totals().call() == [total, 0, 0, 0]
    send(world, "mod_admin", escrow.functions.pauseUntil(now + 30 * DAY))
    for i in range(64):
        send(world, "supplier", escrow.functions.submitEvidence(i, b"\x11" * 32, "ipfs://x"))
        send(world, "eval1", escrow.functions.attest(i, 1, True, b"\x22" * 32))
    assert escrow.functions.totals().call() == [total, 0, 0, total]
    world.tester.time_travel(now + 31 * DAY)
    send(world, "outsider", escrow.functions.claimPayment(63))
    assert escrow.functions.totals().call() == [total, amount, 0, total - amount]


def test_funding_must_arrive_exactly(world: World) -> None:
    """If the escrow's address already held yen (here: the registry admin bound the predicted address to a
    ministry before creation, yen were sent there, and the address was released again), the factory refuses
    to book the wrong balance. While the address is bound, the registry refuses the escrow outright."""
    p = params(world)
    officer = addr(world, "officer")
    predicted = predict(world, encode_terms(p, MOD, NVE, officer, 1_000), salt(MOD, p[ID]))
    send(world, "admin", world.registry.functions.bindAccount(predicted, MOD))
    pay_supplier(world)
    send(world, "supplier", world.token.functions.transfer(predicted, 5))
    with reverts("RegistryEscrowAddressBound", predicted, MOD):
        attempt(world, "officer", create(world, p, 1_000))
    send(world, "admin", world.registry.functions.unbindAccount(predicted))
    with reverts("FactoryInvalidFunding", 1_000, 1_005):
        attempt(world, "officer", create(world, p, 1_000))


def pay_supplier(world: World) -> None:
    """Give the supplier yen the only way yen exist: a procurement's milestone 0 approved and paid."""
    send(world, "officer", create(world, params(world, procurement_id=keccak(text="paying")), 0))
    escrow = world.escrow(world.registry.functions.escrowOf(MOD, keccak(text="paying")).call())
    send(world, "officer", escrow.functions.fund(escrow.functions.shortfall().call()))
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))


# ----------------------------------------------------------------------------------------------- duplicates


def test_duplicate_procurement_id(world: World) -> None:
    p = params(world)
    receipt = send(world, "officer", create(world, p))
    existing = event(world.factory, receipt, "ProcurementCreated")["escrow"]
    # Different terms give a different clone address; the registry refuses the second escrow for the id.
    with reverts("RegistryDuplicateProcurement", MOD, p[ID], existing):
        attempt(world, "officer2", create(world, p))
    changed = params(world, procurement_id=p[ID], title="another title", quorum=1)
    with reverts("RegistryDuplicateProcurement", MOD, p[ID], existing):
        attempt(world, "officer", create(world, changed))
    # Identical terms from the same officer would land on the same address: CREATE2 itself refuses.
    with reverts("FailedDeployment"):
        attempt(world, "officer", create(world, p))


def test_zero_procurement_id_refused(world: World) -> None:
    with reverts("RegistryDuplicateProcurement", MOD, b"\x00" * 32, ZERO):
        attempt(world, "officer", create(world, params(world, procurement_id=b"\x00" * 32)))


def test_procurement_ids_are_scoped_by_ministry(world: World) -> None:
    """The same id (and terms) in two ministries: two escrows, at two addresses, each registered under its own
    ministry; whichever ministry comes first, the other can still create its procurement."""
    first = params(world)
    second = params(world, procurement_id=first[ID], title=first[TITLE])
    b = event(
        world.factory, send(world, "mofa_officer", create(world, second, label="mofa_officer")), "ProcurementCreated"
    )
    a = event(world.factory, send(world, "officer", create(world, first)), "ProcurementCreated")
    assert a["escrow"] != b["escrow"]
    assert (a["ministryOrg"], b["ministryOrg"]) == (MOD, org_id("MOFA"))
    assert world.registry.functions.escrowOf(MOD, first[ID]).call() == a["escrow"]
    assert world.registry.functions.escrowOf(org_id("MOFA"), first[ID]).call() == b["escrow"]
    assert world.registry.functions.procurementOf(a["escrow"]).call() == first[ID]
    assert world.registry.functions.procurementOf(b["escrow"]).call() == first[ID]

"""Stateful property test: random sequences of escrow actions by random actors never break the escrow's books.

A hypothesis state machine funds, submits evidence, attests (directly and by signature), reclaims after time
travel, amends, disputes and settles, pauses and claims on one or two escrows, with actors drawn from the
whole cast. Refused actions must revert with a custom error (never a panic) and change nothing. After every
step that changed the chain it checks:

* conservation of funds: each escrow holds exactly funded - released - refunded, its totals agree with the
  events it emitted, and no yen leaves the set {officer, MOD vault, supplier, escrows};
* no release without a quorum: an Approved or Paid milestone had at least ``quorum`` distinct, allowed panel
  evaluators pass its current round (as tracked from the attestations this test sent);
* no milestone paid twice or above its amount, and no payment from any state but Approved/Paid/Settled;
* every successful action was performed by someone entitled to it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from chain import Receipt
from chain.eip712 import Action, sign_action
from chain.errors import ContractRevert
from chain.roles import Role
from tests.world import DAY, World

UNIT = 1_000_000  # amounts are whole millions of yen
TX_GAS = 1_500_000  # fixed gas: every action is simulated first, and py-evm's estimation is slow
SETUP_GAS = 3_000_000
INSPECTION_PERIOD = 10 * DAY
EVALUATORS = ("eval1", "eval2", "eval3", "eval4")
MOD_OFFICERS = frozenset({"officer", "officer2"})
SHARES = st.sampled_from([0, 1, 50, 99, 100, 100, 101, 150])  # supplier's share of a settlement, in percent
APPROVERS = st.sampled_from(["officer", "officer2", "officer", "officer2", "mofa_officer"])
HOLDERS = ("officer", "vault", "supplier")  # everyone the yen of these escrows can ever reach
DOC = b"\x11" * 32
REPORT = b"\x22" * 32
RATIONALE = b"\x33" * 32
REASON = b"\x44" * 32
RULING = b"\x55" * 32


class Status(enum.IntEnum):
    """IMilestoneEscrow.MilestoneStatus."""

    PENDING = 0
    SUBMITTED = 1
    REJECTED = 2
    APPROVED = 3
    PAID = 4
    DISPUTED = 5
    SETTLED = 6
    REFUNDED = 7
    CANCELLED = 8


@dataclass(frozen=True)
class Config:
    """One procurement to create: milestone amounts (in UNIT) and due days, panel, quorum, funding percent,
    and whether releases start paused."""

    amounts: tuple[int, ...]
    due_days: tuple[int, ...]
    panel: tuple[str, ...]
    quorum: int
    funding_percent: int
    paused: bool


@st.composite
def configs(draw: st.DrawFn) -> Config:
    count = draw(st.integers(1, 3))
    amounts = draw(st.lists(st.integers(1, 50), min_size=count, max_size=count))
    due_days = draw(st.lists(st.integers(5, 90), min_size=count, max_size=count))
    panel = draw(st.lists(st.sampled_from(EVALUATORS), min_size=1, max_size=4, unique=True))
    quorum = draw(st.integers(1, len(panel)))
    funding = draw(st.sampled_from([0, 40, 100, 100]))
    paused = draw(st.sampled_from([False, False, True]))
    return Config(tuple(amounts), tuple(due_days), tuple(panel), quorum, funding, paused)


@dataclass
class Tracked:
    """What the test itself knows about one escrow, independently of the escrow's own accounting."""

    contract: Contract
    config: Config
    initial_funding: int
    passes: dict[tuple[int, int], set[str]] = field(default_factory=dict)  # (milestone, round) -> evaluators
    fails: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    released: dict[int, int] = field(default_factory=dict)  # milestone -> yen paid out (PaymentReleased)
    refunded: int = 0
    top_ups: int = 0
    paid: set[int] = field(default_factory=set)  # milestones already seen Paid
    settled: dict[int, int] = field(default_factory=dict)  # milestone -> supplier share of the settlement
    proposers: dict[int, str] = field(default_factory=dict)  # amendment id -> proposer
    paused: bool = False

    @property
    def count(self) -> int:
        return len(self.config.amounts)


class EscrowMachine(RuleBasedStateMachine):
    """Drives random actions against one or two escrows of a fresh snapshot of the standard world."""

    WORLD: ClassVar[World]  # bound by the test, which owns the fixture

    def __init__(self) -> None:
        super().__init__()
        world = self.world = self.WORLD
        self.snapshot = world.tester.take_snapshot()
        self.escrows: list[Tracked] = []
        self.revoked: set[str] = set()
        self.labels: dict[str, str] = {str(account.address): label for label, account in world.accounts.items()}
        self.dirty = True
        token = world.token.functions
        self.supply = int(token.totalSupply().call())
        self.held_at_start = sum(int(token.balanceOf(world.accounts[h].address).call()) for h in HOLDERS)

    def teardown(self) -> None:
        self.world.tester.revert_to_snapshot(self.snapshot)

    # ---------------------------------------------------------------------------------------- plumbing

    def _send(self, label: str, fn: ContractFunction) -> Receipt | None:
        """Send ``fn`` from ``label``; None if the escrow refused it (with a custom error, never a panic)."""
        sender = self.world.sender(label)
        try:
            sender.call(fn)
            receipt = sender.transact(fn, gas=TX_GAS)
        except ContractRevert as exc:
            if exc.name == "Panic":  # every refusal has its own custom error; a panic is a bug
                raise AssertionError(f"{fn.fn_name} by {label} panicked: {exc}") from exc
            return None
        self.dirty = True
        self._observe(receipt)
        return receipt

    def _relay(self, e: Tracked, signer: str, primary_type: str, fields: dict[str, Any]) -> Receipt | None:
        """Sign an action with ``signer``'s key and relay it from an account with no role."""
        account = self.world.accounts[signer]
        nonce = int(self.world.registry.functions.nonces(account.address).call())
        action = Action(primary_type, fields, nonce, self.world.now() + 3600)
        signature = sign_action(account, action, chain_id=self.world.w3.eth.chain_id, escrow=e.contract.address)
        fn = getattr(e.contract.functions, action.function_name)(*action.call_args(account.address, signature))
        receipt = self._send("outsider", fn)
        if receipt is not None:
            (used,) = self._events(e, receipt, "SignatureUsed")
            assert (used["signer"], used["nonce"]) == (account.address, nonce)
            assert self.world.registry.functions.nonces(account.address).call() == nonce + 1
        return receipt

    def _events(self, e: Tracked, receipt: Receipt, name: str) -> list[dict[str, Any]]:
        found = getattr(e.contract.events, name)().process_receipt(receipt.raw, errors=DISCARD)
        return [dict(ev["args"]) for ev in found if ev["address"] == e.contract.address]

    def _label(self, address: str) -> str:
        return self.labels.get(address, address)

    def _milestone(self, e: Tracked, m: int) -> tuple[int, int, Status, int, int, int, int]:
        amount, due, status, round_, passes, fails, owed = e.contract.functions.milestone(m).call()
        return amount, due, Status(status), round_, passes, fails, owed

    def _observe(self, receipt: Receipt) -> None:
        """Book every escrow event of a mined transaction, checking who acted and when."""
        timestamp = int(self.world.w3.eth.get_block(receipt.block_number)["timestamp"])
        supplier = self.world.supplier.address
        for e in self.escrows:
            for ev in self._events(e, receipt, "Funded"):
                assert self._label(ev["funder"]) in MOD_OFFICERS, ev
                e.top_ups += ev["amount"]
            for ev in self._events(e, receipt, "EvidenceSubmitted"):
                assert ev["supplier"] == supplier, ev
                assert timestamp <= self._milestone(e, ev["milestoneId"])[1], "evidence accepted after due date"
            for ev in self._events(e, receipt, "PaymentReleased"):
                m = ev["milestoneId"]
                assert ev["supplier"] == supplier, ev
                assert not e.paused, f"payment released while paused: {ev}"
                assert m not in e.paid, f"milestone {m} paid again after it was Paid: {ev}"
                assert ev["amount"] <= self._milestone(e, m)[0], f"payment above the milestone amount: {ev}"
                e.released[m] = e.released.get(m, 0) + ev["amount"]
            for ev in self._events(e, receipt, "Refunded"):
                assert ev["vault"] == self.world.vault.address, ev
                e.refunded += ev["amount"]
            for ev in self._events(e, receipt, "MilestoneReclaimed"):
                assert self._label(ev["officer"]) in MOD_OFFICERS, ev
                due = self._milestone(e, ev["milestoneId"])[1]
                grace = INSPECTION_PERIOD if ev["previous"] == Status.SUBMITTED else 0
                assert timestamp > due + grace, f"reclaimed too early: {ev} at {timestamp}"
            for ev in self._events(e, receipt, "AmendmentProposed"):
                assert self._label(ev["proposer"]) in MOD_OFFICERS, ev
                e.proposers[ev["amendmentId"]] = self._label(ev["proposer"])
            for ev in self._events(e, receipt, "AmendmentApproved"):
                approver = self._label(ev["approver"])
                assert approver in MOD_OFFICERS, ev
                assert approver != e.proposers[ev["amendmentId"]], f"amendment approved by its proposer: {ev}"
            for ev in self._events(e, receipt, "DisputeOpened"):
                assert ev["opener"] == supplier or self._label(ev["opener"]) in MOD_OFFICERS, ev
                assert ev["previous"] in (Status.SUBMITTED, Status.REJECTED), ev
            for ev in self._events(e, receipt, "DisputeSettled"):
                assert self._label(ev["reviewer"]) == "reviewer", ev
                amount = self._milestone(e, ev["milestoneId"])[0]
                assert ev["supplierAmount"] + ev["ministryAmount"] == amount, ev
                e.settled[ev["milestoneId"]] = ev["supplierAmount"]
            for ev in self._events(e, receipt, "PauseChanged"):
                assert self._label(ev["admin"]) == "mod_admin", ev
                e.paused = ev["paused"]

    def _pick_milestone(self, e: Tracked, pick: int, *wanted: Status) -> int:
        """Mostly a milestone in one of the ``wanted`` states if there is one (so that actions have a chance to
        succeed), otherwise any milestone, and now and then one past the end."""
        if pick == 15:
            return e.count
        if wanted and pick < 12:
            candidates = [m for m in range(e.count) if self._milestone(e, m)[2] in wanted]
            if candidates:
                return candidates[pick % len(candidates)]
        return pick % e.count

    def _escrow(self, index: int) -> Tracked:
        return self.escrows[index % len(self.escrows)]

    # ---------------------------------------------------------------------------------------- set-up

    @initialize(procurements=st.lists(configs(), min_size=1, max_size=2))
    def create(self, procurements: list[Config]) -> None:
        world = self.world
        world.sender("officer").transact(
            world.token.functions.approve(world.factory.address, 2**256 - 1), gas=SETUP_GAS
        )
        for i, config in enumerate(procurements):
            now = world.now()
            total = sum(config.amounts) * UNIT
            funding = total * config.funding_percent // 100
            params = (
                world.w3.keccak(text=f"invariants-{now}-{i}"),
                world.supplier.address,
                [world.accounts[label].address for label in config.panel],
                config.quorum,
                [a * UNIT for a in config.amounts],
                [now + d * DAY for d in config.due_days],
                b"\x99" * 32,
                f"Random procurement {i}",
            )
            officer = world.sender("officer")
            receipt = officer.transact(world.factory.functions.createProcurement(params, funding), gas=SETUP_GAS)
            (created,) = world.factory.events.ProcurementCreated().process_receipt(receipt.raw, errors=DISCARD)
            escrow = world.escrow(created["args"]["escrow"])
            officer.transact(world.token.functions.approve(escrow.address, 2**256 - 1), gas=SETUP_GAS)
            tracked = Tracked(escrow, config, funding)
            self.escrows.append(tracked)
            if config.paused:
                receipt = world.sender("mod_admin").transact(escrow.functions.setPaused(True), gas=SETUP_GAS)
                self._observe(receipt)
                assert tracked.paused
        self.dirty = True

    # ---------------------------------------------------------------------------------------- rules

    @rule(
        index=st.integers(0, 1),
        actor=st.sampled_from(["officer", "officer", "officer", "officer2", "mofa_officer", "supplier", "outsider"]),
        how=st.sampled_from(["shortfall", "shortfall", "half", "one", "over", "zero"]),
    )
    def fund(self, index: int, actor: str, how: str) -> None:
        e = self._escrow(index)
        shortfall = int(e.contract.functions.shortfall().call())
        amount = {"shortfall": shortfall, "half": shortfall // 2, "one": UNIT, "over": shortfall + 1, "zero": 0}[how]
        self._send(actor, e.contract.functions.fund(amount))

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        actor=st.sampled_from(["supplier"] * 4 + ["supplier_colleague", "other_supplier", "officer", "eval1"]),
        by_sig=st.sampled_from([False, False, False, True]),
    )
    def submit_evidence(self, index: int, pick: int, actor: str, by_sig: bool) -> None:
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
        uri = f"ipfs://evidence-{m}"
        if by_sig:
            fields = {"milestoneId": m, "documentHash": DOC, "uri": uri}
            receipt = self._relay(e, actor, "SubmitEvidence", fields)
        else:
            receipt = self._send(actor, e.contract.functions.submitEvidence(m, DOC, uri))
        if receipt is not None:
            assert actor == "supplier", f"evidence accepted from {actor}"

    def _attest(self, e: Tracked, m: int, actor: str, verdict: bool, round_shift: int, by_sig: bool) -> bool:
        """``actor`` attests; if the escrow accepts, it must have been a legitimate attestation, and is booked.
        Returns whether the attestation closed the round (approved or rejected the milestone)."""
        status, current = (self._milestone(e, m)[2:4]) if m < e.count else (Status.PENDING, 0)
        round_ = max(0, current + round_shift)
        if by_sig:
            fields = {"milestoneId": m, "round": round_, "pass": verdict, "reportHash": REPORT}
            receipt = self._relay(e, actor, "Attest", fields)
        else:
            receipt = self._send(actor, e.contract.functions.attest(m, round_, verdict, REPORT))
        if receipt is None:
            return False
        key = (m, round_)
        already = e.passes.get(key, set()) | e.fails.get(key, set())
        panel = e.config.panel
        assert actor in panel, f"attestation accepted from {actor}, who is not on the panel {panel}"
        assert actor not in self.revoked, f"attestation accepted from {actor}, whose evaluator role is revoked"
        assert actor not in already, f"{actor} attested twice in round {round_} of milestone {m}"
        assert status == Status.SUBMITTED, f"attestation accepted on a {status.name} milestone"
        assert round_ == current, f"attestation for round {round_} accepted, current is {current}"
        (attested,) = self._events(e, receipt, "Attested")
        expected = (self.world.accounts[actor].address, round_, verdict)
        assert (attested["evaluator"], attested["round"], attested["pass"]) == expected, attested
        (e.passes if verdict else e.fails).setdefault(key, set()).add(actor)
        closing = self._events(e, receipt, "MilestoneApproved") + self._events(e, receipt, "SubmissionRejected")
        return bool(closing)

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        who=st.integers(0, 9),
        verdict=st.booleans(),
        round_shift=st.sampled_from([0, 0, 0, 0, 0, 1, -1]),
        by_sig=st.sampled_from([False, False, False, True]),
    )
    def attest(self, index: int, pick: int, who: int, verdict: bool, round_shift: int, by_sig: bool) -> None:
        """One attestation by a panel member (mostly) or by anyone else: the supplier, the officer, ..."""
        e = self._escrow(index)
        panel = e.config.panel
        others = [x for x in EVALUATORS if x not in panel] + ["supplier", "officer", "supplier_colleague", "reviewer"]
        actor = panel[who % len(panel)] if who < 6 else others[(who - 6) % len(others)]
        self._attest(e, self._pick_milestone(e, pick, Status.SUBMITTED), actor, verdict, round_shift, by_sig)

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        turns=st.lists(
            st.tuples(
                st.sampled_from((*EVALUATORS, "supplier", "officer")),
                st.sampled_from([True, True, False]),
                st.sampled_from([False] * 5 + [True]),
            ),
            min_size=1,
            max_size=8,
        ),
    )
    def evaluation_round(self, index: int, pick: int, turns: list[tuple[str, bool, bool]]) -> None:
        """The supplier submits evidence, then evaluators, the supplier and the officer attest in turn, each
        with a verdict, directly or by signature. Only panel members' first attestation in the round may be
        accepted, and nobody's once the round has closed."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
        submitted = self._send("supplier", e.contract.functions.submitEvidence(m, DOC, f"ipfs://evidence-{m}"))
        closed = submitted is None and (m >= e.count or self._milestone(e, m)[2] != Status.SUBMITTED)
        for actor, verdict, signed in turns:
            was_closed = closed
            closed = self._attest(e, m, actor, verdict, 0, signed) or closed
            if was_closed:
                break  # one attempt after the round closed is enough to see it refused

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        days=st.sampled_from([0, 0, 0, 1, 5, 15, 45]),
        past_due=st.none() | st.sampled_from([0, 1, 9, 10, 11]),
        actor=st.sampled_from(["officer", "officer", "officer2", "mofa_officer", "supplier", "outsider"]),
    )
    def reclaim(self, index: int, pick: int, days: int, past_due: int | None, actor: str) -> None:
        """Reclaim a milestone after ``days``, or ``past_due`` days (and a second) after its due date."""
        e = self._escrow(index)
        # Around the due date, a milestone under evaluation is the interesting one (inspection period).
        wanted = (Status.SUBMITTED,) if past_due is not None else (Status.PENDING, Status.SUBMITTED, Status.REJECTED)
        m = self._pick_milestone(e, pick, *wanted)
        target = self.world.now() + days * DAY
        if past_due is not None and m < e.count:
            target = max(target, self._milestone(e, m)[1] + past_due * DAY + 1)
        if target > self.world.now():
            self.world.tester.time_travel(target)
        self._send(actor, e.contract.functions.reclaim(m))

    @rule(days=st.sampled_from([1, 2, 5, 20]))
    def wait(self, days: int) -> None:
        self.world.tester.time_travel(self.world.now() + days * DAY)

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        kind=st.sampled_from([0, 0, 1, 1, 2]),
        amount=st.integers(0, 80),
        due_in=st.integers(-3, 60),
        actor=st.sampled_from(["officer", "officer2", "officer2", "mofa_officer", "supplier"]),
        approver=st.none() | APPROVERS,
    )
    def propose_amendment(
        self, index: int, pick: int, kind: int, amount: int, due_in: int, actor: str, approver: str | None
    ) -> None:
        """Propose an amendment; sometimes an officer (perhaps the proposer) approves it at once."""
        e = self._escrow(index)
        due = max(0, self.world.now() + due_in * DAY)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.SUBMITTED, Status.REJECTED)
        receipt = self._send(actor, e.contract.functions.proposeAmendment(m, kind, amount * UNIT, due, RATIONALE))
        if receipt is not None and approver is not None:
            (proposed,) = self._events(e, receipt, "AmendmentProposed")
            self._send(approver, e.contract.functions.approveAmendment(proposed["amendmentId"]))

    @rule(index=st.integers(0, 1), which=st.integers(0, 7), actor=APPROVERS)
    def approve_amendment(self, index: int, which: int, actor: str) -> None:
        """Approve a pending amendment (mostly), an executed one, or one that does not exist."""
        e = self._escrow(index)
        count = int(e.contract.functions.amendmentCount().call())
        pending = [i for i in range(count) if not e.contract.functions.amendment(i).call()[2]]
        if which == 7 or count == 0:
            amendment_id = count
        elif pending and which < 5:
            amendment_id = pending[which % len(pending)]
        else:
            amendment_id = which % count
        self._send(actor, e.contract.functions.approveAmendment(amendment_id))

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        actor=st.sampled_from(["supplier", "officer", "officer2", "eval1", "supplier_colleague", "outsider"]),
        submit_first=st.booleans(),
        settle=st.none() | SHARES,
        reviewer=st.sampled_from(["reviewer", "reviewer", "auditor", "officer"]),
    )
    def open_dispute(
        self, index: int, pick: int, actor: str, submit_first: bool, settle: int | None, reviewer: str
    ) -> None:
        """Open a dispute (sometimes right after the supplier delivers); sometimes a review body (or someone
        else) rules on it at once."""
        e = self._escrow(index)
        if submit_first:
            m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
            self._send("supplier", e.contract.functions.submitEvidence(m, DOC, f"ipfs://evidence-{m}"))
        else:
            m = self._pick_milestone(e, pick, Status.SUBMITTED, Status.REJECTED)
        if self._send(actor, e.contract.functions.openDispute(m, REASON)) is not None and settle is not None:
            self._settle(e, m, settle, reviewer)

    def _settle(self, e: Tracked, m: int, percent: int, actor: str) -> None:
        amount = self._milestone(e, m)[0] if m < e.count else UNIT
        self._send(actor, e.contract.functions.settleDispute(m, amount * percent // 100, RULING))

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        percent=SHARES,
        actor=st.sampled_from(["reviewer", "reviewer", "auditor", "officer"]),
    )
    def settle_dispute(self, index: int, pick: int, percent: int, actor: str) -> None:
        e = self._escrow(index)
        self._settle(e, self._pick_milestone(e, pick, Status.DISPUTED), percent, actor)

    @rule(
        index=st.integers(0, 1),
        paused=st.booleans(),
        actor=st.sampled_from(["mod_admin", "mod_admin", "mofa_admin", "officer"]),
    )
    def set_paused(self, index: int, paused: bool, actor: str) -> None:
        self._send(actor, self._escrow(index).contract.functions.setPaused(paused))

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        actor=st.sampled_from(["outsider", "supplier", "officer"]),
        prepare=st.sampled_from(["nothing", "top up", "resume", "both", "both"]),
        times=st.integers(1, 2),
    )
    def claim_payment(self, index: int, pick: int, actor: str, prepare: str, times: int) -> None:
        """Claim an owed payment (once or twice), sometimes after the officer tops up and the admin resumes."""
        e = self._escrow(index)
        if prepare in ("top up", "both"):
            shortfall = int(e.contract.functions.shortfall().call())
            self._send("officer", e.contract.functions.fund(shortfall))
        if prepare in ("resume", "both"):
            self._send("mod_admin", e.contract.functions.setPaused(False))
        m = self._pick_milestone(e, pick, Status.APPROVED, Status.SETTLED)
        for _ in range(times):
            self._send(actor, e.contract.functions.claimPayment(m))

    @rule(evaluator=st.sampled_from(EVALUATORS))
    def toggle_evaluator_role(self, evaluator: str) -> None:
        registry = self.world.registry.functions
        address = self.world.accounts[evaluator].address
        if evaluator in self.revoked:
            self.world.sender("admin").transact(registry.grantRole(Role.EVALUATOR.id, address), gas=SETUP_GAS)
            self.revoked.discard(evaluator)
        else:
            self.world.sender("admin").transact(registry.revokeRole(Role.EVALUATOR.id, address), gas=SETUP_GAS)
            self.revoked.add(evaluator)

    # ---------------------------------------------------------------------------------------- invariants

    @invariant()
    def books_balance(self) -> None:
        if not self.dirty or not self.escrows:
            return  # nothing was mined since the last check: the state is the one already checked
        self.dirty = False
        token = self.world.token.functions
        escrow_balances = 0
        for e in self.escrows:
            funded, released, refunded, owed = e.contract.functions.totals().call()
            balance = int(token.balanceOf(e.contract.address).call())
            escrow_balances += balance
            assert balance == funded - released - refunded, f"balance {balance} != {funded}-{released}-{refunded}"
            assert funded == e.initial_funding + e.top_ups, "funded total disagrees with Funded events"
            assert released == sum(e.released.values()), "released total disagrees with PaymentReleased events"
            assert refunded == e.refunded, "refunded total disagrees with Refunded events"
            owed_sum = sum(self._check_milestone(e, m) for m in range(e.count))
            assert owed == owed_sum, f"owed total {owed} != sum of milestones' owed {owed_sum}"
        held = sum(int(token.balanceOf(self.world.accounts[h].address).call()) for h in HOLDERS)
        assert int(token.totalSupply().call()) == self.supply, "token supply changed"
        assert held + escrow_balances == self.held_at_start, "yen left the officer/vault/supplier/escrows set"

    def _check_milestone(self, e: Tracked, m: int) -> int:
        """Check one milestone against the test's own records; returns what the escrow says it owes on it."""
        amount, _, status, round_, passes, fails, owed = self._milestone(e, m)
        released = e.released.get(m, 0)
        passers = e.passes.get((m, round_), set())
        failers = e.fails.get((m, round_), set())
        where = f"milestone {m} ({status.name}, round {round_})"
        assert (passes, fails) == (len(passers), len(failers)), f"{where}: on-chain tally {passes}/{fails}"
        assert released + owed <= amount, f"{where}: released {released} + owed {owed} > amount {amount}"
        if status in (Status.APPROVED, Status.PAID):
            allowed = passers & set(e.config.panel)
            assert len(allowed) >= e.config.quorum, f"{where}: released on {sorted(passers)} < quorum"
        if status == Status.APPROVED:
            assert (released, owed) == (0, amount), f"{where}: released {released}, owed {owed}"
        elif status == Status.PAID:
            assert (released, owed) == (amount, 0), f"{where}: released {released}, owed {owed}"
            e.paid.add(m)
        elif status == Status.SETTLED:
            assert released + owed == e.settled[m], f"{where}: paid {released}+{owed} != share {e.settled[m]}"
        else:
            assert (released, owed) == (0, 0), f"{where}: money moved without approval or settlement"
        return int(owed)


SETTINGS = settings(
    max_examples=20,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_escrow_invariants_hold_under_random_actions(world: World) -> None:
    class Machine(EscrowMachine):
        WORLD = world

    run_state_machine_as_test(Machine, settings=SETTINGS)

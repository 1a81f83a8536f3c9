"""Stateful property test: random sequences of escrow actions by random actors never break the escrow's promises.

A hypothesis state machine funds, submits evidence, attests (directly and by signature), reclaims after time
travel, amends (sometimes with the supplier's consent, sometimes naming other content, sometimes aimed at
disputed or closed milestones, sometimes around a dispute: propose -> dispute -> approve), disputes, settles
and lets disputes lapse, pauses (and lets pauses run out), claims payments, redirects the owed yen of an
off-boarded supplier, withdraws signatures, and - mid-round, for every party - revokes and re-grants roles and
deactivates and reactivates organizations, on one or two escrows with actors drawn from the whole cast. On the
budget side it raises obligations, moves money between the world's MOD line and a sibling line (requests
approved or refused, sometimes for more than is available), and closes ended fiscal years and settles their
lines (time runs across year ends). The test keeps its own model of who may do what at each moment. Refused
actions must revert with a custom error (never a panic) and change nothing. After every step that changed the
chain it checks:

* conservation of funds: each escrow holds exactly funded - released - refunded, its totals agree with the
  events it emitted, and yen in existence == escrow balances + yen paid out (to the supplier or its successor);
* money follows the budget: every escrow drew exactly funded - refunded on its obligation (drawn <= obligated);
  for every line of every year: obligated + carry-over <= allotted, disbursed <= obligated; what all lines
  disbursed is what the escrows released; a settled line lapsed only its unobligated balance beyond the
  carry-over and moved its unpaid obligations on;
* no release without a quorum: every approval came when at least ``quorum`` panel evaluators who passed the
  round were allowed to attest at that moment, and every rejection when the allowed fails put a pass quorum
  out of reach;
* no milestone paid twice or above its amount, and no payment from any state but Approved/Paid/Settled;
* every successful action was performed by someone entitled to it at that moment;
* no stranded yen: everything an escrow holds is needed by an open or disputed milestone or owed to someone;
  and at the end of every run, a sequence of permitted actions (time passing, disputes lapsing, the budget
  brought into the current fiscal year for raises no obligation covers, the officer obligating, funding and
  reclaiming, claims, a review body's redirects) empties every escrow, with the government's own accounts
  restored by the registry admin but never the supplier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from chain import LineKey, Receipt, fiscal_year_containing, sorted_panel
from chain.clients import MilestoneStatus as Status
from chain.eip712 import Action, sign_action
from chain.errors import ContractRevert, TransactionFailed
from chain.roles import Role, org_id
from tests.helpers import examples
from tests.world import DAY, World

UNIT = 1_000_000  # amounts are whole millions of yen
TX_GAS = 3_000_000  # fixed gas: every action is simulated first, and py-evm's estimation is slow
SETUP_GAS = 3_000_000
INSPECTION_PERIOD = 10 * DAY
EVALUATORS = ("eval1", "eval2", "eval3", "eval4")
MOD_OFFICERS = frozenset({"officer", "officer2"})
SHARES = st.sampled_from([0, 1, 50, 99, 100, 100, 101, 150])  # supplier's share of a settlement, in percent
APPROVERS = st.sampled_from(["officer", "officer2", "officer", "officer2", "mofa_officer"])
HOLDERS = ("supplier", "supplier_colleague")  # everyone the yen of these escrows can be paid out to
SPARE = b"SPARE-PARTS".ljust(32, b"\x00")  # the sibling sub-item line transfers move money to and from
ZERO = "0x" + "00" * 20
DOC = b"\x11" * 32
REPORT = b"\x22" * 32
RATIONALE = b"\x33" * 32
REASON = b"\x44" * 32
RULING = b"\x55" * 32
AUTHORIZED, ACCIDENT = 0, 1  # IBudgetLedger.CarryOverKind: 明許繰越, 事故繰越
ALL_AUTHORIZATIONS = 3  # BudgetLedger's TRANSFER_BETWEEN_ITEMS | CARRY_OVER
# Who belongs where, and the roles the machine may revoke and re-grant.
ORG_OF = {
    "officer": "MOD",
    "officer2": "MOD",
    "mod_admin": "MOD",
    "supplier": "NVE",
    "supplier_colleague": "NVE",
    "eval1": "ATLA",
    "eval2": "JQA",
    "eval3": "NITE",
    "eval4": "NITE",
    "reviewer": "REVIEW",
}
ROLES = {
    "officer": Role.PROCUREMENT_OFFICER,
    "officer2": Role.PROCUREMENT_OFFICER,
    "mod_admin": Role.MINISTRY_ADMIN,
    "supplier": Role.SUPPLIER,
    "supplier_colleague": Role.SUPPLIER,
    "eval1": Role.EVALUATOR,
    "eval2": Role.EVALUATOR,
    "eval3": Role.EVALUATOR,
    "eval4": Role.EVALUATOR,
    "reviewer": Role.REVIEW_BODY,
}
ORGS = ("MOD", "NVE", "ATLA", "JQA", "NITE", "REVIEW")


OPEN = (Status.PENDING, Status.SUBMITTED, Status.REJECTED)
CLOSED = (Status.APPROVED, Status.PAID, Status.SETTLED, Status.REFUNDED, Status.CANCELLED)


@dataclass(frozen=True)
class Config:
    """One procurement to create: milestone amounts (in UNIT) and due days, panel, quorum, funding percent,
    ruling and grace periods (days), and whether releases start paused."""

    amounts: tuple[int, ...]
    due_days: tuple[int, ...]
    panel: tuple[str, ...]
    quorum: int
    funding_percent: int
    ruling_days: int
    grace_days: int
    paused: bool


@st.composite
def configs(draw: st.DrawFn) -> Config:
    count = draw(st.integers(1, 3))
    amounts = draw(st.lists(st.integers(1, 50), min_size=count, max_size=count))
    due_days = draw(st.lists(st.integers(5, 90), min_size=count, max_size=count))
    panel = draw(st.lists(st.sampled_from(EVALUATORS), min_size=1, max_size=4, unique=True))
    quorum = draw(st.integers(1, len(panel)))
    funding = draw(st.sampled_from([0, 40, 100, 100]))
    ruling = draw(st.sampled_from([7, 30, 30, 45]))
    grace = draw(st.sampled_from([30, 90]))
    paused = draw(st.sampled_from([False, False, True]))
    return Config(tuple(amounts), tuple(due_days), tuple(panel), quorum, funding, ruling, grace, paused)


@dataclass
class Tracked:
    """What the test itself knows about one escrow, independently of the escrow's own accounting."""

    contract: Contract
    config: Config
    initial_funding: int
    passes: dict[tuple[int, int], set[str]] = field(default_factory=dict)  # (milestone, round) -> evaluators
    fails: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    released: dict[int, int] = field(default_factory=dict)  # milestone -> yen paid to the supplier's side
    to_ministry: dict[int, int] = field(default_factory=dict)  # milestone -> owed yen redirected to the ministry
    refunded: int = 0
    top_ups: int = 0
    paid: set[int] = field(default_factory=set)  # milestones already seen Paid
    approved: set[int] = field(default_factory=set)  # milestones a quorum approved
    settled: dict[int, int] = field(default_factory=dict)  # milestone -> supplier share of the settlement
    proposers: dict[int, str] = field(default_factory=dict)  # amendment id -> proposer
    consented: set[int] = field(default_factory=set)  # amendment ids the supplier consented to
    lapses_at: dict[int, int] = field(default_factory=dict)  # milestone -> end of its open dispute
    paused_until: int = 0

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
        self.revoked: set[str] = set()  # people whose ROLES[...] role is revoked
        self.inactive: set[str] = set()  # deactivated organizations
        self.labels: dict[str, str] = {str(account.address): label for label, account in world.accounts.items()}
        self.dirty = True
        token = world.token.functions
        self.supply = int(token.totalSupply().call())
        self.held_at_start = sum(int(token.balanceOf(world.accounts[h].address).call()) for h in HOLDERS)
        main = world.lines["MOD"]
        self.series = (main, LineKey(main.fiscal_year, main.ministry, main.organization, main.item, SPARE))
        self.disbursed_at_start = sum(self._line(key)[5] for key in self.series)
        self.settled_lines: set[tuple[int, int]] = set()  # (series index, fiscal year) seen settled

    def teardown(self) -> None:
        try:
            if self.escrows:
                self._drain()
        finally:
            self.world.tester.revert_to_snapshot(self.snapshot)

    # ---------------------------------------------------------------------------------------- the model

    def may(self, label: str) -> bool:
        """Whether ``label`` holds its role in an active organization now (the test's own model)."""
        return label not in self.revoked and ORG_OF[label] not in self.inactive

    def may_attest(self, label: str) -> bool:
        return self.may(label)  # evaluators never belong to the supplier's organization here

    def can_hold(self, label: str) -> bool:
        return ORG_OF.get(label, "MOD") not in self.inactive

    # ---------------------------------------------------------------------------------------- plumbing

    def _send(self, label: str, fn: ContractFunction) -> Receipt | None:
        """Send ``fn`` from ``label``; None if the escrow refused it (with a custom error, never a panic)."""
        sender = self.world.sender(label)
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        try:
            # simulated on the pending block, where (and when) the transaction will run
            sender.call_data(str(fn.address), data, block="pending")
            try:
                receipt = sender.transact(fn, gas=TX_GAS)
            except TransactionFailed:
                # eth-tester's pending block may carry the latest block's time, and the transaction is mined a
                # second later: a deadline that fell in between (a ruling period's last second) refuses it then.
                # The refusal at the mined block's time (the failed transaction changed nothing) is the answer.
                sender.call_data(str(fn.address), data, block="latest")
                raise
        except ContractRevert as exc:
            if exc.name == "Panic":  # every refusal has its own custom error; a panic is a bug
                raise AssertionError(f"{fn.fn_name} by {label} panicked: {exc}") from exc
            return None
        self.dirty = True
        self._observe(receipt)
        return receipt

    def _sign(self, e: Tracked, signer: str, primary_type: str, fields: dict[str, Any]) -> tuple[Action, bytes]:
        account = self.world.accounts[signer]
        nonce = int(self.world.registry.functions.nonces(account.address).call())
        action = Action(primary_type, fields, nonce, self.world.now() + 3600)
        signature = sign_action(account, action, chain_id=self.world.w3.eth.chain_id, escrow=e.contract.address)
        return action, signature

    def _relay(self, e: Tracked, signer: str, primary_type: str, fields: dict[str, Any]) -> Receipt | None:
        """Sign an action with ``signer``'s key and relay it from an account with no role."""
        action, signature = self._sign(e, signer, primary_type, fields)
        account = self.world.accounts[signer]
        fn = getattr(e.contract.functions, action.function_name)(*action.call_args(account.address, signature))
        receipt = self._send("outsider", fn)
        if receipt is not None:
            (used,) = self._events(e, receipt, "SignatureUsed")
            assert (used["signer"], used["nonce"]) == (account.address, action.nonce)
            assert self.world.registry.functions.nonces(account.address).call() == action.nonce + 1
        return receipt

    def _events(self, e: Tracked, receipt: Receipt, name: str) -> list[dict[str, Any]]:
        found = getattr(e.contract.events, name)().process_receipt(receipt.raw, errors=DISCARD)
        return [dict(ev["args"]) for ev in found if ev["address"] == e.contract.address]

    def _label(self, address: str) -> str:
        return self.labels.get(address, address)

    def _milestone(self, e: Tracked, m: int) -> tuple[int, int, Status, int, int, int, int]:
        amount, due, status, round_, passes, fails, owed, _ = e.contract.functions.milestone(m).call()
        return amount, due, Status(status), round_, passes, fails, owed

    def _line(self, key: LineKey) -> tuple[Any, ...]:
        """(series, exists, settled, allotted, obligated, disbursed, carryOver, available)."""
        return tuple(self.world.budget.functions.line(key.as_tuple()).call())

    def _observe(self, receipt: Receipt) -> None:
        """Book every escrow event of a mined transaction, checking who acted and when against the model."""
        timestamp = int(self.world.w3.eth.get_block(receipt.block_number)["timestamp"])
        supplier = self.world.supplier.address
        for e in self.escrows:
            panel = e.config.panel
            for ev in self._events(e, receipt, "Attested"):
                key = (ev["milestoneId"], ev["round"])
                evaluator = self._label(ev["evaluator"])
                assert evaluator in panel, f"attestation by {evaluator}, not on the panel: {ev}"
                assert self.may_attest(evaluator), f"attestation by {evaluator}, who may not attest: {ev}"
                (e.passes if ev["pass"] else e.fails).setdefault(key, set()).add(evaluator)
            for ev in self._events(e, receipt, "MilestoneApproved"):
                m = ev["milestoneId"]
                allowed = {x for x in e.passes.get((m, ev["round"]), set()) if self.may_attest(x)}
                assert len(allowed) >= e.config.quorum, f"approved on {sorted(allowed)} allowed passes: {ev}"
                e.approved.add(m)
            for ev in self._events(e, receipt, "SubmissionRejected"):
                allowed = {x for x in e.fails.get((ev["milestoneId"], ev["round"]), set()) if self.may_attest(x)}
                assert len(allowed) == ev["fails"], ev
                assert len(allowed) > len(panel) - e.config.quorum, f"rejected while a pass quorum was possible: {ev}"
            for ev in self._events(e, receipt, "Funded"):
                self._acted(ev["funder"], *MOD_OFFICERS)
                e.top_ups += ev["amount"]
            for ev in self._events(e, receipt, "EvidenceSubmitted"):
                self._acted(ev["supplier"], "supplier")
                assert timestamp <= self._milestone(e, ev["milestoneId"])[1], "evidence accepted after due date"
            for ev in self._events(e, receipt, "PaymentReleased"):
                m = ev["milestoneId"]
                assert ev["supplier"] == supplier, ev
                assert timestamp >= e.paused_until, f"payment released while paused: {ev}"
                assert m not in e.paid, f"milestone {m} paid again after it was Paid: {ev}"
                assert ev["amount"] <= self._milestone(e, m)[0], f"payment above the milestone amount: {ev}"
                e.released[m] = e.released.get(m, 0) + ev["amount"]
            for ev in self._events(e, receipt, "OwedRedirected"):
                m = ev["milestoneId"]
                assert not self.can_hold("supplier"), f"owed yen redirected while the supplier can hold them: {ev}"
                if ev["to"] == ZERO:
                    e.to_ministry[m] = e.to_ministry.get(m, 0) + ev["amount"]
                else:
                    self._acted(ev["to"], "supplier_colleague")
                    assert timestamp >= e.paused_until, f"redirected payment released while paused: {ev}"
                    e.released[m] = e.released.get(m, 0) + ev["amount"]
            for ev in self._events(e, receipt, "OwedRedirectRuled"):
                self._acted(ev["reviewer"], "reviewer")
                assert not self.can_hold("supplier"), f"redirect ruled while the supplier can hold yen: {ev}"
                assert ev["executableAt"] == timestamp + e.config.grace_days * DAY, ev
            for ev in self._events(e, receipt, "Refunded"):
                assert ev["vault"] == self.world.budget.address, ev
                e.refunded += ev["amount"]
            for ev in self._events(e, receipt, "MilestoneReclaimed"):
                self._acted(ev["officer"], *MOD_OFFICERS)
                due = self._milestone(e, ev["milestoneId"])[1]
                grace = INSPECTION_PERIOD if ev["previous"] == Status.SUBMITTED else 0
                assert timestamp > due + grace, f"reclaimed too early: {ev} at {timestamp}"
            for ev in self._events(e, receipt, "AmendmentProposed"):
                self._acted(ev["proposer"], *MOD_OFFICERS)
                e.proposers[ev["amendmentId"]] = self._label(ev["proposer"])
            for ev in self._events(e, receipt, "AmendmentConsented"):
                self._acted(ev["supplier"], "supplier")
                e.consented.add(ev["amendmentId"])
            for ev in self._events(e, receipt, "AmendmentApproved"):
                approver, proposer = self._acted(ev["approver"], *MOD_OFFICERS), e.proposers[ev["amendmentId"]]
                assert approver != proposer, f"amendment approved by its proposer: {ev}"
                assert self.may(proposer), f"amendment approved after its proposer lost the officer role: {ev}"
            for ev in self._events(e, receipt, "DisputeOpened"):
                self._acted(ev["opener"], "supplier", *MOD_OFFICERS)
                assert ev["previous"] in (Status.SUBMITTED, Status.REJECTED), ev
                assert ev["lapsesAt"] == timestamp + e.config.ruling_days * DAY, ev
                e.lapses_at[ev["milestoneId"]] = ev["lapsesAt"]
            for ev in self._events(e, receipt, "DisputeSettled"):
                self._acted(ev["reviewer"], "reviewer")
                assert timestamp <= e.lapses_at[ev["milestoneId"]], f"ruled after the ruling period: {ev}"
                amount = self._milestone(e, ev["milestoneId"])[0]
                assert ev["supplierAmount"] + ev["ministryAmount"] == amount, ev
                e.settled[ev["milestoneId"]] = ev["supplierAmount"]
            for ev in self._events(e, receipt, "DisputeLapsed"):
                assert timestamp > e.lapses_at[ev["milestoneId"]], f"lapsed within the ruling period: {ev}"
            for ev in self._events(e, receipt, "PauseChanged"):
                self._acted(ev["admin"], "mod_admin")
                assert ev["pausedUntil"] <= timestamp + 90 * DAY, ev
                e.paused_until = ev["pausedUntil"]

    def _acted(self, address: str, *entitled: str) -> str:
        """The label of ``address``, which must be one of ``entitled`` and hold its role right now."""
        label = self._label(address)
        assert label in entitled, f"{label} acted, only {entitled} may"
        assert self.may(label), f"{label} acted without an active role"
        return label

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

    def _content(self, e: Tracked, amendment_id: int) -> list[Any]:
        """An amendment's content (milestone, kind, new amount, new due date, rationale) as approvals name it."""
        if amendment_id >= int(e.contract.functions.amendmentCount().call()):
            return [0, 2, 0, 0, RATIONALE]
        milestone_id, kind, _, _, new_due, new_amount, rationale, _ = e.contract.functions.amendment(
            amendment_id
        ).call()
        return [milestone_id, kind, new_amount, new_due, rationale]

    # ---------------------------------------------------------------------------------------- set-up

    @initialize(procurements=st.lists(configs(), min_size=1, max_size=2))
    def create(self, procurements: list[Config]) -> None:
        world = self.world
        for i, config in enumerate(procurements):
            now = world.now()
            total = sum(config.amounts) * UNIT
            funding = total * config.funding_percent // 100
            params = (
                world.w3.keccak(text=f"invariants-{now}-{i}"),
                world.supplier.address,
                sorted_panel([world.accounts[label].address for label in config.panel]),
                config.quorum,
                [a * UNIT for a in config.amounts],
                [now + d * DAY for d in config.due_days],
                b"\x99" * 32,
                f"Random procurement {i}",
                config.ruling_days * DAY,
                config.grace_days * DAY,
            )
            officer = world.sender("officer")
            line = world.lines["MOD"].as_tuple()
            create = world.factory.functions.createProcurement(params, funding, line, b"\x00" * 32)
            receipt = officer.transact(create, gas=SETUP_GAS)
            (created,) = world.factory.events.ProcurementCreated().process_receipt(receipt.raw, errors=DISCARD)
            escrow = world.escrow(created["args"]["escrow"])
            tracked = Tracked(escrow, config, funding)
            self.escrows.append(tracked)
            if config.paused:
                fn = escrow.functions.pauseUntil(now + 20 * DAY)
                receipt = world.sender("mod_admin").transact(fn, gas=SETUP_GAS)
                self._observe(receipt)
                assert tracked.paused_until > 0
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
        """``actor`` attests; if the escrow accepts, it must have been a legitimate attestation (booked by
        ``_observe``). Returns whether the attestation closed the round (approved or rejected the milestone)."""
        status, current = (self._milestone(e, m)[2:4]) if m < e.count else (Status.PENDING, 0)
        round_ = max(0, current + round_shift)
        already = e.passes.get((m, round_), set()) | e.fails.get((m, round_), set())
        if by_sig:
            fields = {"milestoneId": m, "round": round_, "pass": verdict, "reportHash": REPORT}
            receipt = self._relay(e, actor, "Attest", fields)
        else:
            receipt = self._send(actor, e.contract.functions.attest(m, round_, verdict, REPORT))
        if receipt is None:
            return False
        panel = e.config.panel
        assert actor in panel, f"attestation accepted from {actor}, who is not on the panel {panel}"
        assert actor not in already, f"{actor} attested twice in round {round_} of milestone {m}"
        assert status == Status.SUBMITTED, f"attestation accepted on a {status.name} milestone"
        assert round_ == current, f"attestation for round {round_} accepted, current is {current}"
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
                st.sampled_from((*EVALUATORS, "supplier", "officer", "toggle")),
                st.sampled_from([True, True, False]),
                st.sampled_from([False] * 5 + [True]),
            ),
            min_size=1,
            max_size=8,
        ),
    )
    def evaluation_round(self, index: int, pick: int, turns: list[tuple[str, bool, bool]]) -> None:
        """The supplier submits evidence, then evaluators, the supplier and the officer attest in turn, each
        with a verdict, directly or by signature; a "toggle" turn revokes (or restores) the role of a panel
        evaluator who voted, mid-round. Only panel members' first attestation in the round may be accepted,
        and nobody's once the round has closed."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
        submitted = self._send("supplier", e.contract.functions.submitEvidence(m, DOC, f"ipfs://evidence-{m}"))
        closed = submitted is None and (m >= e.count or self._milestone(e, m)[2] != Status.SUBMITTED)
        for actor, verdict, signed in turns:
            if actor == "toggle":
                self.toggle_role(e.config.panel[0])
                continue
            was_closed = closed
            closed = self._attest(e, m, actor, verdict, 0, signed) or closed
            if was_closed:
                break  # one attempt after the round closed is enough to see it refused

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        how=st.sampled_from(["role", "organization"]),
        verdict=st.booleans(),
    )
    def decide_after_a_voter_left(self, index: int, pick: int, how: str, verdict: bool) -> None:
        """Mid-round, the first evaluator to vote loses its role or its organization is deactivated; then the
        rest of the panel votes the same way. The removed evaluator's vote must not count at the decision."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
        self._send("supplier", e.contract.functions.submitEvidence(m, DOC, f"ipfs://evidence-{m}"))
        first, *rest = e.config.panel
        if not self._attest(e, m, first, verdict, 0, False):
            if how == "role" or ORG_OF[first] in self.inactive:
                self.toggle_role(first)
            else:
                self.toggle_organization(ORG_OF[first])
            for evaluator in rest:
                if self._attest(e, m, evaluator, verdict, 0, False):
                    break

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        successor=st.booleans(),
        wait_grace=st.sampled_from([False, True, True]),
    )
    def suspend_supplier_then_redirect(self, index: int, pick: int, successor: bool, wait_grace: bool) -> None:
        """The supplier delivers, its organization is suspended, the panel passes the milestone (the payment
        stays owed); a review body redirects the owed yen - to the ministry, or (the organization back, the
        supplier's own account off the ledger's books for this purpose: it is suspended again after) to the
        colleague - and perhaps the grace period passes and anyone claims."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.PENDING, Status.REJECTED)
        self._send("supplier", e.contract.functions.submitEvidence(m, DOC, f"ipfs://evidence-{m}"))
        if "NVE" not in self.inactive:
            self.toggle_organization("NVE")
        for evaluator in e.config.panel:
            if self._attest(e, m, evaluator, True, 0, False):
                break
        target = self.world.supplier_colleague.address if successor else ZERO
        receipt = self._send("reviewer", e.contract.functions.redirectOwed(m, target, RULING))
        if receipt is not None and wait_grace:
            self.world.tester.time_travel(self.world.now() + e.config.grace_days * DAY)
            self._send("outsider", e.contract.functions.claimPayment(m))

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
        wanted = (Status.SUBMITTED,) if past_due is not None else OPEN
        m = self._pick_milestone(e, pick, *wanted)
        target = self.world.now() + days * DAY
        if past_due is not None and m < e.count:
            target = max(target, self._milestone(e, m)[1] + past_due * DAY + 1)
        if target > self.world.now():
            self.world.tester.time_travel(target)
        self._send(actor, e.contract.functions.reclaim(m))

    @rule(days=st.sampled_from([1, 1, 2, 5, 20, 31]))
    def wait(self, days: int) -> None:
        """Time passes: due dates, pauses and ruling periods run out."""
        self.world.tester.time_travel(self.world.now() + days * DAY)

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        kind=st.sampled_from([0, 0, 1, 1, 2]),
        amount=st.integers(0, 80),
        due_in=st.integers(-3, 60),
        actor=st.sampled_from(["officer", "officer2", "officer2", "mofa_officer", "supplier"]),
        consent=st.sampled_from([False, False, True]),
        approver=st.none() | APPROVERS,
        aim=st.sampled_from(["open", "open", "open", "disputed-or-closed"]),
    )
    def propose_amendment(
        self,
        index: int,
        pick: int,
        kind: int,
        amount: int,
        due_in: int,
        actor: str,
        consent: bool,
        approver: str | None,
        aim: str,
    ) -> None:
        """Propose an amendment (now and then aimed at a disputed or closed milestone, which must be refused);
        sometimes the supplier consents, and an officer (perhaps the proposer) approves it at once."""
        e = self._escrow(index)
        due = max(0, self.world.now() + due_in * DAY)
        wanted = OPEN if aim == "open" else (Status.DISPUTED, *CLOSED)
        m = self._pick_milestone(e, pick, *wanted)
        status = self._milestone(e, m)[2] if m < e.count else None
        receipt = self._send(actor, e.contract.functions.proposeAmendment(m, kind, amount * UNIT, due, RATIONALE))
        if receipt is None:
            return
        assert status in OPEN, f"amendment proposed on a {status} milestone"
        (proposed,) = self._events(e, receipt, "AmendmentProposed")
        amendment_id = proposed["amendmentId"]
        if consent:
            self._send(
                "supplier", e.contract.functions.consentToAmendment(amendment_id, *self._content(e, amendment_id))
            )
        if approver is not None:
            self._approve(e, amendment_id, approver, tamper=False)

    def _approve(self, e: Tracked, amendment_id: int, approver: str, *, tamper: bool) -> None:
        content = self._content(e, amendment_id)
        if tamper:  # an approval of other content than the amendment's must be refused
            content = [content[0], (content[1] + 1) % 3, *content[2:]]
        milestone_id, kind, new_amount, new_due, _ = content
        amount, due, status = self._milestone(e, milestone_id)[:3] if milestone_id < e.count else (0, 0, None)
        receipt = self._send(approver, e.contract.functions.approveAmendment(amendment_id, *content))
        if receipt is not None:
            assert not tamper, f"approval of other content than amendment {amendment_id}'s accepted"
            assert status in OPEN, f"amendment approved on a {status} milestone"
            against = kind == 2 or (kind == 0 and new_amount < amount) or (kind == 1 and new_due < due)
            if status == Status.SUBMITTED and against:
                assert amendment_id in e.consented, f"delivered milestone changed without the supplier: {content}"

    @rule(
        index=st.integers(0, 1), which=st.integers(0, 7), actor=APPROVERS, tamper=st.sampled_from([False] * 4 + [True])
    )
    def approve_amendment(self, index: int, which: int, actor: str, tamper: bool) -> None:
        """Approve a pending amendment (mostly), an executed one, or one that does not exist; now and then
        naming other content than the amendment's."""
        e = self._escrow(index)
        count = int(e.contract.functions.amendmentCount().call())
        pending = [i for i in range(count) if not e.contract.functions.amendment(i).call()[2]]
        if which == 7 or count == 0:
            amendment_id = count
        elif pending and which < 5:
            amendment_id = pending[which % len(pending)]
        else:
            amendment_id = which % count
        self._approve(e, amendment_id, actor, tamper=tamper)

    @rule(index=st.integers(0, 1), pick=st.integers(0, 15), kind=st.sampled_from([0, 1, 2]), lapse=st.booleans())
    def propose_dispute_approve(self, index: int, pick: int, kind: int, lapse: bool) -> None:
        """An officer proposes an amendment of a milestone under evaluation, the supplier disputes it, the other
        officer approves: refused while disputed; perhaps the dispute lapses and the approval is tried again."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.SUBMITTED)
        amount, due = self._milestone(e, m)[:2] if m < e.count else (UNIT, 0)
        fn = e.contract.functions.proposeAmendment(m, kind, amount + UNIT, due + 5 * DAY, RATIONALE)
        receipt = self._send("officer", fn)
        if receipt is None:
            return
        (proposed,) = self._events(e, receipt, "AmendmentProposed")
        self._send("supplier", e.contract.functions.openDispute(m, REASON))
        self._approve(e, proposed["amendmentId"], "officer2", tamper=False)
        if lapse and self._milestone(e, m)[2] == Status.DISPUTED:
            self.world.tester.time_travel(self.world.now() + e.config.ruling_days * DAY + 1)
            self._send("outsider", e.contract.functions.lapseDispute(m))
            self._approve(e, proposed["amendmentId"], "officer2", tamper=False)

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
        pick=st.integers(0, 15),
        when=st.sampled_from(["now", "at-the-end", "after"]),
        actor=st.sampled_from(["outsider", "supplier", "officer"]),
    )
    def lapse_dispute(self, index: int, pick: int, when: str, actor: str) -> None:
        """Lapse a dispute now, at the last second of its ruling period (refused), or after it (accepted)."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.DISPUTED)
        lapses_at = e.lapses_at.get(m)
        if lapses_at is not None and when != "now":
            target = lapses_at if when == "at-the-end" else lapses_at + 1
            if target > self.world.now() + 1:
                self.world.tester.time_travel(target)
        self._send(actor, e.contract.functions.lapseDispute(m))

    @rule(
        index=st.integers(0, 1),
        days=st.sampled_from([0, 1, 30, 90, 91]),
        actor=st.sampled_from(["mod_admin", "mod_admin", "mofa_admin", "officer"]),
        resume=st.sampled_from([False, False, True]),
    )
    def pause(self, index: int, days: int, actor: str, resume: bool) -> None:
        """Pause (or renew a pause) for ``days`` (0 and 91 are refused), or resume.

        The end counts from the latest block's time, which the transaction's block never precedes: so 0 days
        (an end not after the block's time) and 91 days are refused, and 90 days accepted, however much time
        passes between the simulation and the mining (an end of latest + 1 s could pass the one and fail the
        other on a slow machine)."""
        e = self._escrow(index)
        if resume:
            self._send(actor, e.contract.functions.resume())
        else:
            self._send(actor, e.contract.functions.pauseUntil(self.world.now() + days * DAY))

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
            self._send("mod_admin", e.contract.functions.resume())
        m = self._pick_milestone(e, pick, Status.APPROVED, Status.SETTLED)
        for _ in range(times):
            self._send(actor, e.contract.functions.claimPayment(m))

    @rule(index=st.integers(0, 1), actor=st.sampled_from(["officer", "officer2", "mofa_officer", "treasury"]))
    def increase_obligation(self, index: int, actor: str) -> None:
        """Obligate what an amendment added to the escrow's need (refused unless there is such a need)."""
        e = self._escrow(index)
        _, _, obligated, drawn, planned = self.world.budget.functions.obligation(e.contract.address).call()
        uncovered = int(e.contract.functions.shortfall().call()) - (obligated - drawn + planned)
        fn = self.world.budget.functions.increaseObligation(e.contract.address, max(uncovered, 1))
        if self._send(actor, fn) is not None:
            self._acted(self.world.accounts[actor].address, *MOD_OFFICERS)

    @rule(
        back=st.booleans(),
        amount=st.sampled_from([1, UNIT, 10 * UNIT, 10**9, 4 * 10**10]),
        verdict=st.sampled_from(["approve", "approve", "refuse", "withdraw"]),
        obligate_between=st.booleans(),
    )
    def transfer(self, back: bool, amount: int, verdict: str, obligate_between: bool) -> None:
        """MOD's finance officer requests moving money between its two lines of the current year; the finance
        authority approves or refuses it, or the officer withdraws it. Sometimes a procurement obligates the
        source line between request and approval, so the approval must re-check what is available."""
        world, office = self.world, self.world.budget_office.functions
        year = fiscal_year_containing(world.now())
        source, target = (key.in_year(year) for key in (self.series[::-1] if back else self.series))
        if not self._line(target)[1]:
            self._send("treasury", world.budget.functions.distribute(target.as_tuple(), 1))
        request = (source.as_tuple(), target.as_tuple(), amount, RATIONALE)
        receipt = self._send("treasury", office.requestTransfer(request))
        if receipt is None:
            return
        (requested,) = world.budget_office.events.TransferRequested().process_receipt(receipt.raw, errors=DISCARD)
        args = requested["args"]
        pending = (args["transferId"], request, args["requester"], args["requestedAt"])
        if obligate_between and self.escrows:
            self.increase_obligation(0, "officer")
        if verdict == "approve":
            before = self._line(source)[3]
            if self._send("finance", office.approveTransfer(*pending)) is not None:
                assert self._line(source)[3] == before - amount
        elif verdict == "refuse":
            assert self._send("finance", office.refuseTransfer(*pending, REASON)) is not None
        else:
            assert self._send("treasury", office.withdrawTransfer(*pending)) is not None

    @rule(carry=st.sampled_from([0, 0, 1, UNIT]))
    def close_year(self, carry: int) -> None:
        """Once a fiscal year has ended: a carry-over (accident) may be approved, the finance authority closes the
        year, and anyone settles its lines; nothing obligated may lapse."""
        self._close_year(carry, ACCIDENT)

    def _open_year(self) -> int:
        """The earliest fiscal year not closed yet."""
        year, budget = self.world.fiscal_year, self.world.budget.functions
        while budget.fiscalYearClosed(year).call():
            year += 1
        return year

    def _close_year(self, carry: int, kind: int) -> None:
        world, budget = self.world, self.world.budget.functions
        year = self._open_year()
        if fiscal_year_containing(world.now()) <= year:
            self._send("finance", budget.closeFiscalYear(year))  # refused: the year is not over
            return
        keys = [key.in_year(year) for key in self.series]
        if carry:
            self._send("finance", budget.approveCarryOver(keys[0].as_tuple(), kind, carry, REASON))
        assert self._send("finance", budget.closeFiscalYear(year)) is not None
        for index, key in enumerate(keys):
            line = self._line(key)
            if not line[1]:
                continue
            _, _, _, allotted, obligated, disbursed, carry_over, _ = line
            nxt = self._line(key.in_year(year + 1))
            receipt = self._send("outsider", budget.settleLine(key.as_tuple()))
            assert receipt is not None, f"settling {key} refused"
            (settled,) = world.budget.events.LineSettled().process_receipt(receipt.raw, errors=DISCARD)
            ev = settled["args"]
            assert ev["lapsed"] == allotted - obligated - carry_over, f"lapsed other than the unobligated: {ev}"
            assert ev["carriedObligations"] == obligated - disbursed, ev
            assert ev["nextObligated"] == nxt[4] + obligated - disbursed, ev
            assert ev["nextAllotted"] == nxt[3] + obligated - disbursed + carry_over, ev
            self.settled_lines.add((index, year))

    @rule(
        index=st.integers(0, 1),
        pick=st.integers(0, 15),
        to=st.sampled_from(["ministry", "ministry", "supplier_colleague", "supplier", "other_supplier"]),
        actor=st.sampled_from(["reviewer", "reviewer", "reviewer", "auditor", "officer"]),
        by_sig=st.booleans(),
        wait_grace=st.sampled_from([False, True, True]),
    )
    def redirect_owed(self, index: int, pick: int, to: str, actor: str, by_sig: bool, wait_grace: bool) -> None:
        """A review body (or someone else) rules that a milestone's owed yen go to the ministry or to a
        successor (or to someone who may not receive them); perhaps the grace period passes and anyone claims."""
        e = self._escrow(index)
        m = self._pick_milestone(e, pick, Status.APPROVED, Status.SETTLED)
        target = ZERO if to == "ministry" else self.world.accounts[to].address
        if by_sig:
            receipt = self._relay(e, actor, "RedirectOwed", {"milestoneId": m, "to": target, "rulingHash": RULING})
        else:
            receipt = self._send(actor, e.contract.functions.redirectOwed(m, target, RULING))
        if receipt is not None:
            assert to in ("ministry", "supplier_colleague"), f"redirect to {to} accepted"
            if wait_grace:
                self.world.tester.time_travel(self.world.now() + e.config.grace_days * DAY)
                self._send("outsider", e.contract.functions.claimPayment(m))

    @rule(who=st.sampled_from(sorted(ROLES)))
    def toggle_role(self, who: str) -> None:
        """Revoke the role of one party (evaluators, supplier, officers, ministry admin, review body), or give
        it back. The registry admin acts; a revocation never needs the party's consent."""
        registry = self.world.registry.functions
        role, address = ROLES[who].id, self.world.accounts[who].address
        if who in self.revoked:
            self.world.sender("admin").transact(registry.grantRole(role, address), gas=SETUP_GAS)
            self.revoked.discard(who)
        else:
            self.world.sender("admin").transact(registry.revokeRole(role, address), gas=SETUP_GAS)
            self.revoked.add(who)
        self.dirty = True

    @rule(code=st.sampled_from(ORGS))
    def toggle_organization(self, code: str) -> None:
        """Deactivate one organization (the ministry, the supplier, an evaluation body, the review body), or
        reactivate it."""
        vault = self.world.vault.address if code == "MOD" else ZERO
        active = code in self.inactive
        fn = self.world.registry.functions.updateOrganization(org_id(code), active, vault)
        self.world.sender("admin").transact(fn, gas=SETUP_GAS)
        (self.inactive.discard if active else self.inactive.add)(code)
        self.dirty = True

    @rule(
        index=st.integers(0, 1),
        signer=st.sampled_from(["supplier", "eval1", "eval2", "officer"]),
        how=st.sampled_from(["direct", "by-signature"]),
    )
    def withdraw_signature(self, index: int, signer: str, how: str) -> None:
        """A signer signs an action, then withdraws it by using up its nonce; relaying the signature afterwards
        is refused and changes nothing."""
        e = self._escrow(index)
        m = self._pick_milestone(e, 0, Status.PENDING, Status.SUBMITTED)
        if signer == "supplier":
            fields: dict[str, Any] = {"milestoneId": m, "documentHash": DOC, "uri": "ipfs://withdrawn"}
            action, signature = self._sign(e, signer, "SubmitEvidence", fields)
        elif signer == "officer":
            action, signature = self._sign(e, signer, "Reclaim", {"milestoneId": m})
        else:
            fields = {"milestoneId": m, "round": self._milestone(e, m)[3], "pass": True, "reportHash": REPORT}
            action, signature = self._sign(e, signer, "Attest", fields)
        account = self.world.accounts[signer]
        registry = self.world.registry.functions
        if how == "direct":
            self.world.sender(signer).transact(registry.invalidateNonces(action.nonce + 1), gas=SETUP_GAS)
        else:
            withdrawal = Action("InvalidateNonces", {"newNonce": action.nonce + 1}, action.nonce, action.deadline)
            chain_id = self.world.w3.eth.chain_id
            sig = sign_action(account, withdrawal, chain_id=chain_id, escrow=self.world.registry.address)
            fn = registry.invalidateNoncesBySig(action.nonce + 1, account.address, action.deadline, sig)
            self.world.sender("outsider").transact(fn, gas=SETUP_GAS)
        assert registry.nonces(account.address).call() == action.nonce + 1
        fn = getattr(e.contract.functions, action.function_name)(*action.call_args(account.address, signature))
        with pytest.raises(ContractRevert) as refused:
            self.world.sender("outsider").call(fn)
        assert refused.value.name == "EscrowInvalidSignature", f"withdrawn {action.primary_type}: {refused.value}"
        self.dirty = True

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
            assert released == sum(e.released.values()), "released total disagrees with the release events"
            assert refunded == e.refunded, "refunded total disagrees with Refunded events"
            needed = 0
            owed_sum = 0
            for m in range(e.count):
                amount, status, milestone_owed = self._check_milestone(e, m)
                owed_sum += milestone_owed
                if status in (*OPEN, Status.DISPUTED):
                    needed += amount
            assert owed == owed_sum, f"owed total {owed} != sum of milestones' owed {owed_sum}"
            assert balance <= needed + owed, f"{balance} yen held, only {needed + owed} needed: stranded yen"
        held = sum(int(token.balanceOf(self.world.accounts[h].address).call()) for h in HOLDERS)
        paid_out = held - self.held_at_start
        supply = int(token.totalSupply().call()) - self.supply
        assert supply == escrow_balances + paid_out, (
            f"{supply} yen exist, escrows hold {escrow_balances}, paid {paid_out}"
        )
        self._check_budget()

    def _check_budget(self) -> None:
        """Every escrow drew on its obligation exactly what it was funded net of refunds; every line of every year
        keeps obligated + carry-over <= allotted and disbursed <= obligated; all lines together disbursed what the
        escrows released."""
        world = self.world
        released = 0
        for e in self.escrows:
            funded, released_here, refunded, _ = e.contract.functions.totals().call()
            released += released_here
            _, _, obligated, drawn, _ = world.budget.functions.obligation(e.contract.address).call()
            assert drawn == funded - refunded, f"drew {drawn}, funded {funded} - refunded {refunded}"
            assert drawn <= obligated, f"drew {drawn} above the obligation {obligated}"
        disbursed = 0
        for year in range(world.fiscal_year, fiscal_year_containing(world.now()) + 2):
            for index, key in enumerate(self.series):
                _, exists, settled, allotted, obligated, line_disbursed, carry_over, _ = self._line(key.in_year(year))
                if not exists:
                    continue
                assert obligated + carry_over <= allotted, f"{year}/{index}: obligated {obligated} > {allotted}"
                assert line_disbursed <= obligated, f"{year}/{index}: disbursed {line_disbursed} > {obligated}"
                assert settled == ((index, year) in self.settled_lines), f"{year}/{index}: settled {settled}"
                disbursed += line_disbursed
        assert disbursed - self.disbursed_at_start == released, (
            f"lines disbursed {disbursed}, escrows released {released}"
        )

    def _check_milestone(self, e: Tracked, m: int) -> tuple[int, Status, int]:
        """Check one milestone against the test's own records; returns its amount, state and everything owed
        on it to the supplier."""
        amount, _, status, round_, passes, fails, owed = self._milestone(e, m)
        released = e.released.get(m, 0)
        to_ministry = e.to_ministry.get(m, 0)
        passers = e.passes.get((m, round_), set())
        failers = e.fails.get((m, round_), set())
        where = f"milestone {m} ({status.name}, round {round_})"
        assert (passes, fails) == (len(passers), len(failers)), f"{where}: on-chain tally {passes}/{fails}"
        assert released + owed + to_ministry <= amount, f"{where}: released {released} + owed {owed} > {amount}"
        if status in (Status.APPROVED, Status.PAID) or (status == Status.REFUNDED and to_ministry):
            assert m in e.approved, f"{where}: no quorum approval was ever observed"
        if status == Status.APPROVED:
            assert (released, owed) == (0, amount), f"{where}: released {released}, owed {owed}"
        elif status == Status.PAID:
            assert (released, owed) == (amount, 0), f"{where}: released {released}, owed {owed}"
            e.paid.add(m)
        elif status == Status.SETTLED:
            share = e.settled[m]
            assert released + owed + to_ministry == share, f"{where}: paid {released}+{owed} != share {share}"
        elif status == Status.REFUNDED and to_ministry:
            assert (released, owed, to_ministry) == (0, 0, amount), f"{where}: redirect {to_ministry}"
        else:
            assert (released, owed) == (0, 0), f"{where}: money moved without approval or settlement"
        return amount, status, int(owed)

    # ---------------------------------------------------------------------------------------- no stranded yen

    def _drain(self) -> None:
        """From whatever state the run left, empty every escrow through permitted actions only. The registry
        admin restores the government's own accounts (ministry, its officers and admin, the review body, the
        evaluation bodies); the supplier is left as it is, so its owed yen must be redirected if it cannot hold
        them."""
        world, admin, registry = self.world, self.world.sender("admin"), self.world.registry.functions
        for code in sorted(self.inactive - {"NVE"}):
            vault = world.vault.address if code == "MOD" else ZERO
            admin.transact(registry.updateOrganization(org_id(code), True, vault), gas=SETUP_GAS)
            self.inactive.discard(code)
        for who in sorted(self.revoked - {"supplier", "supplier_colleague"}):
            admin.transact(registry.grantRole(ROLES[who].id, world.accounts[who].address), gas=SETUP_GAS)
            self.revoked.discard(who)

        def must(label: str, fn: ContractFunction) -> Receipt:
            receipt = self._send(label, fn)
            assert receipt is not None, f"{fn.fn_name} by {label} refused while draining: yen would be stranded"
            return receipt

        def far_ahead() -> None:  # past every due date, inspection, ruling period and pause
            latest = max(self._milestone(e, m)[1] for e in self.escrows for m in range(e.count))
            world.tester.time_travel(max(world.now(), latest) + INSPECTION_PERIOD + 400 * DAY)

        far_ahead()
        for e in self.escrows:
            for m in range(e.count):
                if self._milestone(e, m)[2] == Status.DISPUTED:
                    must("outsider", e.contract.functions.lapseDispute(m))
        far_ahead()  # a lapse moved its milestone's due date
        self._budget_the_raises(must)
        redirected: list[tuple[Tracked, int]] = []
        for e in self.escrows:
            shortfall = int(e.contract.functions.shortfall().call())
            uncovered = self._uncovered(e)
            if uncovered:  # an amendment raised the need: obligate it first
                must("officer", world.budget.functions.increaseObligation(e.contract.address, uncovered))
            if shortfall:
                must("officer", e.contract.functions.fund(shortfall))
            for m in range(e.count):
                if self._milestone(e, m)[2] in OPEN:
                    must("officer", e.contract.functions.reclaim(m))
                if self._milestone(e, m)[6]:
                    if self.can_hold("supplier"):
                        must("outsider", e.contract.functions.claimPayment(m))
                    else:
                        must("reviewer", e.contract.functions.redirectOwed(m, ZERO, RULING))
                        redirected.append((e, m))
        if redirected:
            world.tester.time_travel(world.now() + max(e.config.grace_days for e, _ in redirected) * DAY + 1)
            for e, m in redirected:
                must("outsider", e.contract.functions.claimPayment(m))
        self.books_balance()
        for e in self.escrows:
            assert world.token.functions.balanceOf(e.contract.address).call() == 0, "yen left in an escrow"
            assert e.contract.functions.totals().call()[3] == 0

    def _uncovered(self, e: Tracked) -> int:
        """What an escrow needs beyond its obligation (an amendment raised a milestone)."""
        shortfall = int(e.contract.functions.shortfall().call())
        _, _, obligated, drawn, planned = self.world.budget.functions.obligation(e.contract.address).call()
        return max(shortfall - int(obligated - drawn + planned), 0)

    def _budget_the_raises(self, must: Callable[[str, ContractFunction], Receipt]) -> None:
        """Make the raises no obligation covers obligable now, as the Public Finance Act has it. Each year's budget
        stands alone (Art. 12): a raise not obligated before its fiscal year ended is obligated in the year it is
        made, on that year's line, once the ended years are closed and their lines settled (the escrows' unpaid
        obligations move on, on record). The finance authority approves carrying the unobligated balance the
        raises need over to the next year (明許繰越, Art. 14-3: the items carry the Diet's authorization); what no
        carry-over covers comes from the current year's budget, enacted and distributed to the line."""
        need = sum(self._uncovered(e) for e in self.escrows)
        if not need:
            return
        world, budget = self.world, self.world.budget.functions
        main = self.series[0]
        while (year := self._open_year()) < fiscal_year_containing(world.now()):
            _, exists, _, _, _, _, _, available = self._line(main.in_year(year))
            self._close_year(min(need, available) if exists else 0, AUTHORIZED)
        year = fiscal_year_containing(world.now())
        line = main.in_year(year)
        short = need - self._line(line)[7]
        if short > 0:
            initial = not budget.item(line.item_key.as_tuple()).call()[0]
            act, authorizations = (0, ALL_AUTHORIZATIONS) if initial else (1, 0)
            enact = budget.enactAppropriation(line.item_key.as_tuple(), act, short, authorizations, RATIONALE)
            must("finance", enact)
            must("treasury", budget.distribute(line.as_tuple(), short))


SETTINGS = settings(
    max_examples=examples(10, 100),  # each a run of up to 50 steps, every invariant checked after each
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_escrow_invariants_hold_under_random_actions(world: World) -> None:
    class Machine(EscrowMachine):
        WORLD = world

    run_state_machine_as_test(Machine, settings=SETTINGS)

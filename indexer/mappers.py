"""Pure mappers: one decoded log in, the rows and state changes it implies out. No I/O here.

Each event has one handler in ``MAPPERS``, keyed by event name. A handler gets the decoded log and the log
just before it in the same transaction (to tell a relayed action: a SignatureUsed of the same signer from the
same escrow immediately precedes it) and returns a list of changes:

- ``Insert``: an append-only row derived from this log (keyed by chain id, block number, log index, tx hash);
- ``Upsert`` / ``Patch`` / ``Remove``: a current-state row (organizations, accounts, role memberships);
- ``NewProcurement``, ``MilestoneStep``, ``BooksStep``: procurement and milestone state; a step is a pure
  function from the old state to the new one, applied by the planner (``indexer.planning``) in log order;
- ``TrustEscrow``: a new escrow whose own logs are to be indexed from now on.

The budget's events move lines: each such log also records a ``budget_line_changes`` row per line it moves (the
totals the event reports after it), from which ``DERIVED`` upserts the line (``budget_lines``); grants
(``budget_grants``) follow AccessGranted, AccessRevoked and AccessUsed the same way.

Current state that follows from append-only rows (an escrow's books, the registry's organizations, accounts and
role memberships) is derived from the row, not from the log: ``DERIVED`` holds one function per table, row in,
changes out. A mapper records such a row through ``_recorded``, which adds what ``DERIVED`` derives from it, and a
reorg (``indexer.reorg``) rebuilds that state by passing the surviving rows through the same functions. A
milestone's state is kept after each step in ``milestone_history``, which a reorg restores instead.

A new event is a new mapper, a new model and one line in ``MAPPERS`` (and one in ``DERIVED`` if its rows move
current state).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from chain.budget import AppropriationAct, CarryOverKind
from chain.clients import AmendmentKind, MilestoneStatus
from chain.logs import DecodedLog
from chain.roles import DEFAULT_ADMIN_ROLE, OrgKind, Role, org_code

__all__ = [
    "DERIVED",
    "MAPPERS",
    "RAW_ONLY",
    "Books",
    "BooksStep",
    "Change",
    "Derivation",
    "Insert",
    "MappedLog",
    "Mapper",
    "MilestoneState",
    "MilestoneStep",
    "NewProcurement",
    "Patch",
    "Remove",
    "Row",
    "TrustEscrow",
    "Upsert",
    "map_log",
    "registered_organization",
    "status_name",
]

Row = dict[str, Any]

_new_tuple = tuple.__new__  # a NamedTuple from a tuple of all its fields, without its generated ``__new__``


class MilestoneState(NamedTuple):
    """A milestone's mutable state, as ``IMilestoneEscrow.milestone`` reports it.

    A NamedTuple: steps copy it on every event. The transitions on the hot path (evidence, attestations, payments)
    unpack it and build the new tuple with ``tuple.__new__``, several times cheaper than ``_replace`` (which goes
    through keyword arguments and ``_make``) and half the cost of calling the class (its generated ``__new__``).
    ``passes`` and ``fails`` count every vote of the round, as the escrow does (whether a vote still counts is
    decided when the round is); ``dispute_lapses_at`` is set while Disputed. Nothing is ever owed to a ministry:
    its share goes back to the budget line at once.
    """

    amount: int
    due_date: int
    status: str
    round: int = 0
    passes: int = 0
    fails: int = 0
    owed: int = 0
    dispute_lapses_at: int = 0

    def with_status(self, status: str) -> MilestoneState:
        """The same milestone in ``status``."""
        amount, due_date, _, round_, passes, fails, owed, lapses_at = self
        return _new_tuple(MilestoneState, (amount, due_date, status, round_, passes, fails, owed, lapses_at))

    def submitted(self, round_: int) -> MilestoneState:
        """Evidence submitted: a new round with no votes yet."""
        amount, due_date, _, _, _, _, owed, lapses_at = self
        return _new_tuple(MilestoneState, (amount, due_date, "Submitted", round_, 0, 0, owed, lapses_at))

    def counted(self, passed: bool) -> MilestoneState:
        """One more attestation of this round."""
        amount, due_date, status, round_, passes, fails, owed, lapses_at = self
        if passed:
            passes += 1
        else:
            fails += 1
        return _new_tuple(MilestoneState, (amount, due_date, status, round_, passes, fails, owed, lapses_at))


class Books(NamedTuple):
    """An escrow's running books, as ``IMilestoneEscrow.totals`` and ``pausedUntil`` report them (owed aside: the
    sum of its milestones' ``owed``).

    ``Books()`` are an escrow's books before its first row: its fundings (the initial one included), releases
    (payments, redirects to a successor), refunds and pauses move them, through ``DERIVED``.
    """

    total_funded: int = 0
    total_released: int = 0
    total_refunded: int = 0
    paused_until: int = 0


# The changes are slotted dataclasses, not frozen ones: a catch-up builds two or three per log, and a frozen
# dataclass's ``__init__`` (one ``object.__setattr__`` per field) took twice as long. Nothing changes them once made.


@dataclass(slots=True)
class Insert:
    """An append-only row of ``table``."""

    table: str
    row: Row


@dataclass(slots=True)
class Upsert:
    """A current-state row of ``table``, inserted or replaced by primary key."""

    table: str
    row: Row


@dataclass(slots=True)
class Patch:
    """Set ``values`` on the current-state row of ``table`` with primary key ``key``."""

    table: str
    key: Row
    values: Row


@dataclass(slots=True)
class Remove:
    """Delete the current-state row of ``table`` with primary key ``key``."""

    table: str
    key: Row


@dataclass(slots=True)
class NewProcurement:
    """A procurement row (terms and books) and its milestones, in order."""

    row: Row
    milestones: tuple[MilestoneState, ...]


@dataclass(slots=True)
class MilestoneStep:
    """Move one milestone of ``escrow`` from its current state to ``step(current)``."""

    escrow: str
    milestone_id: int
    step: Callable[[MilestoneState], MilestoneState]


@dataclass(slots=True)
class BooksStep:
    """Move an escrow's books from their current state to ``step(current)``."""

    escrow: str
    step: Callable[[Books], Books]


@dataclass(slots=True)
class TrustEscrow:
    """From now on, logs emitted by ``escrow`` are the ledger's."""

    escrow: str


Change = Insert | Upsert | Patch | Remove | NewProcurement | MilestoneStep | BooksStep | TrustEscrow
Mapper = Callable[[DecodedLog, DecodedLog | None], list[Change]]
Derivation = Callable[[Mapping[str, Any]], list[Change]]


class MappedLog(NamedTuple):
    """A decoded log and the changes its mapper derived (a NamedTuple: one is built per log)."""

    log: DecodedLog
    changes: tuple[Change, ...]


_STATUS = {status.value: status.name.capitalize() for status in MilestoneStatus}
_AMENDMENT = {kind.value: kind.name.lower() for kind in AmendmentKind}
_ORG_KIND = {kind.value: kind.name.lower() for kind in OrgKind}


def status_name(value: int) -> str:
    """``Pending``, ``Submitted``, ... for an ``IMilestoneEscrow.MilestoneStatus`` value."""
    return _STATUS.get(value, str(value))


def role_name(role: str) -> str:
    """``PROCUREMENT_OFFICER_ROLE``, ``DEFAULT_ADMIN_ROLE``, or the hex id of an unknown role."""
    raw = bytes.fromhex(role[2:])
    if raw == DEFAULT_ADMIN_ROLE:
        return "DEFAULT_ADMIN_ROLE"
    known = Role.from_id(raw)
    return known.value if known is not None else role


def _keyed(log: DecodedLog, row: Row) -> Row:
    """``row`` (a mapper's own new dict) with the key of the append-only row of ``log`` added, in place: one dict per
    row instead of a key, the row and their union."""
    row["chain_id"] = log.chain_id
    row["tx_hash"] = log.tx_hash
    row["log_index"] = log.log_index
    row["block_number"] = log.block_number
    return row


def _relayer(log: DecodedLog, previous: DecodedLog | None, signer: str) -> str | None:
    """The relayer, if a SignatureUsed of ``signer`` from the same emitter immediately precedes ``log``."""
    if (
        previous is not None
        and previous.event == "SignatureUsed"
        and previous.emitter == log.emitter
        and previous.tx_hash == log.tx_hash
        and previous.args["signer"] == signer
    ):
        return str(previous.args["relayer"])
    return None


def _recorded(table: str, row: Row) -> list[Change]:
    """An append-only row of ``table``, and the current state it moves (see ``DERIVED``)."""
    derive = DERIVED.get(table)
    return [Insert(table, row)] if derive is None else [Insert(table, row), *derive(row)]


def _no_rows(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    """Events kept in the raw table only (approvals, role admins, the factory link, EIP-712 domain notices)."""
    return []


# ---------------------------------------------------------------- registry


def registered_organization(vault: str) -> Row:
    """An organization's flags as registered: OrganizationUpdated moves them, a reorg starts again from here."""
    return {"active": True, "vault": vault}


def map_organization_registered(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    org = str(a["orgId"])
    return [
        Upsert(
            "organizations",
            {
                "chain_id": log.chain_id,
                "org_id": org,
                "code": org_code(bytes.fromhex(org[2:])),
                "kind": _ORG_KIND.get(a["kind"], str(a["kind"])),
                "name": a["name"],
                **registered_organization(a["vault"]),
                "block_number": log.block_number,
                "tx_hash": log.tx_hash,
            },
        )
    ]


def map_organization_updated(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    return _recorded(
        "organization_updates", _keyed(log, {"org_id": a["orgId"], "active": a["active"], "vault": a["vault"]})
    )


def _binding(log: DecodedLog, bound: bool) -> list[Change]:
    a = log.args
    row = _keyed(log, {"account": a["account"], "org_id": a["orgId"], "sender": a["sender"], "bound": bound})
    return _recorded("account_bindings", row)


def map_account_bound(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _binding(log, True)


def map_account_unbound(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _binding(log, False)


def _role_change(log: DecodedLog, granted: bool) -> list[Change]:
    a = log.args
    row = {
        "role": a["role"],
        "role_name": role_name(str(a["role"])),
        "account": a["account"],
        "sender": a["sender"],
        "granted": granted,
    }
    return _recorded("role_changes", _keyed(log, row))


def map_role_granted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _role_change(log, True)


def map_role_revoked(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _role_change(log, False)


def map_escrow_registered(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = _keyed(log, {"ministry_org": a["ministryOrg"], "procurement_id": a["procurementId"], "escrow": a["escrow"]})
    return [Insert("escrow_registrations", row), TrustEscrow(str(a["escrow"]))]


def map_nonces_invalidated(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {"signer": a["signer"], "first_nonce": a["firstNonce"], "new_nonce": a["newNonce"], "sender": a["sender"]}
    return [Insert("nonce_invalidations", _keyed(log, row))]


# ---------------------------------------------------------------- token


def map_transfer(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    return [Insert("token_transfers", _keyed(log, {"sender": a["from"], "recipient": a["to"], "amount": a["value"]}))]


def map_minted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "appropriation_id": a["appropriationId"],
        "recipient": a["to"],
        "treasury": a["treasury"],
        "amount": a["amount"],
    }
    return [Insert("mints", _keyed(log, row))]


# ---------------------------------------------------------------- factory


def map_procurement_created(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    params: Mapping[str, Any] = a["params"]
    escrow = str(a["escrow"])
    funded = int(a["funded"])
    amounts = [int(x) for x in params["amounts"]]
    due_dates = [int(x) for x in params["dueDates"]]
    if len(amounts) != len(due_dates):
        raise ValueError(f"ProcurementCreated at {log.tx_hash}: {len(amounts)} amounts, {len(due_dates)} due dates")
    row = {
        "chain_id": log.chain_id,
        "escrow": escrow,
        "procurement_id": a["procurementId"],
        "ministry_org": a["ministryOrg"],
        "supplier_org": a["supplierOrg"],
        "supplier": params["supplier"],
        "officer": a["officer"],
        "panel": json.dumps(list(params["evaluators"])),
        "quorum": params["quorum"],
        "title": params["title"],
        "spec_hash": params["specHash"],
        "funded": funded,
        "milestone_count": len(amounts),
        "ruling_period": int(params["rulingPeriod"]),
        "grace_period": int(params["gracePeriod"]),
        "block_number": log.block_number,
        "tx_hash": log.tx_hash,
        "log_index": log.log_index,
        "total_funded": funded,
        "total_released": 0,
        "total_refunded": 0,
        "total_owed": 0,
        "paused_until": 0,
    }
    milestones = tuple(
        [
            _new_tuple(MilestoneState, (amount, due, "Pending", 0, 0, 0, 0, 0))
            for amount, due in zip(amounts, due_dates, strict=True)
        ]
    )
    changes: list[Change] = [TrustEscrow(escrow), NewProcurement(row, milestones)]
    if funded > 0:
        funding = {"escrow": escrow, "funder": a["officer"], "amount": funded, "total_funded": funded, "initial": True}
        changes += _recorded("fundings", _keyed(log, funding))
    return changes


# ---------------------------------------------------------------- escrow


def map_funded(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "funder": a["funder"],
        "amount": a["amount"],
        "total_funded": int(a["totalFunded"]),
        "initial": False,
    }
    return _recorded("fundings", _keyed(log, row))


def map_evidence_submitted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    relayer = _relayer(log, previous, str(a["supplier"]))
    round_ = int(a["round"])
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "round": round_,
        "supplier": a["supplier"],
        "document_hash": a["documentHash"],
        "uri": a["uri"],
        "relayed": relayer is not None,
        "relayer": relayer,
    }
    return [
        Insert("evidence", _keyed(log, row)),
        MilestoneStep(log.emitter, int(a["milestoneId"]), lambda m: m.submitted(round_)),
    ]


def _count_pass(m: MilestoneState) -> MilestoneState:
    return m.counted(True)


def _count_fail(m: MilestoneState) -> MilestoneState:
    return m.counted(False)


def map_attested(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    relayer = _relayer(log, previous, str(a["evaluator"]))
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "round": a["round"],
        "evaluator": a["evaluator"],
        "passed": a["pass"],
        "report_hash": a["reportHash"],
        "relayed": relayer is not None,
        "relayer": relayer,
    }
    step = _count_pass if a["pass"] else _count_fail
    return [Insert("attestations", _keyed(log, row)), MilestoneStep(log.emitter, int(a["milestoneId"]), step)]


def _set_status(status: str) -> Callable[[MilestoneState], MilestoneState]:
    def step(m: MilestoneState) -> MilestoneState:
        return m.with_status(status)

    return step


def map_attestations_disregarded(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "round": a["round"],
        "evaluators": json.dumps([str(e) for e in a["evaluators"]]),
    }
    return [Insert("disregarded_votes", _keyed(log, row))]


def map_milestone_approved(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return [MilestoneStep(log.emitter, int(log.args["milestoneId"]), _set_status("Approved"))]


def map_submission_rejected(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return [MilestoneStep(log.emitter, int(log.args["milestoneId"]), _set_status("Rejected"))]


def _payment(log: DecodedLog, kind: str) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "supplier": a["supplier"],
        "amount": a["amount"],
        "kind": kind,
    }
    return _recorded("payments", _keyed(log, row))


def _paid(m: MilestoneState) -> MilestoneState:
    # A release either pays at approval (nothing owed yet) or pays everything owed (claimPayment).
    amount, due_date, status, round_, passes, fails, _, lapses_at = m
    if status == "Approved":
        status = "Paid"
    return _new_tuple(MilestoneState, (amount, due_date, status, round_, passes, fails, 0, lapses_at))


def map_payment_released(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return [*_payment(log, "released"), MilestoneStep(log.emitter, int(log.args["milestoneId"]), _paid)]


def map_payment_deferred(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    amount = int(log.args["amount"])
    return [
        *_payment(log, "deferred"),
        MilestoneStep(log.emitter, int(log.args["milestoneId"]), lambda m: m._replace(owed=m.owed + amount)),
    ]


def map_refunded(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {"escrow": log.emitter, "milestone_id": a["milestoneId"], "vault": a["vault"], "amount": int(a["amount"])}
    return _recorded("refunds", _keyed(log, row))


def map_milestone_reclaimed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "officer": a["officer"],
        "previous_status": status_name(int(a["previous"])),
    }
    return [
        Insert("reclaims", _keyed(log, row)),
        MilestoneStep(log.emitter, int(a["milestoneId"]), _set_status("Refunded")),
    ]


def map_amendment_proposed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "amendment_id": a["amendmentId"],
        "milestone_id": a["milestoneId"],
        "proposer": a["proposer"],
        "kind": _AMENDMENT.get(a["kind"], str(a["kind"])),
        "new_amount": a["newAmount"],
        "new_due_date": a["newDueDate"],
        "rationale_hash": a["rationaleHash"],
    }
    return [Insert("amendments", _keyed(log, row))]


def map_amendment_approved(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    kind = _AMENDMENT.get(a["kind"], str(a["kind"]))
    new_amount, new_due = int(a["newAmount"]), int(a["newDueDate"])
    row = {
        "escrow": log.emitter,
        "amendment_id": a["amendmentId"],
        "milestone_id": a["milestoneId"],
        "approver": a["approver"],
        "kind": kind,
        "old_amount": a["oldAmount"],
        "new_amount": new_amount,
        "old_due_date": a["oldDueDate"],
        "new_due_date": new_due,
    }

    def amended(m: MilestoneState) -> MilestoneState:
        status = "Cancelled" if kind == "cancel" else m.status
        return m._replace(amount=new_amount, due_date=new_due, status=status)

    return [Insert("amendment_approvals", _keyed(log, row)), MilestoneStep(log.emitter, int(a["milestoneId"]), amended)]


def map_amendment_consented(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "amendment_id": a["amendmentId"],
        "milestone_id": a["milestoneId"],
        "supplier": a["supplier"],
    }
    return [Insert("amendment_consents", _keyed(log, row))]


def map_dispute_opened(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    lapses_at = int(a["lapsesAt"])
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "opener": a["opener"],
        "previous_status": status_name(int(a["previous"])),
        "reason_hash": a["reasonHash"],
        "lapses_at": lapses_at,
    }
    return [
        Insert("disputes", _keyed(log, row)),
        MilestoneStep(
            log.emitter, int(a["milestoneId"]), lambda m: m._replace(status="Disputed", dispute_lapses_at=lapses_at)
        ),
    ]


def map_dispute_lapsed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    restored, due = status_name(int(a["restored"])), int(a["newDueDate"])
    row = {"escrow": log.emitter, "milestone_id": a["milestoneId"], "restored_status": restored, "new_due_date": due}
    return [
        Insert("dispute_lapses", _keyed(log, row)),
        MilestoneStep(
            log.emitter,
            int(a["milestoneId"]),
            lambda m: m._replace(status=restored, due_date=due, dispute_lapses_at=0),
        ),
    ]


def map_dispute_settled(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "reviewer": a["reviewer"],
        "supplier_amount": a["supplierAmount"],
        "ministry_amount": a["ministryAmount"],
        "ruling_hash": a["rulingHash"],
    }
    return [
        Insert("dispute_settlements", _keyed(log, row)),
        MilestoneStep(log.emitter, int(a["milestoneId"]), lambda m: m._replace(status="Settled", dispute_lapses_at=0)),
    ]


def map_owed_redirect_ruled(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "reviewer": a["reviewer"],
        "recipient": a["to"],
        "amount": a["amount"],
        "executable_at": int(a["executableAt"]),
        "ruling_hash": a["rulingHash"],
    }
    return [Insert("redirect_rulings", _keyed(log, row))]


def map_owed_redirected(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    to_successor = int(str(a["to"]), 16) != 0
    row = {
        "escrow": log.emitter,
        "milestone_id": a["milestoneId"],
        "recipient": a["to"],
        "amount": a["amount"],
        "ruling_hash": a["rulingHash"],
    }

    def redirected(m: MilestoneState) -> MilestoneState:
        # The supplier's debt ends: paid to its successor, or back to the ministry (a refund row follows).
        status = ("Paid" if to_successor else "Refunded") if m.status == "Approved" else m.status
        return m._replace(status=status, owed=0)

    step = MilestoneStep(log.emitter, int(a["milestoneId"]), redirected)
    return [*_recorded("owed_redirects", _keyed(log, row)), step]


def map_pause_changed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    row = {"escrow": log.emitter, "admin": log.args["admin"], "paused_until": int(log.args["pausedUntil"])}
    return _recorded("pauses", _keyed(log, row))


def map_signature_used(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {"escrow": log.emitter, "signer": a["signer"], "relayer": a["relayer"], "nonce": a["nonce"]}
    return [Insert("signature_uses", _keyed(log, row))]


# ---------------------------------------------------------------- budget ledger and office


_APPROPRIATION_ACT = {act.value: act.name.lower() for act in AppropriationAct}
_CARRY_OVER_KIND = {kind.value: kind.name.lower() for kind in CarryOverKind}
_ACCESS_KIND = {0: "none", 1: "view", 2: "obligate"}  # IBudgetOffice.AccessKind


def _line_change(
    log: DecodedLog,
    series: int,
    fiscal_year: int,
    *,
    allotted: int | None = None,
    obligated: int | None = None,
    disbursed: int | None = None,
    carry_over: int | None = None,
    lapsed: int | None = None,
    settled: bool | None = None,
) -> list[Change]:
    """A line moved by ``log``: the totals the event reports after it (the others stay as they are)."""
    row = {
        "chain_id": log.chain_id,
        "tx_hash": log.tx_hash,
        "log_index": log.log_index,
        "block_number": log.block_number,
        "series": series,
        "fiscal_year": fiscal_year,
        "event": log.event,
        "allotted": allotted,
        "obligated": obligated,
        "disbursed": disbursed,
        "carry_over": carry_over,
        "lapsed": lapsed,
        "settled": settled,
    }
    return _recorded("budget_line_changes", row)


def map_budget_set(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return [Insert("budget_settings", _keyed(log, {"budget": log.args["budget"], "office": log.args["office"]}))]


def map_burned(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {"appropriation_id": a["appropriationId"], "holder": a["from"], "budget": a["budget"], "amount": a["amount"]}
    return [Insert("burns", _keyed(log, row))]


def map_series_registered(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "series": int(a["series"]),
        "ministry": a["ministry"],
        "organization": a["organization"],
        "item": a["item"],
        "sub_item": a["subItem"],
    }
    return [Insert("budget_series", _keyed(log, row))]


def map_appropriation_enacted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    key: Mapping[str, Any] = a["key"]
    row = {
        "fiscal_year": int(a["fiscalYear"]),
        "ministry": a["ministry"],
        "organization": key["organization"],
        "item": key["item"],
        "authority": a["authority"],
        "act": _APPROPRIATION_ACT.get(a["act"], str(a["act"])),
        "amount": int(a["amount"]),
        "enacted": a["enacted"],
        "appropriation": a["appropriation"],
        "authorizations": int(a["authorizations"]),
        "instrument_hash": a["instrumentHash"],
    }
    return [Insert("budget_appropriations", _keyed(log, row))]


def map_distributed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, allotted = int(a["series"]), int(a["fiscalYear"]), int(a["allotted"])
    row = {
        "series": series,
        "fiscal_year": year,
        "officer": a["officer"],
        "change": int(a["change"]),
        "allotted": allotted,
        "item_distributed": a["itemDistributed"],
    }
    return [Insert("budget_distributions", _keyed(log, row)), *_line_change(log, series, year, allotted=allotted)]


def map_obligated(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, obligated = int(a["series"]), int(a["fiscalYear"]), int(a["lineObligated"])
    row = {
        "escrow": a["escrow"],
        "series": series,
        "fiscal_year": year,
        "buyer": a["buyer"],
        "line_ministry": a["lineMinistry"],
        "officer": a["officer"],
        "amount": a["amount"],
        "line_obligated": obligated,
        "escrow_obligated": a["escrowObligated"],
    }
    return [Insert("budget_obligations", _keyed(log, row)), *_line_change(log, series, year, obligated=obligated)]


def map_disbursed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, disbursed = int(a["series"]), int(a["fiscalYear"]), int(a["lineDisbursed"])
    row = {
        "escrow": a["escrow"],
        "series": series,
        "fiscal_year": year,
        "amount": a["amount"],
        "line_disbursed": disbursed,
    }
    return [
        Insert("budget_disbursements", _keyed(log, row)),
        *_line_change(log, series, year, disbursed=disbursed),
    ]


def map_deobligated(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, obligated = int(a["series"]), int(a["fiscalYear"]), int(a["lineObligated"])
    row = {
        "escrow": a["escrow"],
        "series": series,
        "fiscal_year": year,
        "returned": a["returned"],
        "released": a["released"],
        "unplanned": a["unplanned"],
        "line_obligated": obligated,
        "escrow_obligated": a["escrowObligated"],
    }
    return [Insert("budget_deobligations", _keyed(log, row)), *_line_change(log, series, year, obligated=obligated)]


def map_transferred(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    source, target, year = int(a["fromSeries"]), int(a["toSeries"]), int(a["fiscalYear"])
    from_allotted, to_allotted = int(a["fromAllotted"]), int(a["toAllotted"])
    row = {
        "transfer_id": a["transferId"],
        "from_series": source,
        "to_series": target,
        "fiscal_year": year,
        "amount": a["amount"],
        "between_items": a["betweenItems"],
        "from_allotted": from_allotted,
        "to_allotted": to_allotted,
    }
    return [
        Insert("budget_transfers", _keyed(log, row)),
        *_line_change(log, source, year, allotted=from_allotted),
        *_line_change(log, target, year, allotted=to_allotted),
    ]


def map_carry_over_approved(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, carry_over = int(a["series"]), int(a["fiscalYear"]), int(a["carryOver"])
    row = {
        "series": series,
        "fiscal_year": year,
        "authority": a["authority"],
        "kind": _CARRY_OVER_KIND.get(a["kind"], str(a["kind"])),
        "amount": a["amount"],
        "carry_over": carry_over,
        "reason_hash": a["reasonHash"],
    }
    return [Insert("budget_carry_overs", _keyed(log, row)), *_line_change(log, series, year, carry_over=carry_over)]


def map_fiscal_year_closed(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {"fiscal_year": int(a["fiscalYear"]), "authority": a["authority"], "closed_at": int(a["closedAt"])}
    return [Insert("budget_year_closures", _keyed(log, row))]


def map_line_settled(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    series, year, lapsed = int(a["series"]), int(a["fiscalYear"]), int(a["lapsed"])
    next_allotted, next_obligated = int(a["nextAllotted"]), int(a["nextObligated"])
    row = {
        "series": series,
        "fiscal_year": year,
        "settler": a["settler"],
        "lapsed": lapsed,
        "carried_over": a["carriedOver"],
        "carried_obligations": a["carriedObligations"],
        "next_allotted": next_allotted,
        "next_obligated": next_obligated,
    }
    return [
        Insert("budget_line_settlements", _keyed(log, row)),
        *_line_change(log, series, year, lapsed=lapsed, settled=True),
        *_line_change(log, series, year + 1, allotted=next_allotted, obligated=next_obligated),
    ]


def map_transfer_requested(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    request: Mapping[str, Any] = a["request"]
    source: Mapping[str, Any] = request["from"]
    target: Mapping[str, Any] = request["to"]
    row = {
        "transfer_id": a["transferId"],
        "ministry": a["ministry"],
        "requester": a["requester"],
        "fiscal_year": int(source["fiscalYear"]),
        "from_organization": source["organization"],
        "from_item": source["item"],
        "from_sub_item": source["subItem"],
        "to_organization": target["organization"],
        "to_item": target["item"],
        "to_sub_item": target["subItem"],
        "amount": request["amount"],
        "rationale_hash": request["rationaleHash"],
        "between_items": a["betweenItems"],
        "requested_at": int(a["requestedAt"]),
    }
    return [Insert("budget_transfer_requests", _keyed(log, row))]


def _transfer_decision(log: DecodedLog, decision: str, actor: str, decided_at: str, reason: str | None) -> list[Change]:
    a = log.args
    row = {
        "transfer_id": a["transferId"],
        "ministry": a["ministry"],
        "decision": decision,
        "actor": a[actor],
        "reason_hash": a[reason] if reason is not None else None,
        "requested_at": int(a["requestedAt"]),
        "decided_at": int(a[decided_at]),
    }
    return [Insert("budget_transfer_decisions", _keyed(log, row))]


def map_transfer_approved(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _transfer_decision(log, "approved", "approver", "approvedAt", None)


def map_transfer_refused(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _transfer_decision(log, "refused", "refuser", "refusedAt", "reasonHash")


def map_transfer_withdrawn(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _transfer_decision(log, "withdrawn", "officer", "withdrawnAt", None)


def map_access_granted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "series": int(a["series"]),
        "fiscal_year": int(a["fiscalYear"]),
        "grantee": a["grantee"],
        "ministry": a["ministry"],
        "officer": a["officer"],
        "kind": _ACCESS_KIND.get(a["kind"], str(a["kind"])),
        "cap": a["cap"],
        "used": a["used"],
        "expires_at": int(a["expiresAt"]),
    }
    return _recorded("budget_access_changes", _keyed(log, row))


def map_access_revoked(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "series": int(a["series"]),
        "fiscal_year": int(a["fiscalYear"]),
        "grantee": a["grantee"],
        "ministry": a["ministry"],
        "officer": a["officer"],
        "kind": "revoked",
        "cap": 0,
        "used": 0,
        "expires_at": 0,
    }
    return _recorded("budget_access_changes", _keyed(log, row))


def map_access_used(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    row = {
        "series": int(a["series"]),
        "fiscal_year": int(a["fiscalYear"]),
        "grantee": a["grantee"],
        "ministry": a["ministry"],
        "escrow": a["escrow"],
        "amount": a["amount"],
        "used": a["used"],
    }
    return _recorded("budget_access_uses", _keyed(log, row))


def map_authority_enacted(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    a = log.args
    terms: Mapping[str, Any] = a["terms"]
    line: Mapping[str, Any] = terms["line"]
    row = {
        "authority_id": a["authorityId"],
        "ministry": a["ministry"],
        "authority": a["authority"],
        "fiscal_year": int(line["fiscalYear"]),
        "organization": line["organization"],
        "item": line["item"],
        "sub_item": line["subItem"],
        "ceiling": terms["ceiling"],
        "schedule": json.dumps([str(int(part)) for part in terms["schedule"]]),
        "instrument_hash": a["instrumentHash"],
    }
    return [Insert("budget_authorities", _keyed(log, row))]


def _schedule_change(log: DecodedLog, kind: str) -> list[Change]:
    a = log.args
    row = {
        "escrow": a["escrow"],
        "authority_id": a["authorityId"],
        "fiscal_year": int(a["fiscalYear"]),
        "kind": kind,
        "amount": a["amount"],
        "committed_in_year": a.get("committedInYear"),
    }
    return [Insert("budget_schedule_changes", _keyed(log, row))]


def map_obligation_scheduled(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _schedule_change(log, "scheduled")


def map_schedule_obligated(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _schedule_change(log, "obligated")


def map_schedule_released(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    return _schedule_change(log, "released")


RAW_ONLY = frozenset({"Approval", "RoleAdminChanged", "FactorySet", "EIP712DomainChanged"})

MAPPERS: dict[str, Mapper] = {
    "OrganizationRegistered": map_organization_registered,
    "OrganizationUpdated": map_organization_updated,
    "AccountBound": map_account_bound,
    "AccountUnbound": map_account_unbound,
    "RoleGranted": map_role_granted,
    "RoleRevoked": map_role_revoked,
    "EscrowRegistered": map_escrow_registered,
    "NoncesInvalidated": map_nonces_invalidated,
    "Transfer": map_transfer,
    "Minted": map_minted,
    "ProcurementCreated": map_procurement_created,
    "Funded": map_funded,
    "EvidenceSubmitted": map_evidence_submitted,
    "Attested": map_attested,
    "AttestationsDisregarded": map_attestations_disregarded,
    "MilestoneApproved": map_milestone_approved,
    "SubmissionRejected": map_submission_rejected,
    "PaymentReleased": map_payment_released,
    "PaymentDeferred": map_payment_deferred,
    "Refunded": map_refunded,
    "MilestoneReclaimed": map_milestone_reclaimed,
    "AmendmentProposed": map_amendment_proposed,
    "AmendmentConsented": map_amendment_consented,
    "AmendmentApproved": map_amendment_approved,
    "DisputeOpened": map_dispute_opened,
    "DisputeLapsed": map_dispute_lapsed,
    "DisputeSettled": map_dispute_settled,
    "OwedRedirectRuled": map_owed_redirect_ruled,
    "OwedRedirected": map_owed_redirected,
    "PauseChanged": map_pause_changed,
    "SignatureUsed": map_signature_used,
    "BudgetSet": map_budget_set,
    "Burned": map_burned,
    "SeriesRegistered": map_series_registered,
    "AppropriationEnacted": map_appropriation_enacted,
    "Distributed": map_distributed,
    "Obligated": map_obligated,
    "Disbursed": map_disbursed,
    "Deobligated": map_deobligated,
    "Transferred": map_transferred,
    "CarryOverApproved": map_carry_over_approved,
    "FiscalYearClosed": map_fiscal_year_closed,
    "LineSettled": map_line_settled,
    "TransferRequested": map_transfer_requested,
    "TransferApproved": map_transfer_approved,
    "TransferRefused": map_transfer_refused,
    "TransferWithdrawn": map_transfer_withdrawn,
    "AccessGranted": map_access_granted,
    "AccessRevoked": map_access_revoked,
    "AccessUsed": map_access_used,
    "AuthorityEnacted": map_authority_enacted,
    "ObligationScheduled": map_obligation_scheduled,
    "ScheduleObligated": map_schedule_obligated,
    "ScheduleReleased": map_schedule_released,
}
for _name in RAW_ONLY:
    MAPPERS[_name] = _no_rows


# ---------------------------------------------------------------- derived state: what a row moves


def _books_of_funding(row: Mapping[str, Any]) -> list[Change]:
    total = int(row["total_funded"])
    return [BooksStep(row["escrow"], lambda books: books._replace(total_funded=total))]


def _released(amount: int) -> Callable[[Books], Books]:
    def step(b: Books) -> Books:
        return Books(b.total_funded, b.total_released + amount, b.total_refunded, b.paused_until)

    return step


def _books_of_payment(row: Mapping[str, Any]) -> list[Change]:
    if row["kind"] != "released":  # a deferred payment is owed by its milestone, not yet paid out of the books
        return []
    return [BooksStep(row["escrow"], _released(int(row["amount"])))]


def _books_of_redirect(row: Mapping[str, Any]) -> list[Change]:
    if int(str(row["recipient"]), 16) == 0:  # back to the ministry: its refund is a refunds row of its own
        return []
    return [BooksStep(row["escrow"], _released(int(row["amount"])))]


def _books_of_refund(row: Mapping[str, Any]) -> list[Change]:
    amount = int(row["amount"])
    return [BooksStep(row["escrow"], lambda books: books._replace(total_refunded=books.total_refunded + amount))]


def _books_of_pause(row: Mapping[str, Any]) -> list[Change]:
    until = int(row["paused_until"])
    return [BooksStep(row["escrow"], lambda books: books._replace(paused_until=until))]


def _organization_of_update(row: Mapping[str, Any]) -> list[Change]:
    key = {"chain_id": row["chain_id"], "org_id": row["org_id"]}
    return [Patch("organizations", key, {"active": row["active"], "vault": row["vault"]})]


def _account_of_binding(row: Mapping[str, Any]) -> list[Change]:
    account = {
        "chain_id": row["chain_id"],
        "account": row["account"],
        "org_id": row["org_id"] if row["bound"] else None,
        "block_number": row["block_number"],
    }
    return [Upsert("accounts", account)]


def _membership_of_change(row: Mapping[str, Any]) -> list[Change]:
    key = {"chain_id": row["chain_id"], "role": row["role"], "account": row["account"]}
    if not row["granted"]:
        return [Remove("role_memberships", key)]
    held = {"role_name": row["role_name"], "granted_by": row["sender"], "block_number": row["block_number"]}
    return [Upsert("role_memberships", key | held)]


def _line_of_change(row: Mapping[str, Any]) -> list[Change]:
    line = {"chain_id": row["chain_id"], "series": row["series"], "fiscal_year": row["fiscal_year"]}
    for name in _LINE_TOTALS:  # the totals the event reported
        value = row[name]
        if value is not None:
            line[name] = value
    line["block_number"] = row["block_number"]
    return [Upsert("budget_lines", line)]


_LINE_TOTALS = ("allotted", "obligated", "disbursed", "carry_over", "lapsed", "settled")


def _grant_of_change(row: Mapping[str, Any]) -> list[Change]:
    key = {
        "chain_id": row["chain_id"],
        "series": row["series"],
        "fiscal_year": row["fiscal_year"],
        "grantee": row["grantee"],
    }
    if row["kind"] == "revoked":
        return [Remove("budget_grants", key)]
    held = {name: row[name] for name in ("ministry", "kind", "cap", "used", "expires_at", "block_number")}
    return [Upsert("budget_grants", key | held)]


def _grant_of_use(row: Mapping[str, Any]) -> list[Change]:
    key = {
        "chain_id": row["chain_id"],
        "series": row["series"],
        "fiscal_year": row["fiscal_year"],
        "grantee": row["grantee"],
    }
    return [Patch("budget_grants", key, {"used": row["used"], "block_number": row["block_number"]})]


# One line per append-only table whose rows move current state: the row (as a mapper builds it, or as read back
# from the database) in, the changes out. Applying a range and rebuilding after a reorg both go through these.
DERIVED: dict[str, Derivation] = {
    "fundings": _books_of_funding,
    "payments": _books_of_payment,
    "owed_redirects": _books_of_redirect,
    "refunds": _books_of_refund,
    "pauses": _books_of_pause,
    "organization_updates": _organization_of_update,
    "account_bindings": _account_of_binding,
    "role_changes": _membership_of_change,
    "budget_line_changes": _line_of_change,
    "budget_access_changes": _grant_of_change,
    "budget_access_uses": _grant_of_use,
}


def map_log(log: DecodedLog, previous: DecodedLog | None) -> list[Change]:
    """The changes one log implies (an event without a mapper is a programming error, said clearly)."""
    mapper = MAPPERS.get(log.event)
    if mapper is None:
        raise KeyError(f"no mapper for event {log.event!r} (emitted by {log.emitter})")
    return mapper(log, previous)

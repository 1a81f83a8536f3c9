"""OCDS 1.1 releases built from the mirror: one release per state change of a procurement.

A procurement's rows (its creation, fundings, evidence, attestations, payments, refunds, amendments, disputes,
rulings) are read from the mirror's tables and folded in chain order; each event gives one release carrying what it
changed (ocdsmerge compiles them into the record, merging arrays of objects by ``id``). A release's id is its event's
chain position (``<block>-<log index>-<transaction hash prefix>``: unique per ocid, the same on every export).

The mapping, in one place:

* procurement -> ``ocid`` (its spec's ``id`` when the spec register knows it, else the configured prefix and the
  on-chain id), ``tender``, one ``awards[0]`` and one ``contracts[0]`` (id: the escrow's address) valued in JPY;
* organizations -> ``parties`` with roles: the buying ministry (buyer, procuringEntity), the budget line's ministry
  (payer), the supplier (supplier, payee), each evaluator's body (evaluationBody), a ruling review body
  (reviewBody);
* milestones -> ``contracts[0].implementation.milestones`` (closed codelist: scheduled, met, notMet,
  partiallyMet; the escrow's status and amount in ``description``);
* payments -> ``implementation.transactions`` in JPY with ``relatedImplementationMilestone``
  (transaction_milestones extension);
* evidence, test reports, dispute reasons and rulings -> ``implementation.documents`` by SHA-256, with a URL at
  the gateway;
* approved amendments -> ``contracts[0].amendments`` (rationale by hash, proposer and approver), in a
  ``contractAmendment`` release;
* the budget line charged -> ``planning.budget`` and ``implementation.financialProgress`` (budget_and_spend
  extension: funded, released, refunded and owed yen against the line's classifications).

Amounts are integers (yen) everywhere. Classified fields are cut by ``indexer.ocds.withheld``, not here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select

from chain import MilestoneStatus
from chain.errors import ConfigurationError, ProviderError
from chain.roles import org_code
from chain.times import iso
from chain.transport import Transport
from indexer.errors import IndexerError
from indexer.models import (
    TABLES,
    AccountRow,
    AmendmentApproval,
    AmendmentProposal,
    AttestationRow,
    BudgetObligation,
    BudgetSeries,
    DisputeLapse,
    DisputeOpening,
    DisputeSettlement,
    EvidenceRow,
    FundingRow,
    MilestoneHistory,
    OrganizationRow,
    OwedRedirect,
    PaymentRow,
    ReclaimRow,
    RedirectRuling,
    RefundRow,
)
from indexer.ocds.specs import PublishedSpec, SpecRegister

__all__ = [
    "DEFAULT_OCID_PREFIX",
    "BlockTimes",
    "ChainBlockTimes",
    "Publication",
    "ReleaseBuilder",
    "chunks",
    "milestone_status",
    "mirror_block_times",
    "release_id",
]

DEFAULT_OCID_PREFIX = "ocds-b5fd17"  # the publisher's prefix registered with OCP (the demo's ocids use it)
# Block numbers -> their unix times. Release dates are the mirror's block times (``mirror_block_times``); a
# ``BlockTimes`` (``ChainBlockTimes``: the node's) is asked only for blocks whose time the mirror lacks.
BlockTimes = Callable[[Sequence[int]], Mapping[int, int]]

_ZERO_HASH = "0x" + "00" * 32
_OCDS_STATUS = {
    "Pending": "scheduled",
    "Submitted": "scheduled",
    "Rejected": "scheduled",  # evidence may come again
    "Disputed": "scheduled",
    "Approved": "met",
    "Paid": "met",
    "Settled": "partiallyMet",  # a review body's split
    "Refunded": "notMet",
    "Cancelled": "notMet",
}
_TERMINAL = {"Paid", "Settled", "Refunded", "Cancelled"}
assert set(_OCDS_STATUS) == {status.name.capitalize() for status in MilestoneStatus}


def milestone_status(escrow_status: str) -> str:
    """The OCDS milestoneStatus (closed codelist) of an escrow milestone status (``Pending``, ``Paid``...)."""
    return _OCDS_STATUS[escrow_status]


def release_id(block_number: int, log_index: int, tx_hash: str) -> str:
    """A release's id: its event's chain position (some nodes number logs per transaction: the hash disambiguates)."""
    return f"{block_number}-{log_index}-{tx_hash[2:14]}"


@dataclass(frozen=True)
class Publication:
    """How this ledger publishes: the ocid prefix, the gateway documents are served from, the publisher."""

    ocid_prefix: str = DEFAULT_OCID_PREFIX
    gateway_url: str = "http://127.0.0.1:8000"
    publisher: str = "Procurement ledger"
    publisher_uri: str | None = None
    specs: SpecRegister = field(default_factory=SpecRegister)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"ocds-[a-z0-9]{6}", self.ocid_prefix):
            raise ConfigurationError(
                f"ocid prefix {self.ocid_prefix!r}: write ocds- and the 6 characters registered with the Open "
                "Contracting Partnership, e.g. ocds-b5fd17"
            )

    def ocid(self, ministry: str, procurement_id: str, spec: PublishedSpec | None) -> str:
        """The procurement's ocid: its spec's, else the prefix, the buying ministry's code (an on-chain id is unique
        within its ministry only) and the on-chain id."""
        return spec.ocid if spec is not None else f"{self.ocid_prefix}-{ministry}-{procurement_id[2:]}"


# ---------------------------------------------------------------- reading a batch of procurements


# Each kind of event: its table and the columns its release reads (besides the escrow and the event's position).
_EVENT_TABLES: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
    ("funding", FundingRow, ("initial", "total_funded")),
    ("evidence", EvidenceRow, ("milestone_id", "round", "document_hash")),
    ("attestation", AttestationRow, ("milestone_id", "round", "passed", "report_hash")),
    ("payment", PaymentRow, ("milestone_id", "amount", "kind")),
    ("refund", RefundRow, ("milestone_id", "amount")),
    ("reclaim", ReclaimRow, ("milestone_id",)),
    ("proposal", AmendmentProposal, ("amendment_id", "proposer", "rationale_hash")),
    (
        "amendment",
        AmendmentApproval,
        (
            "amendment_id",
            "milestone_id",
            "approver",
            "kind",
            "old_amount",
            "new_amount",
            "old_due_date",
            "new_due_date",
        ),
    ),
    ("dispute", DisputeOpening, ("milestone_id", "reason_hash")),
    ("ruling", DisputeSettlement, ("milestone_id", "reviewer", "supplier_amount", "ministry_amount", "ruling_hash")),
    ("lapse", DisputeLapse, ("milestone_id", "new_due_date")),
    ("redirect-ruling", RedirectRuling, ("milestone_id", "reviewer", "ruling_hash")),
    ("redirect", OwedRedirect, ("milestone_id", "recipient", "amount")),
)
_POSITION = ("escrow", "block_number", "log_index", "tx_hash")  # each row read starts with these
_CHAIN_ORDER = itemgetter(0, 1, 2)  # an event's (block, log index, transaction hash)
_HISTORY = (*_POSITION, "milestone_id", "status", "owed", "amount", "due_date")
_OBLIGATION = (*_POSITION, "series", "fiscal_year", "line_ministry", "amount", "escrow_obligated")


@dataclass
class _Facts:
    """One procurement's rows, as read from the mirror."""

    procurement: Any
    # (block, log index, transaction hash, kind, row), sorted into chain order
    events: list[tuple[int, int, str, str, Any]] = field(default_factory=list)
    # event key + milestone -> the milestone's (status, owed yen) right after that event
    history: dict[tuple[int, int, str, int], tuple[str, int]] = field(default_factory=dict)
    created_milestones: list[Any] = field(default_factory=list)  # the history rows of the creation
    obligations: list[Any] = field(default_factory=list)


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``values`` in slices of ``size`` at most, in order."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ReleaseBuilder:
    """Builds the releases of the mirror's procurements (one chain), a batch of procurements at a time."""

    def __init__(self, conn: Connection, chain_id: int, publication: Publication, block_times: BlockTimes) -> None:
        self.conn = conn
        self.chain_id = chain_id
        self.publication = publication
        self.block_times = block_times
        self.times: Mapping[int, int] = {}  # the current batch's block times
        self.dates: dict[int, str] = {}  # and their ISO 8601 forms, made once
        self.isos: dict[int, str] = {}  # unix times (due dates) -> ISO 8601, made once
        self._orgs: dict[str, tuple[str, str]] | None = None  # org id -> (code, name)
        self._accounts: dict[str, str] = {}  # account -> org id
        self._series: dict[int, tuple[str, str, str, str]] = {}

    # ------------------------------------------------------------ lookups shared by every procurement

    def _org(self, org_id: str) -> tuple[str, str]:
        if self._orgs is None:
            o = OrganizationRow.__table__.c
            rows = self.conn.execute(select(o.org_id, o.code, o.name).where(o.chain_id == self.chain_id))
            self._orgs = {row.org_id: (row.code, row.name) for row in rows}
        found = self._orgs.get(org_id)
        if found is None:
            code = org_code(bytes.fromhex(org_id[2:]))
            found = (code, code)
        return found

    def _org_of_accounts(self, accounts: Iterable[str]) -> None:
        wanted = [account for account in set(accounts) if account not in self._accounts]
        a = AccountRow.__table__.c
        for chunk in chunks(wanted, 500):
            rows = self.conn.execute(
                select(a.account, a.org_id).where(a.chain_id == self.chain_id, a.account.in_(chunk))
            )
            for row in rows:
                if row.org_id is not None:
                    self._accounts[row.account] = row.org_id

    def _line_codes(self, series: int) -> tuple[str, str, str, str]:
        if series not in self._series:
            s = BudgetSeries.__table__.c
            row = self.conn.execute(
                select(s.ministry, s.organization, s.item, s.sub_item).where(
                    s.chain_id == self.chain_id, s.series == series
                )
            ).first()
            codes = ("?", "?", "?", "?")
            if row is not None:
                codes = tuple(org_code(bytes.fromhex(value[2:])) for value in row)  # type: ignore[assignment]
            self._series[series] = codes
        return self._series[series]

    # ------------------------------------------------------------ reading

    def _rows(self, table: Any, columns: Sequence[str], escrows: Sequence[str]) -> Sequence[Any]:
        """The ``columns`` of ``table``'s rows of ``escrows``, in one query."""
        c = table.c
        query = select(*(c[name] for name in columns)).where(c.chain_id == self.chain_id, c.escrow.in_(escrows))
        return self.conn.execute(query).all()

    def _facts(self, procurements: Sequence[Any]) -> list[_Facts]:
        by_escrow = {row.escrow: _Facts(row) for row in procurements}
        escrows = list(by_escrow)
        for kind, model, columns in _EVENT_TABLES:
            for row in self._rows(model.__table__, (*_POSITION, *columns), escrows):
                escrow, block, log, tx = row[:4]  # the _POSITION columns
                by_escrow[escrow].events.append((block, log, tx, kind, row))
        created = {p.escrow: (p.block_number, p.log_index, p.tx_hash) for p in procurements}
        for row in self._rows(MilestoneHistory.__table__, _HISTORY, escrows):
            escrow, block, log, tx, milestone_id, status, owed = row[:7]
            history = by_escrow[escrow].history
            history[(block, log, tx, milestone_id)] = (status, int(owed))
            if (block, log, tx) == created[escrow]:
                by_escrow[escrow].created_milestones.append(row)
        for row in self._rows(BudgetObligation.__table__, _OBLIGATION, escrows):
            by_escrow[row.escrow].obligations.append(row)
        accounts: list[str] = []
        for facts in by_escrow.values():
            facts.events.sort(key=_CHAIN_ORDER)  # stable: one log's rows (if ever several) keep the tables' order
            facts.created_milestones.sort(key=lambda row: int(row.milestone_id))
            facts.obligations.sort(key=lambda row: (row.block_number, row.log_index))
            accounts.extend(json.loads(facts.procurement.panel))
            accounts.extend(event[4].reviewer for event in facts.events if event[3] in ("ruling", "redirect-ruling"))
        self._org_of_accounts(accounts)
        blocks = {int(row.block_number) for row in procurements}
        blocks.update(int(event[0]) for facts in by_escrow.values() for event in facts.events)
        self.times = mirror_block_times(self.conn, self.chain_id, sorted(blocks), self.block_times)
        self.dates = {}
        return [by_escrow[row.escrow] for row in procurements]

    def releases(self, procurements: Sequence[Any]) -> Iterator[tuple[Any, PublishedSpec | None, list[dict[str, Any]]]]:
        """Each procurement (a ``procurements`` row) with its spec (if registered) and its releases, in order."""
        for facts in self._facts(procurements):
            row = facts.procurement
            spec = self.publication.specs.get(row.ministry_org, row.procurement_id, row.spec_hash)
            yield facts.procurement, spec, _Fold(self, facts, spec).releases()


# ---------------------------------------------------------------- folding one procurement's events


def _yen(amount: int) -> dict[str, Any]:
    return {"amount": int(amount), "currency": "JPY"}


def _words(amount: int) -> str:
    return f"{int(amount):,} yen"


class _Fold:
    """One procurement's events folded into releases (each with what its event changed)."""

    def __init__(self, builder: ReleaseBuilder, facts: _Facts, spec: PublishedSpec | None) -> None:
        self.b = builder
        self.facts = facts
        self.p = facts.procurement
        self.spec = spec
        self.ocid = builder.publication.ocid(builder._org(self.p.ministry_org)[0], self.p.procurement_id, spec)
        self.amounts: dict[int, int] = {int(m.milestone_id): int(m.amount) for m in facts.created_milestones}
        self.due: dict[int, int] = {int(m.milestone_id): int(m.due_date) for m in facts.created_milestones}
        self.status: dict[int, str] = {int(m.milestone_id): m.status for m in facts.created_milestones}
        self.owed: dict[int, int] = {}
        self.roles: dict[str, list[str]] = {}
        self.proposals: dict[int, Any] = {}
        self.measures = {"funded": 0, "released": 0, "refunded": 0, "owed": 0}
        self.url = builder.publication.gateway_url.rstrip("/")
        self.open = sum(status not in _TERMINAL for status in self.status.values())  # milestones not yet terminal
        self.rid = self.when = ""  # the current event's release id and date
        self.key: tuple[int, int, str] = (0, 0, "")  # and its position

    def _at(self, block: int, log: int, tx: str) -> None:
        """Make the event at this position (or the procurement's creation) the current event."""
        self.key = (block, log, tx)
        self.rid = release_id(block, log, tx)
        self.when = self._date(block)

    # ------------------------------------------------------------ pieces

    def _party(self, org_id: str, role: str) -> dict[str, Any] | None:
        """The party of ``org_id`` with ``role`` added (None if it had it already)."""
        code, name = self.b._org(org_id)
        roles = self.roles.setdefault(code, [])
        if role in roles:
            return None
        roles.append(role)
        return {"id": code, "name": name, "roles": list(roles)}

    def _ref(self, org_id: str) -> dict[str, str]:
        code, name = self.b._org(org_id)
        return {"id": code, "name": name}

    def _milestone(self, milestone_id: int, *, after_event: bool = False) -> dict[str, Any]:
        """The milestone as published (``after_event``: as the current event left it)."""
        if after_event:
            block, log, tx = self.key
            after = self.facts.history.get((block, log, tx, milestone_id))
            if after is not None:
                status, self.owed[milestone_id] = after
                previous = self.status.get(milestone_id)
                self.status[milestone_id] = status
                self.open += (status not in _TERMINAL) - (previous is not None and previous not in _TERMINAL)
                self.measures["owed"] = sum(self.owed.values())
        escrow_status = self.status.get(milestone_id, "Pending")
        due = self.due.get(milestone_id, 0)
        isos = self.b.isos
        if due not in isos:
            isos[due] = iso(due)
        return {
            "id": str(milestone_id),
            "title": self._milestone_title(milestone_id),
            "type": "delivery",
            "status": _OCDS_STATUS[escrow_status],
            "dueDate": isos[due],
            "description": f"{_words(self.amounts.get(milestone_id, 0))}; on the ledger: {escrow_status}",
        }

    def _milestone_title(self, milestone_id: int) -> str:
        if self.spec is not None and milestone_id < len(self.spec.milestone_titles):
            return self.spec.milestone_titles[milestone_id]
        return f"Milestone {milestone_id + 1}"

    def _contract_value(self) -> dict[str, Any]:
        return _yen(sum(amount for m, amount in self.amounts.items() if self.status.get(m) != "Cancelled"))

    def _document(self, kind: str, digest: str, document_type: str, title: str) -> dict[str, Any]:
        return {
            "id": f"{kind}-{self.rid}",
            "documentType": document_type,
            "title": title,
            "description": f"SHA-256 {digest}",
            "url": f"{self.url}/evidence/{digest}",
            "datePublished": self.when,
        }

    def _date(self, block_number: int) -> str:
        dates = self.b.dates
        if block_number not in dates:
            dates[block_number] = iso(self.b.times[int(block_number)])
        return dates[block_number]

    def _release(self, tags: list[str], **content: Any) -> dict[str, Any]:
        release: dict[str, Any] = {
            "ocid": self.ocid,
            "id": self.rid,
            "date": self.when,
            "tag": tags,
            "initiationType": "tender",
        }
        for name, value in content.items():
            if value is not None:
                release[name] = value
        return release

    def _contract(self, **content: Any) -> list[dict[str, Any]]:
        implementation = {name: value for name, value in content.pop("implementation", {}).items() if value}
        contract: dict[str, Any] = {"id": self.p.escrow, "awardID": self.p.escrow, **content}
        if implementation:
            contract["implementation"] = implementation
        return [contract]

    def _progress(self) -> dict[str, Any]:
        return {"totalSpend": _yen(self.measures["released"]), "measures": dict(self.measures)}

    def _parties(self, *entries: dict[str, Any] | None) -> list[dict[str, Any]] | None:
        latest = {entry["id"]: entry for entry in entries if entry is not None}  # the last has every role
        return list(latest.values()) or None

    def _contract_status(self) -> str:
        return "terminated" if self.status and not self.open else "active"

    # ------------------------------------------------------------ the releases

    def releases(self) -> list[dict[str, Any]]:
        out = [self._created()]
        handlers = _HANDLERS
        for block, log, tx, kind, row in self.facts.events:
            self._at(block, log, tx)
            made = handlers[kind](self, row)
            if made is not None:
                out.append(made)
        return out

    def _created(self) -> dict[str, Any]:
        p = self.p
        self._at(p.block_number, p.log_index, p.tx_hash)
        buyer = self._ref(p.ministry_org)
        parties = [self._party(p.ministry_org, "buyer"), self._party(p.ministry_org, "procuringEntity")]
        parties += [self._party(p.supplier_org, "supplier"), self._party(p.supplier_org, "payee")]
        for evaluator in json.loads(p.panel):
            org = self.b._accounts.get(evaluator)
            if org is not None:
                parties.append(self._party(org, "evaluationBody"))
        planning = None
        breakdown = []
        for obligation in self.facts.obligations:
            parties.append(self._party(obligation.line_ministry, "payer"))
            ministry, organization, item, sub_item = self.b._line_codes(int(obligation.series))
            line = f"FY{obligation.fiscal_year}/{ministry}/{organization}/{item}/{sub_item}"
            if planning is None:
                planning = {
                    "budget": {
                        "id": line,
                        "description": f"budget line {line}: {_words(obligation.amount)} obligated at creation",
                        "amount": _yen(obligation.amount),
                    }
                }
            breakdown.append(
                {
                    "id": line,
                    "classifications": {
                        "fiscalYear": int(obligation.fiscal_year),
                        "ministry": ministry,
                        "organization": organization,
                        "item": item,
                        "subItem": sub_item,
                    },
                    "measures": {"obligated": int(obligation.escrow_obligated)},
                }
            )
        self.measures["funded"] = int(p.funded)
        progress = self._progress()
        if breakdown:
            progress["breakdown"] = breakdown
        title = self.p.title
        value = self._contract_value()
        return self._release(
            ["tender", "award", "contract"],
            buyer=buyer,
            parties=self._parties(*parties),
            planning=planning,
            tender={"id": self.ocid, "title": title, "status": "complete", "procuringEntity": buyer},
            awards=[
                {
                    "id": p.escrow,
                    "title": title,
                    "status": "active",
                    "value": value,
                    "suppliers": [self._ref(p.supplier_org)],
                }
            ],
            contracts=self._contract(
                title=title,
                status="active",
                value=value,
                implementation={
                    "milestones": [self._milestone(int(m.milestone_id)) for m in self.facts.created_milestones],
                    "financialProgress": progress,
                },
            ),
        )

    def _implementation(self, row: Any, *milestones: int, **implementation: Any) -> dict[str, Any]:
        if "milestones" not in implementation:
            implementation["milestones"] = [self._milestone(m, after_event=True) for m in milestones]
        # _release(["implementation"], contracts=_contract(status=..., implementation=...)), built in one go: most
        # releases are these
        escrow = self.p.escrow
        contract: dict[str, Any] = {"id": escrow, "awardID": escrow, "status": self._contract_status()}
        kept = {name: value for name, value in implementation.items() if value}
        if kept:
            contract["implementation"] = kept
        return {
            "ocid": self.ocid,
            "id": self.rid,
            "date": self.when,
            "tag": ["implementation"],
            "initiationType": "tender",
            "contracts": [contract],
        }

    def _funding(self, row: Any) -> dict[str, Any] | None:
        if row.initial:
            return None  # part of the creation
        self.measures["funded"] = int(row.total_funded)
        return self._implementation(row, financialProgress=self._progress())

    def _evidence(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        document = self._document(
            "evidence",
            row.document_hash,
            "physicalProgressReport",
            f"evidence for milestone {m}, round {row.round}",
        )
        return self._implementation(row, m, documents=[document])

    def _attestation(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        documents = None
        if row.report_hash != _ZERO_HASH:
            verdict = "pass" if row.passed else "fail"
            documents = [
                self._document(
                    "report",
                    row.report_hash,
                    "evaluationReports",
                    f"test report ({verdict}) for milestone {m}, round {row.round}",
                )
            ]
        return self._implementation(row, m, documents=documents)

    def _transaction(self, row: Any, kind: str, amount: int, payer: str, payee: str, m: int) -> dict[str, Any]:
        return {
            "id": f"{kind}-{self.rid}",
            "date": self.when,
            "value": _yen(amount),
            "payer": self._ref(payer),
            "payee": self._ref(payee),
            "uri": f"{self.url}/events?fromBlock={row.block_number}"
            f"&toBlock={row.block_number}&procurementId={self.p.escrow}",
            "relatedImplementationMilestone": {"id": str(m), "title": self._milestone_title(m)},
        }

    def _payer(self) -> str:
        payer: str = self.facts.obligations[0].line_ministry if self.facts.obligations else self.p.ministry_org
        return payer

    def _payment(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        milestone = self._milestone(m, after_event=True)  # the owed yen follow the milestone
        if row.kind != "released":
            return self._implementation(row, milestones=[milestone], financialProgress=self._progress())
        self.measures["released"] += int(row.amount)
        transaction = self._transaction(row, "payment", row.amount, self._payer(), self.p.supplier_org, m)
        return self._implementation(
            row, milestones=[milestone], transactions=[transaction], financialProgress=self._progress()
        )

    def _refund(self, row: Any) -> dict[str, Any]:
        self.measures["refunded"] += int(row.amount)
        milestone = self._milestone(int(row.milestone_id), after_event=True)
        return self._implementation(row, milestones=[milestone], financialProgress=self._progress())

    def _reclaim(self, row: Any) -> dict[str, Any]:
        return self._implementation(row, int(row.milestone_id))

    def _proposal(self, row: Any) -> None:
        self.proposals[int(row.amendment_id)] = row  # an amendment only takes effect when approved

    def _amendment(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        proposal = self.proposals.get(int(row.amendment_id))
        self.amounts[m] = int(row.new_amount)
        self.due[m] = int(row.new_due_date)
        change = f"milestone {m} ({row.kind}): {_words(row.old_amount)} due {iso(int(row.old_due_date))} -> "
        change += f"{_words(row.new_amount)} due {iso(int(row.new_due_date))}"
        proposer = f"proposed by {proposal.proposer}, " if proposal is not None else ""
        rationale = "rationale: document "
        rationale += f"SHA-256 {proposal.rationale_hash}" if proposal is not None else "not mirrored"
        amendment = {
            "id": str(row.amendment_id),
            "date": self.when,
            "rationale": rationale,
            "description": f"{change}; {proposer}approved by {row.approver}",
            "releaseID": self.rid,
        }
        documents = None
        if proposal is not None:
            documents = [
                self._document("rationale", proposal.rationale_hash, "contractAnnexe", f"amendment {row.amendment_id}")
            ]
        milestone = self._milestone(m, after_event=True)
        implementation: dict[str, Any] = {"milestones": [milestone], "documents": documents}
        return self._release(
            ["contractAmendment"],
            contracts=self._contract(
                status=self._contract_status(),
                value=self._contract_value(),
                amendments=[amendment],
                implementation=implementation,
            ),
        )

    def _dispute(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        document = self._document("dispute", row.reason_hash, "complaints", f"dispute over milestone {m}")
        return self._implementation(row, m, documents=[document])

    def _ruling(self, row: Any) -> dict[str, Any]:
        split = f"{_words(row.supplier_amount)} to the supplier, {_words(row.ministry_amount)} to the ministry"
        return self._ruling_document(row, f"ruling ({split})", row.ruling_hash)

    def _lapse(self, row: Any) -> dict[str, Any]:
        self.due[int(row.milestone_id)] = int(row.new_due_date)
        return self._implementation(row, int(row.milestone_id))

    def _redirect_ruling(self, row: Any) -> dict[str, Any]:
        return self._ruling_document(row, "redirect ruling", row.ruling_hash)

    def _ruling_document(self, row: Any, what: str, digest: str) -> dict[str, Any]:
        m = int(row.milestone_id)
        org = self.b._accounts.get(row.reviewer)
        party = self._party(org, "reviewBody") if org is not None else None
        document = self._document("ruling", digest, "complaints", f"{what} on milestone {m}")
        release = self._implementation(row, m, documents=[document])
        if party is not None:
            release["parties"] = [party]
        return release

    def _redirect(self, row: Any) -> dict[str, Any]:
        m = int(row.milestone_id)
        milestone = self._milestone(m, after_event=True)
        if row.recipient == "0x" + "00" * 20:
            return self._implementation(row, milestones=[milestone], financialProgress=self._progress())
        self.measures["released"] += int(row.amount)
        transaction = self._transaction(row, "redirect", row.amount, self._payer(), self.p.supplier_org, m)
        transaction["payee"] = {"id": row.recipient, "name": f"successor account {row.recipient}"}
        return self._implementation(
            row, milestones=[milestone], transactions=[transaction], financialProgress=self._progress()
        )


# Each kind of event -> the _Fold method that makes its release (None: it makes none).
_HANDLERS: dict[str, Callable[[_Fold, Any], dict[str, Any] | None]] = {
    kind: getattr(_Fold, "_" + kind.replace("-", "_")) for kind, _, _ in _EVENT_TABLES
}


def mirror_block_times(
    conn: Connection, chain_id: int, blocks: Sequence[int], fallback: BlockTimes | None = None
) -> dict[int, int]:
    """The unix time of each block of ``blocks`` (blocks with events), as the mirror recorded it; ``fallback``
    (the node) answers for those it lacks (mirrored before migration 0008 and not yet filled in), in one call."""
    digests = TABLES["block_digests"]
    times: dict[int, int] = {}
    for chunk in chunks(blocks, 500):
        query = select(digests.c.block_number, digests.c.block_time).where(
            digests.c.chain_id == chain_id, digests.c.block_number.in_(chunk), digests.c.block_time.is_not(None)
        )
        times.update((int(number), int(stamp)) for number, stamp in conn.execute(query))
    missing = [block for block in blocks if block not in times]
    if missing:
        if fallback is None:
            raise IndexerError(f"the mirror holds no time for block {missing[0]}: run the indexer to fill it in")
        times.update(fallback(missing))
    return times


class ChainBlockTimes:
    """Block times read from the node (``eth_getBlockByNumber``, batched), remembered (at most ``keep``)."""

    def __init__(self, rpc: Transport, keep: int = 100_000) -> None:
        self.rpc = rpc
        self.keep = keep
        self.known: dict[int, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a worker process: the node's URL, not the connection."""
        return {"endpoint": self.rpc.endpoint, "keep": self.keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from chain.connection import connect

        self.rpc, self.keep, self.known = connect(state["endpoint"]), state["keep"], {}

    def __call__(self, blocks: Sequence[int]) -> Mapping[int, int]:
        missing = [block for block in blocks if block not in self.known]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            replies = self.rpc.batch([("eth_getBlockByNumber", [hex(block), False]) for block in chunk])
            for block, reply in zip(chunk, replies, strict=True):
                header = reply.get("result")
                if not isinstance(header, dict) or "timestamp" not in header:
                    raise ProviderError(f"the node at {self.rpc.endpoint} has no block {block}: {str(reply)[:200]}")
                self.known[block] = int(header["timestamp"], 16)
        times = {block: self.known[block] for block in blocks}
        if len(self.known) > self.keep:
            self.known.clear()
        return times

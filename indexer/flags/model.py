"""What a red flag is, what a rule is, and what every rule reads: the procurements of one chain, named for people.

A rule is a function of a ``Context`` that yields ``Flag`` objects; it reads the mirror with SQLAlchemy Core
(SQLite and PostgreSQL alike), folds amounts as Python ``int`` (yen, exact: ``Uint256`` columns are decimal strings
on SQLite, so no sum is taken in SQL) and reads the block times it needs from the mirror (``BlockTimes``, the
node, for blocks it lacks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, func, select

from chain.roles import org_code
from indexer.models import AccountRow, BudgetObligation, MilestoneHistory, OrganizationRow, ProcurementRow
from indexer.ocds.releases import BlockTimes, Publication, mirror_block_times

__all__ = ["DAY", "Context", "Flag", "OfMilestone", "Procurement", "Rule", "yen"]

DAY = 86_400


class OfMilestone(Protocol):
    """What names one milestone: a mirrored row or an amendment, by its escrow and milestone id."""

    @property
    def escrow(self) -> str: ...

    @property
    def milestone_id(self) -> int: ...


def yen(amount: int) -> str:
    """An amount in words: ``1,200,000 yen``."""
    return f"{amount:,} yen"


@dataclass(frozen=True)
class Flag:
    """One rule tripped: by one procurement (``escrow``), or by a buyer or supplier across several."""

    rule: str
    buyer: str  # the buying ministry's organization code
    summary: str  # one line in words: what happened, with amounts in yen (the procurement named apart: ``title``)
    records: Mapping[str, Any]  # what tripped it: milestone, amendment ids, accounts, transaction hashes, yen (int)
    ocid: str | None = None
    escrow: str | None = None
    title: str | None = None  # the procurement's title
    supplier: str | None = None  # the supplier organization's code
    fiscal_year: int | None = None

    def line(self) -> str:
        """The flag in one line of words, as an officer reads it."""
        about = f"{self.buyer} procurement {self.title!r}" if self.title else self.buyer
        supplier = f" (supplier {self.supplier})" if self.supplier else ""
        year = f" FY{self.fiscal_year}" if self.fiscal_year else ""
        return f"{self.rule}: {about}{supplier}{year}: {self.summary}"

    def as_json(self) -> dict[str, Any]:
        """The flag as JSON (yen as integers)."""
        return {
            "rule": self.rule,
            "ocid": self.ocid,
            "escrow": self.escrow,
            "title": self.title,
            "buyer": self.buyer,
            "supplier": self.supplier,
            "fiscalYear": self.fiscal_year,
            "summary": self.summary,
            "records": dict(self.records),
        }


@dataclass(frozen=True)
class Procurement:
    """A mirrored procurement as the rules name it."""

    escrow: str
    ocid: str
    title: str
    buyer: str  # organization code
    buyer_org: str  # organization id (0x-hex)
    supplier: str  # organization code
    supplier_org: str
    supplier_account: str
    officer: str
    panel: tuple[str, ...]
    created_block: int
    created_tx: str
    initial_value: int  # the milestones' yen at creation
    fiscal_year: int | None  # the fiscal year of its first budget obligation


@dataclass(frozen=True)
class Rule:
    """A red-flag rule: its stable id, its published source, what it looks for, and how it finds it."""

    id: str
    source: str
    description: str
    find: Callable[[Context], Iterator[Flag]]


@dataclass
class Context:
    """What rules read: one connection, one chain, the thresholds, block times, and the procurements (read once)."""

    conn: Connection
    chain_id: int
    thresholds: Mapping[str, Mapping[str, Any]]
    block_times: BlockTimes
    publication: Publication = field(default_factory=Publication)
    shared: dict[str, Any] = field(default_factory=dict)  # rows several rules read, read once (see ``once``)
    _procurements: dict[str, Procurement] | None = None
    _orgs: dict[str, str] | None = None

    def times(self, blocks: Sequence[int]) -> Mapping[int, int]:
        """The unix times of these blocks, as the mirror recorded them (``block_times``, the node, answers for blocks
        mirrored before their times were kept)."""
        return mirror_block_times(self.conn, self.chain_id, sorted(set(blocks)), self.block_times) if blocks else {}

    def once(self, name: str, read: Callable[[], Any]) -> Any:
        """``read()``, the first time ``name`` is asked for; its result after."""
        if name not in self.shared:
            self.shared[name] = read()
        return self.shared[name]

    def who(self, account: str) -> str:
        """An account in words: its organization's code and a short form of its address."""
        if "accounts" not in self.shared:
            a = AccountRow.__table__.c
            rows = self.conn.execute(select(a.account, a.org_id).where(a.chain_id == self.chain_id))
            self.shared["accounts"] = {row.account.lower(): row.org_id for row in rows}
        org = self.shared["accounts"].get(account.lower())
        short = f"{account[:6]}…{account[-4:]}"
        return f"{self.org(org)} account {short}" if org else f"account {short}"

    def org(self, org_id: str) -> str:
        """An organization's code."""
        if self._orgs is None:
            o = OrganizationRow.__table__.c
            rows = self.conn.execute(select(o.org_id, o.code).where(o.chain_id == self.chain_id))
            self._orgs = {row.org_id: row.code for row in rows}
        return self._orgs.get(org_id) or org_code(bytes.fromhex(org_id[2:]))

    @property
    def procurements(self) -> dict[str, Procurement]:
        """Every procurement of the chain by escrow address."""
        if self._procurements is None:
            self._procurements = self._read_procurements()
        return self._procurements

    def _read_procurements(self) -> dict[str, Procurement]:
        p = ProcurementRow.__table__.c
        h = MilestoneHistory.__table__.c
        b = BudgetObligation.__table__.c
        initial: dict[str, int] = {}
        created = select(h.escrow, h.amount).where(h.chain_id == self.chain_id, h.event == "ProcurementCreated")
        for row in self.conn.execute(created):
            initial[row.escrow] = initial.get(row.escrow, 0) + int(row.amount)
        first_year = select(b.escrow, func.min(b.fiscal_year)).where(b.chain_id == self.chain_id).group_by(b.escrow)
        years: dict[str, int] = {escrow: year for escrow, year in self.conn.execute(first_year)}
        found: dict[str, Procurement] = {}
        order = (p.block_number, p.log_index)
        for row in self.conn.execute(
            select(ProcurementRow.__table__).where(p.chain_id == self.chain_id).order_by(*order)
        ):
            buyer = self.org(row.ministry_org)
            spec = self.publication.specs.get(row.ministry_org, row.procurement_id, row.spec_hash)
            found[row.escrow] = Procurement(
                escrow=row.escrow,
                ocid=self.publication.ocid(buyer, row.procurement_id, spec),
                title=row.title,
                buyer=buyer,
                buyer_org=row.ministry_org,
                supplier=self.org(row.supplier_org),
                supplier_org=row.supplier_org,
                supplier_account=row.supplier,
                officer=row.officer,
                panel=tuple(json.loads(row.panel)),
                created_block=row.block_number,
                created_tx=row.tx_hash,
                initial_value=initial.get(row.escrow, 0),
                fiscal_year=years.get(row.escrow),
            )
        return found

    def flag(self, rule: str, procurement: Procurement, summary: str, **records: Any) -> Flag:
        """A flag of one procurement."""
        return Flag(
            rule=rule,
            buyer=procurement.buyer,
            summary=summary,
            records={"escrow": procurement.escrow, **records},
            ocid=procurement.ocid,
            escrow=procurement.escrow,
            title=procurement.title,
            supplier=procurement.supplier,
            fiscal_year=procurement.fiscal_year,
        )

    def milestone_flag(self, rule: str, milestone: OfMilestone, summary: str, **records: Any) -> Flag:
        """A flag of one milestone: its procurement's, the milestone first among the records."""
        procurement = self.procurements[milestone.escrow]
        return self.flag(rule, procurement, summary, milestone=milestone.milestone_id, **records)

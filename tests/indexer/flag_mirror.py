"""A mirror written directly in SQL for the red-flag scenarios: each scenario is a chain of its own (its chain id)
in one migrated database, its block ``n`` mined ``n`` days after 1 April (the start of a fiscal year), so that a
scenario can span months without a node. Rows are what the indexer would write for the same events (the columns of
indexer/models.py); the flags read nothing else.

Used where a scenario needs a long history or a state the contracts refuse (a payment without acceptance, the same
official proposing and approving): tests/indexer/test_flags.py plays the rest through the real contracts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert

from chain import fiscal_year_start, org_id
from indexer.models import TABLES

__all__ = ["FISCAL_YEAR", "ScenarioChain", "day_clock"]

FISCAL_YEAR = 2027
DAY = 86_400
GENESIS = fiscal_year_start(FISCAL_YEAR)
_counter = itertools.count(1)


def day_clock(blocks: Sequence[int]) -> Mapping[int, int]:
    """Block ``n`` is mined ``n`` days after the fiscal year starts."""
    return {block: GENESIS + block * DAY for block in blocks}


def address(label: str) -> str:
    """A stable address for ``label`` (lowercase hex; the flags compare addresses case-blind)."""
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


def _tx() -> str:
    return "0x" + f"{next(_counter):064x}"


def _org(code: str) -> str:
    return "0x" + org_id(code).hex()


@dataclass
class ScenarioChain:
    """One scenario's rows, keyed by its own chain id."""

    conn: Connection
    chain_id: int
    logs: dict[int, int] = field(default_factory=dict)  # block -> next log index

    def _key(self, block: int) -> dict[str, Any]:
        index = self.logs.get(block, 0)
        self.logs[block] = index + 1
        return {"chain_id": self.chain_id, "block_number": block, "log_index": index, "tx_hash": _tx()}

    def row(self, table: str, block: int, **values: Any) -> dict[str, Any]:
        """An event-derived row of ``table`` at ``block``."""
        row = self._key(block) | values
        self.conn.execute(insert(TABLES[table]).values(**row))
        return row

    def organizations(self, *codes: str) -> None:
        """Register organizations by code."""
        for code in codes:
            self.conn.execute(
                insert(TABLES["organizations"]).values(
                    chain_id=self.chain_id,
                    org_id=_org(code),
                    code=code,
                    kind="ministry",
                    name=code,
                    active=True,
                    vault=address("vault"),
                    block_number=0,
                    tx_hash=_tx(),
                )
            )

    def procurement(
        self,
        label: str,
        amounts: Sequence[int] = (25_000_000, 35_000_000),
        *,
        block: int = 1,
        ministry: str = "MOD",
        supplier: str = "supplier",
        officer: str = "officer",
        panel: Sequence[str] = ("eval1", "eval2", "eval3"),
        statuses: Sequence[str] | None = None,
        fiscal_year: int = FISCAL_YEAR,
    ) -> str:
        """A procurement created at ``block`` (its milestones Pending unless told), obligating its total; returns
        its escrow address."""
        escrow = address(f"escrow-{self.chain_id}-{label}")
        key = self._key(block)
        total = sum(amounts)
        self.conn.execute(
            insert(TABLES["procurements"]).values(
                chain_id=self.chain_id,
                escrow=escrow,
                procurement_id="0x" + hashlib.sha256(label.encode()).hexdigest(),
                ministry_org=_org(ministry),
                supplier_org=_org("NVE"),
                supplier=address(supplier),
                officer=address(officer),
                panel=json.dumps([address(e) for e in panel]),
                quorum=2,
                title=label,
                spec_hash="0x" + "00" * 32,
                funded=total,
                milestone_count=len(amounts),
                ruling_period=30 * DAY,
                grace_period=90 * DAY,
                block_number=block,
                tx_hash=key["tx_hash"],
                log_index=key["log_index"],
                total_funded=total,
                total_released=0,
                total_refunded=0,
                total_owed=0,
                paused_until=0,
            )
        )
        for i, amount in enumerate(amounts):
            status = statuses[i] if statuses else "Pending"
            state = {"amount": amount, "due_date": GENESIS + 300 * DAY, "round": 0, "passes": 0, "fails": 0, "owed": 0}
            state |= {"dispute_lapses_at": 0}
            self.conn.execute(
                insert(TABLES["milestone_history"]).values(
                    **key, escrow=escrow, milestone_id=i, event="ProcurementCreated", status="Pending", **state
                )
            )
            self.conn.execute(
                insert(TABLES["milestones"]).values(
                    chain_id=self.chain_id, escrow=escrow, milestone_id=i, status=status, block_number=block, **state
                )
            )
        self.obligate(escrow, total, block, ministry=ministry, fiscal_year=fiscal_year)
        return escrow

    def obligate(self, escrow: str, amount: int, block: int, *, ministry: str = "MOD", fiscal_year: int) -> None:
        """An Obligated row of ``escrow``'s ministry's line."""
        self.row(
            "budget_obligations",
            block,
            escrow=escrow,
            series=1,
            fiscal_year=fiscal_year,
            buyer=_org(ministry),
            line_ministry=_org(ministry),
            officer=address("officer"),
            amount=amount,
            line_obligated=amount,
            escrow_obligated=amount,
        )

    def amend(
        self,
        escrow: str,
        amendment_id: int,
        milestone: int,
        block: int,
        *,
        kind: str = "amount",
        old: int = 0,
        new: int = 0,
        old_due: int = GENESIS + 300 * DAY,
        new_due: int | None = None,
        proposer: str = "officer",
        approver: str = "officer2",
    ) -> None:
        """An amendment proposed (a block earlier) and approved at ``block``."""
        new_due = old_due if new_due is None else new_due
        self.row(
            "amendments",
            block - 1,
            escrow=escrow,
            amendment_id=amendment_id,
            milestone_id=milestone,
            proposer=address(proposer),
            kind=kind,
            new_amount=new,
            new_due_date=new_due,
            rationale_hash="0x" + "11" * 32,
        )
        self.row(
            "amendment_approvals",
            block,
            escrow=escrow,
            amendment_id=amendment_id,
            milestone_id=milestone,
            approver=address(approver),
            kind=kind,
            old_amount=old,
            new_amount=new,
            old_due_date=old_due,
            new_due_date=new_due,
        )

    def evidence(self, escrow: str, milestone: int, block: int, round_: int = 1) -> None:
        """Evidence submitted."""
        self.row(
            "evidence",
            block,
            escrow=escrow,
            milestone_id=milestone,
            round=round_,
            supplier=address("supplier"),
            document_hash="0x" + "22" * 32,
            uri="ipfs://evidence",
            relayed=False,
            relayer=None,
        )

    def attest(
        self, escrow: str, milestone: int, block: int, evaluator: str, passed: bool = True, round_: int = 1
    ) -> None:
        """An evaluator's verdict."""
        self.row(
            "attestations",
            block,
            escrow=escrow,
            milestone_id=milestone,
            round=round_,
            evaluator=address(evaluator),
            passed=passed,
            report_hash="0x" + "33" * 32,
            relayed=False,
            relayer=None,
        )

    def accept(self, escrow: str, milestone: int, block: int) -> None:
        """Evidence, two passes and the milestone Approved, at ``block``."""
        self.evidence(escrow, milestone, block)
        self.attest(escrow, milestone, block, "eval1")
        self.attest(escrow, milestone, block, "eval2")
        self.history(escrow, milestone, block, "Approved")

    def pay(self, escrow: str, milestone: int, amount: int, block: int, supplier: str = "supplier") -> None:
        """A payment released."""
        self.row(
            "payments",
            block,
            escrow=escrow,
            milestone_id=milestone,
            supplier=address(supplier),
            amount=amount,
            kind="released",
        )
        self.history(escrow, milestone, block, "Paid")

    def history(self, escrow: str, milestone: int, block: int, status: str) -> None:
        """A milestone history row: its status after an event at ``block``."""
        self.row(
            "milestone_history",
            block,
            escrow=escrow,
            milestone_id=milestone,
            event="Step",
            amount=0,
            due_date=0,
            status=status,
            round=1,
            passes=0,
            fails=0,
            owed=0,
            dispute_lapses_at=0,
        )

    def bind(self, account: str, code: str, block: int, bound: bool = True) -> None:
        """An account bound to (or unbound from) an organization."""
        self.row(
            "account_bindings", block, account=address(account), org_id=_org(code), sender=address("admin"), bound=bound
        )

"""A procurement's state read straight from the chain (``GET .../state``, and the answer of ``?wait=true``)."""

from __future__ import annotations

from chain import MilestoneStatus
from gateway.ledger import Ledger
from gateway.schemas.procurements import MilestoneStatePublic, ProcurementStatePublic, TotalsPublic

__all__ = ["procurement_state"]


def procurement_state(ledger: Ledger, procurement_id: bytes, escrow: str) -> ProcurementStatePublic:
    """The procurement's books and milestones at the latest block."""
    client = ledger.escrow(escrow)
    block = ledger.head()
    totals = client.totals()
    terms = ledger.terms(escrow)
    return ProcurementStatePublic(
        procurement_id="0x" + procurement_id.hex(),
        escrow=escrow,
        block_number=block,
        block_timestamp=ledger.now(),
        supplier=terms.supplier,
        supplier_org=terms.supplier_org,
        quorum=terms.quorum,
        panel_size=len(terms.evaluators),
        paused=client.paused(),
        paused_until=client.paused_until(),
        totals=TotalsPublic(
            funded=totals.funded,
            released=totals.released,
            refunded=totals.refunded,
            owed=totals.owed,
            held=totals.held,
        ),
        shortfall=client.shortfall(),
        milestones=[
            MilestoneStatePublic(
                milestone_id=m.index,
                amount=m.amount,
                due_date=m.due_date,
                status=MilestoneStatus(m.status).name.capitalize(),
                round=m.round,
                passes=m.passes,
                fails=m.fails,
                owed=m.owed,
                dispute_lapses_at=m.dispute_lapses_at,
            )
            for m in client.milestones()
        ],
    )

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
    return ProcurementStatePublic(
        procurement_id="0x" + procurement_id.hex(),
        escrow=escrow,
        block_number=block,
        paused=client.paused(),
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
            )
            for m in client.milestones()
        ],
    )

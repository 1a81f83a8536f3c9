"""A procurement: its detail from the SQL mirror, ``.../state`` straight from the chain (its list: lists.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.deps import HEX32_PATTERN, ChainProcurement, LedgerDep, MirrorReader
from gateway.schemas.procurements import ProcurementDetailPublic, ProcurementStatePublic
from gateway.services.chain_state import procurement_state

router = APIRouter(prefix="/procurements", tags=["procurements"])


@router.get("/{procurement_id}", response_model=ProcurementDetailPublic)
async def get_procurement(
    procurement_id: Annotated[str, Path(pattern=HEX32_PATTERN)], reader: MirrorReader
) -> ProcurementDetailPublic:
    """One procurement with its milestones, as mirrored."""
    return await reader.detail(procurement_id.lower())


@router.get("/{procurement_id}/state", response_model=ProcurementStatePublic)
def get_procurement_state(procurement: ChainProcurement, ledger: LedgerDep) -> ProcurementStatePublic:
    """One procurement's books and milestones, read straight from the chain."""
    return procurement_state(ledger, procurement.procurement_id, procurement.escrow)

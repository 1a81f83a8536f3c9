"""A procurement: its detail from the SQL mirror, ``.../state`` straight from the chain (its list: lists.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from gateway.deps import ChainProcurement, LedgerDep, MirrorReader, ProcurementId, procurement_named
from gateway.schemas.procurements import ProcurementDetailPublic, ProcurementStatePublic
from gateway.services.chain_state import procurement_state
from gateway.services.flags import count_flags
from gateway.services.reads import Reader

router = APIRouter(prefix="/procurements", tags=["procurements"])


@router.get("/{procurement_id}", response_model=ProcurementDetailPublic)
async def get_procurement(
    procurement_id: ProcurementId, reader: MirrorReader, request: Request
) -> ProcurementDetailPublic:
    """One procurement with its milestones, as mirrored (named by its ocid, escrow address or on-chain id), with
    its red flags counted for those who may read them."""
    detail = await procurement_detail(reader, procurement_id)
    await run_in_threadpool(count_flags, request.app.state, reader.principal, [detail])
    return detail


async def procurement_detail(reader: Reader, procurement_id: str) -> ProcurementDetailPublic:
    """The mirrored detail of the procurement named ``procurement_id`` (422 if malformed, 404 if not visible)."""
    named = procurement_named(procurement_id)
    if named.escrow is not None:
        return await reader.detail(None, named.escrow)
    assert named.procurement_id is not None
    return await reader.detail("0x" + named.procurement_id.hex())


@router.get("/{procurement_id}/state", response_model=ProcurementStatePublic)
def get_procurement_state(procurement: ChainProcurement, ledger: LedgerDep) -> ProcurementStatePublic:
    """One procurement's books and milestones, read straight from the chain."""
    return procurement_state(ledger, procurement.procurement_id, procurement.escrow)

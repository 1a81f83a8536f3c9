"""Procurements: lists and details from the SQL mirror, ``.../state`` straight from the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.deps import HEX32_PATTERN, ChainProcurement, LedgerDep, MirrorReader, PageDep
from gateway.schemas.procurements import ProcurementDetailPublic, ProcurementsPublic, ProcurementStatePublic
from gateway.services.chain_state import procurement_state

router = APIRouter(prefix="/procurements", tags=["procurements"])

OrgCode = Annotated[str | None, Query(min_length=1, max_length=16, pattern=r"^[\x21-\x7e]+$")]
AddressQuery = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")]


@router.get("", response_model=ProcurementsPublic)
def list_procurements(
    reader: MirrorReader,
    page: PageDep,
    ministry: Annotated[OrgCode, Query(description="Buying ministry's code, e.g. MOD.")] = None,
    supplier_org: Annotated[OrgCode, Query(alias="supplierOrg", description="Supplier organization's code.")] = None,
    supplier: Annotated[AddressQuery, Query(description="Supplier account.")] = None,
    evaluator: Annotated[AddressQuery, Query(description="An evaluator on the panel.")] = None,
    paused: Annotated[bool | None, Query(description="Only paused (or only running) escrows.")] = None,
) -> ProcurementsPublic:
    """Procurements visible to the account, oldest first, with filters."""
    data, count = reader.procurements(
        page, ministry=ministry, supplier_org=supplier_org, supplier=supplier, evaluator=evaluator, paused=paused
    )
    return ProcurementsPublic(data=data, count=count)


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

"""Milestones of visible procurements as they stand now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, PageDep
from gateway.schemas.procurements import MilestonesPublic

router = APIRouter(prefix="/milestones", tags=["milestones"])

ProcurementFilter = Annotated[
    str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this procurement.")
]


@router.get("", response_model=MilestonesPublic)
def milestone_page(
    reader: MirrorReader,
    page: PageDep,
    procurement_id: ProcurementFilter = None,
    status: Annotated[
        str | None, Query(max_length=16, pattern=r"^[A-Za-z]+$", description="e.g. Submitted, Paid.")
    ] = None,
) -> MilestonesPublic:
    """Milestones of visible procurements as they stand now."""
    pid = None if procurement_id is None else procurement_id.lower()
    data, count = reader.milestone_page(page, procurement_id=pid, status=status)
    return MilestonesPublic(data=data, count=count)

"""Disputes (and their settlements) on visible procurements, in chain order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, PageDep
from gateway.schemas.procurements import DisputesPublic

router = APIRouter(prefix="/disputes", tags=["disputes"])

ProcurementFilter = Annotated[
    str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this procurement.")
]
MilestoneFilter = Annotated[int | None, Query(alias="milestoneId", ge=0, le=2**32, description="Only this milestone.")]


@router.get("", response_model=DisputesPublic)
def disputes(
    reader: MirrorReader,
    page: PageDep,
    procurement_id: ProcurementFilter = None,
    milestone_id: MilestoneFilter = None,
) -> DisputesPublic:
    """Disputes (and their settlements) on visible procurements, in chain order."""
    pid = None if procurement_id is None else procurement_id.lower()
    data, count = reader.disputes(page, procurement_id=pid, milestone_id=milestone_id)
    return DisputesPublic(data=data, count=count)

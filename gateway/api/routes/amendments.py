"""Amendments proposed (and approved) on visible procurements, in chain order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, PageDep
from gateway.schemas.procurements import AmendmentsPublic

router = APIRouter(prefix="/amendments", tags=["amendments"])

ProcurementFilter = Annotated[
    str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this procurement.")
]
MilestoneFilter = Annotated[int | None, Query(alias="milestoneId", ge=0, le=2**32, description="Only this milestone.")]


@router.get("", response_model=AmendmentsPublic)
def amendments(
    reader: MirrorReader,
    page: PageDep,
    procurement_id: ProcurementFilter = None,
    milestone_id: MilestoneFilter = None,
) -> AmendmentsPublic:
    """Amendments proposed (and approved) on visible procurements, in chain order."""
    pid = None if procurement_id is None else procurement_id.lower()
    data, count = reader.amendments(page, procurement_id=pid, milestone_id=milestone_id)
    return AmendmentsPublic(data=data, count=count)
